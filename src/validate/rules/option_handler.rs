//! PR035, PR036: a kept option handler (`daskGateway.optionHandler`) says what `daskGateway` says.
//!
//! With a kept handler the gateway runs the team's Python, while the capacity rules (PR018,
//! PR020), the image rule (PR019) and the drift rule read `daskGateway.worker`, `image` and
//! `maxWorkersPerCluster`. A handler that allows 16 cores where the config says 4 would pass every
//! check and still ask for workers no node can hold; so the handler's options are read back with
//! the same small Python reader as the rendered values' ([`crate::validate::python`]) and
//! compared, each difference an error at the handler's own line (PR035). What that reader cannot
//! see — an option built at run time, a profile handler without `worker_cores` — is said once
//! per option as a warning (PR036): the checks then trust the config, and the Python proofs
//! (`scripts/test-python`) are where the handler itself is run.

use crate::diag::{Diagnostic, ids};
use crate::validate::facts::{Fact, Loc};
use crate::validate::python::{self, Literal};
use crate::validate::rules::{Deployment, num};
use crate::yaml::Pos;

const AGREE: &str = "make the handler and the config say the same: the gateway runs the handler, while the \
                     capacity and image checks and the rendered files read daskGateway";

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    let Some(cfg) = d.config else { return };
    let gateway = &cfg.config.dask_gateway;
    let Some(handler) = &gateway.option_handler else { return };
    // Unread (validate reports the unreadable file itself, PR035 at the config's line).
    let Some(code) = &handler.code else { return };
    let file = crate::config::dir_of(&cfg.path).join(&handler.file);
    let at = |offset: usize, field: String| {
        let (line, col) = python::line_col(code, offset);
        Loc { file: file.clone(), pos: Pos { line, col }, field }
    };
    let config_line = |loc: &Loc| format!("{}:{}", loc.file.display(), loc.pos.line);
    let calls = python::option_calls(code);
    let opaque = |what: String, config_at: &Loc| {
        cfg.option_handler
            .warning(
                ids::OPTION_HANDLER_OPAQUE,
                format!(
                    "{} declares {what}: validate cannot see what the gateway allows there, so the checks \
                     trust {} ({})",
                    file.display(),
                    config_at.field,
                    config_line(config_at)
                ),
            )
            .hint(
                "declare the option with literal values, or keep daskGateway saying what the handler allows \
                 (the Python proofs, scripts/test-python, run the handler against the config)",
            )
    };

    let bounds = [("worker_cores", &cfg.hub.worker_cores), ("worker_memory", &cfg.hub.worker_memory)];
    for (name, want) in bounds {
        let Some(want) = want else { continue };
        let call = calls.iter().find(|c| c.name == name && matches!(c.kind.as_str(), "Float" | "Integer"));
        let Some(call) = call else {
            if let Some(w) = &want.max {
                let what = format!("no Float(\"{name}\", default=…, min=…, max=…)");
                let mut config_at = w.loc.clone();
                config_at.field = config_at.field.trim_end_matches(".max").to_string();
                out.push(opaque(what, &config_at));
            }
            continue;
        };
        for (key, want) in [("default", &want.default), ("min", &want.min), ("max", &want.max)] {
            let Some(want) = want else { continue };
            match call.number(key) {
                Some((value, offset)) if value != want.value => {
                    out.push(differs(
                        &at(offset, format!("{name}.{key}")),
                        &format!("{name} {key}"),
                        &num(value),
                        &num(want.value),
                        want,
                    ));
                }
                Some(_) => {}
                None => out
                    .push(opaque(format!("no Float(\"{name}\", {key}=…) with a literal number"), &want.loc)),
            }
        }
    }

    if let Some(want) = &cfg.hub.gateway_image {
        let call = calls.iter().find(|c| c.name == "image" && c.kind == "String");
        match call.and_then(|c| c.get("default")) {
            Some(kw) => match &kw.value {
                Literal::Str(s) if *s != want.value => out.push(differs(
                    &at(kw.offset, "image.default".into()),
                    "default image",
                    s,
                    &want.value,
                    want,
                )),
                Literal::Str(_) => {}
                _ => {
                    out.push(opaque("a String(\"image\", default=…) that is not a literal".into(), &want.loc))
                }
            },
            None => out.push(opaque("no String(\"image\", default=\"name:tag\")".into(), &want.loc)),
        }
    }

    // The generated handler sets the limit from the config; a kept one sets its own, or none.
    let target = "c.ClusterConfig.cluster_max_workers";
    let limit = python::assignment(code, target);
    let config_limit = gateway.max_workers_per_cluster.map(f64::from);
    let config_says = config_limit.map_or("none (null)".to_string(), num);
    match (limit, config_limit) {
        (Some((Literal::Number(n), offset)), want) if Some(n) != want => out.push(
            at(offset, target.into())
                .error(
                    ids::OPTION_HANDLER,
                    format!(
                        "the option handler sets {target} = {}, daskGateway.maxWorkersPerCluster says {config_says} ({})",
                        num(n),
                        config_line(&cfg.max_workers)
                    ),
                )
                .hint(AGREE),
        ),
        (Some((Literal::Number(_), _)), _) => {}
        (Some((_, offset)), _) => out.push(
            at(offset, target.into())
                .warning(
                    ids::OPTION_HANDLER_OPAQUE,
                    format!(
                        "{target} is not a literal number: validate cannot see the limit, so the checks trust \
                         daskGateway.maxWorkersPerCluster ({})",
                        config_line(&cfg.max_workers)
                    ),
                )
                .hint("write the limit as a literal number"),
        ),
        (None, Some(want)) => out.push(
            cfg.max_workers
                .error(
                    ids::OPTION_HANDLER,
                    format!(
                        "daskGateway.maxWorkersPerCluster is {}, but the kept option handler {} sets no {target}: \
                         the gateway would allow any number of workers",
                        num(want),
                        file.display()
                    ),
                )
                .hint(format!(
                    "add `{target} = {}` to {}, or write maxWorkersPerCluster: null",
                    num(want),
                    handler.file.display()
                )),
        ),
        (None, None) => {}
    }
}

fn differs<T>(at: &Loc, what: &str, found: &str, want: &str, config: &Fact<T>) -> Diagnostic {
    at.error(
        ids::OPTION_HANDLER,
        format!(
            "the option handler's {what} is {found}, {} says {want} ({}:{})",
            config.loc.field,
            config.loc.file.display(),
            config.loc.pos.line
        ),
    )
    .hint(AGREE)
}
