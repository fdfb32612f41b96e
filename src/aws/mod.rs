//! Facts about AWS that the tool needs without calling AWS. Each table names its source; update
//! the tables (and their "as of" dates) when AWS publishes new versions or regions.

pub mod arn;
pub mod autoscaler;
pub mod ecr;
pub mod eks_pricing;
pub mod eks_versions;
pub mod instances;
pub mod regions;
