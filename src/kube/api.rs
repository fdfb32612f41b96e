//! Our objects on the API server: which resource each kind is, and get / server-side apply /
//! delete / list with errors that say what failed.
//!
//! The kinds this tool renders are mapped to their API resources without discovery (discovery
//! would cost a round trip per group); any other kind falls back to discovery of its one
//! group-version. Every apply is a server-side apply (`PATCH application/apply-patch+yaml`) with
//! strict field validation, so a misspelt field is an error instead of silently dropped.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use ::kube::api::{
    Api, DeleteParams, DynamicObject, GetParams, ListParams, Patch, PatchParams, PostParams, VersionMatch,
};
use ::kube::core::params::ValidationDirective;
use ::kube::core::{ApiResource, GroupVersion, GroupVersionKind, Status};
use ::kube::discovery::Scope;
use serde_json::Value;

use super::Connection;

/// One object's identity: what the user reads in every line about it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// The identity of a manifest (`apiVersion`, `kind`, `metadata.name`/`namespace`).
    pub fn of(obj: &Value) -> Option<ObjectRef> {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        Some(ObjectRef {
            api_version: s(obj.get("apiVersion"))?,
            kind: s(obj.get("kind"))?,
            namespace: s(obj.pointer("/metadata/namespace")).filter(|n| !n.is_empty()),
            name: s(obj.pointer("/metadata/name"))?,
        })
    }

    /// `group.version.Kind.namespace.name`, as kubectl names its diff files.
    pub fn file_key(&self) -> String {
        let gv = self.api_version.replace('/', ".");
        match &self.namespace {
            Some(ns) => format!("{gv}.{}.{ns}.{}", self.kind, self.name),
            None => format!("{gv}.{}.{}", self.kind, self.name),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{} (namespace {ns})", self.kind, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// The resource of a kind we render or read, without asking the server: (plural, namespaced).
fn known_resource(api_version: &str, kind: &str) -> Option<(&'static str, bool)> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => ("namespaces", false),
        ("v1", "ServiceAccount") => ("serviceaccounts", true),
        ("v1", "ConfigMap") => ("configmaps", true),
        ("v1", "Secret") => ("secrets", true),
        ("v1", "Service") => ("services", true),
        // Read by `import --from-cluster`: the users' home volumes name who has used the hub.
        ("v1", "PersistentVolumeClaim") => ("persistentvolumeclaims", true),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => ("clusterroles", false),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => ("clusterrolebindings", false),
        ("rbac.authorization.k8s.io/v1", "Role") => ("roles", true),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => ("rolebindings", true),
        ("apps/v1", "Deployment") => ("deployments", true),
        // Made by the charts we install (DaskHub: Z2JH and dask-gateway), read by the drift check.
        ("apps/v1", "DaemonSet") => ("daemonsets", true),
        ("apps/v1", "StatefulSet") => ("statefulsets", true),
        ("batch/v1", "Job") => ("jobs", true),
        ("networking.k8s.io/v1", "NetworkPolicy") => ("networkpolicies", true),
        ("networking.k8s.io/v1", "Ingress") => ("ingresses", true),
        ("scheduling.k8s.io/v1", "PriorityClass") => ("priorityclasses", false),
        ("policy/v1", "PodDisruptionBudget") => ("poddisruptionbudgets", true),
        ("storage.k8s.io/v1", "StorageClass") => ("storageclasses", false),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy") => {
            ("validatingadmissionpolicies", false)
        }
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding") => {
            ("validatingadmissionpolicybindings", false)
        }
        _ => return None,
    })
}

fn gvk(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}

#[derive(Clone, Debug)]
struct Resource {
    ar: ApiResource,
    namespaced: bool,
}

/// How an apply is sent.
#[derive(Clone, Copy, Debug)]
pub struct ApplyMode {
    pub manager: &'static str,
    pub dry_run: bool,
    pub force: bool,
}

/// A field another manager owns, from a 409 Conflict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    pub field: String,
    pub manager: String,
}

/// A failed request: the verb, the object, and what the server (or the network) said.
#[derive(Debug)]
pub enum ClusterError {
    Api { verb: String, object: String, status: Box<Status> },
    Transport { verb: String, object: String, message: String },
}

impl ClusterError {
    pub fn status(&self) -> Option<&Status> {
        match self {
            ClusterError::Api { status, .. } => Some(status),
            ClusterError::Transport { .. } => None,
        }
    }

    pub fn code(&self) -> u16 {
        self.status().map(|s| s.code).unwrap_or(0)
    }

