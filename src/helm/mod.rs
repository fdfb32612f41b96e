//! Helm charts as the config pins them (below `config`; pure, no cluster and no helm binary).

pub mod chart;
