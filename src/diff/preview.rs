//! The object-level preview of a Helm upgrade: what `helm upgrade` would do to each object.
//!
//! helm renders the chart as `helm upgrade` would (`helm template` with the release's name and
//! namespace, `--is-upgrade`, the live cluster's version, and `--dry-run=server`, which lets the
//! chart's `lookup` calls read the live cluster: Z2JH keeps its cookie secret and CryptKeeper
//! keys by a lookup of the live hub Secret, so an offline render would invent new ones every
//! time and the diff would never be empty). Each rendered object then goes to the API server as
//! a server-side apply dry run under helm's own field manager (a new manager would conflict with
//! helm on server-defaulted list fields), forced, and the result is compared with the live
//! object; objects of the deployed release that the chart no longer renders are deletions.
//! Hook objects (`helm.sh/hook`) are made and replaced by helm around the upgrade, so they are
//! listed as hooks, not diffed as if they stayed.

use crate::helm::command;
use std::io::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::drift::{LiveObject, ObjectDrift};
use super::field_path;
use super::print::{to_yaml, unified};
use crate::kube::{ApplyMode, Cluster, ClusterError, ObjectRef, run_all};
use crate::plan::strip::{canonical, strip};
use crate::secrets::mask::{Masker, Shape, decode_structured_data, is_secret};

/// helm's field manager (helm 3 names itself after its binary).
pub const HELM_MANAGER: &str = "helm";

const HOOK_ANNOTATION: &str = "helm.sh/hook";

/// One object of the preview.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewObject {
    pub object: String,
    /// `create`, `update`, `unchanged` or `delete`.
    pub action: &'static str,
    pub diff: String,
    /// Fields the chart renders that the API server does not declare for the kind: helm's
    /// upgrade sends them and the server drops them with a warning, so the preview drops them
    /// too (a server-side apply would refuse them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undeclared_fields: Vec<String>,
}