    /// The fields and their managers when the server refused an apply as a conflict (409).
    pub fn conflicts(&self) -> Option<Vec<Conflict>> {
        let status = self.status().filter(|s| s.code == 409)?;
        let mut out = Vec::new();
        if let Some(details) = &status.details {
            for cause in &details.causes {
                if cause.reason == "FieldManagerConflict" || cause.message.starts_with("conflict with") {
                    out.push(Conflict { field: cause.field.clone(), manager: quoted(&cause.message) });
                }
            }
        }
        if out.is_empty() {
            // Older servers: "Apply failed with 1 conflict: conflict with "m": .a.b"
            let manager = quoted(&status.message);
            for line in status.message.lines().filter(|l| l.trim_start().starts_with("- .")) {
                out.push(Conflict { field: line.trim_start()[2..].to_string(), manager: manager.clone() });
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The server's reasons when it refused a change to an immutable field (422 Invalid with
    /// "Forbidden: updates to … are forbidden" or "field is immutable").
    pub fn immutable(&self) -> Option<Vec<String>> {
        let status = self.status().filter(|s| s.code == 422)?;
        let is_immutable = |m: &str| m.contains("Forbidden: updates to") || m.contains("field is immutable");
        let mut out: Vec<String> =
            status
                .details
                .iter()
                .flat_map(|d| d.causes.iter())
                .filter(|c| is_immutable(&c.message))
                .map(|c| {
                    if c.field.is_empty() { c.message.clone() } else { format!("{}: {}", c.field, c.message) }
                })
                .collect();
        if out.is_empty() && is_immutable(&status.message) {
            out.push(status.message.clone());
        }
        (!out.is_empty()).then_some(out)
    }

    pub fn is_forbidden(&self) -> bool {
        self.code() == 403
    }

    /// The fields a server-side apply was refused for because the kind's schema does not
    /// declare them, as the server names them (`.spec.template.spec.containers[name="hub"].x`).
    pub fn undeclared_fields(&self) -> Vec<String> {
        const UNDECLARED: &str = ": field not declared in schema";
        let Some(status) = self.status().filter(|s| s.code == 500) else { return Vec::new() };
        if !status.message.starts_with("failed to create typed patch object") {
            return Vec::new();
        }
        // One field: "failed … (ns/name; apps/v1, Kind=Deployment): .spec.x: field not declared
        // in schema"; several: "…: errors:\n  .spec.x: field not declared in schema\n  …".
        status
            .message
            .lines()
            .filter_map(|line| line.trim().strip_suffix(UNDECLARED))
            .map(|path| path.rsplit_once("): ").map_or(path, |(_, p)| p).to_string())
            .filter(|path| path.starts_with('.'))
            .collect()
    }

    /// The object and the server's reason when the server found a value of the object itself
    /// invalid (422 Invalid: a label value with a space, a name too long), rather than the
    /// request or the caller. Only that: it is the refusal tests/cluster_diff_apply.rs shows
    /// `helm upgrade` failing on too.
    pub fn refused_object(&self) -> Option<(&str, &str)> {
        let ClusterError::Api { object, status, .. } = self else { return None };
        (status.code == 422).then_some((object.as_str(), status.message.trim_end()))
    }
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::Api { verb, object, status } => {
                let reason = if status.reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({} {})", status.code, status.reason)
                };
                write!(f, "{verb} {object}: {}{reason}", status.message.trim_end())
            }
            ClusterError::Transport { verb, object, message } => write!(f, "{verb} {object}: {message}"),
        }
    }
}

/// The first `"…"`-quoted word of a message.
fn quoted(message: &str) -> String {
    let mut parts = message.split('"');
    parts.next();
    parts.next().unwrap_or("(unknown manager)").to_string()
}

/// A client with the resources it has resolved so far.
pub struct Cluster {
    pub conn: Connection,
    /// Kinds resolved by discovery (behind a lock so that preparing needs no `&mut`: the plan
    /// and the drift check share the client while both run).
    resources: Mutex<HashMap<(String, String), Resource>>,
    /// Every StorageClass, when [`Cluster::warm_up`] listed them.
    pub storage_classes: Option<Vec<Value>>,
    /// The API server's version (`v1.35.4`), when [`Cluster::warm_up`] asked for it.
    version: OnceLock<String>,
    /// Lists [`Cluster::warm_up`] made ahead, each kept for the first [`Cluster::list`] of it.
    listed: Mutex<HashMap<ListRequest, Vec<Value>>>,
    /// The resourceVersion of the first complete (consistent) list: the state of the cluster when
    /// the command started, or later.
    started_at: OnceLock<String>,
    /// Whether reads may be served as of [`Cluster::started_at`] ([`Cluster::read_as_of_start`]).
    as_of_start: std::sync::atomic::AtomicBool,
}

