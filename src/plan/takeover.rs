//! Taking over objects a person built with kubectl: the field ownership the walkthrough's
//! commands left moves to our field manager on the first apply, as `kubectl apply --server-side`
//! migrates objects that were applied client-side.
//!
//! The facts this follows (client-go `util/csaupgrade`, kubectl `apply` `migrateToSSAIfNecessary`):
//! a client-side manager writes with `Update` operations, whose fields never conflict with
//! anyone; a server-side apply by another manager of a field it owns with another value is a
//! conflict. kubectl migrates by rewriting `metadata.managedFields` with a patch guarded by the
//! object's `resourceVersion` (we send a merge patch carrying it): the client-side manager's entry of the same API version is
//! unioned into the server-side manager's `Apply` entry (made from it when there is none), and
//! every `Update` entry of that manager is dropped. The next server-side apply then owns those
//! fields outright and prunes the ones its manifest no longer sends.
//!
//! Here the same move covers every manager the walkthrough's commands leave (`kubectl apply`,
//! `annotate`, `patch`, `edit`, `set image`, `replace --force`), and happens only while our
//! manager has never applied the object: afterwards a change by any of them is a conflict, as
//! it should be. The `kubectl.kubernetes.io/last-applied-configuration` annotation comes along
//! and, as we do not send it, the apply removes it: it records a file this deployment no longer
//! applies. A later client-side `kubectl apply` of that old file, which would write the
//! annotation back, is refused by the guard ([`crate::render::guard`]); without the guard (or
//! once our label is dropped) kubectl warns that the annotation is missing, and its changes show
//! as conflicts in our next diff.

use serde_json::{Map, Value, json};

/// The field managers kubectl's commands use, as the walkthrough runs them.
pub const WALKTHROUGH_MANAGERS: &[&str] = &[
    "kubectl-client-side-apply",
    "kubectl-annotate",
    "kubectl-patch",
    "kubectl-edit",
    "kubectl-set",
    "kubectl-replace",
    "kubectl-create",
];

/// kubectl's copy of the file it last applied client-side.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn entries(obj: &Value) -> &[Value] {
    obj.pointer("/metadata/managedFields").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn field<'a>(e: &'a Value, key: &str) -> &'a str {
    e.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// An `Update` entry of a walkthrough manager on the object itself (not a subresource).
fn is_walkthrough_update(e: &Value) -> bool {
    field(e, "operation") == "Update"
        && field(e, "subresource").is_empty()
        && WALKTHROUGH_MANAGERS.contains(&field(e, "manager"))
}

/// The walkthrough managers to take the object over from, sorted; empty when `manager` has
/// applied the object before (then their changes are conflicts) or none of them wrote it.
pub fn managers(live: &Value, manager: &str) -> Vec<String> {
    let ours =
        entries(live).iter().any(|e| field(e, "manager") == manager && field(e, "operation") == "Apply");
    if ours {
        return Vec::new();
    }
    let mut names: Vec<String> = entries(live)
        .iter()
        .filter(|e| is_walkthrough_update(e))
        .map(|e| field(e, "manager").to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The object's managedFields after the takeover: the walkthrough managers' entries of
/// `api_version` unioned into one `Apply` entry of `manager`, all their `Update` entries gone,
/// every other entry as it was. `None` when there is nothing to take over.
pub fn managed_fields(live: &Value, manager: &str, api_version: &str) -> Option<Vec<Value>> {
    if managers(live, manager).is_empty() {
        return None;
    }
    let mut fields = Value::Object(Map::new());
    let mut time = Value::Null;
    for e in
        entries(live).iter().filter(|e| is_walkthrough_update(e) && field(e, "apiVersion") == api_version)
    {
        if let Some(f) = e.get("fieldsV1") {
            union(&mut fields, f);
        }
        // The newest time of the entries taken over (RFC 3339 strings compare in time order).
        if let Some(t) = e.get("time").filter(|t| t.as_str() > time.as_str()) {
            time = t.clone();
        }
    }
    let mut out: Vec<Value> = entries(live).iter().filter(|e| !is_walkthrough_update(e)).cloned().collect();
    let mut ours = json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    });
    if !time.is_null() {
        ours["time"] = time;
    }
    out.insert(0, ours);
    Some(out)
}

/// The union of two FieldsV1 tries: every path either of them holds.
fn union(into: &mut Value, from: &Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        for (k, v) in b {
            union(a.entry(k.clone()).or_insert_with(|| Value::Object(Map::new())), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(manager: &str, op: &str, api: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": op, "apiVersion": api, "fieldsType": "FieldsV1",
               "fieldsV1": fields, "time": format!("2026-11-2{}T00:00:00Z", manager.len() % 10)})
    }

    fn object(entries: Vec<Value>) -> Value {
        json!({"metadata": {"name": "a", "resourceVersion": "7", "managedFields": entries}})
    }

    #[test]
    fn walkthrough_managers_are_unioned_into_one_apply_entry_of_ours() {
        let live = object(vec![
            entry(
                "kubectl-client-side-apply",
                "Update",
                "apps/v1",
                json!({"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
                       "f:spec": {"f:replicas": {}}}),
            ),
            entry("kubectl-set", "Update", "apps/v1", json!({"f:spec": {"f:template": {"f:image": {}}}})),
            entry("kubectl-patch", "Update", "apps/v1beta1", json!({"f:spec": {"f:old": {}}})),
            entry("kube-controller-manager", "Update", "apps/v1", json!({"f:status": {}})),
        ]);
        assert_eq!(
            managers(&live, "pangeo-render"),
            ["kubectl-client-side-apply", "kubectl-patch", "kubectl-set"]
        );
        let out = managed_fields(&live, "pangeo-render", "apps/v1").unwrap();
        assert_eq!(out.len(), 2, "{out:#?}");
        assert_eq!(out[0]["manager"], "pangeo-render");
        assert_eq!(out[0]["operation"], "Apply");
        assert_eq!(
            out[0]["fieldsV1"],
            json!({"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
                   "f:spec": {"f:replicas": {}, "f:template": {"f:image": {}}}})
        );
        // Other managers keep what they own; another API version's entry is dropped, as kubectl does.
        assert_eq!(out[1]["manager"], "kube-controller-manager");
    }

    #[test]
    fn once_we_have_applied_nothing_is_taken_over_again() {
        let live = object(vec![
            entry("pangeo-render", "Apply", "v1", json!({"f:metadata": {}})),
            entry("kubectl-edit", "Update", "v1", json!({"f:spec": {}})),
        ]);
        assert!(managers(&live, "pangeo-render").is_empty());
        assert!(managed_fields(&live, "pangeo-render", "v1").is_none());
        // Nor from managers that are not the walkthrough's.
        let other = object(vec![entry("helm", "Update", "v1", json!({"f:spec": {}}))]);
        assert!(managed_fields(&other, "pangeo-render", "v1").is_none());
    }
}
