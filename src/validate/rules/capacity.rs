//! PR020, capacity: what users and workers ask for must fit the nodes that exist to run them.
//!
//! - the default Dask worker (cores, memory) must fit the allocatable share of the largest
//!   instance type of the worker group: otherwise no node the autoscaler can start will ever
//!   take a worker;
//! - a user's server (the singleuser guarantee) must fit a main-group node;
//! - the workers one user may ask for (`cluster_max_workers`) must fit the worker group at its
//!   maximum size, counting how many default workers share a node.
//!
//! Allocatable shares come from `aws::instances` (kube-reserved and eviction thresholds of the
//! EKS AMIs). The best case — the largest instance type — is used, so a warning here is never
//! a false alarm caused by the autoscaler's choice.

use crate::aws::instances::{self, InstanceType};
use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::validate::facts::Group;
use crate::validate::rules::{Deployment, num};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The group's largest known instance type (by memory, then vCPU).
fn largest(g: &Group) -> Option<&'static InstanceType> {
    g.instance_types.iter().filter_map(|t| instances::find(&t.value)).max_by(|a, b| {
        (a.memory_gib, a.vcpu).partial_cmp(&(b.memory_gib, b.vcpu)).unwrap_or(std::cmp::Ordering::Equal)
    })
}

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    let (Some(h), Some(c)) = (d.hub_side(), d.cluster_side()) else { return };
    if let Some(g) = c.main_group()
        && let Some(t) = largest(g)
    {
        if let Some(cpu) = &h.cpu_guarantee
            && cpu.value > t.allocatable_cores()
        {
            out.push(
                cpu.error(ids::CAPACITY, format!("a user's server is guaranteed {} CPU, but a {} node of group `{}` has {} allocatable", num(cpu.value), t.name, g.name.value, num(t.allocatable_cores())))
                    .hint("lower the guarantee or add a larger instance type to the main node group"),
            );
        }
        if let Some(mem) = &h.memory_guarantee {
            let gib = mem.value / GIB;
            if gib > t.allocatable_memory_gib() {
                out.push(
                    mem.error(ids::CAPACITY, format!("a user's server is guaranteed {} GiB of memory, but a {} node of group `{}` has {} GiB allocatable", num(gib), t.name, g.name.value, num(t.allocatable_memory_gib())))
                        .hint("lower the guarantee or add a larger instance type to the main node group"),
                );
            }
        }
    }
    let Some(g) = c.worker_group() else { return };
    let Some(t) = largest(g) else { return };
    let cores = h.worker_cores.as_ref().and_then(|b| b.default.as_ref());
    let memory = h.worker_memory.as_ref().and_then(|b| b.default.as_ref());
    let (alloc_cores, alloc_mem) = (t.allocatable_cores(), t.allocatable_memory_gib());
    let mut fits = true;
    if let Some(cores) = cores
        && cores.value > alloc_cores
    {
        fits = false;
        out.push(
            cores.error(ids::CAPACITY, format!("the default worker asks for {} cores, but the largest instance type of group `{}` ({}) has {} allocatable", num(cores.value), g.name.value, t.name, num(alloc_cores)))
                .hint("lower the default or add a larger instance type to the worker node group"),
        );
    }
    if let Some(mem) = memory
        && mem.value > alloc_mem
    {
        fits = false;
        out.push(
            mem.error(ids::CAPACITY, format!("the default worker asks for {} GiB, but the largest instance type of group `{}` ({}) has {} GiB allocatable", num(mem.value), g.name.value, t.name, num(alloc_mem)))
                .hint("lower the default or add a larger instance type to the worker node group"),
        );
    }
    let (Some(max_workers), Some(max_size), true) = (&h.max_workers, &g.max, fits) else { return };
    let per_node = [cores.map(|c| alloc_cores / c.value), memory.map(|m| alloc_mem / m.value)]
        .into_iter()
        .flatten()
        .filter(|n| n.is_finite() && *n > 0.0)
        .fold(f64::INFINITY, f64::min)
        .floor();
    if !per_node.is_finite() {
        return;
    }
    let room = per_node * max_size.value;
    if max_workers.value > room {
        out.push(
            max_workers
                .error(ids::CAPACITY, format!(
                    "a user may ask for {} workers, but group `{}` holds at most {} default workers ({} nodes × {} per {})",
                    num(max_workers.value), g.name.value, num(room), num(max_size.value), num(per_node), t.name
                ))
                .hint(format!("lower the maximum workers per cluster to {} or raise the group's maxSize (at {}:{})", num(room), max_size.loc.file.display(), max_size.loc.pos.line)),
        );
    }
}
