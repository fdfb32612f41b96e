//! Kubeconfig and context loading, and the HTTP client.
//!
//! The kubeconfig comes from `--kubeconfig`, else `$KUBECONFIG` (a `:`-separated list, merged
//! as kubectl does), else `~/.kube/config`; the context from `--context`, else the file's
//! current context. Each way this can fail gets its own message naming the file or context.
//!
//! The client is kube-rs's usual stack (base URI, authentication, extra headers) over hyper
//! connections with TCP_NODELAY set: kube-rs's default connector leaves Nagle's algorithm on,
//! which can hold a request's last segment back until the server's delayed ACK (tens of ms).
//! Connections are kept alive and opened while the config renders; how many requests are in
//! flight at once is measured, not assumed (`plan::concurrency`, BENCHMARKS.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ::kube::client::{ClientBuilder, ConfigExt};
use ::kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt as _;

use super::identity::Claim;
use crate::error::{Error, Result};

/// A client plus what the user should see about where it points.
#[derive(Clone)]
pub struct Connection {
    pub client: ::kube::Client,
    /// The kubeconfig file(s) it came from, for messages.
    pub source: String,
    pub context: String,
    /// The kubeconfig user (credential) name; the server may know the identity by another name.
    pub user: String,
    pub server: String,
    /// The kubeconfig cluster entry the context points at, for messages about its CA data.
    pub cluster_name: String,
    /// How long one request may take (`--request-timeout`); `None`: no limit.
    pub request_timeout: Option<Duration>,
    /// What the context proves about which cluster it points at (read before any request).
    pub claim: Claim,
    /// The token the kubeconfig's exec plugin handed out, for the helm we run (see exec.rs).
    pub exec_token: Option<super::exec::ExecToken>,
}

impl Connection {
    /// "user NAME (context CTX, server URL)": who we are, as far as the kubeconfig says.
    pub fn identity(&self) -> String {
        format!("kubeconfig user \"{}\" (context \"{}\", server {})", self.user, self.context, self.server)
    }
}

/// A kubeconfig context, read but not used yet: what it proves about its cluster can be checked
/// before anything acts on it (an exec plugin such as `aws eks get-token` runs only in [`open`]).
pub struct Target {
    file: Kubeconfig,
    pub source: String,
    pub context: String,
    pub user: String,
    pub claim: Claim,
}

/// [`target`] then [`open`].
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    request_timeout: Option<Duration>,
) -> Result<Connection> {
    open(target(kubeconfig, context)?, request_timeout).await
}

