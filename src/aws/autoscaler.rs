//! Cluster Autoscaler releases: the newest patch for each Kubernetes minor.
//!
//! Source: kubernetes/autoscaler git tags `cluster-autoscaler-1.x.y` (HEAD 55c37cd5, 2026-08-22)
//! and its README "Releases" table, whose rule is that the autoscaler's minor version must equal
//! the cluster's Kubernetes minor. Images live on registry.k8s.io (k8s.gcr.io is frozen).

pub const IMAGE_REPOSITORY: &str = "registry.k8s.io/autoscaling/cluster-autoscaler";

pub const NEWEST_PATCH: &[(&str, &str)] = &[
    ("1.36", "v1.36.1"),
    ("1.35", "v1.35.2"),
    ("1.34", "v1.34.5"),
    ("1.33", "v1.33.6"),
    ("1.32", "v1.32.7"),
    ("1.31", "v1.31.5"),
    ("1.30", "v1.30.7"),
    ("1.29", "v1.29.5"),
    ("1.28", "v1.28.7"),
    ("1.27", "v1.27.8"),
];

pub fn image_for(kubernetes_minor: &str) -> Option<String> {
    NEWEST_PATCH
        .iter()
        .find(|(minor, _)| *minor == kubernetes_minor)
        .map(|(_, tag)| format!("{IMAGE_REPOSITORY}:{tag}"))
}
