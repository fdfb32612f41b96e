//! The guard (`guard.yaml`): an admission policy that refuses a client-side `kubectl apply` of
//! an object pangeo-render manages, so that the walkthrough's old file, applied again after the
//! takeover ([`crate::plan::takeover`]), cannot put its fields back without anyone noticing.
//!
//! Why an admission policy: a client-side apply is a PATCH (an update), which the API server never
//! reports as a field-manager conflict, so neither the server nor we could refuse it otherwise. What
//! tells it apart from every other write is the `kubectl.kubernetes.io/last-applied-configuration`
//! annotation it adds to the object (kubectl's record of the file; our takeover removed it), and
//! the policy refuses exactly an update of an object labelled ours that adds or changes that
//! annotation. An unchanged one (an object that carried it before the guard) does not block the
//! controllers, `kubectl scale` or our own apply.
//!
//! `ValidatingAdmissionPolicy` is `admissionregistration.k8s.io/v1` (GA, on by default) from
//! Kubernetes 1.30 (KEP-3488; Kubernetes 1.30 release notes, "ValidatingAdmissionPolicy graduates
//! to GA"); before that it was beta and off by default, so older clusters get no guard, and
//! `validate` says so (PR037).

use crate::aws::eks_versions;
use crate::config::Config;

/// The policy's and its binding's name.
pub const NAME: &str = "pangeo-render-guard";

/// The first Kubernetes minor version that serves `ValidatingAdmissionPolicy` as v1.
pub const SINCE: (u32, u32) = (1, 30);

/// Whether the cluster's Kubernetes version serves the policy's API (v1).
pub fn supported(kubernetes_version: &str) -> bool {
    eks_versions::parse(kubernetes_version).is_some_and(|v| v >= SINCE)
}

/// `guard.yaml`'s content decision, for the template.
#[derive(Debug, serde::Serialize)]
pub struct Guard {
    /// The policy and its binding are rendered.
    pub rendered: bool,
    /// Why not, when they are not (a comment in the file).
    pub why: String,
}

pub fn decide(config: &Config) -> Guard {
    let version = &config.cluster.kubernetes_version;
    let why = if !config.kubectl_apply_guard {
        "the config says kubectlApplyGuard: false".to_string()
    } else if !supported(version) {
        format!(
            "Kubernetes {version} does not serve ValidatingAdmissionPolicy v1 (from {}.{})",
            SINCE.0, SINCE.1
        )
    } else {
        String::new()
    };
    Guard { rendered: why.is_empty(), why }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_kubernetes_1_30() {
        assert!(!supported("1.29"));
        assert!(supported("1.30"));
        assert!(supported("1.35"));
        assert!(supported("2.0"));
        assert!(!supported("one"));
    }
}
