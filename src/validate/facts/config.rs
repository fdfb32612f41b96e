//! The config, as facts plus what only the config knows.

use std::path::PathBuf;

use super::cluster::ClusterFacts;
use super::hub::HubFacts;
use super::{Fact, Loc, Reader};
use crate::config::{Config, Loaded, Quantity};

pub struct ConfigFacts {
    pub path: PathBuf,
    pub config: Config,
    pub cluster: ClusterFacts,
    pub hub: HubFacts,
    pub storage_class: Loc,
    /// `storageClass.kmsKeyArn`, when set (else the volumes use the cluster's key).
    pub storage_kms_key: Option<Fact<String>>,
    /// `daskGateway.imageMatchesSingleuser`, with its location.
    pub image_matches: Option<Loc>,
    /// `releases.daskhub.version`.
    pub daskhub_version: Loc,
    /// `hub.singleuser.storageClass`.
    pub home_storage_class: Loc,
    /// `daskGateway.maxWorkersPerCluster` (also where it says `null`, no limit).
    pub max_workers: Loc,
    /// `daskGateway.optionHandler.file`.
    pub option_handler: Loc,
    /// `hub.singleuser.cpu.guarantee` and `.limit`.
    pub cpu: (Fact<f64>, Fact<f64>),
    /// `hub.singleuser.memory.guarantee` and `.limit`, as written.
    pub memory: [Fact<Quantity>; 2],
}

impl ConfigFacts {
    pub fn new(loaded: &Loaded) -> ConfigFacts {
        let r = Reader::new(&loaded.path, &loaded.node);
        let c = &loaded.config;
        let su = &c.hub.singleuser;
        let at = |key: &str, leaf: &str| r.loc(&["hub", "singleuser", key, leaf]);
        ConfigFacts {
            path: loaded.path.clone(),
            config: c.clone(),
            cluster: ClusterFacts::from_config(loaded),
            hub: HubFacts::from_config(loaded),
            storage_class: r.loc(&["storageClass"]),
            storage_kms_key: c
                .storage_class
                .kms_key_arn
                .as_ref()
                .map(|k| Fact { value: k.clone(), loc: r.loc(&["storageClass", "kmsKeyArn"]) }),
            image_matches: c
                .dask_gateway
                .image_matches_singleuser
                .then(|| r.loc(&["daskGateway", "imageMatchesSingleuser"])),
            daskhub_version: r.loc(&["releases", "daskhub", "version"]),
            home_storage_class: r.loc(&["hub", "singleuser", "storageClass"]),
            max_workers: r.loc(&["daskGateway", "maxWorkersPerCluster"]),
            option_handler: r.loc(&["daskGateway", "optionHandler", "file"]),
            cpu: (
                Fact { value: su.cpu.guarantee, loc: at("cpu", "guarantee") },
                Fact { value: su.cpu.limit, loc: at("cpu", "limit") },
            ),
            memory: [
                Fact { value: su.memory.guarantee.clone(), loc: at("memory", "guarantee") },
                Fact { value: su.memory.limit.clone(), loc: at("memory", "limit") },
            ],
        }
    }
}
