//! `pangeo-render values`: render every artifact into a directory.
//!
//! Everything is loaded, generated, rendered and checked in memory first; only then are files
//! written: staged together and renamed into place, so all change or none (`fsutil::Staging`).
//! Files the tool did not render — the config, the secrets file, a user's own file in the output
//! directory — are never written over. Unchanged files are left alone, so a re-run on unchanged
//! input is a no-op and byte-identical.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{OutputOrPath, ValuesArgs};
use crate::commands::{load_config, secrets_file, session, source_name, templates_for};
use crate::diag::{self, Output};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::render;
use crate::secrets;

const MIN_PASSWORD_LEN: usize = 8;
const DEFAULT_DIR: &str = "rendered";

/// The `ValuesReport` document of `-o json|yaml` (schemas/output.schema.json).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValuesReport {
    output_dir: PathBuf,
    files: Vec<FileReport>,
    secrets_file: SecretsReport,
    warnings: Vec<diag::Diagnostic>,
}

#[derive(Serialize)]
struct FileReport {
    path: PathBuf,
    /// `written` or `unchanged`.
    status: &'static str,
    /// Holds tokens or the password hash (written 0600).
    sensitive: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretsReport {
    path: PathBuf,
    created: bool,
    rotated_tokens: bool,
    password_changed: bool,
}

/// The directory and report format `values` was asked for; `-o DIR` from older scripts still
/// names the directory, with a deprecation warning.
pub fn resolve_output(args: &ValuesArgs) -> Result<(PathBuf, Output)> {
    let (dir, format) = match (&args.output, &args.output_dir) {
        (Some(OutputOrPath::Path(_)), Some(_)) => {
            return Err(Error::Usage(
                "-o takes a format (text, json, yaml); the directory goes in --output-dir".into(),
            ));
        }
        (Some(OutputOrPath::Path(dir)), None) => {
            diag::deprecated(&format!(
                "`values -o DIR` will be removed; write `values --output-dir {}` (-o is the output format: text, json or yaml)",
                dir.display()
            ));
            (dir.clone(), Output::Text)
        }
        (Some(OutputOrPath::Format(f)), dir) => (dir.clone().unwrap_or_else(|| DEFAULT_DIR.into()), *f),
        (None, dir) => (dir.clone().unwrap_or_else(|| DEFAULT_DIR.into()), Output::Text),
    };
    fsutil::refuse_stdio(
        "--output-dir",
        &dir,
        "values writes six files, two of them holding secrets (0600); give a directory",
    )?;
    Ok((dir, format))
}

/// Files written and files left unchanged.
pub struct Written {
    pub written: usize,
    pub unchanged: usize,
}

/// Renders `args.config`; a `-o json|yaml` document goes to `out`, progress and the once-shown
/// password to `err`.
pub fn run(args: &ValuesArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Written> {
    let (out_dir, format) = resolve_output(args)?;
    if args.admin_password_stdin && fsutil::is_stdio(&args.config) {
        return Err(Error::Usage(
            "-c - and --admin-password-stdin both read stdin; give the config as a file".into(),
        ));
    }
    let secrets_path = secrets_file(&args.config, args.secrets.as_deref())?;
    let templates = templates_for(args.charts.as_deref())?;
    let loaded = load_config(&args.config)?;
    let targets: Vec<_> = render::ARTIFACTS.iter().map(|(name, _, _)| out_dir.join(name)).collect();
    refuse_overlaps(&args.config, &secrets_path, &targets)?;
    let on_disk = secrets::open(&secrets_path)?;
    let mut existing = on_disk.as_ref().map(|d| d.stored.clone());
    let recovered = if args.secrets_from_cluster {
        let (stored, from) =
            recover_from_cluster(args, &loaded.config, &secrets_path, existing.as_ref(), err)?;
        existing = Some(stored);
        Some(from)
    } else {
        None
    };
    let new_password = if args.admin_password_stdin { Some(read_password()?) } else { None };
    let (secrets, changes) =
        secrets::resolve(&secrets_path, existing.clone(), &args.rotate, new_password.as_deref())?;

    let artifacts = render::render(&loaded.config, &secrets, &templates, &source_name(&args.config))?;
    // A template edited by a user (--charts) can produce broken YAML; catch it before writing.
    for a in &artifacts {
        a.documents()?;
        // The mark is how a later run tells its own output from a user's file.
        if !a.text.lines().next().is_some_and(|l| l.starts_with('#') && l.contains(render::RENDERED_MARK)) {
            return Err(Error::Template {
                name: a.file_name.to_string(),
                message: format!(
                    "the first line must be a comment saying `{}` (values overwrites only files that say so)",
                    render::RENDERED_MARK
                ),
            });
        }
    }

    // Encrypted or not, the secrets file's bytes are settled before anything is written.
    let secrets_file = secrets::encode(&secrets_path, &secrets, on_disk.as_ref())?;

    std::fs::create_dir_all(&out_dir).map_err(|e| Error::io(&out_dir, e))?;
    for dir in [out_dir.clone(), fsutil::parent_dir(&secrets_path)] {
        for p in fsutil::remove_leftovers(&dir) {
            let _ = writeln!(err, "removed {} (left by an interrupted run)", p.display());
        }
    }
    // Everything is staged first and then renamed in one go: all files change, or none.
    // Secrets first: if a later rename fails, a re-run reproduces the artifacts from them.
    let mut staging = fsutil::Staging::new();
    let mut files = Vec::new();
    if let Some(encoded) = &secrets_file {
        staging.add(&secrets_path, &encoded.bytes, true)?;
    }
    for a in &artifacts {
        let path = out_dir.join(a.file_name);
        let sensitive = a.holds_secrets;
        let status = if fsutil::unchanged(&path, a.text.as_bytes()) && fsutil::mode_ok(&path, sensitive) {
            "unchanged"
        } else {
            refuse_foreign(&path)?;
            staging.add(&path, a.text.as_bytes(), sensitive)?;
            "written"
        };
        files.push(FileReport { path, status, sensitive });
    }
    let secret_files: Vec<&str> = artifacts.iter().filter(|a| a.holds_secrets).map(|a| a.file_name).collect();
    let ignored = gitignore_update(&out_dir, &secret_files)?;
    if let Some((path, text, _)) = &ignored {
        staging.add(path, text.as_bytes(), false)?;
    }
    staging.commit()?;
    crate::diag::write_text(err, &loaded.warnings).ok();
    let written = files.iter().filter(|f| f.status == "written").count();
    let unchanged = files.len() - written;
    if format != Output::Text {
        let doc = ValuesReport {
            output_dir: out_dir.clone(),
            files,
            secrets_file: SecretsReport {
                path: secrets_path.clone(),
                created: changes.created,
                rotated_tokens: changes.rotated_tokens
                    || changes.regenerated.iter().any(|k| k.ends_with("Token")),
                password_changed: changes.password_changed,
            },
            warnings: loaded.warnings.clone(),
        };
        diag::write_document(out, format, "ValuesReport", &doc).map_err(|e| Error::io("<stdout>", e))?;
    } else {
        for f in &files {
            let verb = if f.status == "written" { "wrote" } else { "unchanged" };
            let _ = writeln!(err, "{verb} {}", f.path.display());
        }
    }
    if let Some((path, _, added)) = &ignored {
        let _ = writeln!(
            err,
            "added {} to {}: it holds the tokens and the password hash in plaintext",
            added.join(", "),
            path.display()
        );
    }
    if let Some(from) = &recovered {
        let _ = writeln!(err, "recovered the tokens and the admin password hash from {from}");
    }
    let encrypted_for = secrets_file.as_ref().and_then(|f| f.encrypted_for.as_ref());
    match encrypted_for {
        None if on_disk.is_none() => {
            let _ = writeln!(err, "created {} (mode 0600; keep it out of git)", secrets_path.display());
        }
        Some(recipients) if on_disk.as_ref().is_none_or(|d| d.sops.is_none()) => {
            let _ = writeln!(
                err,
                "{} {} encrypted with SOPS for {} (.sops.yaml); it can be committed{}",
                if on_disk.is_none() { "created" } else { "encrypted" },
                secrets_path.display(),
                recipients.join(", "),
                ignored_by(&secrets_path)
                    .map(|(ignore, entry)| format!(" once `{entry}` is removed from {}", ignore.display()))
                    .unwrap_or_default()
            );
        }
        _ => {}
    }
    if changes.created {
        // A clone without the secrets file must not replace a running hub's secrets unawares.
        let _ = writeln!(
            err,
            "note: there was no secrets file, so new tokens and a new admin password were generated. If this \
             deployment is already running, do not apply them (everyone would be logged out and the gateway \
             cut off): delete {file} and recover the running ones with `pangeo-render values -c {config} \
             --secrets-from-cluster` (with --kubeconfig/--context as for diff), or get the encrypted secrets \
             file from the deployment's repository",
            file = secrets_path.display(),
            config = args.config.display()
        );
    }
    for key in &changes.regenerated {
        let _ = writeln!(err, "generated {key}, which was missing from {}", secrets_path.display());
    }
    if changes.rotated_tokens || changes.regenerated.iter().any(|k| k.ends_with("Token")) {
        let _ =
            writeln!(err, "new proxy and/or Dask Gateway tokens; upgrade the daskhub release to use them");
    }
    if let Some(p) = &changes.generated_password {
        let warn = anstyle::AnsiColor::Yellow.on_default().bold();
        let _ = writeln!(
            err,
            "{warn}warning:{warn:#} generated admin password (shown once, stored only as a hash): {p}\n  \
             save it in a password manager now; set your own with --admin-password-stdin or --rotate password"
        );
    } else if changes.password_changed {
        let _ = writeln!(err, "admin password changed (stored only as a hash)");
    }
    Ok(Written { written, unchanged })
}

/// The config and the secrets file are the user's: no output may land on either, and the
/// secrets file may not be one of the artifacts (`--secrets rendered/cluster.yaml`).
fn refuse_overlaps(config: &Path, secrets_path: &Path, targets: &[std::path::PathBuf]) -> Result<()> {
    let config_id = fsutil::identity(config);
    let secrets_id = fsutil::identity(secrets_path);
    if secrets_id == config_id {
        return Err(Error::Usage(format!(
            "--secrets {}: that is the config file; the secrets file must be a file of its own (default: {})",
            secrets_path.display(),
            secrets::path_for(config).display()
        )));
    }
    for t in targets {
        let id = fsutil::identity(t);
        let clash = if id == config_id {
            Some(("the config file", "choose another --output-dir, or rename the config"))
        } else if id == secrets_id {
            Some(("the secrets file", "choose another --output-dir or --secrets path"))
        } else {
            None
        };
        if let Some((what, fix)) = clash {
            return Err(Error::Usage(format!(
                "values would write {} over {what} ({}); nothing was written: {fix}",
                t.display(),
                if what == "the config file" { config.display() } else { secrets_path.display() }
            )));
        }
    }
    Ok(())
}

/// Files this tool rendered say so in their first line; anything else is the user's.
fn refuse_foreign(path: &Path) -> Result<()> {
    let Ok(text) = std::fs::read(path) else { return Ok(()) };
    let first = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let ours = String::from_utf8_lossy(first).contains(render::RENDERED_MARK);
    if text.is_empty() || ours {
        return Ok(());
    }
    Err(Error::Io {
        path: path.to_path_buf(),
        message: format!(
            "exists and was not rendered by pangeo-render (its first line does not say `{}`); nothing was written: move it away, or choose another --output-dir",
            render::RENDERED_MARK
        ),
    })
}

/// Reads the secrets of the deployed daskhub release (`--secrets-from-cluster`). An existing
/// secrets file must hold the same ones: nothing is replaced unasked. Returns the secrets and a
/// description of the release they came from.
fn recover_from_cluster(
    args: &ValuesArgs,
    config: &crate::config::Config,
    secrets_path: &Path,
    existing: Option<&secrets::Stored>,
    err: &mut dyn Write,
) -> Result<(secrets::Stored, String)> {
    use crate::diff::helm_release::Found;
    if config.secrets.in_cluster {
        return recover_from_secret(args, config, secrets_path, existing, err);
    }
    let rel = &config.releases.daskhub;
    let found = read_cluster(args, config, err, async |cluster| {
        crate::diff::release_state(cluster, &rel.name, &rel.namespace).await
    })?;
    let where_ = format!("release {} (namespace {})", rel.name, rel.namespace);
    let release = match found {
        Found::Deployed(r) => r,
        Found::NotDeployed { last_deployed: Some(r), .. } => r,
        Found::NotDeployed { revision, status, last_deployed: None } => {
            return Err(Error::Cluster(format!(
                "--secrets-from-cluster: {where_} has never deployed (revision {revision} is {status}); \
                 there are no running secrets to recover"
            )));
        }
        Found::NotInstalled => {
            return Err(Error::Cluster(format!(
                "--secrets-from-cluster: there is no {where_} on this cluster (check --context and the \
                 config's releases.daskhub); to start a new deployment, run values without the flag"
            )));
        }
    };
    let from = format!("{where_}, revision {}", release.revision);
    let stored = secrets::recover::from_release_values(&release.config)
        .map_err(|why| Error::Cluster(format!("--secrets-from-cluster: {from}: {why}")))?;
    same_as_existing(stored, from, secrets_path, existing)
}

/// `--secrets-from-cluster` with `secrets.inCluster`: the gateway token and the password hash
/// from the Secret `apply` created. The proxy token is not deployed from the secrets file in this
/// mode (Z2JH keeps its own), so the file's is kept, or one is generated.
fn recover_from_secret(
    args: &ValuesArgs,
    config: &crate::config::Config,
    secrets_path: &Path,
    existing: Option<&secrets::Stored>,
    err: &mut dyn Write,
) -> Result<(secrets::Stored, String)> {
    use crate::kube::ObjectRef;
    let object = ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some(config.releases.daskhub.namespace.clone()),
        name: render::in_cluster::secret_name(config),
    };
    let live = read_cluster(args, config, err, async |cluster| cluster.get(&object).await)?;
    let from = object.to_string();
    let Some(secret) = live else {
        return Err(Error::Cluster(format!(
            "--secrets-from-cluster: there is no {from} on this cluster (the config's secrets.inCluster keeps \
             the secrets there; check --context and releases.daskhub); to start a new deployment, run \
             values without the flag"
        )));
    };
    let (token, hash) = secrets::in_cluster::read(&secret)
        .map_err(|why| Error::Cluster(format!("--secrets-from-cluster: {from}: {why}")))?;
    let proxy = existing.and_then(|s| s.proxy_secret_token.clone()).unwrap_or_else(secrets::token);
    let stored = secrets::Stored {
        api_version: Some(secrets::API_VERSION.into()),
        kind: Some(secrets::KIND.into()),
        proxy_secret_token: Some(proxy),
        dask_gateway_api_token: Some(token),
        admin_password_hash: Some(hash),
    };
    same_as_existing(stored, from, secrets_path, existing)
}

/// One read from the config's cluster for `--secrets-from-cluster`, after proving it is that
/// cluster: another hub's secrets must never be taken for this one's.
fn read_cluster<T>(
    args: &ValuesArgs,
    config: &crate::config::Config,
    err: &mut dyn Write,
    read: impl AsyncFnOnce(&crate::kube::Cluster) -> std::result::Result<T, crate::kube::ClusterError>,
) -> Result<T> {
    let c = args.cluster();
    let rt = session::runtime()?;
    let deadline = session::Deadline::start(&c);
    deadline.run(&rt, None, async {
        let cluster = session::connect_to(&c, config, false, err).await?;
        let masker = secrets::mask::Masker::default();
        read(&cluster).await.map_err(|e| session::cluster_error(&cluster, &e, &masker))
    })
}

/// The recovered secrets, unless an existing secrets file holds other ones (nothing is replaced
/// unasked).
fn same_as_existing(
    stored: secrets::Stored,
    from: String,
    secrets_path: &Path,
    existing: Option<&secrets::Stored>,
) -> Result<(secrets::Stored, String)> {
    let recovered = stored.clone().complete(secrets_path).map_err(|e| match e {
        Error::Io { message, .. } => Error::Cluster(format!("--secrets-from-cluster: {from}: {message}")),
        other => other,
    })?;
    if let Some(current) = existing.and_then(|s| s.clone().complete(secrets_path).ok()) {
        let differ = secrets::recover::differing_keys(&current, &recovered);
        if !differ.is_empty() {
            return Err(Error::Io {
                path: secrets_path.to_path_buf(),
                message: format!(
                    "holds other secrets than {from} ({} differ); nothing was written: move the file \
                     away to recover the deployed ones, or run values without --secrets-from-cluster to \
                     keep it",
                    differ.join(", ")
                ),
            });
        }
    }
    Ok((stored, from))
}

/// Inside a git work tree, the output folder's `.gitignore` lists the rendered files that hold
/// secrets (`daskhub.yaml`), as `init` lists the secrets file. Returns the file, its new text and
/// the entries added, or `None` when every entry is there already (or there is no git).
fn gitignore_update(
    output: &Path,
    secret_files: &[&str],
) -> Result<Option<(std::path::PathBuf, String, Vec<String>)>> {
    let abs = output.canonicalize().map_err(|e| Error::io(output, e))?;
    if !abs.ancestors().any(|a| a.join(".git").exists()) {
        return Ok(None);
    }
    let ignore = output.join(".gitignore");
    let existing = std::fs::read_to_string(&ignore).unwrap_or_default();
    let listed =
        |name: &str| existing.lines().map(str::trim).any(|l| l == name || l.strip_prefix('/') == Some(name));
    let added: Vec<String> = secret_files.iter().filter(|f| !listed(f)).map(|f| format!("/{f}")).collect();
    if added.is_empty() {
        return Ok(None);
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# pangeo-render: rendered with the tokens and password hash in plaintext\n");
    for a in &added {
        text.push_str(a);
        text.push('\n');
    }
    Ok(Some((ignore, text, added)))
}

/// The `.gitignore` line beside the secrets file that keeps it out of git (`init` writes one for
/// the plaintext file), if there is one.
fn ignored_by(secrets_path: &Path) -> Option<(std::path::PathBuf, String)> {
    let name = secrets_path.file_name()?.to_string_lossy().into_owned();
    let ignore = secrets_path.with_file_name(".gitignore");
    let text = std::fs::read_to_string(&ignore).ok()?;
    let line = text.lines().map(str::trim).find(|l| *l == name || l.strip_prefix('/') == Some(&name))?;
    Some((ignore, line.to_string()))
}

fn read_password() -> Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| Error::io("<stdin>", e))?;
    // One line ending (what `echo` or a password manager adds) ends the password.
    let password =
        text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text).to_string();
    let refuse = |why: &str| Err(Error::Usage(format!("--admin-password-stdin: {why}")));
    if password.contains(['\n', '\r']) {
        return refuse("the password has a line break inside; give one line (a login form cannot type it)");
    }
    if password.trim().is_empty() {
        return refuse("the password is empty or only spaces; give a real password");
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return refuse(&format!("the password must have at least {MIN_PASSWORD_LEN} characters"));
    }
    Ok(password)
}
