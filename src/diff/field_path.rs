//! A field of an object, named as the API server names it:
//! `.spec.template.spec.containers[name="hub"].image` — map keys after dots, a list item by the
//! JSON values of its key fields in brackets (several for lists keyed by several fields:
//! `.ports[containerPort=80,protocol="TCP"]`).
//!
//! The drift check writes these paths to name a changed field; the preview and the drift check
//! read them from the server's refusal of a field it does not declare. Two paths name the same
//! field when they lead to the same place in the same object ([`locate`]), whether an item is
//! named by one of its keys (as the drift check names it) or by all of them (as the server does).

use std::fmt;

use serde_json::Value;

use crate::plan::strip::canonical;

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// `.name`: a map key.
    Field(String),
    /// `[k="v",n=1]`: the list item whose fields have these values.
    Item(Vec<(String, Value)>),
}

impl Step {
    /// The list item named by one key field.
    pub fn item(key: &str, value: Value) -> Step {
        Step::Item(vec![(key.to_string(), value)])
    }

    /// Whether `item`'s fields have this step's key values.
    pub fn matches(keys: &[(String, Value)], item: &Value) -> bool {
        keys.iter().all(|(k, v)| item.get(k.as_str()).is_some_and(|x| canonical(x) == canonical(v)))
    }
}

/// A field's path, built a step at a time and written as the server writes one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldPath(Vec<Step>);

impl FieldPath {
    pub fn push(&mut self, step: Step) {
        self.0.push(step);
    }

    pub fn pop(&mut self) {
        self.0.pop();
    }

    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    pub fn last(&self) -> Option<&Step> {
        self.0.last()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.0 {
            match step {
                Step::Field(name) => write!(f, ".{name}")?,
                Step::Item(keys) => {
                    f.write_str("[")?;
                    for (i, (k, v)) in keys.iter().enumerate() {
                        write!(f, "{}{k}={v}", if i == 0 { "" } else { "," })?;
                    }
                    f.write_str("]")?;
                }
            }
        }
        Ok(())
    }
}

/// Where a path leads in an object: each map key or list index on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Key(String),
    Index(usize),
}

/// The place in `object` that the field path `path` names, if it is there. The server does not
/// escape a `.` inside a key (`.metadata.annotations.meta.helm.sh/release-name`), so names are
/// matched against the keys the object has, the longest first.
pub fn locate(path: &str, object: &Value) -> Option<Vec<Place>> {
    let mut places = Vec::new();
    locate_in(path, object, &mut places).then_some(places)
}

fn locate_in(rest: &str, node: &Value, places: &mut Vec<Place>) -> bool {
    if rest.is_empty() {
        return true;
    }
    if let Some(after) = rest.strip_prefix('.') {
        let Some(map) = node.as_object() else { return false };
        let mut keys: Vec<&String> = map
            .keys()
            .filter(|k| {
                !k.is_empty()
                    && after.starts_with(k.as_str())
                    && matches!(after[k.len()..].chars().next(), None | Some('.' | '['))
            })
            .collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        for key in keys {
            places.push(Place::Key(key.clone()));
            if locate_in(&after[key.len()..], &map[key], places) {
                return true;
            }
            places.pop();
        }
        false
    } else if let Some(after) = rest.strip_prefix('[') {
        let Some((keys, rest)) = item_keys(after) else { return false };
        let Some(items) = node.as_array() else { return false };
        let Some(index) = find_item(items, &keys) else { return false };
        places.push(Place::Index(index));
        if locate_in(rest, &items[index], places) {
            return true;
        }
        places.pop();
        false
    } else {
        false
    }
}

/// The item of `items` that `keys` names: the one with all these values; else the one item whose
/// fields agree with each of the keys it has, as the server also names an item by a key field it
/// defaults (a Service port by its `protocol`, which a chart rarely writes).
fn find_item(items: &[Value], keys: &[(String, Value)]) -> Option<usize> {
    if let Some(i) = items.iter().position(|item| Step::matches(keys, item)) {
        return Some(i);
    }
    let agrees = |item: &Value| {
        keys.iter().any(|(k, _)| item.get(k.as_str()).is_some())
            && keys.iter().all(|(k, v)| item.get(k.as_str()).is_none_or(|x| canonical(x) == canonical(v)))
    };
    let mut agreeing = items.iter().enumerate().filter(|(_, item)| agrees(item)).map(|(i, _)| i);
    match (agreeing.next(), agreeing.next()) {
        (Some(i), None) => Some(i),
        _ => None,
    }
}

/// The key values of a list item's step, `k="v",n=1]…` (the `[` already read), and what
/// follows its `]`. Values are JSON: a quoted string may hold `,` or `]`.
fn item_keys(text: &str) -> Option<(Vec<(String, Value)>, &str)> {
    let mut keys = Vec::new();
    let mut rest = text;
    loop {
        let (key, value_start) = rest.split_once('=')?;
        if key.is_empty() {
            return None;
        }
        let mut values = serde_json::Deserializer::from_str(value_start).into_iter::<Value>();
        let value = values.next()?.ok()?;
        keys.push((key.to_string(), value));
        rest = &value_start[values.byte_offset()..];
        match rest.chars().next()? {
            ',' => rest = &rest[1..],
            ']' => return Some((keys, &rest[1..])),
            _ => return None,
        }
    }
}

