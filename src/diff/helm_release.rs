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

pub const SECRET_TYPE: &str = "helm.sh/release.v1";

/// What a diff needs from one release revision.
#[derive(Clone, Debug, PartialEq)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub revision: u64,
    pub status: String,
    /// `name-version` of the chart, e.g. `daskhub-2024.1.1`.
    pub chart: String,
    /// The user-supplied values; an empty map when none were given.
    pub config: Value,
}

/// The state of a release in its namespace.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// No revision is stored.
    NotInstalled,
    /// Revisions exist but none is deployed (a failed install, a pending upgrade…).
    NotDeployed {
        revision: u64,
        status: String,
    },
    Deployed(Release),
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
    let v: Value = serde_json::from_slice(&json).map_err(|e| format!("release is not JSON: {e}"))?;
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
    let chart_name = s("/chart/metadata/name");
    let chart_version = s("/chart/metadata/version");
    let config = match v.get("config") {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => Value::Object(Default::default()),
    };
    Ok(Release {
        name: s("/name"),
        namespace: s("/namespace"),
        revision: v.get("version").and_then(Value::as_u64).unwrap_or(0),
        status: s("/info/status"),
        chart: if chart_version.is_empty() { chart_name } else { format!("{chart_name}-{chart_version}") },
        config,
    })
}

/// Picks the newest deployed revision of release `name` from Secrets (as JSON objects, e.g.
/// from a list by selector `owner=helm,name=NAME`). Labels choose the candidate so that only one
/// release is decoded; its decoded status is checked too.
pub fn newest_deployed(name: &str, secrets: &[Value]) -> Result<Found, String> {
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
            return Ok(Found::Deployed(release));
        }
    }
    Ok(Found::NotDeployed { revision: newest_rev, status: newest_status })
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
        assert_eq!(r.chart, "tiny-0.1.0");
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
    fn picks_newest_deployed_revision() {
        let secrets = vec![
            secret("daskhub", 1, "superseded", json!({"v": 1})),
            secret("daskhub", 3, "failed", json!({"v": 3})),
            secret("daskhub", 2, "deployed", json!({"v": 2})),
            secret("other", 9, "deployed", json!({"v": 9})),
        ];
        match newest_deployed("daskhub", &secrets).unwrap() {
            Found::Deployed(r) => assert_eq!((r.revision, r.config), (2, json!({"v": 2}))),
            other => panic!("{other:?}"),
        }
        assert_eq!(newest_deployed("none", &secrets).unwrap(), Found::NotInstalled);
        let failed = vec![secret("x", 1, "failed", json!({}))];
        assert_eq!(
            newest_deployed("x", &failed).unwrap(),
            Found::NotDeployed { revision: 1, status: "failed".into() }
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_secret_field("not base64!").is_err());
        let b = base64::engine::general_purpose::STANDARD
            .encode(base64::engine::general_purpose::STANDARD.encode([0x1f, 0x8b, 0x08, 0, 1]));
        assert!(decode_secret_field(&b).is_err());
    }
}
