//! The rules, one small module per family, each over a [`Deployment`]: the facts of the files
//! that belong together (one directory, or everything given with `-c`). A file given alone is a
//! deployment of one file, so single-file and cross-file checks are the same code; a rule that
//! needs a fact nobody gave simply does not fire.
//!
//! A config given with its artifacts is also checked alone ([`crate::validate::check_config`], the
//! same rules that `values`, `diff` and `apply` run before they render), so its own mistakes are
//! reported at its own lines.
//!
//! Where a fact can come from a rendered artifact or from the config, rules prefer the artifact
//! (it is what eksctl, Helm and the cluster will read) and fall back to the config. Differences
//! between the two are rule PR025's business, not every rule's.

pub mod arns;
pub mod autoscaler;
pub mod capacity;
pub mod cluster;
pub mod config;
pub mod drift;
pub mod option_handler;
pub mod placeholders;
pub mod secret_refs;
pub mod spawner;
pub mod storage;
pub mod tokens;
pub mod workers;

use crate::diag::Diagnostic;
use crate::validate::facts::{ClusterFacts, ConfigFacts, EbsFacts, Fact, HubFacts, ManifestFacts};

#[derive(Default)]
pub struct Deployment<'a> {
    pub config: Option<&'a ConfigFacts>,
    pub cluster: Option<&'a ClusterFacts>,
    pub hub: Option<&'a HubFacts>,
    pub ebs: Option<&'a EbsFacts>,
    pub manifests: Vec<&'a ManifestFacts>,
}

impl<'a> Deployment<'a> {
    /// The cluster as eksctl will create it: `cluster.yaml`, else the config.
    pub fn cluster_side(&self) -> Option<&'a ClusterFacts> {
        self.cluster.or(self.config.map(|c| &c.cluster))
    }

    /// The hub as Helm will install it: `daskhub.yaml`, else the config.
    pub fn hub_side(&self) -> Option<&'a HubFacts> {
        self.hub.or(self.config.map(|c| &c.hub))
    }

    pub fn region(&self) -> Option<&'a Fact<String>> {
        self.cluster_side().and_then(|c| c.region.as_ref())
    }
}

/// Runs every rule family over one deployment.
pub fn run(d: &Deployment, out: &mut Vec<Diagnostic>) {
    cluster::check(d, out);
    config::check(d, out);
    arns::check(d, out);
    autoscaler::check(d, out);
    tokens::check(d, out);
    secret_refs::check(d, out);
    workers::check(d, out);
    capacity::check(d, out);
    spawner::check(d, out);
    storage::check(d, out);
    drift::check(d, out);
    option_handler::check(d, out);
}

/// A number as people write it: `4`, not `4.0`; `0.8`, not `0.8000000000000001`.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
