//! The cluster side: the only module that uses kube-rs.
//!
//! [`client`] loads a kubeconfig and builds a client tuned for a handful of small requests;
//! [`ssa`] maps our objects to API resources and reads, applies (server-side, field manager
//! [`FIELD_MANAGER`]), deletes and creates them. Errors become [`ClusterError`]s that name the
//! verb, the resource and the object; callers turn them into the tool's one error type.

pub mod client;
pub mod ssa;

pub use client::{connect, Connection};
pub use ssa::{ApplyMode, Cluster, ClusterError, Conflict, ObjectRef};

/// The field manager of every server-side apply this tool sends.
pub const FIELD_MANAGER: &str = "pangeo-render";

/// The field manager of the one-annotation apply that hands the default StorageClass over:
/// kept apart from [`FIELD_MANAGER`] so that our own objects never claim fields of other classes.
pub const DEFAULT_CLASS_MANAGER: &str = "pangeo-render-default-class";
