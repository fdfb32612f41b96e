//! Drift: fields of a release's objects that someone changed since helm applied them.
//!
//! The deployed release's own manifest (in its release Secret) says what helm applied; the live
//! object says what is there now. A field differs by drift when its live value is not the
//! manifest's and helm no longer owns it: an update by another client (`kubectl edit`, `scale`,
//! `set image`) that changes a value takes the field over in `managedFields`, so the manager
//! that now owns it is who changed it. A field whose value reads differently but that helm still
//! owns is the server's spelling of the same value (`0.5` CPU stored as `500m`), not drift.
//! Nothing is rendered: this needs no chart and no helm.

use serde::Serialize;
use serde_json::Value;

use super::field_path::{self, FieldPath, Step};
use crate::kube::{ApplyMode, Cluster, ObjectRef};
use crate::plan::strip::canonical;
use crate::secrets::mask::{CHANGED, MASK, is_secret};

/// One drifted field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldDrift {
    /// `.spec.template.spec.containers[name="hub"].image`
    pub field: String,
    /// What helm applied (masked for a Secret's data).
    pub helm: Value,
    /// What is live; `null` when the field is gone.
    pub live: Value,
    /// The field manager that owns the field now (`kubectl-set`, `kubectl (scale)`), if any.
    pub manager: Option<String>,
}

/// The drift of one object of a release.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDrift {
    /// `Deployment/hub (namespace x)`
    pub object: String,
    /// The object is gone from the cluster.
    pub missing: bool,
    pub fields: Vec<FieldDrift>,
}

/// The objects of a release manifest (helm's `---`-joined YAML documents), each with the
/// namespace it lives in: the release's, unless the manifest names one or the kind is
/// cluster-scoped (known only after [`Cluster::prepare`], so namespaces are filled in by
/// [`locate`]).
pub fn manifest_objects(manifest: &str) -> Result<Vec<Value>, String> {
    Ok(manifest_documents(manifest)?.into_iter().map(|(_, o)| o).collect())
}

/// [`manifest_objects`], each with the text of its document (empty when its document holds
/// several): the upgrade preview takes a document that helm renders word for word as the
/// deployed manifest has it for that object, without parsing it again.
pub fn manifest_documents(manifest: &str) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    for text in crate::yaml::document_texts(manifest) {
        let Ok(docs) = crate::yaml::parse_documents_json(text) else {
            // The error as the whole text has it, with its line.
            let e = crate::yaml::parse_documents_json(manifest).err();
            let (line, message) = e.map(|e| (e.pos.line, e.message)).unwrap_or((0, "unreadable".into()));
            return Err(format!("its manifest is not valid YAML at line {line}: {message}"));
        };
        let mut objects: Vec<Value> = docs.into_iter().filter(|o| ObjectRef::of(o).is_some()).collect();
        match objects.len() {
            1 => out.push((text.to_string(), objects.remove(0))),
            _ => out.extend(objects.into_iter().map(|o| (String::new(), o))),
        }
    }
    Ok(out)
}

/// An object of a deployed release, where it lives, and what is live now (`None`: gone).
pub type LiveObject = (ObjectRef, Option<Value>);

/// The label helm (3.2 and later) puts on every object it installs or upgrades; the release's
/// name and namespace go into annotations, which no selector can read.
pub const HELM_MANAGED: &str = "app.kubernetes.io/managed-by=Helm";

/// Where each object of a release's manifest lives: the namespace it names, else the release's
/// for a namespaced kind (after [`Cluster::prepare`] of their kinds).
pub fn locate(cluster: &Cluster, namespace: &str, objects: &[Value]) -> Vec<ObjectRef> {
    let mut refs: Vec<ObjectRef> = objects.iter().filter_map(ObjectRef::of).collect();
    for r in &mut refs {
        if r.namespace.is_none() && cluster.is_namespaced(r) {
            r.namespace = Some(namespace.to_string());
        }
    }
    refs
}

