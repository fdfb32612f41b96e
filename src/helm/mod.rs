//! Helm as pangeo-render uses it: the charts the config pins ([`chart`]; pure, below `config`)
//! and the helm commands built from them, printed and run ([`command`]), with the endpoint that
//! answers the lookups of the `helm template` we run ([`lookups`]). What those commands do
//! to the cluster is `diff`'s and `apply`'s business.

pub mod chart;
pub mod command;
pub mod lookups;