/// Removes the field that `path` names from `object` (as helm's upgrade loses a field the server
/// does not declare). Whether it was there.
pub fn remove(path: &str, object: &mut Value) -> bool {
    let Some(mut places) = locate(path, object) else { return false };
    let Some(Place::Key(last)) = places.pop() else { return false };
    let mut at = object;
    for place in &places {
        let next = match place {
            Place::Key(k) => at.get_mut(k.as_str()),
            Place::Index(i) => at.get_mut(*i),
        };
        let Some(next) = next else { return false };
        at = next;
    }
    at.as_object_mut().is_some_and(|map| map.remove(&last).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hub() -> Value {
        json!({"metadata": {"annotations": {"meta.helm.sh/release-name": "daskhub", "meta": {"x": 1}}},
               "spec": {"x": 1, "template": {"spec": {"containers": [
            {"name": "sidecar", "bogus": 1},
            {"name": "hub", "bogus": 2, "ports": [{"containerPort": 80, "protocol": "TCP", "odd": true},
                                                  {"containerPort": 80, "protocol": "UDP", "odd": false}]},
        ]}}}})
    }

    #[test]
    fn a_field_is_found_by_the_servers_path_and_removed() {
        let mut body = hub();
        assert!(remove(".spec.x", &mut body));
        assert!(remove(r#".spec.template.spec.containers[name="hub"].bogus"#, &mut body));
        assert!(remove(
            r#".spec.template.spec.containers[name="hub"].ports[containerPort=80,protocol="UDP"].odd"#,
            &mut body
        ));
        let mut expected = hub();
        expected["spec"].as_object_mut().unwrap().remove("x");
        let hub = &mut expected["spec"]["template"]["spec"]["containers"][1];
        hub.as_object_mut().unwrap().remove("bogus");
        hub["ports"][1].as_object_mut().unwrap().remove("odd");
        assert_eq!(body, expected);
        // Not there, or not a path: nothing is removed.
        for path in
            [".spec.x", r#".spec.template.spec.containers[name="nope"].bogus"#, "spec", ".a[name=]", ".a[=1]"]
        {
            assert!(!remove(path, &mut body), "{path}");
        }
        // A key value holding `,` and `]`.
        let mut body = json!({"l": [{"k": "a,]b", "x": 1}]});
        assert!(remove(r#".l[k="a,]b"].x"#, &mut body));
        assert_eq!(body, json!({"l": [{"k": "a,]b"}]}));
    }

    #[test]
    fn one_item_named_by_one_key_or_by_all_is_one_place() {
        let body = hub();
        let mut by_one = FieldPath::default();
        for step in [Step::Field("spec".into()), Step::Field("template".into()), Step::Field("spec".into())] {
            by_one.push(step);
        }
        by_one.push(Step::Field("containers".into()));
        by_one.push(Step::item("name", json!("hub")));
        assert_eq!(by_one.to_string(), r#".spec.template.spec.containers[name="hub"]"#);
        by_one.push(Step::Field("bogus".into()));
        let by_server = r#".spec.template.spec.containers[name="hub"].bogus"#;
        assert_eq!(locate(&by_one.to_string(), &body), locate(by_server, &body));
        assert_eq!(
            locate(by_server, &body),
            Some(vec![
                Place::Key("spec".into()),
                Place::Key("template".into()),
                Place::Key("spec".into()),
                Place::Key("containers".into()),
                Place::Index(1),
                Place::Key("bogus".into())
            ])
        );
        // Two ports share a number: the server names each by number and protocol.
        let udp = r#".spec.template.spec.containers[name="hub"].ports[containerPort=80,protocol="UDP"].odd"#;
        assert_eq!(locate(udp, &body).unwrap()[6], Place::Index(1));
        let mut written = FieldPath::default();
        written
            .push(Step::Item(vec![("containerPort".into(), json!(80)), ("protocol".into(), json!("UDP"))]));
        assert_eq!(written.to_string(), r#"[containerPort=80,protocol="UDP"]"#);
    }

    #[test]
    fn an_item_is_found_by_a_key_the_server_defaults_when_only_one_agrees() {
        // A chart's Service port without `protocol`, which the server names with TCP.
        let mut body = json!({"spec": {"ports": [{"name": "http", "port": 80, "x": 1}, {"name": "https", "port": 443}]}});
        assert!(remove(r#".spec.ports[port=80,protocol="TCP"].x"#, &mut body));
        assert_eq!(body["spec"]["ports"][0], json!({"name": "http", "port": 80}));
        // Two that agree: which one is meant cannot be told, and nothing is touched.
        let mut body =
            json!({"ports": [{"port": 53, "x": 1}, {"port": 53, "protocol": "UDP", "x": 2}, {"port": 53}]});
        assert!(!remove(r#".ports[port=53,protocol="TCP"].x"#, &mut body));
        // One with every key wins over those that only agree.
        assert!(remove(r#".ports[port=53,protocol="UDP"].x"#, &mut body));
        assert_eq!(body["ports"][1], json!({"port": 53, "protocol": "UDP"}));
    }

    #[test]
    fn a_key_with_dots_is_matched_against_the_objects_keys() {
        let body = hub();
        assert_eq!(
            locate(".metadata.annotations.meta.helm.sh/release-name", &body),
            Some(vec![
                Place::Key("metadata".into()),
                Place::Key("annotations".into()),
                Place::Key("meta.helm.sh/release-name".into())
            ])
        );
        // The shorter key is a way too, when the rest is found below it.
        assert_eq!(locate(".metadata.annotations.meta.x", &body).unwrap()[2], Place::Key("meta".into()));
        assert_eq!(locate(".metadata.annotations.meta.y", &body), None);
    }
}