/// Reads the kubeconfig and picks the context; nothing runs and nothing is sent.
pub fn target(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Target> {
    let (file, source) = load_kubeconfig(kubeconfig)?;
    let names: Vec<&str> = file.contexts.iter().map(|c| c.name.as_str()).collect();
    let available = if names.is_empty() { "none".to_string() } else { names.join(", ") };
    let context_name = match context {
        Some(c) => c.to_string(),
        None => file.current_context.clone().filter(|c| !c.is_empty()).ok_or_else(|| {
            Error::Cluster(format!(
                "kubeconfig {source} has no current context; pass --context (contexts: {available})"
            ))
        })?,
    };
    let Some(named) = file.contexts.iter().find(|c| c.name == context_name) else {
        return Err(Error::Cluster(format!(
            "context \"{context_name}\" is not in kubeconfig {source} (contexts: {available})"
        )));
    };
    let user = named.context.as_ref().and_then(|c| c.user.clone()).unwrap_or_else(|| "(none)".into());
    let claim = super::identity::claim(&file, &context_name);
    Ok(Target { file, source, context: context_name, user, claim })
}

/// Builds the client for a context (running its exec plugin, if any). Nothing is sent yet: an
/// unreachable server shows up as the first request's error.
pub async fn open(t: Target, request_timeout: Option<Duration>) -> Result<Connection> {
    let Target { file, source, context: context_name, user, claim } = t;
    let cluster_name = file
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .unwrap_or_default();
    let has_ca = file
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref())
        .is_some_and(|c| c.certificate_authority_data.is_some() || c.certificate_authority.is_some());
    let ca_problem = |why: &str| {
        Error::Cluster(format!(
            "kubeconfig {source}, cluster \"{cluster_name}\": its certificate-authority-data (or certificate-authority file) {why}; \
             copy the cluster's CA certificate again (for EKS: `aws eks update-kubeconfig --name CLUSTER --region REGION`)"
        ))
    };
    let kubeconfig_proxy = file
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.proxy_url.clone());
    let options = KubeConfigOptions { context: Some(context_name.clone()), cluster: None, user: None };
    let mut config = ::kube::Config::from_custom_kubeconfig(file, &options).await.map_err(|e| match e {
        KubeconfigError::LoadCertificateAuthority(why) => ca_problem(&format!("cannot be read: {why}")),
        KubeconfigError::ParseCertificates(why) => ca_problem(&format!("is not PEM: {why}")),
        // kube-rs reads NO_PROXY itself whenever a proxy is set, more strictly than Go (kubectl
        // skips empty entries), before our own choice of proxy (proxy.rs) replaces its result.
        KubeconfigError::ParseNoProxy(::kube::config::NoProxyError::EmptyValue) => Error::Cluster(
            "NO_PROXY has an empty entry (a doubled or trailing comma), which pangeo-render's Kubernetes \
             client cannot read although kubectl skips it; remove the extra comma"
                .into(),
        ),
        KubeconfigError::ParseNoProxy(why) => Error::Cluster(format!(
            "NO_PROXY cannot be read ({why}); write each entry as a host, .domain, *.domain, host:port, IP or CIDR, comma-separated"
        )),
        e => Error::Cluster(format!(
            "kubeconfig {source}, context \"{context_name}\": {}",
            kubeconfig_error(&e)
        )),
    })?;
    // The exec plugin runs once, here, after the identity checks (see exec.rs).
    let exec_token =
        super::exec::resolve(&mut config.auth_info, &format!("kubeconfig {source}, user \"{user}\""))
            .map_err(Error::Cluster)?;
    // The proxy as kubectl picks it (see proxy.rs), not as kube-rs does.
    let url = &config.cluster_url;
    let port = url.port_u16().unwrap_or(if url.scheme_str() == Some("http") { 80 } else { 443 });
    let chosen = super::proxy::proxy_for(
        url.scheme_str().unwrap_or("https"),
        url.host().unwrap_or_default(),
        port,
        kubeconfig_proxy.as_deref(),
        &super::proxy::ProxyEnv::from_process(),
    );
    let proxy_from = chosen.as_ref().map(|(_, from)| from.name());
    // Messages name where the proxy came from, never its URL (it may carry a password).
    let proxy_problem = |why: &str| {
        Error::Cluster(format!(
            "the proxy in {} {why}; write it as http://HOST:PORT or https://HOST:PORT",
            proxy_from.unwrap_or("the environment")
        ))
    };
    config.proxy_url = match chosen {
        None => None,
        Some((proxy, _)) => Some(proxy.parse().map_err(|_| proxy_problem("is not a URL"))?),
    };
    // kube-rs keeps only the PEM blocks labelled CERTIFICATE; corrupt data can leave none, and
    // then every server certificate would be reported as unknown.
    if has_ca && config.root_cert.as_ref().is_none_or(Vec::is_empty) {
        return Err(ca_problem("holds no PEM certificate"));
    }
    if let Some(t) = request_timeout {
        config.connect_timeout = Some(t);
    }
    let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
    let client = build_client(config).map_err(|e| match e {
        ::kube::Error::RustlsTls(::kube::client::RustlsTlsError::AddRootCertificate(why)) => {
            ca_problem(&format!("is not a valid certificate ({why})"))
        }
        ::kube::Error::ProxyProtocolUnsupported { .. } | ::kube::Error::ProxyProtocolDisabled { .. } => {
            proxy_problem("has a scheme pangeo-render cannot use")
        }
        e => Error::Cluster(format!(
            "kubeconfig {source}, context \"{context_name}\": cannot set up the client: {}",
            super::api::error_text(&e)
        )),
    })?;
    Ok(Connection {
        client,
        source,
        context: context_name,
        user,
        server,
        cluster_name,
        request_timeout,
        claim,
        exec_token,
    })
}

