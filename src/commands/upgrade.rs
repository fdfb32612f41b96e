//! `pangeo-render upgrade`: prints the plan for the next Kubernetes minor (or, with `--chart`,
//! for another DaskHub chart target). Reads the config only; changes nothing anywhere.
//!
//! Exit 0 with a plan, 1 when the config itself is invalid, 2 when no plan can be made (a
//! target that skips minors, is older, or is unknown).

use std::io::Write;
use std::path::Path;

use crate::aws::eks_versions;
use crate::cli::UpgradeArgs;
use crate::config::{self, Chart};
use crate::diag::{self, Output};
use crate::diff::print;
use crate::error::{Error, Result};
use crate::render::{self, ArtifactKind};
use crate::secrets::mask::Masker;
use crate::secrets::{self, Secrets};
use crate::upgrade::{self, ChartPlan, KubernetesPlan, Step};

pub fn run(args: &UpgradeArgs) -> Result<i32> {
    let loaded = crate::commands::checked(config::load(&args.config)?, crate::commands::UPGRADE_TOLERATES)?;
    let cfg = &loaded.config;
    let config_name = args.config.display().to_string();
    let today = eks_versions::today();
    let mut out = anstream::stdout().lock();
    let w = |e: std::io::Error| Error::io("<stdout>", e);

    if let Some(to) = &args.chart {
        let to = chart_named(to)?;
        if to == cfg.hub.chart {
            return Err(Error::Usage(format!("--chart {}: {config_name} already targets it", to.id())));
        }
        let plan = chart_plan(&args.config, &loaded, to, args.charts.as_deref())?;
        match args.output {
            Output::Json | Output::Yaml => {
                diag::write_document(&mut out, args.output, "ChartUpgradePlan", &plan).map_err(w)?
            }
            Output::Text => write_chart_text(&mut out, &plan).map_err(w)?,
        }
        return Ok(0);
    }

    let plan =
        upgrade::kubernetes(cfg, &config_name, &today, args.to.as_deref()).map_err(|r| Error::Usage(r.0))?;
    match args.output {
        Output::Json | Output::Yaml => {
            diag::write_document(&mut out, args.output, "KubernetesUpgradePlan", &plan).map_err(w)?
        }
        Output::Text => write_kubernetes_text(&mut out, &plan, cfg.hub.chart).map_err(w)?,
    }
    Ok(0)
}

fn chart_named(id: &str) -> Result<Chart> {
    [Chart::Daskhub2024, Chart::Daskhub2026].into_iter().find(|c| c.id() == id).ok_or_else(|| {
        Error::Usage(format!("--chart {id}: not a chart target; use daskhub-2024.1.1 or daskhub-2026.3.0"))
    })
}

/// Renders daskhub.yaml for both targets from the same stand-in secrets (no secrets file is
/// read or made), so the diff holds only what the chart change itself changes.
fn chart_plan(path: &Path, loaded: &config::Loaded, to: Chart, charts: Option<&Path>) -> Result<ChartPlan> {
    let stand_in = Secrets {
        api_version: secrets::API_VERSION.into(),
        kind: "PangeoSecrets".into(),
        proxy_secret_token: "0".repeat(64),
        dask_gateway_api_token: "1".repeat(64),
        admin_password_hash:
            "$pbkdf2-sha256$i=600000,l=32$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                .into(),
    };
    let templates = super::templates_for(charts)?;
    let source = super::source_name(path);
    let daskhub = |cfg: &config::Config| -> Result<String> {
        let artifacts = render::render(cfg, &stand_in, &templates, &source)?;
        Ok(artifacts
            .into_iter()
            .find(|a| a.kind == ArtifactKind::DaskhubValues)
            .map(|a| a.text)
            .unwrap_or_default())
    };
    let cfg = &loaded.config;
    let mut target = cfg.clone();
    target.hub.chart = to;
    let masker = Masker::new(secrets::values(&stand_in));
    let values_diff = masker.text(&print::unified(
        &daskhub(cfg)?,
        &daskhub(&target)?,
        &format!("rendered/daskhub.yaml ({})", cfg.hub.chart.id()),
        &format!("rendered/daskhub.yaml ({})", to.id()),
    ));
    let config_name = path.display().to_string();
    Ok(ChartPlan {
        config: config_name.clone(),
        deployment: cfg.hub.domain.clone(),
        from: cfg.hub.chart.id(),
        to: to.id(),
        values_diff,
        breaking: upgrade::breaking_changes(cfg, cfg.hub.chart, to),
        steps: upgrade::chart_steps(cfg, &config_name, to),
    })
}