/// The drift of a release's objects (as [`locate`] placed them) from what is live (as
/// [`Cluster::get_all`] read it), and what was read.
pub fn compare(
    objects: &[Value],
    refs: Vec<ObjectRef>,
    lives: Vec<Option<Value>>,
) -> (Vec<ObjectDrift>, Vec<LiveObject>) {
    let mut out = Vec::new();
    let mut read = Vec::new();
    let objects = objects.iter().filter(|o| ObjectRef::of(o).is_some());
    for ((obj, r), live) in objects.zip(refs).zip(lives) {
        match &live {
            None => out.push(ObjectDrift { object: r.to_string(), missing: true, fields: vec![] }),
            Some(live) => {
                let fields = object_drift(obj, live);
                if !fields.is_empty() {
                    out.push(ObjectDrift { object: r.to_string(), missing: false, fields });
                }
            }
        }
        read.push((r, live));
    }
    (out, read)
}

/// Drops from `drift` the fields that read as removed with no manager owning them but that the
/// API server does not declare for their kind: helm sent them, the server dropped them with a
/// warning, and nobody removed anything. A server-side apply dry run of the manifest's object
/// as helm names such fields (it refuses them); it is made only for an object with such a
/// field, which is rare.
pub async fn drop_undeclared(
    cluster: &Cluster,
    objects: &[Value],
    refs: &[ObjectRef],
    drift: &mut Vec<ObjectDrift>,
) {
    let gone = |f: &FieldDrift| f.live.is_null() && f.manager.is_none();
    for d in drift.iter_mut().filter(|d| d.fields.iter().any(gone)) {
        let objects = objects.iter().filter(|o| ObjectRef::of(o).is_some());
        let Some((obj, r)) = objects.zip(refs).find(|(_, r)| r.to_string() == d.object) else { continue };
        let mode = ApplyMode { manager: super::preview::HELM_MANAGER, dry_run: true, force: true };
        let Err(e) = cluster.apply(r, obj, mode).await else { continue };
        // The server names a list item by all its keys, we by one: the same field is the same
        // place in the object.
        let undeclared: Vec<_> =
            e.undeclared_fields().iter().filter_map(|p| field_path::locate(p, obj)).collect();
        d.fields.retain(|f| {
            !(gone(f) && field_path::locate(&f.field, obj).is_some_and(|at| undeclared.contains(&at)))
        });
    }
    drift.retain(|d| d.missing || !d.fields.is_empty());
}

/// Whether a field manager is helm (helm 3 names itself after its binary, `helm`).
pub fn is_helm_manager(name: &str) -> bool {
    name == "helm" || name.starts_with("helm-") || name.starts_with("helm3")
}

/// The drifted fields of one object: `manifest` as helm applied it, `live` as it is now.
pub fn object_drift(manifest: &Value, live: &Value) -> Vec<FieldDrift> {
    let managers = managers(live);
    let secret = is_secret(manifest);
    let mut out = Vec::new();
    let mut path = FieldPath::default();
    let Some(top) = manifest.as_object() else { return out };
    for (key, want) in top {
        if matches!(key.as_str(), "apiVersion" | "kind" | "status") {
            continue;
        }
        path.push(Step::Field(key.clone()));
        walk(want, live.get(key), &mut path, &managers, &mut out);
        path.pop();
    }
    out.retain(|d| !(d.field == ".metadata.namespace" || d.field == ".metadata.name"));
    if secret {
        for d in &mut out {
            if d.field.starts_with(".data") || d.field.starts_with(".stringData") {
                d.helm = Value::from(MASK);
                d.live = if d.live.is_null() { Value::Null } else { Value::from(CHANGED) };
            }
        }
    }
    out
}