/// A list request: kind, namespace and label selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListRequest {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub selector: Option<String>,
}

impl Cluster {
    pub fn new(conn: Connection) -> Self {
        Cluster {
            conn,
            resources: Mutex::default(),
            storage_classes: None,
            version: OnceLock::new(),
            listed: Mutex::default(),
            started_at: OnceLock::new(),
            as_of_start: Default::default(),
        }
    }

    /// From now on, until this client writes, reads ask for the cluster's state "not older than"
    /// the first list of the command (a consistent read, so it holds every write finished before
    /// the command started): the API server then answers from its watch cache instead of a
    /// quorum read of etcd, in half the time and the server's work (BENCHMARKS.md). The first
    /// write (anything but a dry run) ends it, so that no read misses this command's own writes;
    /// a command that lets another program write (helm) calls [`Cluster::read_consistently`].
    pub fn read_as_of_start(&self) {
        self.as_of_start.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Reads are quorum reads again (see [`Cluster::read_as_of_start`]).
    pub fn read_consistently(&self) {
        self.as_of_start.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// The resourceVersion reads ask for (see [`Cluster::read_as_of_start`]).
    fn read_version(&self) -> Option<&str> {
        self.as_of_start
            .load(std::sync::atomic::Ordering::Relaxed)
            .then(|| self.started_at.get())
            .flatten()
            .map(String::as_str)
    }

    /// Resolves every kind up front: ours from the table, any other by discovery of its
    /// group-version (one request per group-version, all at once; once per run).
    pub async fn prepare(&self, objects: &[ObjectRef]) -> Result<(), ClusterError> {
        let mut wanted: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for o in objects {
            let key = (o.api_version.clone(), o.kind.clone());
            if self.resolved().contains_key(&key) || known_resource(&o.api_version, &o.kind).is_some() {
                continue;
            }
            let kinds = wanted.entry(&o.api_version).or_default();
            if !kinds.contains(&o.kind.as_str()) {
                kinds.push(&o.kind);
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let this = self;
        let jobs: Vec<_> = wanted
            .keys()
            .map(|&api_version| async move {
                let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
                let gv = GroupVersion::gv(group, version);
                let discovery = ::kube::discovery::pinned_group(&this.conn.client, &gv);
                this.timed(|| format!("discover {api_version}"), discovery).await
            })
            .collect();
        let found = super::run_all(jobs, wanted.len()).await;
        let mut resolved = Vec::new();
        for ((api_version, kinds), group) in wanted.iter().zip(found) {
            let what = |kind: &str| format!("{kind} ({api_version})");
            let group = group.map_err(|e| self.error("discover", &what(kinds[0]), e))?;
            let version = api_version.rsplit('/').next().unwrap_or(api_version);
            let resources = group.versioned_resources(version);
            for kind in kinds {
                let Some((ar, caps)) = resources.iter().find(|(ar, _)| ar.kind == *kind) else {
                    let missing =
                        ::kube::error::DiscoveryError::MissingKind(format!("{:?}", gvk(api_version, kind)));
                    return Err(self.error("discover", &what(kind), ::kube::Error::Discovery(missing)));
                };
                let namespaced = matches!(caps.scope, Scope::Namespaced);
                resolved.push((
                    (api_version.to_string(), kind.to_string()),
                    Resource { ar: ar.clone(), namespaced },
                ));
            }
        }
        self.resolved().extend(resolved);
        Ok(())
    }

    fn resolved(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Resource>> {
        self.resources.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn resource(&self, api_version: &str, kind: &str) -> Result<Resource, ClusterError> {
        if let Some(r) = self.resolved().get(&(api_version.to_string(), kind.to_string())) {
            return Ok(r.clone());
        }
        match known_resource(api_version, kind) {
            Some((plural, namespaced)) => Ok(Resource {
                ar: ApiResource::from_gvk_with_plural(&gvk(api_version, kind), plural),
                namespaced,
            }),
            None => Err(ClusterError::Transport {
                verb: "resolve".into(),
                object: format!("{kind} ({api_version})"),
                message: "this kind was not looked up (a bug: Cluster::prepare was not called)".into(),
            }),
        }
    }

    fn api(&self, obj: &ObjectRef) -> Result<Api<DynamicObject>, ClusterError> {
        let r = self.resource(&obj.api_version, &obj.kind)?;
        let client = self.conn.client.clone();
        Ok(match (&obj.namespace, r.namespaced) {
            (Some(ns), true) => Api::namespaced_with(client, ns, &r.ar),
            (None, true) => Api::default_namespaced_with(client, &r.ar),
            (_, false) => Api::all_with(client, &r.ar),
        })
    }

    /// Opens the connection (TCP, TLS) with a request that is useful later: the list of
    /// StorageClasses (our class's live state, and every other default class), kept in
    /// [`Cluster::storage_classes`], and the lists `ahead`, kept for their first [`Cluster::list`].
    /// With `connections` > 1, that many connections are opened
    /// (the others with `GET /version`, whose answer [`Cluster::server_version`] keeps). Errors
    /// are left to the requests that matter: a refused list is simply made again, and reported,
    /// when it is needed.
    ///
    /// A server that cannot be reached (refused, unresolvable, no answer in time) is reported at
    /// once: trying the same server again for every later request would multiply the wait.
    pub async fn warm_up(&mut self, connections: usize, ahead: &[ListRequest]) -> Result<(), ClusterError> {
        let list = self.list("storage.k8s.io/v1", "StorageClass", None, None);
        // Each request in flight opens a connection: the lists ahead open some of them, and
        // `GET /version` (whose answer helm needs for a preview) the others.
        let versions = match connections {
            0 | 1 => 0,
            n => (n - 1).saturating_sub(ahead.len()).max(1),
        };
        let others: Vec<_> = (0..versions)
            .map(|_| self.timed(|| "get /version".into(), self.conn.client.apiserver_version()))
            .collect();
        // Lists the command needs first (the Helm release Secrets), made now rather than after
        // the config has rendered; a failed one is simply made again, and reported, when needed.
        let early: Vec<_> = ahead
            .iter()
            .map(|r| self.list(&r.api_version, &r.kind, r.namespace.as_deref(), r.selector.as_deref()))
            .collect();
        let (classes, versions, early) = tokio::join!(
            list,
            super::run_all(others, connections),
            super::run_all(early, ahead.len().max(1))
        );
        if let Some(v) = versions.into_iter().find_map(Result::ok) {
            let _ = self.version.set(v.git_version);
        }
        let listed: Vec<_> =
            ahead.iter().cloned().zip(early).filter_map(|(r, items)| Some((r, items.ok()?))).collect();
        self.listed.lock().unwrap_or_else(|p| p.into_inner()).extend(listed);
        match classes {
            Ok(c) => self.storage_classes = Some(c),
            Err(e @ ClusterError::Transport { .. }) => return Err(e),
            Err(ClusterError::Api { .. }) => {}
        }
        Ok(())
    }

    /// The API server's version (`v1.35.4`): as the warm-up learnt it, else asked now.
    pub async fn server_version(&self) -> Result<String, ClusterError> {
        if let Some(v) = self.version.get() {
            return Ok(v.clone());
        }
        let info = self
            .timed(|| "get /version".into(), self.conn.client.apiserver_version())
            .await
            .map_err(|e| self.error("get", "the server version", e))?;
        let _ = self.version.set(info.git_version.clone());
        Ok(info.git_version)
    }

    /// Whether objects of this kind live in a namespace (after [`Cluster::prepare`]).
    pub fn is_namespaced(&self, obj: &ObjectRef) -> bool {
        self.resource(&obj.api_version, &obj.kind).map(|r| r.namespaced).unwrap_or(obj.namespace.is_some())
    }

    /// The live object, or `None` when it does not exist.
    pub async fn get(&self, obj: &ObjectRef) -> Result<Option<Value>, ClusterError> {
        let api = self.api(obj)?;
        let params = GetParams { resource_version: self.read_version().map(str::to_string) };
        let live = match self.timed(|| format!("get {obj}"), api.get_with(&obj.name, &params)).await {
            Ok(live) => Some(live),
            Err(::kube::Error::Api(s)) if s.code == 404 => None,
            Err(e) if params.resource_version.is_some() && cache_behind(&e) => self
                .timed(|| format!("get {obj}"), api.get_opt(&obj.name))
                .await
                .map_err(|e| self.error("get", &obj.to_string(), e))?,
            Err(e) => return Err(self.error("get", &obj.to_string(), e)),
        };
        Ok(live.map(to_json))
    }

    /// The live state of many objects (their namespaces filled in, their kinds prepared), in
    /// their order; `None` where an object does not exist. Objects of one kind in one namespace
    /// come from one LIST by `selector` when there are several of them (a label they all carry:
    /// fewer requests than a GET each); one the list does not hold (gone, or its label changed)
    /// and a kind of a single object are read with a GET, so a list never decides that an object
    /// is missing. A list the server refuses (RBAC may allow get but not list) falls back to GETs.
    /// `limit` requests are in flight at once.
    pub async fn get_all(
        &self,
        refs: &[ObjectRef],
        selector: &str,
        limit: usize,
    ) -> Result<Vec<Option<Value>>, ClusterError> {
        let mut groups: BTreeMap<(&str, &str, Option<&str>), Vec<usize>> = BTreeMap::new();
        for (i, r) in refs.iter().enumerate() {
            groups.entry((&r.api_version, &r.kind, r.namespace.as_deref())).or_default().push(i);
        }
        let jobs: Vec<_> = groups
            .into_iter()
            .map(|((api_version, kind, namespace), members)| async move {
                let mut listed = None;
                if members.len() > 1 {
                    match self.list(api_version, kind, namespace, Some(selector)).await {
                        Ok(items) => listed = Some(items),
                        Err(e) if matches!(e.code(), 403 | 405) => {}
                        Err(e) => return Err(e),
                    }
                }
                let mut out = Vec::with_capacity(members.len());
                for i in members {
                    let r = &refs[i];
                    let item = listed.as_mut().and_then(|items| {
                        let at = items.iter().position(|o| {
                            o.pointer("/metadata/name").and_then(Value::as_str) == Some(r.name.as_str())
                                && o.pointer("/metadata/namespace").and_then(Value::as_str)
                                    == r.namespace.as_deref()
                        })?;
                        Some(items.swap_remove(at))
                    });
                    let live = match item {
                        Some(live) => Some(live),
                        None => self.get(r).await?,
                    };
                    out.push((i, live));
                }
                Ok(out)
            })
            .collect();
        let mut lives: Vec<Option<Value>> = vec![None; refs.len()];
        for group in super::run_all(jobs, limit).await {
            for (i, live) in group? {
                lives[i] = live;
            }
        }
        Ok(lives)
    }

    /// Server-side apply of `body` (a whole manifest, or the fields to own).
    pub async fn apply(&self, obj: &ObjectRef, body: &Value, mode: ApplyMode) -> Result<Value, ClusterError> {
        if !mode.dry_run {
            self.read_consistently();
        }
        let api = self.api(obj)?;
        let params = PatchParams {
            dry_run: mode.dry_run,
            force: mode.force,
            field_manager: Some(mode.manager.to_string()),
            // A server-side apply refuses a field its schema does not declare (as
            // tests/cluster_diff_apply.rs shows), and a repeated key of a keyed list, whatever
            // this says; the body is JSON serialised from a map, which cannot repeat a key. What
            // Strict (or the default, Warn) adds is a second YAML parse of the body to look for
            // repeated keys: about a quarter of the server's work for a dry run of a chart's
            // large ConfigMap or Secret (BENCHMARKS.md).
            field_validation: Some(ValidationDirective::Ignore),
        };
        let verb = match (mode.dry_run, mode.force) {
            (true, false) => "apply (server dry run)",
            (true, true) => "apply (server dry run, forced)",
            (false, false) => "apply",
            (false, true) => "apply (forced)",
        };
        let merged = self
            .timed(|| format!("{verb} {obj}"), api.patch(&obj.name, &params, &Patch::Apply(body)))
            .await
            .map_err(|e| self.error(verb, &obj.to_string(), e))?;
        Ok(to_json(merged))
    }

    /// Rewrites an object's `metadata.managedFields` (which only a patch or update can), as a
    /// merge patch that carries `resource_version`: the server refuses it (409) if the object
    /// changed since it was read.
    pub async fn set_managed_fields(
        &self,
        obj: &ObjectRef,
        resource_version: &str,
        managed: Vec<Value>,
    ) -> Result<Value, ClusterError> {
        self.read_consistently();
        let api = self.api(obj)?;
        let params =
            PatchParams { field_manager: Some(super::FIELD_MANAGER.to_string()), ..Default::default() };
        let body = serde_json::json!({
            "metadata": {"resourceVersion": resource_version, "managedFields": managed}
        });
        let patched = self
            .timed(
                || format!("patch managedFields {obj}"),
                api.patch(&obj.name, &params, &Patch::Merge(&body)),
            )
            .await
            .map_err(|e| self.error("patch managedFields", &obj.to_string(), e))?;
        Ok(to_json(patched))
    }

    /// Deletes an object and waits (briefly) until it is gone.
    pub async fn delete(&self, obj: &ObjectRef, dry_run: bool) -> Result<(), ClusterError> {
        if !dry_run {
            self.read_consistently();
        }
        let api = self.api(obj)?;
        let params = DeleteParams { dry_run, ..DeleteParams::background() };
        let verb = if dry_run { "delete (server dry run)" } else { "delete" };
        match self.timed(|| format!("{verb} {obj}"), api.delete(&obj.name, &params)).await {
            Ok(_) => {}
            Err(::kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(self.error(verb, &obj.to_string(), e)),
        }
        if dry_run {
            return Ok(());
        }
        // Objects with finalizers linger; ours have none, so this normally returns at once.
        for _ in 0..100 {
            if self
                .timed(|| format!("get {obj}"), api.get_opt(&obj.name))
                .await
                .map_err(|e| self.error("get", &obj.to_string(), e))?
                .is_none()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ClusterError::Transport {
            verb: "delete".into(),
            object: obj.to_string(),
            message: "the object is still there 10 s after deletion (a finalizer holds it?)".into(),
        })
    }

    /// Creates an object (for `--recreate`), as our field manager.
    pub async fn create(&self, obj: &ObjectRef, body: &Value, dry_run: bool) -> Result<Value, ClusterError> {
        if !dry_run {
            self.read_consistently();
        }
        let api = self.api(obj)?;
        let data: DynamicObject =
            serde_json::from_value(body.clone()).map_err(|e| ClusterError::Transport {
                verb: "create".into(),
                object: obj.to_string(),
                message: format!("the manifest is not a Kubernetes object: {e}"),
            })?;
        let params = PostParams { dry_run, field_manager: Some(super::FIELD_MANAGER.to_string()) };
        let created = self
            .timed(|| format!("create {obj}"), api.create(&params, &data))
            .await
            .map_err(|e| self.error("create", &obj.to_string(), e))?;
        Ok(to_json(created))
    }

    /// Every object of a kind (in one namespace, or cluster-wide), optionally by label selector.
    pub async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Value>, ClusterError> {
        let request = ListRequest {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            selector: selector.map(str::to_string),
        };
        if let Some(items) = self.listed.lock().unwrap_or_else(|p| p.into_inner()).remove(&request) {
            return Ok(items);
        }
        let r = self.resource(api_version, kind)?;
        let client = self.conn.client.clone();
        let api: Api<DynamicObject> = match namespace {
            Some(ns) if r.namespaced => Api::namespaced_with(client, ns, &r.ar),
            _ => Api::all_with(client, &r.ar),
        };
        let mut params = ListParams::default();
        if let Some(s) = selector {
            params = params.labels(s);
        }
        let what = match namespace {
            Some(ns) => format!("{} (namespace {ns})", r.ar.plural),
            None => r.ar.plural.clone(),
        };
        let consistent = params.clone();
        if let Some(v) = self.read_version() {
            params = params.at(v).matching(VersionMatch::NotOlderThan);
        }
        let label = || format!("list {what} {}", selector.unwrap_or_default());
        let list = match self.timed(label, api.list(&params)).await {
            Err(e) if params.resource_version.is_some() && cache_behind(&e) => {
                self.timed(label, api.list(&consistent)).await
            }
            other => other,
        }
        .map_err(|e| self.error("list", &what, e))?;
        if params.resource_version.is_none()
            && let Some(v) = &list.metadata.resource_version
        {
            let _ = self.started_at.set(v.clone());
        }
        // List items come without apiVersion and kind; give them back, so they read as objects.
        Ok(list
            .items
            .into_iter()
            .map(|mut o| {
                if o.types.is_none() {
                    o.types = Some(::kube::core::TypeMeta {
                        api_version: r.ar.api_version.clone(),
                        kind: r.ar.kind.clone(),
                    });
                }
                to_json(o)
            })
            .collect())
    }

    /// A request bounded by `--request-timeout`; `label` names it in the trace ([`crate::trace`]).
    async fn timed<T>(
        &self,
        label: impl FnOnce() -> String,
        fut: impl Future<Output = Result<T, ::kube::Error>>,
    ) -> Result<T, ::kube::Error> {
        let label = crate::trace::enabled().then(label);
        if let Some(l) = &label {
            crate::trace::mark(|| format!("> {l}"));
        }
        let result = match self.conn.request_timeout {
            None => fut.await,
            Some(limit) => tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
                Err(::kube::Error::Service(
                    format!("no answer within {} (--request-timeout)", human(limit)).into(),
                ))
            }),
        };
        if let Some(l) = &label {
            crate::trace::mark(|| format!("< {l}"));
        }
        result
    }

    fn error(&self, verb: &str, object: &str, e: ::kube::Error) -> ClusterError {
        match e {
            // kube-rs wraps an error body that is not a Kubernetes Status (an HTML page from a
            // proxy or a web server) as one; say what it was instead of pasting it.
            ::kube::Error::Api(status) if status.reason == "Failed to parse error data" => {
                ClusterError::Transport {
                    verb: verb.into(),
                    object: object.into(),
                    message: not_kubernetes(&self.conn, &format!("HTTP {}", status.code), &status.message),
                }
            }
            ::kube::Error::Api(status) => {
                ClusterError::Api { verb: verb.into(), object: object.into(), status }
            }
            ::kube::Error::SerdeError(_) => ClusterError::Transport {
                verb: verb.into(),
                object: object.into(),
                message: not_kubernetes(&self.conn, "a success status", ""),
            },
            other => ClusterError::Transport {
                verb: verb.into(),
                object: object.into(),
                message: transport_message(&self.conn, &other),
            },
        }
    }
}

/// A request error that never reached the API: the server, then each cause once, then what to
/// check.
fn transport_message(conn: &Connection, e: &::kube::Error) -> String {
    let detail = error_text(e);
    let lower = detail.to_lowercase();
    let check = if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        format!(
            "the server's certificate is not signed by the certificate authority in the kubeconfig \
             (certificate-authority-data of cluster \"{}\"): the CA data is corrupt or belongs to another cluster; \
             copy it again (for EKS: `aws eks update-kubeconfig --name CLUSTER --region REGION`)",
            conn.cluster_name
        )
    } else if lower.contains("exec credential plugin") {
        "run the plugin's command by hand to see why it fails (for EKS: `aws sts get-caller-identity` checks the AWS credentials)".into()
    } else {
        "check that the server address is right and the server is up and reachable from here \
         (VPN, firewall, EKS public endpoint access); `kubectl get --raw /readyz` asks it the same way"
            .into()
    };
    format!(
        "cannot reach the API server {} (context \"{}\"): {detail}\n  check: {check}",
        conn.server, conn.context
    )
}

/// Whether a read as of the command's start ([`Cluster::read_as_of_start`]) found the server's
/// watch cache behind the version asked for (504; it catches up in milliseconds on a healthy
/// server): the caller makes the quorum read instead.
fn cache_behind(e: &::kube::Error) -> bool {
    matches!(e, ::kube::Error::Api(s) if s.code == 504)
}

/// The text of a kube-rs error: each cause once, innermost last, without kube-rs's variant
/// prefixes. A failing exec credential plugin is described as kubectl does (command, exit code,
/// its stderr): its stdout may hold a token and is never shown.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut causes: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(plugin) = exec_plugin_failure(err) {
            return plugin;
        }
        let text = err.to_string();
        // kube-rs prefixes its variants ("ServiceError: …"); the innermost texts say it plainly.
        let text = text
            .split_once(": ")
            .filter(|(p, _)| !p.contains(' '))
            .map(|(_, t)| t.to_string())
            .unwrap_or(text);
        if !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        cur = err.source();
    }
    // Keep the most specific ones: later causes are the underlying ones.
    causes.iter().rev().take(2).rev().cloned().collect::<Vec<_>>().join(": ")
}

fn exec_plugin_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    use ::kube::client::AuthError;
    let auth = err.downcast_ref::<AuthError>().or_else(|| match err.downcast_ref::<::kube::Error>() {
        Some(::kube::Error::Auth(a)) => Some(a),
        _ => None,
    })?;
    match auth {
        AuthError::AuthExecRun { cmd, out } => {
            let code = match out.status.code() {
                Some(c) => format!("exit code {c}"),
                None => "killed by a signal".into(),
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr = stderr.trim();
            let said =
                if stderr.is_empty() { "nothing on stderr".into() } else { format!("stderr: {stderr}") };
            Some(format!("the exec credential plugin `{}` failed ({code}); {said}", cmd.trim()))
        }
        AuthError::AuthExecStart(io) => {
            Some(format!("the exec credential plugin could not be started: {io}"))
        }
        // Its text quotes the plugin's output, which may hold a token.
        AuthError::AuthExecParse(_) => Some(
            "the exec credential plugin's output is not an ExecCredential (not shown: it may hold a token)"
                .into(),
        ),
        _ => None,
    }
}

/// The server answered, but not as Kubernetes does: describe the answer, never paste it.
fn not_kubernetes(conn: &Connection, status: &str, body: &str) -> String {
    let body = body.trim_start();
    let what = if body.is_empty() {
        "a body that is not Kubernetes JSON".to_string()
    } else if body.starts_with('<') {
        let title = body
            .find("<title>")
            .and_then(|i| body[i + 7..].split("</title>").next())
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 80 && !t.contains('<'));
        match title {
            Some(t) => format!("an HTML page titled \"{t}\" ({} bytes)", body.len()),
            None => format!("an HTML page ({} bytes)", body.len()),
        }
    } else {
        format!("{} bytes of text that is not a Kubernetes Status", body.len())
    };
    format!(
        "the server at {} answered {status} with {what}: it is not a Kubernetes API server \
         (context \"{}\"); check the `server:` of cluster \"{}\" in the kubeconfig",
        conn.server, conn.context, conn.cluster_name
    )
}

