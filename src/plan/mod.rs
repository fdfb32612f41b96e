//! Live object vs. the server's merged result of applying ours: the plan both `diff` and `apply`
//! work from.
//!
//! For each manifest: the live object (`GET`; absent when not found) and a server-side apply
//! dry-run as field manager `pangeo-render` — the object as it would be after `apply`, with the
//! server's defaults, admission and merging, as `kubectl diff` computes it. A 409 Conflict
//! records each field and its manager, and the dry-run is repeated with force to still show the
//! result; a 422 refusal of an immutable field records the server's reasons and shows the object
//! as `--recreate` would create it. When our StorageClass is the default, every other class still
//! marked default gets an entry that sets its annotation to "false".
//! An object our manager has never applied, built with kubectl's commands, is planned as a
//! takeover ([`takeover`]): those managers' fields are not conflicts, since apply moves them to us
//! first; the dry run is forced to show the result.
//!
//! One shortcut, because the dry runs are most of the server's work: an object whose live state
//! is provably what the apply would leave — every field of the manifest has that value live, and
//! our field manager's Apply entry owns exactly those fields — is not sent, since a server-side
//! apply of it is a no-op by definition ([`proven_in_sync`]). Anything the proof cannot decide
//! goes through the dry run. `PANGEO_RENDER_ALWAYS_DRY_RUN=1` turns the shortcut off. (Not seen
//! by the shortcut: a mutating admission webhook that would change the object on every write.)

pub mod in_sync;
pub mod releases;
pub mod strip;
pub mod takeover;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::kube::{
    ApplyMode, Cluster, ClusterError, Conflict, DEFAULT_CLASS_MANAGER, FIELD_MANAGER, ObjectRef, run_all,
};
use crate::render::Artifact;
pub use in_sync::proven_in_sync;
pub use releases::{Release, releases};
use strip::{canonical, stripped};

pub const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

/// What a planned object's apply will do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    /// Delete and create again: an immutable field changes.
    Recreate,
}

/// One object of the plan.
#[derive(Clone, Debug)]
pub struct Planned {
    pub object: ObjectRef,
    /// What is sent: our whole manifest, or for a handover only the default-class annotation.
    pub body: Value,
    pub manager: &'static str,
    /// A handover entry: another StorageClass loses its default annotation (always forced).
    pub handover: bool,
    pub live: Option<Value>,
    /// The server's dry-run result (or, for an immutable change, the object as re-created).
    pub merged: Value,
    pub conflicts: Vec<Conflict>,
    pub immutable: Vec<String>,
    /// The walkthrough's kubectl field managers whose fields the apply takes over
    /// ([`takeover`]): our manager has never applied the object.
    pub takeover: Vec<String>,
}

impl Planned {
    /// Our manifest, nothing in its way: no conflicts, no immutable fields, nothing taken over.
    pub fn ours(object: ObjectRef, body: Value, live: Option<Value>, merged: Value) -> Planned {
        Planned {
            object,
            body,
            manager: FIELD_MANAGER,
            handover: false,
            live,
            merged,
            conflicts: Vec::new(),
            immutable: Vec::new(),
            takeover: Vec::new(),
        }
    }

    /// Whether applying this object first moves the kubectl managers' fields to ours.
    pub fn takes_over(&self) -> bool {
        !self.takeover.is_empty() && self.immutable.is_empty()
    }

    pub fn action(&self) -> Action {
        if !self.immutable.is_empty() {
            Action::Recreate
        } else if self.live.is_none() {
            Action::Create
        } else if self.in_sync() {
            Action::Unchanged
        } else {
            Action::Update
        }
    }

    /// Live and merged are the same object, and our field manager already owns what it would.
    pub fn in_sync(&self) -> bool {
        let Some(live) = &self.live else { return false };
        if canonical(&stripped(live)) != canonical(&stripped(&self.merged)) {
            return false;
        }
        // Same content; an apply would still change ownership unless our entry is already there.
        let entry = |obj: &Value| {
            obj.pointer("/metadata/managedFields").and_then(Value::as_array).and_then(|list| {
                list.iter()
                    .find(|e| {
                        e.get("manager").and_then(Value::as_str) == Some(self.manager)
                            && e.get("operation").and_then(Value::as_str) == Some("Apply")
                    })
                    .map(|e| (e.get("apiVersion").cloned(), e.get("fieldsV1").cloned()))
            })
        };
        entry(live).is_some() && entry(live) == entry(&self.merged)
    }
}

/// Every Kubernetes object of the rendered manifests, in apply order.
pub fn manifests(artifacts: &[Artifact]) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for a in artifacts.iter().filter(|a| a.kind.is_manifest()) {
        for doc in a.documents()? {
            let obj = doc.to_json();
            if ObjectRef::of(&obj).is_none() {
                return Err(Error::Template {
                    name: a.file_name.to_string(),
                    message: format!(
                        "a document at line {} has no apiVersion, kind or metadata.name",
                        doc.pos.line
                    ),
                });
            }
            out.push(obj);
        }
    }
    Ok(order(out))
}