fn walk(
    want: &Value,
    live: Option<&Value>,
    path: &mut FieldPath,
    managers: &[Manager],
    out: &mut Vec<FieldDrift>,
) {
    match (want, live) {
        (Value::Object(w), Some(Value::Object(l))) if !w.is_empty() => {
            for (k, wv) in w {
                path.push(Step::Field(k.clone()));
                walk(wv, l.get(k), path, managers, out);
                path.pop();
            }
        }
        (Value::Array(w), Some(Value::Array(l))) if list_key(path, w).is_some() => {
            let key = list_key(path, w).unwrap_or("name");
            for wv in w {
                let id = wv.get(key).cloned().unwrap_or(Value::Null);
                let lv = l.iter().find(|e| e.get(key).is_some_and(|v| canonical(v) == canonical(&id)));
                path.push(Step::item(key, id));
                walk(wv, lv, path, managers, out);
                path.pop();
            }
        }
        _ => {
            let same = live.is_some_and(|l| canonical(l) == canonical(want));
            // An empty map or list helm sent and the server dropped is the same nothing; so is a
            // zero, false or "" the server does not store (`readinessProbe.initialDelaySeconds: 0`).
            let empty = |v: &Value| {
                v.is_null()
                    || v.as_object().is_some_and(|m| m.is_empty())
                    || v.as_array().is_some_and(|a| a.is_empty())
            };
            let zero = |v: &Value| v.as_f64() == Some(0.0) || v == &Value::Bool(false) || v == "";
            if same || (empty(want) && live.is_none_or(empty)) || (zero(want) && live.is_none()) {
                return;
            }
            let owners = owners(managers, path);
            if owners.iter().any(|m| is_helm_manager(&m.name) && m.operation == "Update") {
                return;
            }
            let manager = owners.iter().find(|m| !is_helm_manager(&m.name)).map(|m| m.label());
            out.push(FieldDrift {
                field: path.to_string(),
                helm: want.clone(),
                live: live.cloned().unwrap_or(Value::Null),
                manager,
            });
        }
    }
}

/// The field that identifies the elements of a list, as the API server merges it (the
/// `x-kubernetes-list-map-keys` of the Kubernetes API, first key), when every element has it:
/// `name` for most lists (containers, env, volumes…), and the exceptions by the list's field.
fn list_key(path: &FieldPath, items: &[Value]) -> Option<&'static str> {
    let field = match path.last() {
        Some(Step::Field(k)) => k.as_str(),
        _ => "",
    };
    let key = match field {
        // Z2JH mounts one volume three times under one name: its mounts differ by path.
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        // Container ports are keyed by number; a Service's by port.
        "ports" if items.iter().all(|i| i.get("containerPort").is_some()) => "containerPort",
        "ports" if items.iter().all(|i| i.get("port").is_some()) => "port",
        _ => "name",
    };
    let ids: Vec<String> = items
        .iter()
        .filter_map(|i| i.get(key).filter(|v| v.is_string() || v.is_number()).map(canonical))
        .map(|v| v.to_string())
        .collect();
    // Not keyed (a NetworkPolicy's ports: 53/UDP and 53/TCP): compared as a whole.
    let unique = ids.iter().collect::<std::collections::BTreeSet<_>>().len() == items.len();
    (!items.is_empty() && ids.len() == items.len() && unique).then_some(key)
}

/// One managedFields entry.
#[derive(Clone, Debug)]
struct Manager {
    name: String,
    operation: String,
    subresource: Option<String>,
    fields: Value,
}

impl Manager {
    fn label(&self) -> String {
        match &self.subresource {
            Some(s) => format!("{} ({s})", self.name),
            None => self.name.clone(),
        }
    }
}

fn managers(live: &Value) -> Vec<Manager> {
    let Some(list) = live.pointer("/metadata/managedFields").and_then(Value::as_array) else { return vec![] };
    list.iter()
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
            Manager {
                name: s("manager").unwrap_or_default(),
                operation: s("operation").unwrap_or_default(),
                subresource: s("subresource").filter(|s| !s.is_empty()),
                fields: e.get("fieldsV1").cloned().unwrap_or(Value::Null),
            }
        })
        .collect()
}

