//! The config, as facts plus what only the config knows.

use std::path::PathBuf;

use super::cluster::ClusterFacts;
use super::hub::HubFacts;
use super::{Loc, Reader};
use crate::config::{Config, Loaded};

pub struct ConfigFacts {
    pub path: PathBuf,
    pub config: Config,
    pub cluster: ClusterFacts,
    pub hub: HubFacts,
    pub storage_class: Loc,
    /// `daskGateway.imageMatchesSingleuser`, with its location.
    pub image_matches: Option<Loc>,
}

impl ConfigFacts {
    pub fn new(loaded: &Loaded) -> ConfigFacts {
        let r = Reader::new(&loaded.path, &loaded.node);
        ConfigFacts {
            path: loaded.path.clone(),
            config: loaded.config.clone(),
            cluster: ClusterFacts::from_config(loaded),
            hub: HubFacts::from_config(loaded),
            storage_class: r.loc(&["storageClass"]),
            image_matches: loaded
                .config
                .dask_gateway
                .image_matches_singleuser
                .then(|| r.loc(&["daskGateway", "imageMatchesSingleuser"])),
        }
    }
}
