//! The walkthrough's own hand-edited files (`../shared/conformance/seed-example`), filled in with
//! a test's own values the way its README says: the KMS ARN, two `openssl rand -hex 32` tokens
//! (the second pasted twice), a password and the certificate ARN.

use std::fs;
use std::path::{Path, PathBuf};

pub const KMS: &str = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
pub const CERT: &str = "arn:aws:acm:us-west-2:123456789012:certificate/12345678-1234-1234-1234-123456789012";

/// The secrets pasted into the files.
pub struct Filled {
    pub proxy_token: String,
    pub gateway_token: String,
    pub password: String,
}

pub fn seed_example() -> PathBuf {
    let conformance = std::env::var_os("PANGEO_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::repo().join("../shared/conformance"));
    conformance.join("seed-example")
}

/// Writes the three files into `dir`, `version` as the cluster's Kubernetes version.
pub fn fill(dir: &Path, version: &str) -> Filled {
    let filled = Filled {
        proxy_token: "3a".repeat(32),
        gateway_token: "5c".repeat(32),
        password: "walkthrough-shared-pw".into(),
    };
    fs::create_dir_all(dir).unwrap();
    let read = |name: &str| fs::read_to_string(seed_example().join(name)).unwrap();
    let cluster = read("cluster.yaml")
        .replace("<insert-your-kms-key-arn-here>", KMS)
        .replace("version: \"1.28\"", &format!("version: \"{version}\""));
    let daskhub = read("daskhub.yaml")
        .replace("<token-1>", &filled.proxy_token)
        .replace("<token-2>", &filled.gateway_token)
        .replace("<jupyterhub-password>", &filled.password)
        .replace("<acm-certificate-arn>", CERT);
    fs::write(dir.join("cluster.yaml"), cluster).unwrap();
    fs::write(dir.join("daskhub.yaml"), daskhub).unwrap();
    fs::write(dir.join("storageclass.yaml"), read("storageclass.yaml")).unwrap();
    filled
}
