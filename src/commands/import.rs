//! `pangeo-render import --from DIR -c pangeo.yaml`: adopt a hub built by hand.
//!
//! Reads the walkthrough's files ([`crate::import`]), writes the config and the secrets file
//! (both or neither; never over an existing file), renders the artifacts from them in memory and
//! lists, file by file, every value the rendered files do not carry over or change. The next
//! steps are the usual ones: `values`, `diff`, `apply` (whose first run takes the objects over
//! from the kubectl field managers the walkthrough left, see `plan::takeover`).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{ImportArgs, OutputOrPath};
use crate::commands::{UPGRADE_TOLERATES, checked, session, source_name};
use crate::config;
use crate::diag::{self, Output};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::import::compare::{self, Change, Difference};
use crate::import::{self, Options, Sources};
use crate::render::{self, Templates};
use crate::secrets;

const DEFAULT_CONFIG: &str = "pangeo.yaml";

/// The `ImportReport` document of `-o json|yaml` (schemas/output.schema.json).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportReport<'a> {
    config: &'a Path,
    secrets: &'a Path,
    /// The gateway's option handler, kept as written.
    option_handler: &'a Path,
    /// Choices the files did not make.
    assumptions: &'a [String],
    /// Every value of the hand-edited files the rendered files drop, change or add.
    differences: Vec<FileDifference<'a>>,
    warnings: &'a [diag::Diagnostic],
}

#[derive(Serialize)]
struct FileDifference<'a> {
    file: &'a Path,
    #[serde(flatten)]
    difference: &'a Difference,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<&'static str>,
}

/// Where the config goes and how to report. `-o FILE`, as issue 15 spelled the command, still
/// names the config, with a deprecation warning (`-o` is the output format everywhere).
fn resolve_output(args: &ImportArgs) -> Result<(PathBuf, Output)> {
    let (path, format) = match (&args.output, &args.config) {
        (Some(OutputOrPath::Path(_)), Some(_)) => {
            return Err(Error::Usage(
                "-o takes a format (text, json, yaml); the config to write goes in -c/--config".into(),
            ));
        }
        (Some(OutputOrPath::Path(file)), None) => {
            diag::deprecated(&format!(
                "`import -o FILE` will be removed; write `import -c {}` (-o is the output format: text, json or yaml)",
                file.display()
            ));
            (file.clone(), Output::Text)
        }
        (Some(OutputOrPath::Format(f)), file) => (file.clone().unwrap_or_else(|| DEFAULT_CONFIG.into()), *f),
        (None, file) => (file.clone().unwrap_or_else(|| DEFAULT_CONFIG.into()), Output::Text),
    };
    if fsutil::is_stdio(&path) {
        return Err(Error::Usage(
            "-c -: import writes the config and its secrets file (0600) beside it; give the config's path"
                .into(),
        ));
    }
    Ok((path, format))
}