/// Kubernetes objects parsed from the rendered manifests, in apply order: the guard (before the
/// objects it guards, policy before binding), namespaces and service accounts, RBAC next, then
/// storage, then workloads.
pub fn order(mut objects: Vec<Value>) -> Vec<Value> {
    fn rank(obj: &Value) -> u8 {
        match obj.get("kind").and_then(Value::as_str).unwrap_or("") {
            "ValidatingAdmissionPolicy" | "ValidatingAdmissionPolicyBinding" | "Namespace" => 0,
            "CustomResourceDefinition" => 1,
            "ServiceAccount" => 2,
            "Secret" | "ConfigMap" => 3,
            "ClusterRole" => 4,
            "Role" => 5,
            "ClusterRoleBinding" => 6,
            "RoleBinding" => 7,
            "StorageClass" => 8,
            "Service" => 9,
            "Deployment" | "StatefulSet" | "DaemonSet" => 10,
            _ => 11,
        }
    }
    objects.sort_by_key(rank);
    objects
}

/// How many requests are in flight, each on its own kept-alive HTTP/1.1 connection (opened while
/// the config renders). Four beat two by about 10 % on the in-sync `diff` of the whole deployment
/// (37 objects of the DaskHub release read by the drift check) and on the preview's dry runs,
/// against the local test control plane (BENCHMARKS.md); against a distant API server, where
/// each request waits a network round trip, more may pay: `PANGEO_RENDER_CONCURRENCY=n` sets it.
pub fn concurrency() -> usize {
    std::env::var("PANGEO_RENDER_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n: &usize| *n >= 1)
        .unwrap_or(4)
}

/// Builds the plan for `manifests` (already in apply order). `force` is `--force-conflicts`.
pub async fn plan(
    cluster: &mut Cluster,
    manifests: Vec<Value>,
    force: bool,
) -> Result<Vec<Planned>, ClusterError> {
    let refs: Vec<ObjectRef> = manifests.iter().filter_map(ObjectRef::of).collect();
    cluster.prepare(&refs).await?;
    let classes = cluster.storage_classes.take();
    plan_prepared(cluster, manifests, force, classes).await
}

/// [`plan`] once the kinds of `manifests` are prepared; `classes` are the StorageClasses when
/// already listed ([`Cluster::warm_up`]). Needs no `&mut`, so that `diff` runs it alongside the
/// drift check.
pub async fn plan_prepared(
    cluster: &Cluster,
    manifests: Vec<Value>,
    force: bool,
    mut classes: Option<Vec<Value>>,
) -> Result<Vec<Planned>, ClusterError> {
    let refs: Vec<ObjectRef> = manifests.iter().filter_map(ObjectRef::of).collect();
    // Our default StorageClass: one LIST gives its live state and every other default class
    // (usually made already, while the config was rendered).
    let default_class = manifests.iter().find(|m| {
        m.get("kind").and_then(Value::as_str) == Some("StorageClass")
            && m.pointer("/metadata/annotations")
                .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                .and_then(Value::as_str)
                == Some("true")
    });
    if classes.is_none() && default_class.is_some() {
        classes = Some(cluster.list("storage.k8s.io/v1", "StorageClass", None, None).await?);
    }

    let cluster_ref = cluster;
    let class_list = classes.as_deref();
    let jobs: Vec<_> = manifests
        .iter()
        .zip(refs.iter())
        .map(|(body, obj)| plan_one(cluster_ref, obj.clone(), body.clone(), force, class_list))
        .collect();
    let mut planned = run_all(jobs, concurrency()).await.into_iter().collect::<Result<Vec<_>, _>>()?;

    // Default-class handover: after our StorageClass, each other default class set to "false".
    if let (Some(ours), Some(classes)) = (default_class, classes.as_ref()) {
        let our_name = ours.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let at = planned
            .iter()
            .position(|p| p.object.kind == "StorageClass" && p.object.name == our_name)
            .map_or(planned.len(), |i| i + 1);
        let mut handovers = Vec::new();
        for other in classes {
            let name = other.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let is_default = other
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                .and_then(Value::as_str)
                == Some("true");
            if name == our_name || !is_default {
                continue;
            }
            let body = json!({
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": name, "annotations": {DEFAULT_CLASS_ANNOTATION: "false"}},
            });
            let object = ObjectRef::of(&body).expect("well-formed");
            let mode = ApplyMode { manager: DEFAULT_CLASS_MANAGER, dry_run: true, force: true };
            let merged = cluster.apply(&object, &body, mode).await?;
            handovers.push(Planned {
                manager: DEFAULT_CLASS_MANAGER,
                handover: true,
                ..Planned::ours(object, body, Some(other.clone()), merged)
            });
        }
        planned.splice(at..at, handovers);
    }
    Ok(planned)
}

async fn plan_one(
    cluster: &Cluster,
    object: ObjectRef,
    body: Value,
    force: bool,
    classes: Option<&[Value]>,
) -> Result<Planned, ClusterError> {
    let live = match classes
        .filter(|_| object.kind == "StorageClass" && object.api_version == "storage.k8s.io/v1")
    {
        Some(list) => list
            .iter()
            .find(|c| c.pointer("/metadata/name").and_then(Value::as_str) == Some(object.name.as_str()))
            .cloned(),
        None => cluster.get(&object).await?,
    };
    if let Some(l) = live.as_ref().filter(|l| shortcut_enabled() && proven_in_sync(&body, l, FIELD_MANAGER)) {
        // Proven a no-op: the live object is what the apply would leave.
        let merged = l.clone();
        return Ok(Planned::ours(object, body, live, merged));
    }
    let takeover = live.as_ref().map(|l| takeover::managers(l, FIELD_MANAGER)).unwrap_or_default();
    let mode = ApplyMode { manager: FIELD_MANAGER, dry_run: true, force };
    let mut conflicts = Vec::new();
    let mut immutable = Vec::new();
    let merged = match cluster.apply(&object, &body, mode).await {
        Ok(m) => m,
        Err(e) => {
            if let Some(c) = e.conflicts() {
                // Fields of the managers the apply takes over are ours by then: not conflicts.
                conflicts = c.into_iter().filter(|c| !takeover.contains(&c.manager)).collect();
                // Still show what apply would do once it takes the fields over.
                match cluster.apply(&object, &body, ApplyMode { force: true, ..mode }).await {
                    Ok(m) => m,
                    Err(e2) => match e2.immutable() {
                        Some(reasons) => {
                            immutable = reasons;
                            recreated(&body, live.as_ref())
                        }
                        None => return Err(e2),
                    },
                }
            } else if let Some(reasons) = e.immutable() {
                immutable = reasons;
                recreated(&body, live.as_ref())
            } else {
                return Err(e);
            }
        }
    };
    let mut merged = merged;
    if !takeover.is_empty() && immutable.is_empty() {
        // Taken over and not sent, kubectl's record of its last applied file goes (see takeover).
        if let Some(a) = merged.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
            a.remove(takeover::LAST_APPLIED);
        }
    }
    Ok(Planned { conflicts, immutable, takeover, ..Planned::ours(object, body, live, merged) })
}

