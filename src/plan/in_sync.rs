//! The proof that lets an object skip its dry run: a server-side apply of our manifest would
//! leave the live object exactly as it is, judged from the live values and our field manager's
//! `managedFields` entry alone. Whatever it cannot decide goes to the server.

use serde_json::Value;

use super::strip::canonical;

/// Whether a server-side apply of `manifest` by `manager` would leave `live` as it is: every
/// field the manifest sets has that value live, and `manager`'s Apply entry in managedFields owns
/// exactly the manifest's fields (so nothing is added, changed, taken over or removed). Lists and
/// maps follow the ownership entries: granular maps key by key, associative lists (`k:`) element
/// by element, sets (`v:`) as sets, and anything owned whole (atomic lists and structs, scalars)
/// must be equal as a whole. What it cannot decide — index-keyed lists, keys the server
/// defaulted, another API version, nulls — is `false`, and the server's dry run decides.
pub fn proven_in_sync(manifest: &Value, live: &Value, manager: &str) -> bool {
    let Some(api_version) = manifest.get("apiVersion").and_then(Value::as_str) else { return false };
    let entry = live.pointer("/metadata/managedFields").and_then(Value::as_array).and_then(|list| {
        list.iter().find(|e| {
            e.get("manager").and_then(Value::as_str) == Some(manager)
                && e.get("operation").and_then(Value::as_str) == Some("Apply")
        })
    });
    let Some(entry) = entry else { return false };
    if entry.get("apiVersion").and_then(Value::as_str) != Some(api_version)
        || entry.get("fieldsType").and_then(Value::as_str) != Some("FieldsV1")
        || live.get("apiVersion").and_then(Value::as_str) != Some(api_version)
    {
        return false;
    }
    let Some(owned) = entry.get("fieldsV1") else { return false };
    // apiVersion, kind, name and namespace identify the object; they are not owned fields.
    let mut want = manifest.clone();
    let Some(top) = want.as_object_mut() else { return false };
    top.remove("apiVersion");
    top.remove("kind");
    if let Some(meta) = top.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("name");
        meta.remove("namespace");
        if meta.is_empty() {
            top.remove("metadata");
        }
    }
    covered(&want, live, owned)
}

