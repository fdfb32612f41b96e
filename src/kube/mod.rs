//! The cluster side: the only module that uses kube-rs.
//!
//! [`client`] loads a kubeconfig and builds a client tuned for a handful of small requests;
//! [`api`] maps our objects to API resources and reads, applies (server-side, field manager
//! [`FIELD_MANAGER`]), deletes and creates them. Errors become [`ClusterError`]s that name the
//! verb, the resource and the object; callers turn them into the tool's one error type.

pub mod api;
pub mod client;
pub mod exec;
pub mod identity;
pub mod proxy;

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

pub use api::{ApplyMode, Cluster, ClusterError, Conflict, ListRequest, ObjectRef};
pub use client::{Connection, Target, connect, open, target};

/// The field manager of every server-side apply this tool sends.
pub const FIELD_MANAGER: &str = "pangeo-render";

/// The field manager of the one-annotation apply that hands the default StorageClass over:
/// kept apart from [`FIELD_MANAGER`] so that our own objects never claim fields of other classes.
pub const DEFAULT_CLASS_MANAGER: &str = "pangeo-render-default-class";

/// Runs futures `limit` at a time (1: strictly one after another), keeping their order.
pub async fn run_all<F: Future>(jobs: Vec<F>, limit: usize) -> Vec<F::Output> {
    if limit <= 1 {
        let mut out = Vec::with_capacity(jobs.len());
        for j in jobs {
            out.push(j.await);
        }
        return out;
    }
    let mut pending: Vec<Option<Pin<Box<F>>>> = jobs.into_iter().map(|j| Some(Box::pin(j))).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut running = 0;
        for (i, slot) in pending.iter_mut().enumerate() {
            if running >= limit {
                break;
            }
            if let Some(fut) = slot {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => running += 1,
                }
            }
        }
        if pending.iter().all(Option::is_none) { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    results.into_iter().map(|r| r.expect("every job finished")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_all_keeps_order_at_any_limit() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        for limit in [1, 2, 8] {
            let jobs: Vec<_> = (0..5u64)
                .map(|i| async move {
                    tokio::time::sleep(std::time::Duration::from_millis(5 * (5 - i))).await;
                    i
                })
                .collect();
            assert_eq!(rt.block_on(run_all(jobs, limit)), vec![0, 1, 2, 3, 4]);
        }
    }
}
