//! `daskhub.yaml` whose secrets are in a Kubernetes Secret (`hub.existingSecret`, what
//! `secrets.inCluster` renders): the hub reads the gateway's token from that Secret's key
//! `hub.services.dask-gateway.apiToken` first (Z2JH z2jh.py `get_secret_value`), so the gateway
//! must read it from the same place (PR032). Otherwise it reads the dask-gateway chart's default,
//! Secret `hub` — Z2JH's own, which then holds a token Z2JH generated that the hub does not use —
//! and every user is refused. A values file meant to be secret-free that still holds a secret is
//! a warning (PR033), naming the key, never the value.

use crate::diag::{Diagnostic, ids};
use crate::secrets::in_cluster::GATEWAY_TOKEN_KEY;
use crate::validate::rules::Deployment;

/// dask-gateway's values.yaml (2024.1.0 and 2026.3.0 alike, l.75-76).
const CHART_DEFAULT_SECRET: &str = "hub";

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    let Some(h) = d.hub else { return };
    let Some(existing) = &h.existing_secret else { return };
    if h.gateway_api_token.is_none() {
        let name = h.gateway_token_secret.as_ref();
        let name_value = name.map_or(CHART_DEFAULT_SECRET, |f| f.value.as_str());
        if name_value != existing.value {
            let at = name.map_or(&existing.loc, |f| &f.loc);
            out.push(
                at.error(
                    ids::SECRET_REFERENCE,
                    format!(
                        "the gateway reads its hub token from Secret `{name_value}`{}, but the hub reads the \
                         gateway's token from `{}` (hub.existingSecret)",
                        if name.is_none() { " (the chart's default)" } else { "" },
                        existing.value
                    ),
                )
                .hint(format!(
                    "set dask-gateway.gateway.auth.jupyterhub.apiTokenFromSecretName: \"{}\" and apiTokenFromSecretKey: \"{GATEWAY_TOKEN_KEY}\" (what `pangeo-render values` renders with secrets.inCluster)",
                    existing.value
                )),
            );
        }
        if let Some(key) = &h.gateway_token_secret_key
            && key.value != GATEWAY_TOKEN_KEY
        {
            out.push(
                key.error(
                    ids::SECRET_REFERENCE,
                    format!(
                        "the gateway reads its hub token from key `{}`, but the hub reads the gateway's token \
                         from key `{GATEWAY_TOKEN_KEY}`",
                        key.value
                    ),
                )
                .hint(format!("set apiTokenFromSecretKey: \"{GATEWAY_TOKEN_KEY}\"")),
            );
        }
    }
    let inline = [
        (&h.proxy_token, "jupyterhub.proxy.secretToken"),
        (&h.hub_api_token, "jupyterhub.hub.services.dask-gateway.apiToken"),
        (&h.gateway_api_token, "dask-gateway.gateway.auth.jupyterhub.apiToken"),
        (&h.password_hash, "jupyterhub.hub.config.PangeoPasswordAuthenticator.password_hash"),
    ];
    for (fact, key) in inline {
        if let Some(f) = fact {
            out.push(
                f.warning(
                    ids::SECRET_FREE,
                    format!(
                        "{key} is written here although the secrets are in Secret `{}` (hub.existingSecret): \
                         this file is not secret-free",
                        existing.value
                    ),
                )
                .hint("remove the key (render again with `pangeo-render values`); the Secret holds it"),
            );
        }
    }
}
