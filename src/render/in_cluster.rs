//! `secrets.inCluster`: the deployed secrets in a Kubernetes Secret of ours instead of in
//! `daskhub.yaml`, read by the charts through their own mechanisms.
//!
//! - Z2JH (3.2.1 and 4.4.0 alike) mounts `hub.existingSecret` beside its own Secret, at
//!   `/usr/local/etc/jupyterhub/existing-secret/` (templates/hub/deployment.yaml 4.4.0 l.55-59,
//!   l.151-154), and its z2jh.py reads it first: `get_secret_value(key)` (l.46-58) for each
//!   `hub.services.<name>.apiToken` (jupyterhub_config.py 4.4.0 l.422-432), and `_load_config`
//!   (l.15-31) merges the Secret's `values.yaml` key over the chart's values, which is how the
//!   password hash reaches `hub.config.PangeoPasswordAuthenticator`. Key layout:
//!   [`crate::secrets::in_cluster`].
//! - dask-gateway (2024.1.0 and 2026.3.0 alike) gives the gateway pod `JUPYTERHUB_API_TOKEN` from
//!   `gateway.auth.jupyterhub.apiTokenFromSecretName` / `apiTokenFromSecretKey` when `apiToken` is
//!   unset (templates/gateway/deployment.yaml l.60-70): pointed at the same Secret and key.
//! - The proxy token cannot come from here: Z2JH reads `proxy.secretToken` only from its own
//!   Secret (values.schema.yaml, `hub.existingSecret`, warning 2). Left unset, Z2JH generates it
//!   once and keeps it through `lookup` (templates/hub/_helpers-passwords.tpl), as it keeps the
//!   cookie secret.
//!
//! The objects are built in memory for `diff` and `apply` only: `values` writes no file holding
//! them.

use serde_json::{Value, json};

use crate::config::Config;
use crate::secrets::{Secrets, in_cluster};

/// The Secret's name ([`in_cluster::secret_name`]).
pub fn secret_name(config: &Config) -> String {
    in_cluster::secret_name(&config.releases.daskhub.name)
}

/// The objects `apply` creates for `secrets.inCluster` (none otherwise): the release's namespace
/// (so the Secret can exist before the first `helm install --create-namespace`) and the Secret.
pub fn objects(config: &Config, secrets: &Secrets) -> Vec<Value> {
    if !config.secrets.in_cluster {
        return Vec::new();
    }
    let namespace = &config.releases.daskhub.namespace;
    // `data`, not `stringData`: the server keeps only `data`, so a server-side apply of
    // `stringData` would never look applied.
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": secret_name(config),
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "pangeo-render"},
            },
            "type": "Opaque",
            "data": in_cluster::data(&secrets.dask_gateway_api_token, &secrets.admin_password_hash),
        }),
    ]
}

/// The strings a server message could quote the Secret's data by (the base64 of each value):
/// masked like the secrets themselves.
pub fn encoded_forms(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .filter_map(|o| o.get("data").and_then(Value::as_object))
        .flat_map(|d| d.values().filter_map(Value::as_str).map(str::to_string))
        .collect()
}
