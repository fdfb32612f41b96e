//! What a file is, decided from its content (names vary: users rename and move files).

use crate::yaml::Node;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `apiVersion: pangeo-render/…`, `kind: PangeoDeployment`.
    Config,
    /// `apiVersion: pangeo-render/…`, `kind: PangeoSecrets` (the secrets file beside a config).
    Secrets,
    /// `apiVersion: eksctl.io/…`, `kind: ClusterConfig`.
    EksctlCluster,
    /// Helm values for DaskHub: top-level `jupyterhub` and/or `dask-gateway`.
    DaskhubValues,
    /// Helm values for the aws-ebs-csi-driver chart.
    EbsCsiValues,
    /// One or more Kubernetes objects (each with `apiVersion` and `kind`).
    Manifests,
    /// A SOPS-encrypted file (a top-level `sops:` block with a `mac`): its values cannot be read
    /// without the key, and it is meant to be committed.
    Sops,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Config => "pangeo-render config",
            Kind::Secrets => "pangeo-render secrets file",
            Kind::EksctlCluster => "eksctl ClusterConfig",
            Kind::DaskhubValues => "DaskHub Helm values",
            Kind::EbsCsiValues => "EBS CSI driver Helm values",
            Kind::Manifests => "Kubernetes manifests",
            Kind::Sops => "SOPS-encrypted file",
        }
    }
}

/// Top-level keys only the EBS CSI driver chart's values have. `image` and `node` alone are too
/// common in other charts' values to decide on.
const EBS_CSI_MARKERS: &[&str] = &[
    "controller",
    "sidecars",
    "awsAccessSecret",
    "storageClasses",
    "defaultStorageClass",
    "volumeSnapshotClasses",
    "useOldCSIDriver",
    "nodeComponentOnly",
    "additionalDaemonSets",
];

pub fn detect(docs: &[Node]) -> Option<Kind> {
    let first = docs.first()?;
    let str_of = |n: &Node, k: &str| n.get(k).and_then(Node::as_str).map(str::to_string);
    if docs.len() == 1 && first.get("sops").is_some_and(|m| m.get("mac").is_some()) {
        return Some(Kind::Sops);
    }
    let api = str_of(first, "apiVersion");
    let kind = str_of(first, "kind");
    if docs.len() == 1 {
        if let Some(api) = &api {
            if api.starts_with("pangeo-render/") {
                return Some(if kind.as_deref() == Some("PangeoSecrets") {
                    Kind::Secrets
                } else {
                    Kind::Config
                });
            }
            if api.starts_with("eksctl.io/") {
                return Some(Kind::EksctlCluster);
            }
        }
        if api.is_none() && kind.is_none() {
            let keys: Vec<&str> = first.as_map().iter().map(|e| e.key.as_str()).collect();
            if keys.iter().any(|k| *k == "jupyterhub" || *k == "dask-gateway") {
                return Some(Kind::DaskhubValues);
            }
            if keys.iter().any(|k| EBS_CSI_MARKERS.contains(k)) {
                return Some(Kind::EbsCsiValues);
            }
            return None;
        }
    }
    let all_objects = docs.iter().all(|d| {
        d.get("apiVersion").and_then(Node::as_str).is_some() && d.get("kind").and_then(Node::as_str).is_some()
    });
    all_objects.then_some(Kind::Manifests)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn kind(text: &str) -> Option<Kind> {
        detect(&parse_documents(text).unwrap())
    }

    #[test]
    fn recognises_each_kind() {
        assert_eq!(kind("apiVersion: pangeo-render/v1alpha1\nkind: PangeoDeployment\n"), Some(Kind::Config));
        assert_eq!(kind("apiVersion: pangeo-render/v1alpha1\nkind: PangeoSecrets\n"), Some(Kind::Secrets));
        assert_eq!(
            kind(
                "apiVersion: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nkind: ENC[…]\nsops:\n    mac: ENC[…]\n"
            ),
            Some(Kind::Sops)
        );
        assert_eq!(kind("apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\n"), Some(Kind::EksctlCluster));
        assert_eq!(kind("jupyterhub: {}\n"), Some(Kind::DaskhubValues));
        assert_eq!(kind("dask-gateway: {}\n"), Some(Kind::DaskhubValues));
        assert_eq!(kind("controller: {}\nimage: {}\n"), Some(Kind::EbsCsiValues));
        assert_eq!(kind("apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\n"), Some(Kind::Manifests));
        assert_eq!(kind("image: {}\n"), None);
        assert_eq!(kind("repos: []\n"), None);
        assert_eq!(kind("- a\n- b\n"), None);
        assert_eq!(kind("apiVersion: v1\nkind: A\n---\nfoo: 1\n"), None);
    }
}