fn load_kubeconfig(explicit: Option<&Path>) -> Result<(Kubeconfig, String)> {
    let paths: Vec<PathBuf> = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            Some(list) => std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect(),
            None => {
                let home = std::env::var_os("HOME").map(PathBuf::from).ok_or_else(|| {
                    Error::Cluster("no kubeconfig: pass --kubeconfig or set KUBECONFIG".into())
                })?;
                let default = home.join(".kube").join("config");
                if !default.exists() {
                    return Err(Error::Cluster(format!(
                        "no kubeconfig: {} does not exist; pass --kubeconfig or set KUBECONFIG",
                        default.display()
                    )));
                }
                vec![default]
            }
        },
    };
    let source = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":");
    let mut merged: Option<Kubeconfig> = None;
    for path in &paths {
        // kubectl skips missing entries of a KUBECONFIG list, but not an explicit file.
        if explicit.is_none() && paths.len() > 1 && !path.exists() {
            continue;
        }
        let file = Kubeconfig::read_from(path).map_err(|e| {
            Error::Cluster(format!("cannot read kubeconfig {}: {}", path.display(), kubeconfig_error(&e)))
        })?;
        merged = Some(match merged {
            None => file,
            Some(m) => m.merge(file).map_err(|e| {
                Error::Cluster(format!(
                    "cannot merge kubeconfig {}: {}",
                    path.display(),
                    kubeconfig_error(&e)
                ))
            })?,
        });
    }
    let file = merged.ok_or_else(|| Error::Cluster(format!("no kubeconfig: none of {source} exists")))?;
    Ok((file, source))
}

/// Parses a kubeconfig's text as [`connect`] reads each file; the error never quotes the text.
pub fn parse_kubeconfig(text: &str) -> Result<Kubeconfig, String> {
    Kubeconfig::from_yaml(text).map_err(|e| kubeconfig_error(&e))
}

/// A kubeconfig error without anything the file holds: parse errors would otherwise quote the
/// offending line, and a kubeconfig's lines hold tokens and keys.
fn kubeconfig_error(e: &KubeconfigError) -> String {
    match e {
        KubeconfigError::ReadConfig(io, _) => io.to_string(),
        KubeconfigError::Parse(p) => {
            let at = p.location().map(|l| format!(" at line {}", l.line())).unwrap_or_default();
            format!("not a valid kubeconfig (YAML syntax error{at})")
        }
        other => other.to_string(),
    }
}

/// kube-rs's default stack minus its retry and tracing layers, over a connector with
/// TCP_NODELAY. A proxy (see proxy.rs) falls back to kube-rs's own builder, which tunnels
/// through it with CONNECT (feature http-proxy).
fn build_client(config: ::kube::Config) -> Result<::kube::Client, ::kube::Error> {
    if config.proxy_url.is_some() {
        return ::kube::Client::try_from(config);
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // PANGEO_RENDER_NODELAY=0 only exists to measure the difference (scripts/bench-cluster).
    http.set_nodelay(std::env::var_os("PANGEO_RENDER_NODELAY").is_none_or(|v| v != "0"));
    http.set_connect_timeout(config.connect_timeout);
    let https = config.rustls_https_connector_with_connector(http)?;
    let hyper_client: hyper_util::client::legacy::Client<_, ::kube::client::Body> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https);
    // kube's auth layer is an Either of two services that must agree on the error type.
    let service = hyper_client.map_err(tower::BoxError::from);
    let builder = ClientBuilder::new(service, config.default_namespace.clone())
        .with_layer(&config.extra_headers_layer()?);
    let client = match config.auth_layer()? {
        Some(auth) => builder.with_layer(&auth).with_layer(&config.base_uri_layer()).build(),
        None => builder.with_layer(&config.base_uri_layer()).build(),
    };
    Ok(client)
}
