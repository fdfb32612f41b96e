//! The chart's `lookup`s of the `helm template` that `diff` runs, answered through this
//! command's own connection.
//!
//! `helm template --dry-run=server` lets a chart read the live cluster, which is how Z2JH keeps
//! the values it generates (its hub Secret's cookie secret and CryptKeeper keys, read once per
//! value, and twice over, since the hub Deployment's checksum renders the Secret again) and
//! decides whether to run its image-puller hook (its hub ConfigMap, read once per hook
//! template). helm makes each lookup from scratch, a discovery request and then the read: 16
//! requests for DaskHub 2024.1.1, three of them distinct, a third of helm's time (BENCHMARKS.md).
//!
//! So helm is pointed at a loopback endpoint of ours instead. It asks the API server each
//! distinct request once, over the connection this command already has open, and answers every
//! repeat from memory. The chart renders what it would have rendered against the cluster, and
//! every lookup of one render sees one state of it (helm's own lookups, one after another, could
//! straddle a write).
//!
//! The endpoint answers GETs of the API (`/api`, `/apis`), nothing else, and only below a path
//! that is a random key: the endpoint's address, key included, is in the environment of the helm
//! we start (`HELM_KUBEAPISERVER`), which no other user can read, and never on a command line.
//! (A bearer token would be the usual key, but client-go sends none to a plain `http://`
//! server.) It listens on 127.0.0.1 and only while this command runs. helm is given none of the
//! user's credentials.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::OnceCell;

use crate::helm::command::Target;
use crate::kube::exec::ExecToken;

/// The endpoint, serving until dropped.
pub struct Lookups {
    /// `http://127.0.0.1:PORT/KEY`.
    url: ExecToken,
    server: tokio::task::JoinHandle<()>,
}

