//! Dropping what the server manages, so that a diff shows only what a user could change.

use serde_json::Value;

/// `metadata` fields the API server sets and updates on its own.
const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Annotations written by controllers, not by the applier.
const CONTROLLER_ANNOTATIONS: &[&str] = &["deployment.kubernetes.io/revision"];

/// Removes server-managed noise in place: the fields above, `status`, and maps left empty.
pub fn strip(obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else { return };
    map.remove("status");
    let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    for key in SERVER_METADATA {
        meta.remove(*key);
    }
    if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        for key in CONTROLLER_ANNOTATIONS {
            ann.remove(*key);
        }
        if ann.is_empty() {
            meta.remove("annotations");
        }
    }
}

/// A stripped copy.
pub fn stripped(obj: &Value) -> Value {
    let mut v = obj.clone();
    strip(&mut v);
    v
}

/// Numbers as JSON has them after a trip through Go (`4.0` → `4`), and map keys sorted (as
/// `kubectl` and Helm print them), so that equal values compare and print equal.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), canonical(&m[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => v.clone(),
        },
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_server_fields_and_status() {
        let mut obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "a", "namespace": "n", "uid": "u", "resourceVersion": "7", "generation": 2,
                "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{"manager": "m"}],
                "labels": {"k": "v"},
                "annotations": {"deployment.kubernetes.io/revision": "3"}
            },
            "spec": {"replicas": 1},
            "status": {"replicas": 1}
        });
        strip(&mut obj);
        assert_eq!(
            obj,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "a", "namespace": "n", "labels": {"k": "v"}},
                "spec": {"replicas": 1}
            })
        );
    }

    #[test]
    fn canonical_sorts_keys_and_integral_floats() {
        let v = json!({"b": 4.0, "a": [0.5, 2.0, 3]});
        let c = canonical(&v);
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"a":[0.5,2,3],"b":4}"#);
    }
}