fn dollars(x: f64) -> String {
    format!("${x:.2}")
}

fn write_kubernetes_text(out: &mut impl Write, p: &KubernetesPlan, chart: Chart) -> std::io::Result<()> {
    let (c, t) = (&p.current, &p.target);
    writeln!(
        out,
        "Upgrade plan for {} (EKS cluster {}, {}), as of {}: Kubernetes {} → {}",
        p.deployment, p.cluster, p.region, p.today, c.version, t.version
    )?;
    let days = |n: i64| if n >= 0 { format!("{n} days left") } else { format!("ended {} days ago", -n) };
    writeln!(
        out,
        "  now:    {} ({} support): standard support until {} ({}), extended until {} ({})",
        c.version,
        c.support,
        c.end_of_standard,
        days(c.days_left_in_standard),
        c.end_of_extended,
        days(c.days_left_in_extended)
    )?;
    writeln!(
        out,
        "  target: {}: standard support until {} ({}), extended until {}",
        t.version,
        t.end_of_standard,
        days(t.days_left_in_standard),
        t.end_of_extended
    )?;
    writeln!(out, "  dates:  {}", c.source)?;
    if t.source != c.source {
        writeln!(out, "          {} ({})", t.source, t.version)?;
    }
    let k = &p.cost;
    writeln!(
        out,
        "  cost:   control plane {}/month now, {}/month on {}: a difference of {}/month",
        dollars(k.current_per_month),
        dollars(k.target_per_month),
        t.version,
        dollars(k.difference_per_month)
    )?;
    if c.support == "standard" {
        writeln!(
            out,
            "          staying on {} after {}: {}/month ({} more per month)",
            c.version,
            c.end_of_standard,
            dollars(k.staying_after_standard_per_month),
            dollars(k.extra_for_staying_per_month)
        )?;
    }
    writeln!(out, "  prices: {}", k.source)?;
    if chart == Chart::Daskhub2024 {
        writeln!(
            out,
            "  chart:  {} (a newer target exists: `pangeo-render upgrade -c {} --chart {}` plans it)",
            chart.id(),
            p.config,
            Chart::Daskhub2026.id()
        )?;
    }
    write_steps(out, &p.steps)
}

fn write_steps(out: &mut impl Write, steps: &[Step]) -> std::io::Result<()> {
    writeln!(out, "\nSteps, in order (this command changed nothing; check each step before the next):")?;
    for (i, s) in steps.iter().enumerate() {
        writeln!(out, "{:>2}. {}", i + 1, s.title)?;
        for c in &s.commands {
            writeln!(out, "      $ {c}")?;
        }
        if !s.checks.is_empty() {
            writeln!(out, "    check:")?;
            for c in &s.checks {
                writeln!(out, "      $ {c}")?;
            }
        }
        if let Some(n) = &s.note {
            writeln!(out, "    note: {n}")?;
        }
    }
    Ok(())
}

fn write_chart_text(out: &mut impl Write, p: &ChartPlan) -> std::io::Result<()> {
    writeln!(out, "Chart target change for {}: {} → {}", p.deployment, p.from, p.to)?;
    if p.breaking.is_empty() {
        writeln!(out, "\nNo upstream breaking change between these targets touches this deployment.")?;
    } else {
        writeln!(out, "\nUpstream breaking changes that touch this deployment:")?;
        for b in &p.breaking {
            writeln!(out, "  - {}: {}", b.component, b.change)?;
            writeln!(out, "    here: {}", b.here)?;
            writeln!(out, "    source: {}", b.source)?;
        }
    }
    writeln!(out, "\nWhat changes in the rendered values (secrets masked):")?;
    if p.values_diff.is_empty() {
        writeln!(out, "  nothing")?;
    } else {
        out.write_all(p.values_diff.as_bytes())?;
    }
    write_steps(out, &p.steps)
}