pub fn run(args: &ImportArgs) -> Result<()> {
    let (config_path, format) = resolve_output(args)?;
    let config_path = config_path.as_path();
    let secrets_path = secrets::path_for(config_path);
    let handler_path = config_path.with_file_name(import::HANDLER_FILE);
    for path in [config_path, secrets_path.as_path(), handler_path.as_path()] {
        if path.exists() {
            return Err(Error::Usage(format!(
                "{} already exists; import writes a new config, secrets file and {} and never overwrites \
                 one (choose another -c, or move the file away)",
                path.display(),
                import::HANDLER_FILE
            )));
        }
    }
    let sources = Sources::read(&args.from)?;
    let mut imported = import::import(&sources, &Options { domain: args.domain.clone() })?;
    if args.from_cluster {
        read_cluster(args, config_path, &mut imported)?;
    }

    let env = Templates::Embedded.environment()?;
    let text = env
        .get_template("import/pangeo.yaml.j2")
        .and_then(|t| {
            t.render(minijinja::context! {
                c => minijinja::Value::from(minijinja::value::Serde(&imported.config)),
                from => args.from.display().to_string(),
                file_name => source_name(config_path),
            })
        })
        .map_err(|e| Error::Template { name: "import/pangeo.yaml.j2".into(), message: e.to_string() })?;
    // The config must load and pass the rules as every command will read it; a version past
    // EKS support is what the cluster runs, so it is a warning here (`upgrade` plans the way out).
    // The handler is not on disk yet (all files are written together below): it comes from memory.
    let mut loaded = config::load_str(config_path, &text)?;
    loaded.config.dask_gateway.option_handler = imported.config.dask_gateway.option_handler.clone();
    let handler_code = imported
        .config
        .dask_gateway
        .option_handler
        .as_ref()
        .and_then(|h| h.code.clone())
        .expect("import always keeps the walkthrough's option handler");
    let loaded = checked(loaded, UPGRADE_TOLERATES)?;

    let artifacts =
        render::render(&loaded.config, &imported.secrets, &Templates::Embedded, &source_name(config_path))?;
    let mut report = Vec::new();
    for source in [&sources.cluster, &sources.daskhub, &sources.storageclass] {
        let name = source.path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(ours) = artifacts.iter().find(|a| a.file_name == name) else { continue };
        let ours = crate::yaml::parse_single(&ours.text)
            .map_err(|e| Error::Template { name: name.into(), message: e.message })?
            .to_json();
        report.push((
            source.path.clone(),
            compare::differences(&source.node.to_json(), &ours, &imported.masker),
        ));
    }

    let secrets_file = secrets::encode(&secrets_path, &imported.secrets, None)?
        .expect("a secrets file that does not exist is always written");
    let mut staging = fsutil::Staging::new();
    staging.add(&secrets_path, &secrets_file.bytes, true)?;
    staging.add(&handler_path, handler_code.as_bytes(), false)?;
    staging.add(config_path, text.as_bytes(), false)?;
    staging.commit()?;

    if format != Output::Text {
        let differences = report
            .iter()
            .flat_map(|(file, diffs)| {
                diffs.iter().map(move |d| FileDifference { file, difference: d, why: why(&d.path) })
            })
            .collect();
        let doc = ImportReport {
            config: config_path,
            secrets: &secrets_path,
            option_handler: &handler_path,
            assumptions: &imported.assumptions,
            differences,
            warnings: &loaded.warnings,
        };
        let mut out = std::io::stdout().lock();
        return diag::write_document(&mut out, format, "ImportReport", &doc)
            .map_err(|e| Error::io("<stdout>", e));
    }
    let mut err = anstream::stderr();
    crate::diag::write_text(&mut err, &loaded.warnings).ok();
    let _ = writeln!(err, "wrote {}", config_path.display());
    let how = match &secrets_file.encrypted_for {
        Some(r) => format!("encrypted with SOPS for {} (.sops.yaml)", r.join(", ")),
        None => "mode 0600; keep it out of git".into(),
    };
    let _ = writeln!(
        err,
        "wrote {} ({how}): the hub's two tokens as they are, the shared password as its PBKDF2 hash only",
        secrets_path.display()
    );
    let _ = writeln!(
        err,
        "wrote {}: the Dask Gateway option handler, exactly as {} had it (daskGateway.optionHandler)",
        handler_path.display(),
        sources.daskhub.path.display()
    );
    let _ = writeln!(err, "\nchosen where the files are silent:");
    for a in &imported.assumptions {
        let _ = writeln!(err, "  {a}");
    }
    for (path, diffs) in &report {
        write_differences(&mut err, path, diffs);
    }
    let c = config_path.display();
    let _ = writeln!(
        err,
        "\nnext: pangeo-render values -c {c} && pangeo-render diff -c {c} && pangeo-render apply -c {c}\n  \
         (the first apply takes the objects over from the kubectl field managers the walkthrough left)"
    );
    Ok(())
}

