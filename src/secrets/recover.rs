//! Secrets recovered from a deployed `daskhub` release, for a clone that has no secrets file
//! (`values --secrets-from-cluster`).
//!
//! The release's user-supplied values are what `values` rendered from the secrets, so each
//! secret is read back from where `charts/daskhub.yaml.j2` put it. Both places of the gateway
//! token must agree. Errors name keys, never values.

use serde_json::Value;

use super::Stored;

/// Where `daskhub.yaml` holds each secret, as JSON pointers into the release's values.
const PROXY_TOKEN: &str = "/jupyterhub/proxy/secretToken";
const GATEWAY_TOKEN_HUB: &str = "/jupyterhub/hub/services/dask-gateway/apiToken";
const GATEWAY_TOKEN_GATEWAY: &str = "/dask-gateway/gateway/auth/jupyterhub/apiToken";
const PASSWORD_HASH: &str = "/jupyterhub/hub/config/PangeoPasswordAuthenticator/password_hash";

/// The secrets in a release's values (`helm get values`).
pub fn from_release_values(values: &Value) -> Result<Stored, String> {
    let get = |pointer: &str| values.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    let dotted = |pointer: &str| pointer.trim_start_matches('/').replace('/', ".");
    let missing: Vec<String> = [PROXY_TOKEN, GATEWAY_TOKEN_HUB, GATEWAY_TOKEN_GATEWAY, PASSWORD_HASH]
        .into_iter()
        .filter(|p| get(p).is_none())
        .map(dotted)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the release's values have no {}: it was not deployed from pangeo-render's daskhub.yaml, \
             so its secrets cannot be recovered from it",
            missing.join(", ")
        ));
    }
    if get(GATEWAY_TOKEN_HUB) != get(GATEWAY_TOKEN_GATEWAY) {
        return Err(format!(
            "the release's two Dask Gateway tokens differ ({} and {}), so the gateway cannot be working; \
             start from new tokens with `pangeo-render values --rotate tokens` instead",
            dotted(GATEWAY_TOKEN_HUB),
            dotted(GATEWAY_TOKEN_GATEWAY)
        ));
    }
    Ok(Stored {
        api_version: Some(super::API_VERSION.into()),
        kind: Some(super::KIND.into()),
        proxy_secret_token: get(PROXY_TOKEN),
        dask_gateway_api_token: get(GATEWAY_TOKEN_HUB),
        admin_password_hash: get(PASSWORD_HASH),
    })
}

/// The keys whose values differ between two sets of secrets (names only).
pub fn differing_keys(a: &super::Secrets, b: &super::Secrets) -> Vec<&'static str> {
    [
        ("proxySecretToken", a.proxy_secret_token == b.proxy_secret_token),
        ("daskGatewayApiToken", a.dask_gateway_api_token == b.dask_gateway_api_token),
        ("adminPasswordHash", a.admin_password_hash == b.admin_password_hash),
    ]
    .into_iter()
    .filter_map(|(k, same)| (!same).then_some(k))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(gateway_hub: &str, gateway: &str) -> Value {
        json!({
            "jupyterhub": {
                "proxy": {"secretToken": "p"},
                "hub": {
                    "services": {"dask-gateway": {"apiToken": gateway_hub}},
                    "config": {"PangeoPasswordAuthenticator": {"password_hash": "h"}}
                }
            },
            "dask-gateway": {"gateway": {"auth": {"jupyterhub": {"apiToken": gateway}}}}
        })
    }

    #[test]
    fn reads_each_secret_from_where_daskhub_yaml_puts_it() {
        let s = from_release_values(&values("g", "g")).unwrap();
        assert_eq!(s.proxy_secret_token.as_deref(), Some("p"));
        assert_eq!(s.dask_gateway_api_token.as_deref(), Some("g"));
        assert_eq!(s.admin_password_hash.as_deref(), Some("h"));
    }

    #[test]
    fn disagreeing_gateway_tokens_and_missing_keys_are_named_not_quoted() {
        let err = from_release_values(&values("g1-secret", "g2-secret")).unwrap_err();
        assert!(err.contains("differ") && !err.contains("g1-secret"), "{err}");
        let err = from_release_values(&json!({"jupyterhub": {}})).unwrap_err();
        assert!(err.contains("jupyterhub.proxy.secretToken") && err.contains("not deployed from"), "{err}");
    }
}
