//! `validate`: check the config and rendered or hand-edited artifacts, alone and against each
//! other, with no network and no cluster — fast enough for a pre-commit hook.
//!
//! The pipeline is pure (text in, diagnostics out; [`validate_texts`] is what a fuzz target
//! calls), but for the one file a config names itself: its kept Dask Gateway option handler
//! (`daskGateway.optionHandler.file`), read beside the config:
//! 1. parse every file (bounded: size cap here, alias/depth/duplicate-key budgets in `yaml`);
//! 2. recognise its kind from its content ([`kind::detect`]);
//! 3. check it against its schema (`schemas/`) and per-file rules (placeholders);
//! 4. read the facts rules need ([`facts`]);
//! 5. group files into deployments — files of one directory belong together; a config applies to
//!    its own directory and its `rendered/` output directory, or to everything when given with
//!    `-c` — and run every rule over each group ([`rules`]).

pub mod facts;
pub mod kind;
pub mod plaintext;
pub mod python;
pub mod rules;
pub mod schemas;

use std::path::{Path, PathBuf};

use crate::config::{self, Loaded};
use crate::diag::{self, Diagnostic, ids, source};
use crate::error::Error;
use crate::yaml::{self, Node, Pos};

use facts::{ClusterFacts, ConfigFacts, EbsFacts, HubFacts, ManifestFacts};
use kind::Kind;

/// One file to check.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

/// Validates files given together (no `-c`): the entry point for fuzzing and benchmarks.
pub fn validate_texts<P: AsRef<Path>, T: AsRef<str>>(files: &[(P, T)]) -> Vec<Diagnostic> {
    let inputs: Vec<Input> =
        files.iter().map(|(p, t)| Input { path: p.as_ref(), text: t.as_ref() }).collect();
    validate(None, &inputs)
}

/// Validates `files`, and with `config` (`-c`) the config itself and every file against it.
/// Returns diagnostics sorted by file and position, without duplicates.
pub fn validate(config: Option<Input>, files: &[Input]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut inputs: Vec<Input> = config.into_iter().collect();
    for f in files {
        if !inputs.iter().any(|i| i.path == f.path) {
            inputs.push(*f);
        }
    }
    let explicit = config.map(|c| c.path);

    let mut configs: Vec<ConfigFacts> = Vec::new();
    let mut artifacts: Vec<Artifact> = Vec::new();
    let mut secrets: Vec<String> = Vec::new();
    for input in &inputs {
        let forced = (Some(input.path) == explicit).then_some(Kind::Config);
        let Some((kind, docs)) = parse(input, forced, &mut out) else { continue };
        for d in &docs {
            secrets_in(d, false, &mut secrets);
        }
        match kind {
            Kind::Config => {
                if let Some(c) = load_config(input, &mut out) {
                    configs.push(c);
                }
            }
            Kind::Secrets => out.extend(rules::tokens::check_secrets_file(input.path, &docs[0])),
            // Encrypted: nothing to read, and exactly how secrets belong in git.
            Kind::Sops => {}
            _ => {
                out.extend(schemas::check(kind, input.path, &docs));
                out.extend(rules::placeholders::check_file(input.path, &docs));
                artifacts.push(Artifact::read(input, kind, &docs));
            }
        }
    }

    for group in group(&artifacts, &configs, explicit) {
        rules::run(&group, &mut out);
    }

    // Diagnostics quote keys and values; none may quote a secret, wherever the user put it.
    let masker = crate::secrets::mask::Masker::new(secrets.iter().map(String::as_str));
    let mask = |s: &str| crate::secrets::mask::mask_shapes(&masker.text(s));
    for d in &mut out {
        d.message = mask(&d.message);
        d.field = d.field.as_deref().map(mask);
        d.hint = d.hint.as_deref().map(mask);
    }
    diag::sort(&mut out);
    out.dedup();
    out
}