/// The managers whose field set holds `path` (or anything below it).
fn owners<'a>(managers: &'a [Manager], path: &FieldPath) -> Vec<&'a Manager> {
    managers.iter().filter(|m| find_node(&m.fields, path).is_some()).collect()
}

/// The fieldsV1 node of `path`: `f:key` for a map key, the `k:{…}` element whose key fields
/// include the element's key (`"name": NAME`, `"mountPath": PATH`) for a list element.
fn find_node<'a>(fields: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    let mut node = fields;
    for step in path.steps() {
        let map = node.as_object()?;
        node = match step {
            Step::Field(k) => map.get(&format!("f:{k}"))?,
            Step::Item(keys) => map.iter().find_map(|(k, v)| {
                let key: Value = serde_json::from_str(k.strip_prefix("k:")?).ok()?;
                Step::matches(keys, &key).then_some(v)
            })?,
        };
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "hub", "labels": {"app": "hub"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "hub", "image": "hub:1", "resources": {"limits": {"cpu": "0.5"}},
                 "env": [{"name": "A", "value": "1"}]}
            ]}}}
        })
    }

    fn helm_fields() -> Value {
        json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {
            "f:containers": {"k:{\"name\":\"hub\"}": {".": {}, "f:name": {}, "f:image": {},
                "f:resources": {"f:limits": {"f:cpu": {}}},
                "f:env": {"k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}})
    }

    /// The object as the server stores it after helm's create: CPU spelt the server's way.
    fn live() -> Value {
        let mut l = manifest();
        l["metadata"]["namespace"] = json!("ns");
        l["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("Helm");
        l["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = json!("500m");
        l["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
        l["metadata"]["managedFields"] = json!([{"manager": "helm", "operation": "Update", "apiVersion": "apps/v1", "fieldsV1": helm_fields()}]);
        l
    }

    #[test]
    fn untouched_object_has_no_drift_despite_server_spelling_and_defaults() {
        assert_eq!(object_drift(&manifest(), &live()), vec![]);
    }

    #[test]
    fn scale_and_set_image_are_named_with_their_managers() {
        let mut l = live();
        l["spec"]["replicas"] = json!(3);
        l["spec"]["template"]["spec"]["containers"][0]["image"] = json!("hub:2");
        let mut fields = helm_fields();
        fields["f:spec"].as_object_mut().unwrap().remove("f:replicas");
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"hub\"}"]
            .as_object_mut()
            .unwrap()
            .remove("f:image");
        l["metadata"]["managedFields"] = json!([
            {"manager": "helm", "operation": "Update", "fieldsV1": fields},
            {"manager": "kubectl", "operation": "Update", "subresource": "scale", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "kubectl-set", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {
                "f:containers": {"k:{\"name\":\"hub\"}": {"f:image": {}}}}}}}}
        ]);
        let d = object_drift(&manifest(), &l);
        assert_eq!(
            d,
            vec![
                FieldDrift {
                    field: ".spec.replicas".into(),
                    helm: json!(1),
                    live: json!(3),
                    manager: Some("kubectl (scale)".into())
                },
                FieldDrift {
                    field: ".spec.template.spec.containers[name=\"hub\"].image".into(),
                    helm: json!("hub:1"),
                    live: json!("hub:2"),
                    manager: Some("kubectl-set".into())
                },
            ]
        );
    }

    #[test]
    fn mounts_of_one_volume_are_told_apart_by_path_and_unstored_zeros_are_not_drift() {
        // As Z2JH's hub: one `config` volume mounted three times; a probe delay of 0 that the
        // server does not store; a NetworkPolicy's two ports 53 (UDP, TCP), not keyed.
        let mounts = json!([
            {"name": "config", "mountPath": "/etc/jh/jupyterhub_config.py", "subPath": "jupyterhub_config.py"},
            {"name": "config", "mountPath": "/etc/jh/z2jh.py", "subPath": "z2jh.py"},
            {"name": "config", "mountPath": "/etc/jh/config/"}
        ]);
        let mut m = manifest();
        let c = &mut m["spec"]["template"]["spec"]["containers"][0];
        c["volumeMounts"] = mounts.clone();
        c["readinessProbe"] = json!({"initialDelaySeconds": 0, "periodSeconds": 2});
        m["spec"]["ports"] = json!([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]);
        let mut l = live();
        let c = &mut l["spec"]["template"]["spec"]["containers"][0];
        c["volumeMounts"] = mounts;
        c["readinessProbe"] = json!({"periodSeconds": 2});
        l["spec"]["ports"] = m["spec"]["ports"].clone();
        let mut fields = helm_fields();
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"hub\"}"]["f:volumeMounts"] = json!({
            "k:{\"mountPath\":\"/etc/jh/jupyterhub_config.py\"}": {"f:name": {}, "f:mountPath": {}, "f:subPath": {}},
            "k:{\"mountPath\":\"/etc/jh/z2jh.py\"}": {"f:name": {}, "f:mountPath": {}, "f:subPath": {}},
            "k:{\"mountPath\":\"/etc/jh/config/\"}": {"f:name": {}, "f:mountPath": {}}
        });
        l["metadata"]["managedFields"][0]["fieldsV1"] = fields.clone();
        assert_eq!(object_drift(&m, &l), vec![]);

        // A mount's subPath edited by someone else is named by its mountPath.
        l["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][1]["subPath"] = json!("other.py");
        let mine = &mut fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"hub\"}"]["f:volumeMounts"]
            ["k:{\"mountPath\":\"/etc/jh/z2jh.py\"}"];
        mine.as_object_mut().unwrap().remove("f:subPath");
        l["metadata"]["managedFields"] = json!([
            {"manager": "helm", "operation": "Update", "fieldsV1": fields},
            {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {
                "f:containers": {"k:{\"name\":\"hub\"}": {"f:volumeMounts": {
                    "k:{\"mountPath\":\"/etc/jh/z2jh.py\"}": {"f:subPath": {}}}}}}}}}}
        ]);
        let d = object_drift(&m, &l);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            d[0].field,
            ".spec.template.spec.containers[name=\"hub\"].volumeMounts[mountPath=\"/etc/jh/z2jh.py\"].subPath"
        );
        assert_eq!(d[0].manager.as_deref(), Some("kubectl-edit"));
    }

    #[test]
    fn a_removed_env_entry_is_drift_without_an_owner() {
        let mut l = live();
        l["spec"]["template"]["spec"]["containers"][0]["env"] = json!([]);
        let mut fields = helm_fields();
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"hub\"}"]
            .as_object_mut()
            .unwrap()
            .remove("f:env");
        l["metadata"]["managedFields"][0]["fieldsV1"] = fields;
        let d = object_drift(&manifest(), &l);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].field, ".spec.template.spec.containers[name=\"hub\"].env[name=\"A\"]");
        assert_eq!((d[0].live.clone(), d[0].manager.clone()), (Value::Null, None));
    }

    #[test]
    fn secret_data_drift_is_masked() {
        let m =
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hub"}, "data": {"k": "b2xk"}});
        let mut l = m.clone();
        l["data"]["k"] = json!("bmV3");
        l["metadata"]["managedFields"] = json!([
            {"manager": "helm", "operation": "Update", "fieldsV1": {"f:data": {}}},
            {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:data": {"f:k": {}}}}
        ]);
        let d = object_drift(&m, &l);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].helm.clone(), d[0].live.clone()), (json!(MASK), json!(CHANGED)));
        assert_eq!(d[0].manager.as_deref(), Some("kubectl-edit"));
        assert!(!serde_json::to_string(&d).unwrap().contains("bmV3"));
    }
}
