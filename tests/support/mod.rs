//! Shared test helpers: the [`Test`] builder (a command line in a temporary workspace, with what
//! it must print and how it must exit), a temp workspace with a config in it, fixtures, and
//! [`skip`] for tiers that cannot run here.
#![allow(dead_code)]

pub mod offline_cargo;
pub mod test;
pub mod walkthrough;
pub use test::Test;

use std::fs;
use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("fixtures").join(name).join("pangeo.yaml")
}

/// Every `fixtures/*/pangeo.yaml`, sorted by directory name.
pub fn fixture_configs() -> Vec<(String, PathBuf)> {
    let mut v: Vec<_> = fs::read_dir(repo().join("fixtures"))
        .unwrap()
        .filter_map(|e| {
            let dir = e.unwrap().path();
            let cfg = dir.join("pangeo.yaml");
            cfg.exists().then(|| (dir.file_name().unwrap().to_string_lossy().into_owned(), cfg))
        })
        .collect();
    v.sort();
    v
}

/// The files a fixture's config names beside it (`daskGateway.optionHandler.file`: the `.py`
/// files of its folder), by name, to copy with the config.
pub fn beside(config: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(config.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

/// A temp directory holding `pangeo.yaml`; output goes to `rendered/`.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn empty() -> Self {
        Workspace { dir: tempfile::tempdir().unwrap() }
    }
    pub fn with_text(text: &str) -> Self {
        let ws = Self::empty();
        fs::write(ws.config(), text).unwrap();
        ws
    }
    /// The config, and the files it names beside it (a kept option handler).
    pub fn with_config(path: &Path) -> Self {
        let ws = Self::with_text(&fs::read_to_string(path).unwrap());
        for (name, bytes) in beside(path) {
            fs::write(ws.root().join(name), bytes).unwrap();
        }
        ws
    }
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn config(&self) -> PathBuf {
        self.root().join("pangeo.yaml")
    }
    pub fn out(&self) -> PathBuf {
        self.root().join("rendered")
    }
    pub fn secrets_path(&self) -> PathBuf {
        self.root().join("pangeo.secrets.yaml")
    }
    /// A command in this workspace: several commands can work in one directory, one after another.
    pub fn test(&self) -> Test {
        Test::at(self.root())
    }
    /// Deterministic secrets, so snapshots are stable: fixed tokens and a hash with a fixed salt.
    pub fn write_fixed_secrets(&self) {
        write_fixed_secrets(&self.secrets_path());
    }
}

/// Deterministic secrets at `path`: fixed tokens and a hash with a fixed salt.
pub fn write_fixed_secrets(path: &Path) {
    let hash = pangeo_render::secrets::password::hash_with("snapshot-password", &[7u8; 16], 600_000);
    let s = pangeo_render::secrets::Secrets {
        api_version: "pangeo-render/v1alpha1".into(),
        kind: "PangeoSecrets".into(),
        proxy_secret_token: "1".repeat(64),
        dask_gateway_api_token: "2".repeat(64),
        admin_password_hash: hash,
    };
    pangeo_render::secrets::save(path, &s).unwrap();
}

/// Says loudly that a test did not run, and why: written straight to the terminal, past the test
/// harness's capture, so a skipped tier is never mistaken for a passed one.
/// The walkthrough's kept option handler (`fixtures/imported/gateway-options.py`) in every shape
/// YAML makes awkward: no final newline, blank lines before or after, trailing spaces, a tab, `#`,
/// quotes, a backslash and non-ASCII, carriage returns, leading indentation.
pub fn awkward_handler_texts() -> Vec<String> {
    let handler = std::fs::read_to_string(repo().join("fixtures/imported/gateway-options.py")).unwrap();
    vec![
        handler.clone(),
        handler.trim_end().to_string(),
        format!("{handler}\n\n"),
        format!("\n\n{handler}"),
        format!("\n\n{handler}\n\n"),
        handler.replace("def option_handler(options):", "def option_handler(options):   "),
        handler.replace("    return {", "\treturn {"),
        format!("{handler}# a tab\there, a # and 'quotes' \"too\" \\ and t\u{eb}st\n"),
        handler.replace('\n', "\r\n"),
        format!("{handler}    \n"),
        format!("  {handler}"),
    ]
}

pub fn skip(reason: &str) {
    use std::io::Write;
    let name = std::thread::current().name().unwrap_or("a test").to_string();
    let _ = writeln!(std::io::stderr(), "SKIPPED {name}: {reason}");
}

pub fn assert_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let m = fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(m, mode, "{} has mode {m:o}", path.display());
}

/// Fails if `needle` occurs in any file under `dir`.
pub fn assert_nowhere(dir: &Path, needle: &str) {
    for entry in walk(dir) {
        let bytes = fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(needle),
            "{} contains a secret that must not be stored",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

/// `(deployment, result, exitCode)` of each deployment in a `FleetReport` (`-o json` of a fleet run).
pub fn fleet_results(doc: &serde_json::Value) -> Vec<(&str, &str, i64)> {
    doc["deployments"]
        .as_array()
        .expect("a FleetReport has deployments")
        .iter()
        .map(|d| {
            (
                d["deployment"].as_str().unwrap(),
                d["result"].as_str().unwrap(),
                d["exitCode"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Fails unless `doc` — a `-o json|yaml` document — matches `schemas/output.schema.json`.
pub fn assert_output_schema(doc: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(repo().join("schemas/output.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("output schema compiles");
    let errors: Vec<String> =
        validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "output does not match schemas/output.schema.json: {errors:#?}\n{doc:#}");
}