/// `--from-cluster`: where the walkthrough's `helm` put the releases (it names no namespace),
/// and that daskhub.yaml holds what is deployed — adopting another hub's tokens would log
/// everyone out. Only names and namespaces are printed, never a value.
fn read_cluster(args: &ImportArgs, config_path: &Path, imported: &mut import::Imported) -> Result<()> {
    use crate::diff::find_deployed;
    let c = args.cluster(config_path);
    let rt = session::runtime()?;
    let deadline = session::Deadline::start(&c);
    let masker = imported.masker.clone();
    let config = imported.config.clone();
    let (hub, ebs, users) = deadline.run(&rt, None, async {
        let cluster = session::connect_to(&c, &config, false, &mut anstream::stderr()).await?;
        let read = |name: &'static str| {
            let cluster = &cluster;
            let masker = &masker;
            async move {
                find_deployed(cluster, name).await.map_err(|e| session::cluster_error(cluster, &e, masker))
            }
        };
        let hub = read("daskhub").await?;
        let ebs = read("aws-ebs-csi-driver").await?;
        // The names people logged in with: KubeSpawner keeps each user's home volume, named
        // for them in an annotation, for as long as the hub runs.
        let mut users = Vec::new();
        if let Some(h) = &hub {
            let claims = cluster
                .list("v1", "PersistentVolumeClaim", Some(&h.namespace), Some("component=singleuser-storage"))
                .await
                .map_err(|e| session::cluster_error(&cluster, &e, &masker))?;
            users = claims
                .iter()
                .filter_map(|c| c.pointer("/metadata/annotations/hub.jupyter.org~1username")?.as_str())
                .map(str::to_string)
                .collect();
        }
        Ok((hub, ebs, users))
    })?;
    let Some(hub) = hub else {
        return Err(Error::Cluster(
            "--from-cluster: no deployed Helm release named daskhub in any namespace of this cluster; check \
             --context, or import without --from-cluster"
                .into(),
        ));
    };
    let from = format!("release daskhub (namespace {}, revision {})", hub.namespace, hub.revision);
    let deployed = |pointer: &str| hub.config.pointer(pointer).and_then(serde_json::Value::as_str);
    let s = &imported.secrets;
    let mut differ = Vec::new();
    if deployed("/jupyterhub/proxy/secretToken") != Some(s.proxy_secret_token.as_str()) {
        differ.push("jupyterhub.proxy.secretToken");
    }
    if deployed("/jupyterhub/hub/services/dask-gateway/apiToken") != Some(s.dask_gateway_api_token.as_str()) {
        differ.push("jupyterhub.hub.services.dask-gateway.apiToken");
    }
    // The gateway's code is kept as the file has it: it must be what the gateway runs.
    let kept = imported.config.dask_gateway.option_handler.as_ref().and_then(|h| h.code.as_deref());
    if kept.is_some() && deployed("/dask-gateway/gateway/extraConfig/optionHandler") != kept {
        differ.push("dask-gateway.gateway.extraConfig.optionHandler");
    }
    let password = import::PASSWORDS.iter().find_map(|p| deployed(&format!("/{}", p.join("/"))));
    if !password.is_some_and(|pw| secrets::password::verify(pw, &s.admin_password_hash)) {
        differ.push("the shared password");
    }
    if !differ.is_empty() {
        return Err(Error::Cluster(format!(
            "--from-cluster: {} of {} differ from {from}: daskhub.yaml is not what is deployed; import the file \
             the hub was installed with",
            differ.join(", "),
            args.from.join(import::DASKHUB_FILE).display()
        )));
    }
    imported.config.releases.daskhub.namespace = hub.namespace.clone();
    let hub_config = &mut imported.config.hub;
    if hub_config.allowed_users.is_empty() && !users.is_empty() {
        let mut names: Vec<String> =
            users.into_iter().filter(|u| !hub_config.admin_users.contains(u)).collect();
        names.sort();
        names.dedup();
        hub_config.allowed_users = names;
        imported.assumptions.retain(|a| !a.starts_with("hub.allowedUsers:"));
        imported.assumptions.push(format!(
            "hub.allowedUsers: {}, read from the users' home volumes (PersistentVolumeClaims of namespace {}); \
             the hand-built hub let any user name in with the shared password, pangeo-render's authenticator \
             lets in only these and hub.adminUsers: add anyone who has not started a server yet",
            imported.config.hub.allowed_users.join(", "),
            hub.namespace
        ));
    }
    imported.assumptions.retain(|a| !a.starts_with("releases.daskhub:"));
    let pinned = imported.config.hub.chart.id();
    let chart = hub.chart.to_string();
    imported.assumptions.push(if chart == pinned {
        format!("releases.daskhub: namespace {} and chart {chart}, read from {from}", hub.namespace)
    } else {
        format!(
            "releases.daskhub: namespace {}, read from {from}; it runs chart {chart}, the config pins {pinned}: \
             the first apply --helm moves it there",
            hub.namespace
        )
    });
    if let Some(ebs) = ebs {
        imported.config.releases.ebs_csi_driver.namespace = ebs.namespace.clone();
        let registry = ebs.config.pointer("/image/repository").and_then(serde_json::Value::as_str);
        let regional = registry.is_some_and(|r| r.contains(".dkr.ecr."));
        imported.config.ebs_csi_driver.regional_image_registry = regional;
        imported.assumptions.retain(|a| !a.starts_with("ebsCsiDriver.regionalImageRegistry:"));
        imported.assumptions.push(format!(
            "ebsCsiDriver.regionalImageRegistry: {regional} and releases.ebsCsiDriver namespace {}, read from \
             release aws-ebs-csi-driver (revision {})",
            ebs.namespace, ebs.revision
        ));
    }
    Ok(())
}

/// One file's differences, with why for the ones import makes on purpose.
fn write_differences(out: &mut impl Write, path: &Path, diffs: &[Difference]) {
    if diffs.is_empty() {
        let _ = writeln!(out, "\n{}: the rendered file says the same", path.display());
        return;
    }
    let _ = writeln!(out, "\n{}: what the rendered file does not carry over, or changes:", path.display());
    for d in diffs {
        let line = match (&d.change, &d.theirs, &d.ours) {
            (Change::Dropped, Some(t), _) => format!("dropped {t}"),
            (Change::Added, _, Some(o)) => format!("added {o}"),
            (_, Some(t), Some(o)) => format!("{t} → {o}"),
            _ => String::new(),
        };
        let why = why(&d.path).map(|w| format!(" ({w})")).unwrap_or_default();
        let _ = writeln!(out, "  {}: {line}{why}", d.path);
    }
}

/// Why import changes what it changes on purpose.
fn why(path: &str) -> Option<&'static str> {
    if import::PASSWORDS.iter().any(|p| path == p.join(".")) {
        return Some("kept only as a PBKDF2 hash, in PangeoPasswordAuthenticator.password_hash");
    }
    Some(match path {
        "jupyterhub.hub.config.JupyterHub.authenticator_class" => {
            "pangeo-render's authenticator checks the hash, set by extraConfig.pangeoAuthenticator"
        }
        "jupyterhub.hub.config.Authenticator.allowed_users" => {
            "pangeo-render's authenticator lets in only these names and hub.adminUsers: see hub.allowedUsers above"
        }
        "jupyterhub.singleuser.extraEnv.DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE" => {
            "KubeSpawner formats env values: with single braces it refuses every spawn (KeyError); \
             doubled, they reach the notebook as written"
        }
        _ => return None,
    })
}
