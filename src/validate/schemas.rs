//! The artifact schemas in `schemas/`, one per kind of file. Each compiles on first use only
//! (`schema::Schema` holds a `OnceLock`), so validating one `daskhub.yaml` never pays for the
//! eksctl or Kubernetes schemas. The schemas use no `pattern`s: regular expressions are the
//! expensive part of compiling, and the few rules that need one are plain code here instead.

use std::path::Path;

use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::diag::schema::{self, Schema};
use crate::validate::kind::Kind;
use crate::yaml::{Node, dotted};

pub static EKSCTL_CLUSTER: Schema =
    Schema::new("eksctl-cluster.schema.json", include_str!("../../schemas/eksctl-cluster.schema.json"));
pub static DASKHUB_VALUES: Schema =
    Schema::new("daskhub-values.schema.json", include_str!("../../schemas/daskhub-values.schema.json"));
pub static EBS_CSI_VALUES: Schema =
    Schema::new("ebs-csi-values.schema.json", include_str!("../../schemas/ebs-csi-values.schema.json"));
pub static K8S_MANIFESTS: Schema =
    Schema::new("k8s-manifests.schema.json", include_str!("../../schemas/k8s-manifests.schema.json"));

/// Every artifact schema, for tests that compile them all.
pub const ALL: &[&Schema] = &[&EKSCTL_CLUSTER, &DASKHUB_VALUES, &EBS_CSI_VALUES, &K8S_MANIFESTS];

pub fn for_kind(kind: Kind) -> Option<&'static Schema> {
    match kind {
        Kind::EksctlCluster => Some(&EKSCTL_CLUSTER),
        Kind::DaskhubValues => Some(&DASKHUB_VALUES),
        Kind::EbsCsiValues => Some(&EBS_CSI_VALUES),
        Kind::Manifests => Some(&K8S_MANIFESTS),
        // The config and the secrets file are checked by their own loaders.
        Kind::Config | Kind::Secrets | Kind::Sops => None,
    }
}

/// Schema diagnostics for every document of a file.
pub fn check(kind: Kind, file: &Path, docs: &[Node]) -> Vec<Diagnostic> {
    let Some(schema) = for_kind(kind) else { return Vec::new() };
    let mut out = Vec::new();
    for doc in docs {
        out.extend(schema::check(schema, file, doc, &[]));
        if kind == Kind::DaskhubValues {
            out.extend(hub_config_keys(file, doc));
        }
    }
    out
}

/// Z2JH 4.x accepts only keys starting with a capital letter under `hub.config` (they are
/// traitlets class names); 3.2.1 accepted anything and silently ignored typos such as
/// `authenticator`. Refusing them helps with both.
fn hub_config_keys(file: &Path, doc: &Node) -> Vec<Diagnostic> {
    let path = ["jupyterhub", "hub", "config"];
    let Some(config) = doc.at(&path) else { return Vec::new() };
    config
        .as_map()
        .iter()
        .filter(|e| !e.key.starts_with(|c: char| c.is_ascii_uppercase()))
        .map(|e| {
            Diagnostic::error(ids::SCHEMA, file, e.key_pos, format!("`{}` is not a configurable class name", e.key))
                .field(dotted(&[&path[..], &[e.key.as_str()]].concat()))
                .hint("keys under hub.config are class names starting with a capital letter, e.g. JupyterHub, Authenticator")
        })
        .collect()
}