impl Lookups {
    /// Listens on a free loopback port and serves on the current runtime, forwarding to the
    /// API server through `client`.
    pub async fn start(client: ::kube::Client) -> std::io::Result<Lookups> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let key = format!("/{}", crate::secrets::token());
        let url = ExecToken::new(format!("http://{addr}{key}"));
        let relay = Arc::new(Relay { client, key, answers: Mutex::default() });
        let server = tokio::spawn(async move {
            loop {
                // A failed accept (out of file descriptors) is the connection's loss, not the
                // endpoint's: helm's lookup then fails and says so.
                let Ok((stream, _)) = listener.accept().await else { continue };
                let relay = relay.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let relay = relay.clone();
                        async move { Ok::<_, Infallible>(relay.answer(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Lookups { url, server })
    }

    /// Where helm finds the endpoint.
    pub fn target(&self) -> Target {
        Target::loopback(self.url.clone())
    }
}

impl Drop for Lookups {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A response of the API server, as it came: status, content type and body.
#[derive(Clone)]
struct Answer {
    status: StatusCode,
    content_type: Option<HeaderValue>,
    body: Bytes,
}

struct Relay {
    client: ::kube::Client,
    /// `/KEY`: every path helm asks for starts with it.
    key: String,
    /// Every distinct request (accepted representation and path), answered once.
    answers: Mutex<HashMap<String, Arc<OnceCell<Answer>>>>,
}

impl Relay {
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let asked = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let Some(path) = below(asked, &self.key) else {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                "this endpoint answers only the helm that pangeo-render runs",
            );
        };
        if request.method() != Method::GET {
            return status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "a chart's lookups only read");
        }
        if !matches!(path.split(['/', '?']).nth(1), Some("api" | "apis")) {
            return status(StatusCode::NOT_FOUND, "NotFound", "only the API's paths are served here");
        }
        let accept = request.headers().get(ACCEPT).cloned();
        let key = format!("{} {path}", accept.as_ref().map_or("", |a| a.to_str().unwrap_or("")));
        let cell = self.answers.lock().unwrap().entry(key).or_default().clone();
        let answer = cell.get_or_init(|| self.ask(path, accept)).await.clone();
        let mut response = Response::new(Full::new(answer.body));
        *response.status_mut() = answer.status;
        if let Some(t) = answer.content_type {
            response.headers_mut().insert(CONTENT_TYPE, t);
        }
        response
    }

    /// The API server's answer to `GET path`, whatever its status: a 404 is how a lookup learns
    /// that an object is not there.
    async fn ask(&self, path: &str, accept: Option<HeaderValue>) -> Answer {
        let mut request = hyper::http::Request::get(path);
        if let Some(a) = accept {
            request = request.header(ACCEPT, a);
        }
        let request = match request.body(::kube::client::Body::empty()) {
            Ok(r) => r,
            Err(e) => return failure(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
        };
        let response = match self.client.send(request).await {
            Ok(r) => r,
            Err(e) => {
                return failure(
                    StatusCode::BAD_GATEWAY,
                    "ServiceUnavailable",
                    &crate::kube::api::error_text(&e),
                );
            }
        };
        let (parts, body) = response.into_parts();
        match body.collect().await {
            Ok(body) => Answer {
                status: parts.status,
                content_type: parts.headers.get(CONTENT_TYPE).cloned(),
                body: body.to_bytes(),
            },
            Err(e) => failure(StatusCode::BAD_GATEWAY, "ServiceUnavailable", &e.to_string()),
        }
    }
}

/// What follows `key` in `path`, when `path` starts with it and then a `/`. The key is compared
/// whole, however early it differs, so that the time taken tells nothing of it.
fn below<'a>(path: &'a str, key: &str) -> Option<&'a str> {
    let (head, rest) = path.split_at_checked(key.len())?;
    let same = head.bytes().zip(key.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    (same && rest.starts_with('/')).then_some(rest)
}

/// A `Status` of the API, as client-go reads a failure.
fn failure(code: StatusCode, reason: &str, message: &str) -> Answer {
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    Answer {
        status: code,
        content_type: Some(HeaderValue::from_static("application/json")),
        body: Bytes::from(body.to_string()),
    }
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Full<Bytes>> {
    let answer = failure(code, reason, message);
    let mut response = Response::new(Full::new(answer.body));
    *response.status_mut() = code;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A client of an "API server" that answers each request with the path it was asked, 404 for
    /// any path ending in `/gone`; `asked` counts the requests it gets.
    fn client(asked: Arc<AtomicUsize>) -> ::kube::Client {
        let service = tower::service_fn(move |request: hyper::http::Request<::kube::client::Body>| {
            asked.fetch_add(1, Ordering::SeqCst);
            let path = request.uri().to_string();
            async move {
                let code = if path.ends_with("/gone") { 404 } else { 200 };
                hyper::http::Response::builder()
                    .status(code)
                    .header(CONTENT_TYPE, "application/json")
                    .body(::kube::client::Body::from(format!("{{\"asked\":\"{path}\"}}").into_bytes()))
            }
        });
        ::kube::Client::new(service, "default")
    }

    /// `METHOD path` sent to the endpoint at `url` as helm would send it: status and body.
    fn send(url: &str, method: &str, path: &str) -> (u16, String) {
        let addr = url.trim_start_matches("http://").split('/').next().unwrap();
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(stream, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let code = text[9..12].parse().unwrap();
        (code, text.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_string())
    }

    #[test]
    fn each_distinct_read_is_asked_once_and_only_below_the_key() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let asked = Arc::new(AtomicUsize::new(0));
            let lookups = Lookups::start(client(asked.clone())).await.unwrap();
            let url = lookups.url.expose().to_string();
            let key = url.rsplit('/').next().unwrap().to_string();
            assert_eq!(key.len(), 64, "a 256-bit key: {url}");
            let answers = tokio::task::spawn_blocking(move || {
                let hub = format!("/{key}/api/v1/namespaces/hub/secrets/hub");
                [
                    send(&url, "GET", &hub),
                    send(&url, "GET", &hub),
                    send(&url, "GET", &format!("/{key}/api/v1/namespaces/hub/secrets/gone")),
                    send(&url, "GET", &format!("/{key}/apis/apps/v1?timeout=32s")),
                    send(&url, "GET", "/api/v1/namespaces/hub/secrets/hub"),
                    send(&url, "GET", &format!("/{}/api/v1/namespaces/hub/secrets/hub", "0".repeat(64))),
                    send(&url, "GET", &format!("/{key}api/v1/namespaces/hub/secrets/hub")),
                    send(&url, "DELETE", &hub),
                    send(&url, "GET", &format!("/{key}/healthz")),
                ]
            })
            .await
            .unwrap();
            let asked_for = |path: &str| format!("{{\"asked\":\"{path}\"}}");
            // Asked without the key; the repeat is answered from memory; a 404 passes as it came.
            assert_eq!(answers[0], (200, asked_for("/api/v1/namespaces/hub/secrets/hub")));
            assert_eq!(answers[1], answers[0]);
            assert_eq!(answers[2], (404, asked_for("/api/v1/namespaces/hub/secrets/gone")));
            assert_eq!(answers[3], (200, asked_for("/apis/apps/v1?timeout=32s")));
            // No key, a wrong one, or one not followed by a path; a write; not the API.
            for (answer, code) in answers[4..].iter().zip([404, 404, 404, 405, 404]) {
                assert_eq!(answer.0, code, "{answer:?}");
                assert!(answer.1.contains("\"kind\":\"Status\""), "{answer:?}");
            }
            assert_eq!(asked.load(Ordering::SeqCst), 3, "each distinct read asked once, nothing else asked");
        });
    }
}