/// Collects the secret strings of a document: values under secret keys (`secretToken`,
/// `apiToken`, the secrets file's keys, …) and any key or value shaped like a token or hash.
fn secrets_in(node: &Node, under_secret_key: bool, out: &mut Vec<String>) {
    use crate::secrets::mask::{is_sensitive_key, looks_secret};
    match &node.value {
        yaml::Value::Str(s) if under_secret_key || looks_secret(s) => out.push(s.clone()),
        yaml::Value::Seq(items) => items.iter().for_each(|i| secrets_in(i, under_secret_key, out)),
        yaml::Value::Map(entries) => {
            for e in entries {
                if looks_secret(&e.key) {
                    out.push(e.key.clone());
                }
                secrets_in(&e.value, under_secret_key || is_sensitive_key(&e.key), out);
            }
        }
        _ => {}
    }
}

/// Validates `given` files with `context` files beside them: files the user did not name but that
/// belong to the same deployment (a pre-commit hook is given only the staged `daskhub.yaml`, yet
/// its tolerations must still match the committed `cluster.yaml`). Reported are the problems of
/// the given files, and those of context files that appear only when the given files join them
/// — a context file's own, older problems are not the commit's business. `handlers` are option
/// handler files the user named (Python, read by the config that names them, not as input); the
/// problems found in them, and in the handler of the config `-c` names, are the user's too.
pub fn validate_with_context(
    config: Option<Input>,
    given: &[Input],
    context: &[Input],
    handlers: &[&Path],
) -> Vec<Diagnostic> {
    if context.is_empty() {
        return validate(config, given);
    }
    let all: Vec<Input> = given.iter().chain(context).copied().collect();
    let combined = validate(config, &all);
    let baseline = validate(config, context);
    let input = |p: &Path| given.iter().chain(context).any(|i| i.path == p);
    let named = |p: &Path| {
        given.iter().any(|g| g.path == p)
            || config.is_some_and(|c| c.path == p)
            || handlers.contains(&p)
            || (config.is_some() && !input(p))
    };
    combined.into_iter().filter(|d| named(&d.file) || !baseline.contains(d)).collect()
}

/// Parses one input and decides its kind; problems become diagnostics and `None`.
fn parse(input: &Input, forced: Option<Kind>, out: &mut Vec<Diagnostic>) -> Option<(Kind, Vec<Node>)> {
    let at_start = Pos { line: 1, col: 1 };
    if input.text.len() > source::MAX_FILE_BYTES {
        out.push(source::too_large(input.path));
        return None;
    }
    let docs = match yaml::parse_documents(input.text) {
        Ok(docs) => docs,
        Err(e) => {
            out.push(source::parse_error(input.path, e));
            return None;
        }
    };
    if let Some(k) = forced {
        return Some((k, docs));
    }
    match kind::detect(&docs) {
        Some(k) => Some((k, docs)),
        // A file we rendered with nothing in it on purpose (`guard.yaml` with the guard off): its
        // comment says why, and there is nothing to check.
        None if docs.is_empty()
            && input.text.lines().next().is_some_and(|l| l.contains(crate::render::RENDERED_MARK)) =>
        {
            None
        }
        None => {
            let message = if docs.is_empty() {
                "the file is empty; nothing to check"
            } else {
                "not a file pangeo-render knows; skipped"
            };
            out.push(
                Diagnostic::warning(ids::UNKNOWN_KIND, input.path, docs.first().map_or(at_start, |d| d.pos), message).hint(
                    "validate checks pangeo configs, eksctl ClusterConfigs, DaskHub and EBS CSI Helm values and Kubernetes manifests",
                ),
            );
            None
        }
    }
}

/// The rules over a config alone — placeholders, then every rule family over the config's facts
/// (a config is a deployment too: capacity and instance types need no artifact). Every command
/// that reads a config runs exactly this (`values`, `diff`, `apply`, `init`, `upgrade`, and
/// `validate` for each config it is given), so all give the same verdict, ids and messages.
/// Sorted, without duplicates; errors and warnings together.
pub fn check_config(loaded: &Loaded) -> Vec<Diagnostic> {
    let facts = ConfigFacts::new(loaded);
    let mut out = rules::placeholders::check_config(&loaded.path, &loaded.node);
    rules::run(&rules::Deployment { config: Some(&facts), ..Default::default() }, &mut out);
    diag::sort(&mut out);
    out.dedup();
    out
}