/// `want` (from the manifest) is exactly what `owned` (a fieldsV1 node) covers, with the values
/// `live` has.
fn covered(want: &Value, live: &Value, owned: &Value) -> bool {
    let Some(owned) = owned.as_object() else { return false };
    let children: Vec<(&String, &Value)> = owned.iter().filter(|(k, _)| k.as_str() != ".").collect();
    if children.is_empty() {
        // Owned as a whole: a scalar, or an atomic list or struct.
        return !want.is_null() && canonical(want) == canonical(live);
    }
    match (want, live) {
        (Value::Object(w), Value::Object(l)) => {
            if children.len() != w.len() {
                return false;
            }
            children.iter().all(|(k, node)| {
                let Some(key) = k.strip_prefix("f:") else { return false };
                match (w.get(key), l.get(key)) {
                    (Some(wv), Some(lv)) => covered(wv, lv, node),
                    _ => false,
                }
            })
        }
        (Value::Array(w), Value::Array(l)) => {
            if children.len() != w.len() {
                return false;
            }
            children.iter().all(|(k, node)| {
                if let Some(v) = k.strip_prefix("v:") {
                    // A set of scalars: the value is the key.
                    let Ok(v) = serde_json::from_str::<Value>(v) else { return false };
                    w.contains(&v) && l.contains(&v)
                } else if let Some(key) = k.strip_prefix("k:") {
                    // An associative list: the element whose key fields match.
                    let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else { return false };
                    let matches =
                        |e: &&Value| key.iter().all(|(f, v)| e.get(f).map(canonical) == Some(canonical(v)));
                    let mine: Vec<&Value> = w.iter().filter(matches).collect();
                    let theirs: Vec<&Value> = l.iter().filter(matches).collect();
                    mine.len() == 1 && theirs.len() == 1 && covered(mine[0], theirs[0], node)
                } else {
                    false
                }
            })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kube::FIELD_MANAGER;

    fn deployment(image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "ca", "namespace": "kube-system", "labels": {"app": "ca"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "ca"}},
                "template": {
                    "metadata": {"labels": {"app": "ca"}},
                    "spec": {
                        "containers": [{"name": "ca", "image": image, "command": ["./ca", "--v=4"],
                                        "securityContext": {"capabilities": {"drop": ["ALL"]}}}],
                        "volumes": [{"name": "certs", "hostPath": {"path": "/etc/ssl"}}]
                    }
                }
            }
        })
    }

    /// What the server stores after our apply: defaults added, our fields owned.
    fn live_after_apply(image: &str) -> Value {
        let mut live = deployment(image);
        live["metadata"]["uid"] = json!("u");
        live["spec"]["strategy"] = json!({"type": "RollingUpdate"});
        let c = &mut live["spec"]["template"]["spec"]["containers"][0];
        c["terminationMessagePath"] = json!("/dev/termination-log");
        live["spec"]["template"]["spec"]["volumes"][0]["hostPath"]["type"] = json!("");
        live["metadata"]["managedFields"] = json!([
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:status": {"f:replicas": {}}}},
            {"manager": FIELD_MANAGER, "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {
                        "f:containers": {"k:{\"name\":\"ca\"}": {".": {}, "f:name": {}, "f:image": {}, "f:command": {},
                            "f:securityContext": {"f:capabilities": {"f:drop": {}}}}},
                        "f:volumes": {"k:{\"name\":\"certs\"}": {".": {}, "f:name": {}, "f:hostPath": {"f:path": {}}}}
                    }}}}}
        ]);
        live
    }

    #[test]
    fn in_sync_needs_same_values_and_exactly_our_fields() {
        let live = live_after_apply("ca:v1");
        assert!(proven_in_sync(&deployment("ca:v1"), &live, FIELD_MANAGER));
        // A changed value, an added field, a removed field: all go to the dry run.
        assert!(!proven_in_sync(&deployment("ca:v2"), &live, FIELD_MANAGER));
        let mut added = deployment("ca:v1");
        added["spec"]["minReadySeconds"] = json!(5);
        assert!(!proven_in_sync(&added, &live, FIELD_MANAGER));
        let mut removed = deployment("ca:v1");
        removed["metadata"].as_object_mut().unwrap().remove("labels");
        assert!(!proven_in_sync(&removed, &live, FIELD_MANAGER));
        let mut atomic = deployment("ca:v1");
        atomic["spec"]["template"]["spec"]["containers"][0]["command"] = json!(["./ca"]);
        assert!(!proven_in_sync(&atomic, &live, FIELD_MANAGER));
    }

    #[test]
    fn drift_or_lost_ownership_is_not_in_sync() {
        let manifest = deployment("ca:v1");
        // Another client removed a label we own.
        let mut drift = live_after_apply("ca:v1");
        drift["metadata"]["labels"].as_object_mut().unwrap().remove("app");
        assert!(!proven_in_sync(&manifest, &drift, FIELD_MANAGER));
        // Another manager took .spec.replicas over (and changed it).
        let mut taken = live_after_apply("ca:v1");
        taken["spec"]["replicas"] = json!(3);
        taken["metadata"]["managedFields"][1]["fieldsV1"]["f:spec"]
            .as_object_mut()
            .unwrap()
            .remove("f:replicas");
        assert!(!proven_in_sync(&manifest, &taken, FIELD_MANAGER));
        // No Apply entry of ours at all (created by someone else with the same content).
        let mut foreign = live_after_apply("ca:v1");
        foreign["metadata"]["managedFields"][1]["manager"] = json!("kubectl");
        assert!(!proven_in_sync(&manifest, &foreign, FIELD_MANAGER));
        // Our entry is for another API version.
        let mut version = live_after_apply("ca:v1");
        version["metadata"]["managedFields"][1]["apiVersion"] = json!("apps/v1beta2");
        assert!(!proven_in_sync(&manifest, &version, FIELD_MANAGER));
        // An element of an associative list is gone live.
        let mut gone = live_after_apply("ca:v1");
        gone["spec"]["template"]["spec"]["volumes"] = json!([]);
        assert!(!proven_in_sync(&manifest, &gone, FIELD_MANAGER));
    }

    #[test]
    fn sets_and_undecidable_lists() {
        let manifest =
            json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "x"}, "finalizers": ["a", "b"]});
        let mut live = manifest.clone();
        live["metadata"]["managedFields"] = json!([{"manager": FIELD_MANAGER, "operation": "Apply", "apiVersion": "v1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:finalizers": {".": {}, "v:\"a\"": {}, "v:\"b\"": {}}}}]);
        assert!(proven_in_sync(&manifest, &live, FIELD_MANAGER));
        let mut other = manifest.clone();
        other["finalizers"] = json!(["a", "c"]);
        assert!(!proven_in_sync(&other, &live, FIELD_MANAGER));
        live["metadata"]["managedFields"][0]["fieldsV1"] = json!({"f:finalizers": {"i:0": {}, "i:1": {}}});
        assert!(!proven_in_sync(&manifest, &live, FIELD_MANAGER));
    }
}
