//! Reading Helm 3 releases from their storage Secrets. Pure: no cluster, no helm binary.
//!
//! Helm keeps each revision of release R in a Secret `sh.helm.release.v1.R.vN` of type
//! `helm.sh/release.v1`, labelled `owner=helm`, `name=R`, `status=…`, `version=N`. Its
//! `data.release` is base64 (by Helm) of gzip of the release JSON; the Secret API base64s it once
//! more. In that JSON, `config` is exactly the user-supplied values (what `helm get values`
//! prints), which is what a rendered values file is compared with.

use std::io::Read;

use base64::Engine;
use serde_json::Value;

use crate::helm::chart::ChartId;

pub const SECRET_TYPE: &str = "helm.sh/release.v1";

/// What a diff needs from one release revision.
#[derive(Clone, Debug, PartialEq)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub revision: u64,
    pub status: String,
    /// The chart's name and version (`chart.metadata`), e.g. daskhub 2024.1.1.
    pub chart: ChartId,
    /// The user-supplied values; an empty map when none were given.
    pub config: Value,
    /// The rendered non-hook objects helm applied, as YAML documents.
    pub manifest: String,
}

/// The state of a release in its namespace, as Helm's own `upgrade` sees it: by its newest
/// revision. An older deployed revision does not make a release healthy when a newer one is
/// pending (a killed `helm upgrade`) or failed: helm refuses or behaves differently then.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// No revision is stored.
    NotInstalled,
    /// The newest revision is deployed.
    Deployed(Release),
    /// The newest revision is not deployed: `status` is `pending-install`, `pending-upgrade`,
    /// `pending-rollback`, `failed`, `uninstalling`, `uninstalled`, …
    NotDeployed {
        revision: u64,
        status: String,
        /// The newest deployed revision before it, if any.
        last_deployed: Option<Release>,
    },
}

impl Found {
    /// The newest revision's status and number when it is anything but deployed.
    pub fn blocked(&self) -> Option<(u64, &str)> {
        match self {
            Found::NotDeployed { revision, status, .. } => Some((*revision, status)),
            _ => None,
        }
    }
}

/// What to do about a release whose newest revision is `status`, in helm commands. Every
/// branch is exercised against a real helm in tests/cluster_diff_apply.rs.
pub fn fix(name: &str, namespace: &str, status: &str, last_deployed: Option<u64>) -> String {
    let history = format!("helm history {name} --namespace {namespace}");
    let back = match last_deployed {
        Some(rev) => format!("helm rollback {name} {rev} --namespace {namespace}"),
        None => format!("helm uninstall {name} --namespace {namespace}"),
    };
    let what = if last_deployed.is_some() {
        "to return to the last deployed revision"
    } else {
        "to remove the release that never deployed"
    };
    match status {
        s if s.starts_with("pending-") => format!(
            "a helm {} was interrupted or is still running; check that no helm runs against this release ({history}), then run `{back}` {what}, and apply again",
            s.trim_start_matches("pending-")
        ),
        "failed" => format!(
            "the last helm operation failed (see `{history}` and the release's events); run `{back}` {what}, and apply again"
        ),
        "uninstalling" | "uninstalled" => format!(
            "the release was (being) uninstalled with its history kept; run `helm uninstall {name} --namespace {namespace}` to finish, and apply again"
        ),
        _ => format!("see `{history}`; run `{back}` {what}, and apply again"),
    }
}

/// Decodes `data.release` as the Secret API returns it in JSON (a base64 string).
pub fn decode_secret_field(field: &str) -> Result<Release, String> {
    let helm_text = base64::engine::general_purpose::STANDARD
        .decode(field.trim())
        .map_err(|e| format!("data.release is not base64: {e}"))?;
    decode(&helm_text)
}

/// Decodes Helm's encoding (base64 of gzip of JSON; gzip is optional, as in Helm's own decoder).
pub fn decode(helm_text: &[u8]) -> Result<Release, String> {
    let packed = base64::engine::general_purpose::STANDARD
        .decode(helm_text.trim_ascii())
        .map_err(|e| format!("release is not base64: {e}"))?;
    let json = if packed.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("release is not valid gzip: {e}"))?;
        out
    } else {
        packed
    };
    // Only what a diff needs is read: the chart's own files (templates, values, schema: most of
    // the release) are skipped without being built into values.
    // (The error names a place, never a value: serde quotes an unexpected string.)
    let stored: Stored = serde_json::from_slice(&json).map_err(|e| {
        format!("release is not JSON as helm writes it (line {}, column {})", e.line(), e.column())
    })?;
    let chart = stored.chart.and_then(|c| c.metadata).unwrap_or_default();
    Ok(Release {
        name: stored.name.unwrap_or_default(),
        namespace: stored.namespace.unwrap_or_default(),
        revision: stored.version.unwrap_or(0),
        status: stored.info.and_then(|i| i.status).unwrap_or_default(),
        chart: ChartId { name: chart.name.unwrap_or_default(), version: chart.version.unwrap_or_default() },
        config: match stored.config {
            Some(Value::Object(m)) => Value::Object(m),
            _ => Value::Object(Default::default()),
        },
        manifest: stored.manifest.unwrap_or_default(),
    })
}