fn shortcut_enabled() -> bool {
    std::env::var_os("PANGEO_RENDER_ALWAYS_DRY_RUN").is_none_or(|v| v.is_empty() || v == "0")
}

/// The object as `--recreate` would create it: our manifest, plus the live object's values for
/// top-level fields we leave out (the server's defaults, which a new object gets again).
fn recreated(body: &Value, live: Option<&Value>) -> Value {
    let mut out = body.clone();
    if let (Some(o), Some(Value::Object(l))) = (out.as_object_mut(), live) {
        for (k, v) in l {
            if k != "metadata" && k != "status" && !o.contains_key(k) {
                o.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(live: Option<Value>, merged: Value) -> Planned {
        Planned::ours(ObjectRef::of(&merged).unwrap(), merged.clone(), live, merged)
    }

    #[test]
    fn same_content_needs_our_ownership_to_be_unchanged() {
        let owned = json!([{"manager": FIELD_MANAGER, "operation": "Apply", "apiVersion": "v1", "fieldsV1": {"f:metadata": {}}, "time": "t1"}]);
        let obj = |mf: &Value, rv: &str| json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "resourceVersion": rv, "managedFields": mf}});
        let mut merged = obj(&owned, "2");
        merged["metadata"]["managedFields"][0]["time"] = json!("t2");
        assert_eq!(planned(Some(obj(&owned, "1")), merged.clone()).action(), Action::Unchanged);
        let other =
            json!([{"manager": "kubectl", "operation": "Update", "apiVersion": "v1", "fieldsV1": {}}]);
        assert_eq!(planned(Some(obj(&other, "1")), merged).action(), Action::Update);
    }

    #[test]
    fn order_puts_rbac_before_workloads() {
        let kinds = ["Deployment", "StorageClass", "RoleBinding", "ClusterRole", "ServiceAccount"];
        let objs = kinds.iter().map(|k| json!({"kind": k})).collect();
        let sorted: Vec<_> =
            order(objs).into_iter().map(|o| o["kind"].as_str().unwrap().to_string()).collect();
        assert_eq!(sorted, ["ServiceAccount", "ClusterRole", "RoleBinding", "StorageClass", "Deployment"]);
    }
}