/// `20 s`, `1.5 s`, `2 min`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms >= 60_000 {
        format!("{} min", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{} ms", ms)
    }
}

fn to_json(obj: DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A cluster whose "API server" answers every read that names a resourceVersion with 504 (a
    /// watch cache behind it) and every other with one ConfigMap (or a list of it at version 42);
    /// the paths it was asked are kept.
    fn cache_behind_cluster(asked: Arc<Mutex<Vec<String>>>) -> Cluster {
        let service = tower::service_fn(move |request: hyper::http::Request<::kube::client::Body>| {
            let uri = request.uri().to_string();
            asked.lock().unwrap().push(uri.clone());
            async move {
                let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "x", "namespace": "ns", "resourceVersion": "42"}});
                let (code, body) = if uri.contains("resourceVersion=") {
                    (
                        504,
                        serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "message": "Timeout: Too large resource version", "reason": "Timeout", "code": 504}),
                    )
                } else if uri.ends_with("/configmaps/x") {
                    (200, cm)
                } else {
                    (
                        200,
                        serde_json::json!({"kind": "ConfigMapList", "apiVersion": "v1",
                        "metadata": {"resourceVersion": "42"}, "items": [cm]}),
                    )
                };
                hyper::http::Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(::kube::client::Body::from(body.to_string().into_bytes()))
            }
        });
        Cluster::new(Connection {
            client: ::kube::Client::new(service, "default"),
            source: String::new(),
            context: String::new(),
            user: String::new(),
            server: String::new(),
            cluster_name: String::new(),
            request_timeout: None,
            claim: Default::default(),
            exec_token: None,
        })
    }

    #[test]
    fn a_watch_cache_behind_the_start_falls_back_to_the_quorum_read() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        // The client's buffer starts a task: made inside the runtime.
        let cluster = rt.block_on(async { cache_behind_cluster(asked.clone()) });
        let cm = ObjectRef {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("ns".into()),
            name: "x".into(),
        };
        rt.block_on(async {
            cluster.read_as_of_start();
            // The first list is a consistent read: the start.
            let first = cluster.list("v1", "ConfigMap", Some("ns"), None).await.unwrap();
            assert_eq!(first.len(), 1);
            // Then reads ask for that version; the server's 504 sends them to the quorum read.
            let again = cluster.list("v1", "ConfigMap", Some("ns"), None).await.unwrap();
            assert_eq!(again, first);
            let live = cluster.get(&cm).await.unwrap().unwrap();
            assert_eq!(live["metadata"]["name"], "x");
        });
        let asked = asked.lock().unwrap().clone();
        let versioned = |u: &&String| u.contains("resourceVersion=42");
        assert_eq!(asked.iter().filter(versioned).count(), 2, "{asked:?}");
        assert_eq!(
            asked.len(),
            5,
            "first list; list at 42, again without; get at 42, again without: {asked:?}"
        );
        assert!(!asked[2].contains("resourceVersion") && !asked[4].contains("resourceVersion"), "{asked:?}");
    }

    fn refused(code: u16, message: &str) -> ClusterError {
        let status: Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "message": message, "reason": "", "code": code,
        }))
        .unwrap();
        ClusterError::Api { verb: "apply".into(), object: "Deployment/hub".into(), status: Box::new(status) }
    }

    /// The messages as kube-apiserver v1.35 words them (one field, then several).
    #[test]
    fn fields_the_schema_does_not_declare_are_read_from_the_refusal() {
        let one = refused(
            500,
            "failed to create typed patch object (ns/hub; apps/v1, Kind=Deployment): .spec.notAField: field not declared in schema",
        );
        assert_eq!(one.undeclared_fields(), [".spec.notAField"]);
        let several = refused(
            500,
            "failed to create typed patch object (ns/hub; apps/v1, Kind=Deployment): errors:\n  .spec.template.spec.containers[name=\"hub\"].bogusField: field not declared in schema\n  .spec.bogusTop: field not declared in schema",
        );
        assert_eq!(
            several.undeclared_fields(),
            [".spec.template.spec.containers[name=\"hub\"].bogusField", ".spec.bogusTop"]
        );
        let duplicate = refused(
            500,
            "failed to create typed patch object (ns/hub; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name=\"hub\"]",
        );
        assert!(duplicate.undeclared_fields().is_empty());
        assert!(duplicate.refused_object().is_none());
        assert!(
            refused(503, "failed to create typed patch object: x: field not declared in schema")
                .undeclared_fields()
                .is_empty()
        );
        assert!(refused(403, "forbidden").refused_object().is_none());
        assert_eq!(
            refused(422, "invalid label\n").refused_object(),
            Some(("Deployment/hub", "invalid label"))
        );
    }
}
