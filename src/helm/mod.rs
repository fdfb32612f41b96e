//! Helm releases beyond their values: the chart each is pinned to.

pub mod chart;
pub mod drift;
pub mod preview;