/// A hook object of the chart: made by helm at the named events, not kept in the release.
#[derive(Clone, Debug, Serialize)]
pub struct Hook {
    pub object: String,
    pub events: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Preview {
    pub objects: Vec<PreviewObject>,
    pub hooks: Vec<Hook>,
}

impl PreviewObject {
    /// The object `r`, what the upgrade does to it and the diff that shows it; no undeclared fields.
    fn new(r: &ObjectRef, action: &'static str, diff: String) -> PreviewObject {
        PreviewObject { object: r.to_string(), action, diff, undeclared_fields: Vec::new() }
    }
}

impl Preview {
    pub fn changes(&self) -> impl Iterator<Item = &PreviewObject> {
        self.objects.iter().filter(|o| o.action != "unchanged")
    }
}

/// Runs `helm template ARGS` with the values on its stdin, returning what it prints. Errors are
/// masked.
pub fn run_template(
    helm: &Path,
    values_text: &str,
    args: &[String],
    target: &command::Target,
    masker: &Masker,
) -> Result<String, String> {
    let output = command::run_with(helm, args, values_text, target, &command::template_env())
        .map_err(|e| format!("cannot run {}: {e}", helm.display()))?;
    if !output.status.success() {
        let mut err = masker.text(&String::from_utf8_lossy(&output.stderr));
        // client-go quotes the URLs it failed to reach; the lookups endpoint's holds its key.
        if let Some(url) = &target.api_server {
            err = err.replace(url.expose(), "(pangeo-render's endpoint for the chart's lookups)");
        }
        err.truncate(err.trim_end().len());
        return Err(format!("`helm template` failed ({}): {err}", output.status));
    }
    String::from_utf8(output.stdout).map_err(|_| "`helm template` printed something that is not UTF-8".into())
}

/// [`run_template`] on a thread of its own, so that helm renders while this one talks to the
/// cluster (and answers helm's lookups, src/helm/lookups.rs); [`join`] waits for it.
pub fn spawn_template(
    helm: std::path::PathBuf,
    values_text: String,
    masker: Masker,
    args: Vec<String>,
    target: command::Target,
) -> Render {
    tokio::task::spawn_blocking(move || run_template(&helm, &values_text, &args, &target, &masker))
}

/// A `helm template` under way ([`spawn_template`]).
pub type Render = tokio::task::JoinHandle<Result<String, String>>;

/// The result of [`spawn_template`]. Awaited, not blocked on: helm's lookups are answered on
/// this thread's runtime meanwhile.
pub async fn join(render: Render) -> Result<String, String> {
    render.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Splits helm's output into the release's objects and its hook objects. A document that the
/// deployed manifest holds word for word is that manifest's object, not parsed again: after a
/// values change most of a chart renders as before (31 of DaskHub's 37 objects for a new image).
/// The others are parsed on two threads, half of their text each: this is the only work between
/// helm's output and the dry runs.
pub fn split(rendered: &str, deployed: &Deployed<'_>) -> Result<(Vec<Value>, Vec<Value>), String> {
    let known: std::collections::HashMap<&str, &Value> = deployed
        .texts
        .iter()
        .zip(deployed.objects)
        .filter(|(t, _)| !t.is_empty())
        .map(|(t, o)| (t.as_str(), o))
        .collect();
    let texts = crate::yaml::document_texts(rendered);
    let new: Vec<&str> = texts.iter().copied().filter(|t| !known.contains_key(t)).collect();
    let total: usize = new.iter().map(|t| t.len()).sum();
    let (mut first, mut size) = (0, 0);
    while first < new.len() && 2 * size < total {
        size += new[first].len();
        first += 1;
    }
    let parse = |texts: &[&str]| -> Option<Vec<Vec<Value>>> {
        texts.iter().map(|t| crate::yaml::parse_documents_json(t).ok()).collect()
    };
    let (a, b) = std::thread::scope(|s| {
        let b = s.spawn(|| parse(&new[first..]));
        (parse(&new[..first]), b.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let Some(mut parsed) = a.zip(b).map(|(a, b)| a.into_iter().chain(b)) else {
        // The error as the whole output has it, with its line.
        let e = crate::yaml::parse_documents_json(rendered).err();
        let (line, message) = e.map(|e| (e.pos.line, e.message)).unwrap_or((0, "unreadable".into()));
        return Err(format!("`helm template` output is not valid YAML at line {line}: {message}"));
    };
    let mut docs = Vec::new();
    for text in texts {
        match known.get(text) {
            Some(object) => docs.push((*object).clone()),
            None => docs.extend(parsed.next().unwrap_or_default()),
        }
    }
    let (hooks, objects) =
        docs.into_iter().filter(|o| ObjectRef::of(o).is_some()).partition(|o| hook_events(o).is_some());
    Ok((objects, hooks))
}

fn hook_events(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/annotations").and_then(|a| a.get(HOOK_ANNOTATION)).and_then(Value::as_str)
}

/// The deployed release as `diff` has read it: its manifest's objects, and — when the drift
/// check ran — those objects as they are live and which of them drifted.
#[derive(Clone, Copy, Debug, Default)]
pub struct Deployed<'a> {
    pub objects: &'a [Value],
    /// The text of each object's document in the manifest (empty: not known).
    pub texts: &'a [String],
    pub live: &'a [LiveObject],
    pub drift: &'a [ObjectDrift],
}

impl Deployed<'_> {
    /// What the drift check read of `r`: `None` when it did not read it.
    fn live(&self, r: &ObjectRef) -> Option<&Option<Value>> {
        self.live.iter().find(|(o, _)| o == r).map(|(_, l)| l)
    }

    /// Whether the drift check read `r` and found it as helm applied it.
    fn as_applied(&self, r: &ObjectRef) -> bool {
        let name = r.to_string();
        matches!(self.live(r), Some(Some(_))) && !self.drift.iter().any(|d| d.object == name)
    }
}

/// When the server refused an object of the chart itself (an invalid value): that `helm
/// upgrade` would fail, and why, masked.
pub fn refused(e: &ClusterError, masker: &Masker) -> Option<String> {
    let (object, why) = e.refused_object()?;
    Some(
        masker.text(&format!(
            "the API server refuses the chart's {object}, so `helm upgrade` would fail: {why}"
        )),
    )
}

/// Compares the rendered objects with the live ones (server-side apply dry run as helm), and
/// lists deployed objects the render no longer has as deletions.
pub async fn preview(
    cluster: &Cluster,
    namespace: &str,
    objects: Vec<Value>,
    hooks: &[Value],
    known: Deployed<'_>,
    masker: &Masker,
) -> Result<Preview, ClusterError> {
    let deployed = known.objects;
    // Each object where it lives: the namespace it names, else the release's for a namespaced
    // kind (the apply's URL carries it; the body is sent as helm rendered it).
    let located = |cluster: &Cluster, list: &[Value]| -> Vec<(ObjectRef, usize)> {
        list.iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let mut r = ObjectRef::of(o)?;
                if r.namespace.is_none() && cluster.is_namespaced(&r) {
                    r.namespace = Some(namespace.to_string());
                }
                Some((r, i))
            })
            .collect()
    };
    let all: Vec<ObjectRef> = objects.iter().chain(hooks).chain(deployed).filter_map(ObjectRef::of).collect();
    cluster.prepare(&all).await?;
    let new = located(cluster, &objects);
    let old = located(cluster, deployed);
    let jobs: Vec<_> = new
        .iter()
        .map(|(r, i)| {
            let before = old.iter().find(|(o, _)| o == r).map(|(_, b)| &deployed[*b]);
            compare(cluster, r, &objects[*i], before, &known, masker)
        })
        .collect();
    let mut out = Preview::default();
    // Only objects the chart renders differently (or that drifted) reach the server, and each
    // dry run is the server's work more than a round trip: twice the usual requests in flight
    // cut this phase from 23 to 20 ms on the test control plane (BENCHMARKS.md).
    for r in run_all(jobs, 2 * crate::plan::concurrency()).await {
        out.objects.push(r?);
    }
    let gone: Vec<&(ObjectRef, usize)> =
        old.iter().filter(|(r, _)| !new.iter().any(|(n, _)| n == r)).collect();
    let jobs: Vec<_> = gone.iter().map(|(r, _)| read(cluster, r, &known)).collect();
    for ((r, _), live) in gone.iter().zip(run_all(jobs, crate::plan::concurrency()).await) {
        let Some(live) = live? else { continue };
        let (text, _) = texts(Some(live), Value::Null, masker);
        let key = r.file_key();
        let diff =
            unified(&text, "", &format!("live/{key}"), &format!("upgraded/{key} (deleted by the upgrade)"));
        out.objects.push(PreviewObject::new(r, "delete", diff));
    }
    for (r, i) in located(cluster, hooks) {
        let events = hook_events(&hooks[i]).unwrap_or_default().to_string();
        out.hooks.push(Hook { object: r.to_string(), events });
    }
    Ok(out)
}

/// The live object: as the drift check read it, else from the cluster.
async fn read(cluster: &Cluster, r: &ObjectRef, known: &Deployed<'_>) -> Result<Option<Value>, ClusterError> {
    match known.live(r) {
        Some(live) => Ok(live.clone()),
        None => cluster.get(r).await,
    }
}

async fn compare(
    cluster: &Cluster,
    r: &ObjectRef,
    body: &Value,
    before: Option<&Value>,
    known: &Deployed<'_>,
    masker: &Masker,
) -> Result<PreviewObject, ClusterError> {
    // The chart renders the object exactly as helm applied it last, and nobody has changed it
    // since: helm's three-way merge has nothing to patch, so the server is not asked. (With the
    // real DaskHub chart a values change touches six of its 37 objects.)
    if before.is_some_and(|b| canonical(b) == canonical(body)) && known.as_applied(r) {
        return Ok(PreviewObject::new(r, "unchanged", String::new()));
    }
    let live = read(cluster, r, known).await?;
    let mode = ApplyMode { manager: HELM_MANAGER, dry_run: true, force: true };
    let mut undeclared = Vec::new();
    let mut merged = match cluster.apply(r, body, mode).await {
        Ok(merged) => merged,
        Err(e) => {
            undeclared = e.undeclared_fields();
            let mut declared = body.clone();
            if undeclared.is_empty() || !undeclared.iter().all(|path| field_path::remove(path, &mut declared))
            {
                return Err(e);
            }
            cluster.apply(r, &declared, mode).await?
        }
    };
    if let Some(before) = before {
        drop_removed(before, body, &mut merged);
    }
    let existed = live.is_some();
    let (old, new) = texts(live, merged, masker);
    let key = r.file_key();
    let old_name = if existed { format!("live/{key}") } else { format!("live/{key} (not in the cluster)") };
    let diff = unified(&old, &new, &old_name, &format!("upgraded/{key}"));
    let action = match (existed, diff.is_empty()) {
        (false, _) => "create",
        (true, true) => "unchanged",
        (true, false) => "update",
    };
    Ok(PreviewObject { undeclared_fields: undeclared, ..PreviewObject::new(r, action, diff) })
}

/// helm's three-way merge deletes a field the deployed manifest had and the new one has not
/// (unless someone else changed it since); an apply under a new manager would leave it. So such
/// fields are taken out of the dry run's result where they still hold helm's old value.
fn drop_removed(before: &Value, after: &Value, merged: &mut Value) {
    let (Some(b), Some(m)) = (before.as_object(), merged.as_object_mut()) else { return };
    for (key, old) in b {
        match after.get(key) {
            None => {
                if m.get(key).is_some_and(|v| canonical(v) == canonical(old)) {
                    m.remove(key);
                }
            }
            Some(new) if old.is_object() && new.is_object() => {
                if let Some(child) = m.get_mut(key) {
                    drop_removed(old, new, child);
                }
            }
            Some(_) => {}
        }
    }
}

/// Live and upgraded as masked YAML (either may be absent: `None` / `Null`).
fn texts(live: Option<Value>, merged: Value, masker: &Masker) -> (String, String) {
    let secret = live.as_ref().is_some_and(is_secret) || is_secret(&merged);
    let prepare = |mut v: Value| {
        strip(&mut v);
        if secret {
            decode_structured_data(&mut v);
        }
        canonical(&v)
    };
    let mut live = live.map(prepare);
    let mut merged = (!merged.is_null()).then(|| prepare(merged));
    masker.pair(Shape::Object { secret }, live.as_mut(), merged.as_mut());
    (live.as_ref().map(to_yaml).unwrap_or_default(), merged.as_ref().map(to_yaml).unwrap_or_default())
}

/// Writes the preview of one release as text.
pub fn write_text(out: &mut impl std::io::Write, release: &str, p: &Preview) -> std::io::Result<()> {
    let note = anstyle::AnsiColor::Yellow.on_default().bold();
    let changed = p.changes().count();
    writeln!(
        out,
        "{note}preview:{note:#} helm upgrade of release {release} would change {changed} of {} object(s):",
        p.objects.iter().filter(|o| o.action != "delete").count()
    )?;
    for o in p.changes() {
        let verb = match o.action {
            "create" => "created",
            "delete" => "deleted",
            _ => "changed",
        };
        writeln!(out, "  {} {verb}", o.object)?;
    }
    for h in &p.hooks {
        writeln!(
            out,
            "  hook {} ({}): made again by helm at these events, not compared",
            h.object, h.events
        )?;
    }
    for o in p.objects.iter().filter(|o| !o.undeclared_fields.is_empty()) {
        writeln!(
            out,
            "  {note}note:{note:#} {}: the chart renders field(s) the API server does not declare, which helm's upgrade drops with a warning: {}",
            o.object,
            o.undeclared_fields.join(", ")
        )?;
    }
    for o in p.changes() {
        crate::diff::print::write_diff(out, &o.diff)?;
    }
    Ok(())
}

/// Writes text to a string (for tests and JSON).
pub fn to_text(release: &str, p: &Preview) -> String {
    let mut buf = Vec::new();
    let _ = write_text(&mut buf, release, p);
    let _ = buf.flush();
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hooks_are_split_from_objects() {
        let text = "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# Source: c/templates/h.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: h\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n";
        let (objects, hooks) = split(text, &Deployed::default()).unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(hooks.len(), 1);
        assert_eq!(hook_events(&hooks[0]), Some("pre-install,pre-upgrade"));
    }

    #[test]
    fn split_keeps_helms_order_and_takes_known_documents_from_the_manifest() {
        let doc = |name: &str, extra: &str| {
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{extra}")
        };
        let texts: Vec<String> =
            vec![doc("a", ""), doc("b", "data: {k: v}\n"), doc("c", ""), doc("d", "data: {big: x}\n")];
        // The deployed manifest holds b and d word for word, as objects marked to show where they came from.
        let known_objects = vec![json!({"from": "manifest b"}), json!({"from": "manifest d"})];
        let known_texts = vec![texts[1].clone(), texts[3].clone()];
        let deployed = Deployed { objects: &known_objects, texts: &known_texts, ..Deployed::default() };
        let rendered: String = texts.iter().map(|t| format!("---\n{t}")).collect();
        // (Objects without apiVersion/kind are dropped, so the marked ones are checked apart.)
        let (objects, _) = split(&rendered, &deployed).unwrap();
        let names: Vec<&str> = objects.iter().map(|o| o["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "c"]);
        let marked = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "from": "manifest"}),
        ];
        let deployed = Deployed { objects: &marked, texts: &known_texts[..1], ..Deployed::default() };
        let (objects, _) = split(&rendered, &deployed).unwrap();
        let order: Vec<String> = objects
            .iter()
            .map(|o| {
                format!("{}{}", o["metadata"]["name"].as_str().unwrap(), o.get("from").map_or("", |_| "*"))
            })
            .collect();
        assert_eq!(order, ["a", "b*", "c", "d"]);
        // A document that is not YAML: the error names its line in helm's output.
        let broken = format!("{rendered}---\nkind: [\n");
        let e = split(&broken, &deployed).unwrap_err();
        let line = rendered.lines().count() + 2;
        assert!(e.starts_with(&format!("`helm template` output is not valid YAML at line {line}:")), "{e}");
    }

    #[test]
    fn fields_the_chart_no_longer_renders_are_removed_as_helm_would() {
        let before = json!({"metadata": {"labels": {"a": "1", "gone": "x"}}, "data": {"k": "v", "old": "o"}});
        let after = json!({"metadata": {"labels": {"a": "2"}}, "data": {"k": "v"}});
        // The dry run kept both removed fields; someone else has since changed `old`.
        let mut merged = json!({"metadata": {"labels": {"a": "2", "gone": "x", "other": "y"}}, "data": {"k": "v", "old": "edited"}});
        drop_removed(&before, &after, &mut merged);
        assert_eq!(
            merged,
            json!({"metadata": {"labels": {"a": "2", "other": "y"}}, "data": {"k": "v", "old": "edited"}})
        );
    }

    #[test]
    fn a_deleted_secret_is_masked() {
        let m = Masker::new([]);
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}});
        let (old, new) = texts(Some(live), Value::Null, &m);
        assert!(old.contains("(sensitive value)") && !old.contains("c2VjcmV0"), "{old}");
        assert_eq!(new, "");
    }
}
