//! PR020, capacity: what users and workers ask for must fit the nodes that exist to run them.
//!
//! - a user's server: its guarantee must fit a main-group node (else it never schedules: error),
//!   and so should its limit (else a notebook can never use what it was promised: warning);
//! - a Dask worker: the default size must fit the worker group's nodes, and so must the largest
//!   size the cluster options let a user choose (else that user's workers never schedule);
//! - the workers one user may ask for (`cluster_max_workers`) must fit the worker group at its
//!   maximum size, counting how many default workers share a node.
//!
//! What a pod can have is a node's allocatable share (`aws::instances`: the EKS AMIs' kube-reserved
//! and eviction threshold) less the requests of the DaemonSets every node runs
//! (`aws::instances::NODE_DAEMONS`). The largest instance type of a group is used, so a finding here
//! is never a false alarm caused by the autoscaler's choice.

use crate::aws::instances::{self, InstanceType};
use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::validate::facts::{Fact, Group};
use crate::validate::rules::{Deployment, num};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The group's largest known instance type (by memory, then vCPU).
fn largest(g: &Group) -> Option<&'static InstanceType> {
    g.instance_types.iter().filter_map(|t| instances::find(&t.value)).max_by(|a, b| {
        (a.memory_gib, a.vcpu).partial_cmp(&(b.memory_gib, b.vcpu)).unwrap_or(std::cmp::Ordering::Equal)
    })
}

/// The node a pod of some size must fit, with what a pod can have there.
struct Node<'a> {
    group: &'a str,
    t: &'static InstanceType,
    cores: f64,
    gib: f64,
}

impl Node<'_> {
    fn of<'a>(g: &'a Group) -> Option<Node<'a>> {
        let t = largest(g)?;
        Some(Node { group: &g.name.value, t, cores: t.pod_cores(), gib: t.pod_memory_gib() })
    }

    fn cores_text(&self) -> String {
        format!("a {} node of group `{}` leaves {} CPU to pods", self.t.name, self.group, num(self.cores))
    }

    fn gib_text(&self) -> String {
        format!("a {} node of group `{}` leaves {} GiB to pods", self.t.name, self.group, num(self.gib))
    }
}

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    let (Some(h), Some(c)) = (d.hub_side(), d.cluster_side()) else { return };
    if let Some(node) = c.main_group().and_then(Node::of) {
        notebook(&node, h, out);
    }
    if let Some(g) = c.worker_group()
        && let Some(node) = Node::of(g)
    {
        workers(&node, g, h, out);
    }
}

fn notebook(node: &Node, h: &crate::validate::facts::HubFacts, out: &mut Vec<Diagnostic>) {
    let grow = "or add a larger instance type to the main node group";
    if let Some(cpu) = &h.cpu_guarantee
        && cpu.value > node.cores
    {
        out.push(
            cpu.error(
                ids::CAPACITY,
                format!(
                    "a user's server is guaranteed {} CPU, but {}: it never starts",
                    num(cpu.value),
                    node.cores_text()
                ),
            )
            .hint(format!("lower the guarantee to at most {} {grow}", num(node.cores))),
        );
    }
    if let Some(mem) = &h.memory_guarantee
        && mem.value / GIB > node.gib
    {
        out.push(
            mem.error(
                ids::CAPACITY,
                format!(
                    "a user's server is guaranteed {} GiB of memory, but {}: it never starts",
                    num(mem.value / GIB),
                    node.gib_text()
                ),
            )
            .hint(format!("lower the guarantee to at most {} GiB {grow}", num(node.gib))),
        );
    }
    if let Some(cpu) = &h.cpu_limit
        && cpu.value > node.cores
    {
        out.push(
            cpu.warning(
                ids::CAPACITY,
                format!(
                    "a user's server may use up to {} CPU, but {}: the limit can never be reached",
                    num(cpu.value),
                    node.cores_text()
                ),
            )
            .hint(format!("lower the limit to at most {} {grow}", num(node.cores))),
        );
    }
    if let Some(mem) = &h.memory_limit
        && mem.value / GIB > node.gib
    {
        out.push(
            mem.warning(
                ids::CAPACITY,
                format!(
                    "a user's server may use up to {} GiB of memory, but {}: the limit can never be reached",
                    num(mem.value / GIB),
                    node.gib_text()
                ),
            )
            .hint(format!("lower the limit to at most {} GiB {grow}", num(node.gib))),
        );
    }
}

