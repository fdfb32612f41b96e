//! Secrets in `daskhub.yaml` and the secrets file: tokens are 64 lower-case hex characters (what
//! `openssl rand -hex 32` gives and JupyterHub expects), the proxy and API tokens differ, the
//! Dask Gateway API token is the same in its two places (PR015); the admin password hash is a
//! well-formed PBKDF2 PHC string with enough iterations (PR016).
//!
//! Messages name fields, never values: this output lands in CI logs and terminals.

use std::path::Path;

use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::secrets::{self, password};
use crate::validate::facts::{Fact, Reader};
use crate::validate::rules::Deployment;
use crate::validate::rules::placeholders::is_placeholder;
use crate::yaml::Node;

/// One definition with the secrets file's loader, so `validate` and `values` agree on a token.
pub use crate::secrets::is_token;

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    let Some(h) = d.hub else { return };
    tokens(&h.proxy_token, &h.hub_api_token, &h.gateway_api_token, out);
    if let Some(hash) = &h.password_hash {
        password_hash(hash, out);
    } else if let Some(loc) = &h.password_hash_not_text {
        out.push(
            loc.error(ids::PASSWORD_HASH, "the admin password hash is not a string")
                .hint("it is one quoted string: \"$pbkdf2-sha256$i=ITERATIONS,l=32$SALT$HASH\", as `pangeo-render values` writes it"),
        );
    } else if let Some(class) = &h.authenticator_class
        && class.value == "PangeoPasswordAuthenticator"
        // With hub.existingSecret the hash is in that Secret's values.yaml, not here.
        && h.existing_secret.is_none()
    {
        out.push(
            class
                .error(ids::PASSWORD_HASH, "PangeoPasswordAuthenticator is selected but hub.config.PangeoPasswordAuthenticator.password_hash is not set")
                .hint("render daskhub.yaml with `pangeo-render values`; the hub refuses to start without a hash"),
        );
    }
}

type Token = Option<Fact<String>>;

fn tokens(proxy: &Token, hub_api: &Token, gateway_api: &Token, out: &mut Vec<Diagnostic>) {
    let all = [proxy, hub_api, gateway_api];
    for t in all.into_iter().flatten() {
        if !is_token(&t.value) && !is_placeholder(&t.value) {
            out.push(t.error(ids::TOKENS, secrets::token_defect(&t.value)).hint(secrets::TOKEN_HINT));
        }
    }
    if let (Some(a), Some(b)) = (hub_api, gateway_api)
        && a.value != b.value
    {
        out.push(
            b.error(ids::TOKENS, "the Dask Gateway API token differs from jupyterhub.hub.services.dask-gateway.apiToken")
                .hint(format!("both places must hold the same token (the other is at line {}); the gateway cannot authenticate users otherwise", a.loc.pos.line)),
        );
    }
    if let Some(p) = proxy {
        for api in [hub_api, gateway_api].into_iter().flatten() {
            if api.value == p.value && !is_placeholder(&p.value) {
                out.push(api.error(ids::TOKENS, secrets::SAME_TOKEN).hint(secrets::SAME_TOKEN_HINT));
                break;
            }
        }
    }
}

fn password_hash(hash: &Fact<String>, out: &mut Vec<Diagnostic>) {
    if is_placeholder(&hash.value) {
        return;
    }
    if let Err(e) = password::parse(&hash.value) {
        out.push(hash.error(ids::PASSWORD_HASH, secrets::hash_defect(e)).hint(secrets::HASH_HINT));
    }
}

/// The secrets file beside a config (`pangeo.secrets.yaml`): same token and hash rules.
pub fn check_secrets_file(file: &Path, doc: &Node) -> Vec<Diagnostic> {
    let r = Reader::new(file, doc);
    let mut out = Vec::new();
    let proxy = r.string(&["proxySecretToken"]);
    let api = r.string(&["daskGatewayApiToken"]);
    tokens(&proxy, &None, &api, &mut out);
    if let Some(hash) = r.string(&["adminPasswordHash"]) {
        password_hash(&hash, &mut out);
    }
    out
}