/// The parts of helm's release JSON that [`decode`] keeps (each may be absent or null).
#[derive(serde::Deserialize)]
struct Stored {
    name: Option<String>,
    namespace: Option<String>,
    version: Option<u64>,
    info: Option<StoredInfo>,
    chart: Option<StoredChart>,
    config: Option<Value>,
    manifest: Option<String>,
}

#[derive(serde::Deserialize)]
struct StoredInfo {
    status: Option<String>,
}

#[derive(serde::Deserialize)]
struct StoredChart {
    metadata: Option<StoredChartMetadata>,
}

#[derive(serde::Deserialize, Default)]
struct StoredChartMetadata {
    name: Option<String>,
    version: Option<String>,
}

/// The state of release `name` from its Secrets (as JSON objects, e.g. from a list by
/// selector `owner=helm,name=NAME`). Labels give each revision's number and status, so only the
/// deployed revision that is compared is decoded; its decoded status is checked too.
pub fn state(name: &str, secrets: &[Value]) -> Result<Found, String> {
    let label = |s: &Value, k: &str| {
        s.pointer(&format!("/metadata/labels/{k}")).and_then(Value::as_str).map(str::to_string)
    };
    let mut revisions: Vec<(u64, String, &Value)> = secrets
        .iter()
        .filter(|s| s.get("type").and_then(Value::as_str) == Some(SECRET_TYPE))
        .filter(|s| label(s, "owner").as_deref() == Some("helm") && label(s, "name").as_deref() == Some(name))
        .filter_map(|s| {
            let rev = label(s, "version")?.parse::<u64>().ok()?;
            Some((rev, label(s, "status").unwrap_or_default(), s))
        })
        .collect();
    revisions.sort_by_key(|r| std::cmp::Reverse(r.0));
    let Some((newest_rev, newest_status, _)) = revisions.first().cloned() else {
        return Ok(Found::NotInstalled);
    };
    let mut last_deployed = None;
    for (rev, status, secret) in &revisions {
        if status != "deployed" {
            continue;
        }
        let field = secret
            .pointer("/data/release")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("release Secret of {name} revision {rev} has no data.release"))?;
        let release =
            decode_secret_field(field).map_err(|e| format!("release {name} revision {rev}: {e}"))?;
        if release.status == "deployed" || release.status.is_empty() {
            last_deployed = Some((*rev, release));
            break;
        }
    }
    match last_deployed {
        Some((rev, release)) if rev == newest_rev => Ok(Found::Deployed(release)),
        last_deployed => Ok(Found::NotDeployed {
            revision: newest_rev,
            status: if newest_status.is_empty() { "unknown".into() } else { newest_status },
            last_deployed: last_deployed.map(|(_, r)| r),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use serde_json::json;
    use std::io::Write;

    fn encode(release: &Value, gzip: bool) -> String {
        let json = serde_json::to_vec(release).unwrap();
        let packed = if gzip {
            let mut enc = GzEncoder::new(Vec::new(), Compression::best());
            enc.write_all(&json).unwrap();
            enc.finish().unwrap()
        } else {
            json
        };
        let helm = base64::engine::general_purpose::STANDARD.encode(packed);
        base64::engine::general_purpose::STANDARD.encode(helm)
    }

    fn secret(name: &str, rev: u64, status: &str, config: Value) -> Value {
        let release = json!({
            "name": name, "namespace": "ns", "version": rev,
            "info": {"status": status},
            "chart": {"metadata": {"name": "tiny", "version": "0.1.0"}, "values": {"default": true}},
            "config": config,
            "manifest": "---\n"
        });
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": format!("sh.helm.release.v1.{name}.v{rev}"),
                         "labels": {"owner": "helm", "name": name, "status": status, "version": rev.to_string()}},
            "data": {"release": encode(&release, true)}
        })
    }

    #[test]
    fn decodes_config_and_metadata() {
        let s = secret("daskhub", 1, "deployed", json!({"a": {"b": 1}}));
        let r = decode_secret_field(s["data"]["release"].as_str().unwrap()).unwrap();
        assert_eq!(r.name, "daskhub");
        assert_eq!(r.revision, 1);
        assert_eq!(r.chart.to_string(), "tiny-0.1.0");
        assert_eq!(r.config, json!({"a": {"b": 1}}));
    }

    #[test]
    fn plain_json_without_gzip_and_null_config() {
        let field = encode(
            &json!({"name": "x", "version": 2, "info": {"status": "deployed"}, "config": null}),
            false,
        );
        let r = decode_secret_field(&field).unwrap();
        assert_eq!(r.config, json!({}));
        assert_eq!(r.revision, 2);
    }

    #[test]
    fn the_newest_revision_decides_the_state() {
        let deployed_then_failed = vec![
            secret("daskhub", 1, "superseded", json!({"v": 1})),
            secret("daskhub", 3, "failed", json!({"v": 3})),
            secret("daskhub", 2, "deployed", json!({"v": 2})),
            secret("other", 9, "deployed", json!({"v": 9})),
        ];
        match state("daskhub", &deployed_then_failed).unwrap() {
            Found::NotDeployed { revision: 3, status, last_deployed: Some(r) } => {
                assert_eq!((status.as_str(), r.revision, r.config), ("failed", 2, json!({"v": 2})))
            }
            other => panic!("{other:?}"),
        }
        match state("other", &deployed_then_failed).unwrap() {
            Found::Deployed(r) => assert_eq!((r.revision, r.config), (9, json!({"v": 9}))),
            other => panic!("{other:?}"),
        }
        let pending =
            vec![secret("x", 1, "deployed", json!({})), secret("x", 2, "pending-upgrade", json!({}))];
        let found = state("x", &pending).unwrap();
        assert_eq!(found.blocked(), Some((2, "pending-upgrade")));
        assert_eq!(state("none", &deployed_then_failed).unwrap(), Found::NotInstalled);
        let failed = vec![secret("x", 1, "failed", json!({}))];
        assert_eq!(
            state("x", &failed).unwrap(),
            Found::NotDeployed { revision: 1, status: "failed".into(), last_deployed: None }
        );
    }

    #[test]
    fn fixes_name_the_release_and_the_revision_to_return_to() {
        let f = fix("daskhub", "hub", "pending-upgrade", Some(4));
        assert!(f.contains("helm upgrade was interrupted"), "{f}");
        assert!(f.contains("`helm rollback daskhub 4 --namespace hub`"), "{f}");
        let f = fix("daskhub", "hub", "pending-install", None);
        assert!(f.contains("`helm uninstall daskhub --namespace hub`"), "{f}");
        let f = fix("daskhub", "hub", "failed", Some(1));
        assert!(f.contains("failed") && f.contains("helm rollback daskhub 1"), "{f}");
    }

    #[test]
    fn the_charts_own_files_are_passed_over_and_a_wrong_type_quotes_nothing() {
        let chart = json!({
            "metadata": {"name": "daskhub", "version": "2024.1.1", "annotations": {"a": "b"}},
            "templates": [{"name": "templates/hub.yaml", "data": "YXBpVmVyc2lvbjogdjE="}],
            "values": {"hub": {"image": "x"}}, "schema": "e30=", "files": [],
        });
        let field = encode(
            &json!({"name": "daskhub", "namespace": "hub", "version": 4, "info": {"status": "deployed", "notes": "n"},
                    "chart": chart, "config": {"k": 1}, "manifest": "---\nkind: A\n", "hooks": []}),
            true,
        );
        let r = decode_secret_field(&field).unwrap();
        assert_eq!((r.chart.name.as_str(), r.chart.version.as_str()), ("daskhub", "2024.1.1"));
        assert_eq!((r.revision, r.status.as_str(), r.manifest.as_str()), (4, "deployed", "---\nkind: A\n"));
        assert_eq!(r.config, json!({"k": 1}));
        // A field of the wrong type: the message names the place, not the text.
        let field = encode(&json!({"name": "x", "version": "s3cr3t-token"}), true);
        let e = decode_secret_field(&field).unwrap_err();
        assert!(e.contains("line 1, column") && !e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_secret_field("not base64!").is_err());
        let b = base64::engine::general_purpose::STANDARD
            .encode(base64::engine::general_purpose::STANDARD.encode([0x1f, 0x8b, 0x08, 0, 1]));
        assert!(decode_secret_field(&b).is_err());
    }
}
