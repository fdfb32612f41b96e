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
use crate::validate::facts::{Bound, Fact, Group};
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
}

/// CPU or memory: the two sizes a pod asks for, each checked the same way against a node.
#[derive(Clone, Copy)]
enum Unit {
    Cpu,
    Memory,
}

impl Unit {
    /// What a pod can have of it on `node` (CPU, GiB).
    fn room(self, node: &Node) -> f64 {
        match self {
            Unit::Cpu => node.cores,
            Unit::Memory => node.gib,
        }
    }

    /// The node's share for pods, as the messages say it.
    fn room_text(self, node: &Node) -> String {
        let (room, unit) = match self {
            Unit::Cpu => (node.cores, "CPU"),
            Unit::Memory => (node.gib, "GiB"),
        };
        format!("a {} node of group `{}` leaves {} {unit} to pods", node.t.name, node.group, num(room))
    }

    /// An upper bound in a hint: `2` (CPU) or `4 GiB`.
    fn bound(self, value: f64) -> String {
        match self {
            Unit::Cpu => num(value),
            Unit::Memory => format!("{} GiB", num(value)),
        }
    }

    /// A user server's size as the facts hold it (CPU, bytes), in this unit (CPU, GiB) and as
    /// text.
    fn server(self, value: f64) -> (f64, String) {
        match self {
            Unit::Cpu => (value, format!("{} CPU", num(value))),
            Unit::Memory => (value / GIB, format!("{} GiB of memory", num(value / GIB))),
        }
    }

    /// A Dask worker's size (the facts hold cores and GiB) as text.
    fn worker(self, value: f64) -> String {
        match self {
            Unit::Cpu => format!("{} cores", num(value)),
            Unit::Memory => format!("{} GiB", num(value)),
        }
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
    let too_big = |unit: Unit, f: &Option<Fact<f64>>| {
        let f = f.as_ref()?;
        let (size, text) = unit.server(f.value);
        (size > unit.room(node)).then_some((f.loc.clone(), text))
    };
    for (unit, guarantee) in [(Unit::Cpu, &h.cpu_guarantee), (Unit::Memory, &h.memory_guarantee)] {
        if let Some((loc, size)) = too_big(unit, guarantee) {
            out.push(
                loc.error(
                    ids::CAPACITY,
                    format!(
                        "a user's server is guaranteed {size}, but {}: it never starts",
                        unit.room_text(node)
                    ),
                )
                .hint(format!("lower the guarantee to at most {} {grow}", unit.bound(unit.room(node)))),
            );
        }
    }
    for (unit, limit) in [(Unit::Cpu, &h.cpu_limit), (Unit::Memory, &h.memory_limit)] {
        if let Some((loc, size)) = too_big(unit, limit) {
            out.push(
                loc.warning(
                    ids::CAPACITY,
                    format!(
                        "a user's server may use up to {size}, but {}: the limit can never be reached",
                        unit.room_text(node)
                    ),
                )
                .hint(format!("lower the limit to at most {} {grow}", unit.bound(unit.room(node)))),
            );
        }
    }
}

fn workers(node: &Node, g: &Group, h: &crate::validate::facts::HubFacts, out: &mut Vec<Diagnostic>) {
    let grow = "or add a larger instance type to the worker node group";
    let sizes = [(Unit::Cpu, h.worker_cores.as_ref()), (Unit::Memory, h.worker_memory.as_ref())];
    let too_big = |unit: Unit, f: &Fact<f64>| f.value > unit.room(node);
    fn default(bound: Option<&Bound>) -> Option<&Fact<f64>> {
        bound?.default.as_ref()
    }
    let mut fits = true;
    for (unit, bound) in sizes {
        if let Some(f) = default(bound).filter(|f| too_big(unit, f)) {
            fits = false;
            out.push(
                f.error(
                    ids::CAPACITY,
                    format!(
                        "the default worker asks for {}, but {}",
                        unit.worker(f.value),
                        unit.room_text(node)
                    ),
                )
                .hint(format!("lower the default to at most {} {grow}", unit.bound(unit.room(node)))),
            );
        }
    }
    // The largest worker a user may choose in the cluster options must fit too (a default that
    // does not fit is reported once, above).
    for (unit, bound) in sizes {
        if let Some(f) = bound.and_then(|b| b.max.as_ref()).filter(|f| too_big(unit, f))
            && !default(bound).is_some_and(|f| too_big(unit, f))
        {
            out.push(
                f.error(
                    ids::CAPACITY,
                    format!(
                        "users may choose workers of up to {}, but {}: such workers never start",
                        unit.worker(f.value),
                        unit.room_text(node)
                    ),
                )
                .hint(format!("lower the maximum to at most {} {grow}", unit.bound(unit.room(node)))),
            );
        }
    }
    let (Some(max_workers), Some(max_size), true) = (&h.max_workers, &g.max, fits) else { return };
    let per_node = sizes
        .into_iter()
        .filter_map(|(unit, bound)| default(bound).map(|f| unit.room(node) / f.value))
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