fn workers(node: &Node, g: &Group, h: &crate::validate::facts::HubFacts, out: &mut Vec<Diagnostic>) {
    let grow = "or add a larger instance type to the worker node group";
    let cores = h.worker_cores.as_ref();
    let memory = h.worker_memory.as_ref();
    let too_many_cores = |f: &Fact<f64>| f.value > node.cores;
    let too_much_memory = |f: &Fact<f64>| f.value > node.gib;
    let default_cores = cores.and_then(|b| b.default.as_ref());
    let default_memory = memory.and_then(|b| b.default.as_ref());
    let mut fits = true;
    if let Some(f) = default_cores.filter(|f| too_many_cores(f)) {
        fits = false;
        out.push(
            f.error(
                ids::CAPACITY,
                format!("the default worker asks for {} cores, but {}", num(f.value), node.cores_text()),
            )
            .hint(format!("lower the default to at most {} {grow}", num(node.cores))),
        );
    }
    if let Some(f) = default_memory.filter(|f| too_much_memory(f)) {
        fits = false;
        out.push(
            f.error(
                ids::CAPACITY,
                format!("the default worker asks for {} GiB, but {}", num(f.value), node.gib_text()),
            )
            .hint(format!("lower the default to at most {} GiB {grow}", num(node.gib))),
        );
    }
    // The largest worker a user may choose in the cluster options must fit too (a default that
    // does not fit is reported once, above).
    if let Some(f) = cores.and_then(|b| b.max.as_ref()).filter(|f| too_many_cores(f))
        && !default_cores.is_some_and(too_many_cores)
    {
        out.push(
            f.error(
                ids::CAPACITY,
                format!(
                    "users may choose workers of up to {} cores, but {}: such workers never start",
                    num(f.value),
                    node.cores_text()
                ),
            )
            .hint(format!("lower the maximum to at most {} {grow}", num(node.cores))),
        );
    }
    if let Some(f) = memory.and_then(|b| b.max.as_ref()).filter(|f| too_much_memory(f))
        && !default_memory.is_some_and(too_much_memory)
    {
        out.push(
            f.error(
                ids::CAPACITY,
                format!(
                    "users may choose workers of up to {} GiB, but {}: such workers never start",
                    num(f.value),
                    node.gib_text()
                ),
            )
            .hint(format!("lower the maximum to at most {} GiB {grow}", num(node.gib))),
        );
    }
    let (Some(max_workers), Some(max_size), true) = (&h.max_workers, &g.max, fits) else { return };
    let per_node = [default_cores.map(|c| node.cores / c.value), default_memory.map(|m| node.gib / m.value)]
        .into_iter()
        .flatten()
        .filter(|n| n.is_finite() && *n > 0.0)
        .fold(f64::INFINITY, f64::min)
        .floor();
    if !per_node.is_finite() || per_node < 1.0 {
        return;
    }
    let room = per_node * max_size.value;
    if max_workers.value > room {
        let needed = (max_workers.value / per_node).ceil();
        out.push(
            max_workers
                .error(ids::CAPACITY, format!(
                    "a user may ask for {} workers; at {} default workers per {} node they need {} nodes, but group `{}` has maxSize {} (room for {})",
                    num(max_workers.value), num(per_node), node.t.name, num(needed), g.name.value, num(max_size.value), num(room)
                ))
                .hint(format!("lower the maximum workers per cluster to {} or raise the group's maxSize to {} (at {}:{})", num(room), num(needed), max_size.loc.file.display(), max_size.loc.pos.line)),
        );
    }
}
