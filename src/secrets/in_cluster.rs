//! The layout of the Kubernetes Secret that holds the deployed secrets with `secrets.inCluster`
//! (built by `render::in_cluster`, read back by `values --secrets-from-cluster`): which key holds
//! what, both ways. Z2JH asks that such a Secret mirror its own (values.schema.yaml,
//! `hub.existingSecret`), so the keys are the ones Z2JH's Secret uses.

use base64::Engine;
use serde_json::Value;

/// The key Z2JH's `get_secret_value` reads the gateway service's token from, and the key the
/// gateway's `apiTokenFromSecretKey` names (the dask-gateway chart's default for it, too).
pub const GATEWAY_TOKEN_KEY: &str = "hub.services.dask-gateway.apiToken";
/// The key whose YAML Z2JH merges over the chart's values (z2jh.py `_load_config`).
pub const HUB_VALUES_KEY: &str = "values.yaml";
/// `RELEASE-secrets`, in the daskhub release's namespace.
pub fn secret_name(daskhub_release: &str) -> String {
    format!("{daskhub_release}-secrets")
}

const HASH_POINTER: &str = "/hub/config/PangeoPasswordAuthenticator/password_hash";

/// What the `values.yaml` key holds: the hash where `hub.config` would have it.
pub fn hub_values(password_hash: &str) -> String {
    // A JSON string is a YAML double-quoted scalar; the hash has no character that needs more.
    let quoted = Value::String(password_hash.to_string()).to_string();
    format!("hub:\n  config:\n    PangeoPasswordAuthenticator:\n      password_hash: {quoted}\n")
}

/// The Secret's `data`, base64 as the API stores it.
pub fn data(gateway_token: &str, password_hash: &str) -> serde_json::Map<String, Value> {
    let b64 = |s: &str| Value::String(base64::engine::general_purpose::STANDARD.encode(s));
    let mut m = serde_json::Map::new();
    m.insert(GATEWAY_TOKEN_KEY.into(), b64(gateway_token));
    m.insert(HUB_VALUES_KEY.into(), b64(&hub_values(password_hash)));
    m
}

/// The gateway token and the password hash from a live Secret. Errors name keys, never values.
pub fn read(secret: &Value) -> Result<(String, String), String> {
    let decoded = |key: &str| -> Result<String, String> {
        let b64 = secret
            .pointer(&format!("/data/{}", key.replace('~', "~0").replace('/', "~1")))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("it has no key {key}"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| format!("its key {key} is not base64"))?;
        String::from_utf8(bytes).map_err(|_| format!("its key {key} is not UTF-8 text"))
    };
    let token = decoded(GATEWAY_TOKEN_KEY)?;
    let values = decoded(HUB_VALUES_KEY)?;
    let doc = crate::yaml::parse_documents(&values)
        .ok()
        .and_then(|mut d| (!d.is_empty()).then(|| d.remove(0).to_json()))
        .ok_or_else(|| format!("its key {HUB_VALUES_KEY} is not YAML"))?;
    let hash = doc.pointer(HASH_POINTER).and_then(Value::as_str).ok_or_else(|| {
        format!("its key {HUB_VALUES_KEY} has no hub.config.PangeoPasswordAuthenticator.password_hash")
    })?;
    Ok((token, hash.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HASH: &str = "$pbkdf2-sha256$i=600000,l=32$AAAA$BBBB";

    #[test]
    fn what_data_writes_read_gives_back() {
        let secret = json!({"data": data("tok-secret", HASH)});
        assert_eq!(read(&secret).unwrap(), ("tok-secret".to_string(), HASH.to_string()));
    }

    #[test]
    fn a_missing_or_broken_key_is_named_not_quoted() {
        let mut d = data("tok-secret", HASH);
        d.remove(GATEWAY_TOKEN_KEY);
        let err = read(&json!({ "data": d })).unwrap_err();
        assert!(err.contains(GATEWAY_TOKEN_KEY), "{err}");
        let mut d = data("tok-secret", HASH);
        d.insert(HUB_VALUES_KEY.into(), json!(base64::engine::general_purpose::STANDARD.encode("hub: {}\n")));
        let err = read(&json!({ "data": d })).unwrap_err();
        assert!(err.contains("password_hash") && !err.contains("tok-secret"), "{err}");
    }
}