/// Loads a config (parse, schema, types) and checks it; keeps the facts of a loadable config.
fn load_config(input: &Input, out: &mut Vec<Diagnostic>) -> Option<ConfigFacts> {
    match config::load_str(input.path, input.text) {
        Ok(mut loaded) => {
            // The option handler's file, named by the config: unreadable is a finding (PR035).
            out.extend(config::read_option_handler(&mut loaded));
            out.extend(check_config(&loaded));
            Some(ConfigFacts::new(&loaded))
        }
        Err(Error::Invalid(diags)) => {
            out.extend(diags);
            None
        }
        Err(other) => {
            out.push(Diagnostic::error(ids::SCHEMA, input.path, Pos { line: 1, col: 1 }, other.to_string()));
            None
        }
    }
}

/// An artifact's facts, by kind.
struct Artifact {
    path: PathBuf,
    facts: ArtifactFacts,
}

enum ArtifactFacts {
    Cluster(Box<ClusterFacts>),
    Hub(Box<HubFacts>),
    Ebs(EbsFacts),
    Manifests(ManifestFacts),
}

impl Artifact {
    fn read(input: &Input, kind: Kind, docs: &[Node]) -> Artifact {
        let facts = match kind {
            Kind::EksctlCluster => {
                ArtifactFacts::Cluster(Box::new(ClusterFacts::from_eksctl(input.path, &docs[0])))
            }
            Kind::DaskhubValues => {
                ArtifactFacts::Hub(Box::new(HubFacts::from_values(input.path, input.text, &docs[0])))
            }
            Kind::EbsCsiValues => ArtifactFacts::Ebs(EbsFacts::from_values(input.path, &docs[0])),
            _ => ArtifactFacts::Manifests(ManifestFacts::from_docs(input.path, docs)),
        };
        Artifact { path: input.path.to_path_buf(), facts }
    }
}

/// The directory a file's deployment is named by. `pangeo.yaml` renders into `rendered/` beside
/// it, so a config in `D` also applies to files in `D/rendered`.
fn dir_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Groups artifacts into deployments and attaches the config that applies to each.
fn group<'a>(
    artifacts: &'a [Artifact],
    configs: &'a [ConfigFacts],
    explicit: Option<&Path>,
) -> Vec<rules::Deployment<'a>> {
    let mut groups: Vec<(PathBuf, rules::Deployment<'a>)> = Vec::new();
    for a in artifacts {
        let dir = dir_of(&a.path);
        // One cluster, hub and EBS file per deployment: a second one of a kind is checked alone.
        let slot = groups.iter().position(|(d, g)| {
            *d == dir
                && match a.facts {
                    ArtifactFacts::Cluster(_) => g.cluster.is_none(),
                    ArtifactFacts::Hub(_) => g.hub.is_none(),
                    ArtifactFacts::Ebs(_) => g.ebs.is_none(),
                    ArtifactFacts::Manifests(_) => true,
                }
        });
        let i = slot.unwrap_or_else(|| {
            groups.push((dir.clone(), rules::Deployment::default()));
            groups.len() - 1
        });
        let g = &mut groups[i].1;
        match &a.facts {
            ArtifactFacts::Cluster(f) => g.cluster = Some(f),
            ArtifactFacts::Hub(f) => g.hub = Some(f),
            ArtifactFacts::Ebs(f) => g.ebs = Some(f),
            ArtifactFacts::Manifests(f) => g.manifests.push(f),
        }
    }
    for (dir, g) in &mut groups {
        g.config = configs.iter().find(|c| Some(c.path.as_path()) == explicit).or_else(|| {
            configs.iter().find(|c| {
                let cdir = dir_of(&c.path);
                *dir == cdir || *dir == cdir.join("rendered")
            })
        });
    }
    groups.into_iter().map(|(_, g)| g).collect()
}
