//! Which proxy requests to the API server go through, decided as kubectl (client-go and Go's
//! `net/http`) decides, so that a corporate network set up for kubectl works unchanged:
//!
//! - the kubeconfig cluster's `proxy-url`, when set, always (`NO_PROXY` does not apply to it);
//! - else `HTTPS_PROXY` (`HTTP_PROXY` for an `http://` server), upper case before lower case,
//!   unless `NO_PROXY` names the server or the server is `localhost` or a loopback address.
//!
//! kube-rs reads the same variables itself but matches `NO_PROXY` against the proxy's address,
//! not the server's, and refuses an empty entry (`a,,b`) that Go skips; so the decision is made
//! here and overrides kube-rs's.

use std::net::IpAddr;

/// The proxy variables of the environment.
#[derive(Debug, Default, Clone)]
pub struct ProxyEnv {
    pub https: Option<String>,
    pub http: Option<String>,
    pub no_proxy: Option<String>,
}

impl ProxyEnv {
    /// Upper case first, as Go reads them; empty values count as unset.
    pub fn from_process() -> ProxyEnv {
        let var = |upper: &str, lower: &str| {
            [upper, lower].iter().find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        };
        ProxyEnv {
            https: var("HTTPS_PROXY", "https_proxy"),
            http: var("HTTP_PROXY", "http_proxy"),
            no_proxy: var("NO_PROXY", "no_proxy"),
        }
    }
}

/// Where a proxy address came from, for messages (never the address: it may carry a password).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxySource {
    Kubeconfig,
    HttpsProxy,
    HttpProxy,
}

impl ProxySource {
    pub fn name(self) -> &'static str {
        match self {
            ProxySource::Kubeconfig => "the kubeconfig cluster's proxy-url",
            ProxySource::HttpsProxy => "HTTPS_PROXY",
            ProxySource::HttpProxy => "HTTP_PROXY",
        }
    }
}

/// The proxy for a server (`scheme`, `host`, `port`), as a URL with a scheme (a bare
/// `proxy.corp:3128` means `http://proxy.corp:3128`, as in Go), and where it came from.
pub fn proxy_for(
    scheme: &str,
    host: &str,
    port: u16,
    kubeconfig_proxy: Option<&str>,
    env: &ProxyEnv,
) -> Option<(String, ProxySource)> {
    let with_scheme = |p: &str| {
        let p = p.trim();
        if p.contains("://") { p.to_string() } else { format!("http://{p}") }
    };
    if let Some(p) = kubeconfig_proxy.filter(|p| !p.trim().is_empty()) {
        return Some((with_scheme(p), ProxySource::Kubeconfig));
    }
    let (value, source) = match scheme {
        "http" => (env.http.as_deref()?, ProxySource::HttpProxy),
        _ => (env.https.as_deref()?, ProxySource::HttpsProxy),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    if is_loopback(&host) || env.no_proxy.as_deref().is_some_and(|n| no_proxy_matches(n, &host, port)) {
        return None;
    }
    Some((with_scheme(value), source))
}

/// Go never proxies requests to localhost or a loopback address.
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Go's `NO_PROXY` rules: `*` matches everything; entries are comma-separated, empty ones
/// skipped; an IP or CIDR matches addresses; `example.org` matches it and its subdomains,
/// `.example.org` (or `*.example.org`) only the subdomains; `host:port` only that port.
pub fn no_proxy_matches(no_proxy: &str, host: &str, port: u16) -> bool {
    let ip = host.parse::<IpAddr>().ok();
    for entry in no_proxy.split(',').map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()) {
        if entry == "*" {
            return true;
        }
        if let Some((net, bits)) = entry.split_once('/') {
            if let (Some(ip), Ok(net), Ok(bits)) = (ip, net.parse::<IpAddr>(), bits.parse::<u32>())
                && in_cidr(ip, net, bits)
            {
                return true;
            }
            continue;
        }
        if let Ok(entry_ip) = entry.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            if ip == Some(entry_ip) {
                return true;
            }
            continue;
        }
        let (name, entry_port) = match entry.rsplit_once(':') {
            Some((n, p)) if p.parse::<u16>().is_ok() => (n, p.parse::<u16>().ok()),
            _ => (entry.as_str(), None),
        };
        if entry_port.is_some_and(|p| p != port) {
            continue;
        }
        let name = name.strip_prefix('*').unwrap_or(name);
        let matched = match name.strip_prefix('.') {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == name || host.ends_with(&format!(".{name}")),
        };
        if matched {
            return true;
        }
    }
    false
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    if bits > width {
        return false;
    }
    let shift = width - bits;
    bits == 0 || (ip >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(https: &str, no_proxy: &str) -> ProxyEnv {
        ProxyEnv {
            https: Some(https.into()),
            http: Some("http://plain:80".into()),
            no_proxy: (!no_proxy.is_empty()).then(|| no_proxy.into()),
        }
    }

    #[test]
    fn kubeconfig_proxy_url_wins_and_ignores_no_proxy() {
        let e = env("http://corp:3128", "*");
        assert_eq!(
            proxy_for("https", "127.0.0.1", 6443, Some("http://kc:8080"), &e),
            Some(("http://kc:8080".into(), ProxySource::Kubeconfig))
        );
    }

    #[test]
    fn https_proxy_for_https_servers_http_proxy_for_http_ones() {
        let e = env("corp:3128", "");
        assert_eq!(
            proxy_for("https", "eks.amazonaws.com", 443, None, &e),
            Some(("http://corp:3128".into(), ProxySource::HttpsProxy))
        );
        assert_eq!(
            proxy_for("http", "eks.amazonaws.com", 80, None, &e),
            Some(("http://plain:80".into(), ProxySource::HttpProxy))
        );
        assert_eq!(proxy_for("https", "x.org", 443, None, &ProxyEnv::default()), None);
    }

    #[test]
    fn loopback_is_never_proxied_from_the_environment() {
        let e = env("http://corp:3128", "");
        for host in ["localhost", "127.0.0.1", "[::1]", "127.3.4.5"] {
            assert_eq!(proxy_for("https", host, 6443, None, &e), None, "{host}");
        }
    }

    #[test]
    fn no_proxy_as_go_reads_it() {
        let m = |n: &str, host: &str, port: u16| no_proxy_matches(n, host, port);
        assert!(m("example.org", "example.org", 443));
        assert!(m("example.org", "api.example.org", 443));
        assert!(!m("example.org", "notexample.org", 443));
        assert!(!m(".example.org", "example.org", 443));
        assert!(m(".example.org", "api.example.org", 443));
        assert!(m("*.example.org", "api.example.org", 443));
        assert!(m("a.com,,example.org:443", "api.example.org", 443), "empty entries are skipped");
        assert!(!m("example.org:8443", "api.example.org", 443));
        assert!(m("10.0.0.0/8", "10.1.2.3", 443));
        assert!(!m("10.0.0.0/8", "11.1.2.3", 443));
        assert!(m("10.1.2.3", "10.1.2.3", 443));
        assert!(m("fd00::/8", "fd12::1", 443));
        assert!(m(" * ", "anything", 1));
        assert!(!m("", "anything", 1));
    }
}
