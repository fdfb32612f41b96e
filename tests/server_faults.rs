//! `diff` and `apply` against servers that fail the way real ones do, each played by a loopback
//! listener this test starts: one that accepts and never answers (a hung API server), a web
//! server that is not Kubernetes, and a kubeconfig whose exec credential plugin fails. No
//! control plane is needed; what is checked is that each is reported promptly and plainly.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use support::{Test, Workspace};

fn workspace() -> Workspace {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.write_fixed_secrets();
    ws
}

/// `pangeo-render CMD -c pangeo.yaml --kubeconfig KUBECONFIG` in the workspace, with no KUBECONFIG
/// from the environment; every server here fails, so it exits 2 unless told otherwise.
fn test(ws: &Workspace, cmd: &str, kubeconfig: &Path) -> Test {
    ws.test()
        .env("PANGEO_RENDER_TODAY", "2026-09-01")
        .env_remove("KUBECONFIG")
        .args([cmd, "-c"])
        .args([ws.config()])
        .args(["--kubeconfig"])
        .args([kubeconfig])
        .expect_status(2)
}

fn kubeconfig(ws: &Workspace, server: &str, user: &str) -> PathBuf {
    let path = ws.root().join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: faulty\n\
             clusters:\n- name: faulty-cluster\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\n\
             contexts:\n- name: faulty\n  context: {{cluster: faulty-cluster, user: someone}}\n\
             users:\n- name: someone\n  user:\n{user}"
        ),
    )
    .unwrap();
    path
}

const TOKEN_USER: &str = "    token: not-a-real-token\n";

/// A listener that accepts connections and never answers; counts the connections.
fn hung_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            held.lock().unwrap().push(conn);
        }
    });
    (format!("https://{addr}"), count)
}

#[test]
fn a_hung_server_is_reported_once_naming_server_request_and_what_to_check() {
    let ws = workspace();
    let (server, connections) = hung_server();
    let kc = kubeconfig(&ws, &server, TOKEN_USER);
    for cmd in ["diff", "apply"] {
        let before = connections.load(Ordering::SeqCst);
        test(&ws, cmd, &kc)
            .args(["--request-timeout", "1s"])
            .stderr_contains(format!(
                "get ConfigMap/pangeo-render-identity (namespace kube-system): cannot reach the API server {server} (context \"faulty\")"
            ))
            .stderr_contains("no answer within 1 s (--request-timeout)")
            .stderr_contains("check: check that the server address is right")
            .run();
        // The first requests' connections, and no second round after them.
        let made = connections.load(Ordering::SeqCst) - before;
        assert!((1..=2).contains(&made), "{cmd}: {made} connections: the requests were retried");
    }
    // The default: the same report, with kubectl's default-like 20 s per request.
    test(&ws, "diff", &kc).stderr_contains("no answer within 20 s (--request-timeout)").run();
}

#[test]
fn the_overall_deadline_bounds_the_whole_command() {
    let ws = workspace();
    let (server, _) = hung_server();
    let kc = kubeconfig(&ws, &server, TOKEN_USER);
    test(&ws, "diff", &kc)
        .args(["--request-timeout", "0", "--timeout", "1s"])
        .stderr_contains("the cluster work did not finish within 1 s (--timeout)")
        .run();
    test(&ws, "diff", &kc)
        .args(["--request-timeout", "soon"])
        .stderr_contains("`soon` is not a duration")
        .run();
}

/// The connection opens while the config is checked; a config with problems stops it and is
/// reported alone, at once, not after the server's silence (20 s here) and not beside it.
#[test]
fn a_config_with_problems_is_reported_without_waiting_for_the_server() {
    let ws = workspace();
    let text = std::fs::read_to_string(ws.config()).unwrap();
    // A value its type takes and the schema refuses: the config is typed, so the connection
    // starts, before the check finds it.
    std::fs::write(ws.config(), text.replacen("  region: us-west-2", "  region: US-West-2", 1)).unwrap();
    let (server, _) = hung_server();
    let kc = kubeconfig(&ws, &server, TOKEN_USER);
    for cmd in ["diff", "apply"] {
        let start = std::time::Instant::now();
        let out = test(&ws, cmd, &kc)
            .args(["--request-timeout", "20s"])
            .stderr_contains("cluster.region")
            .expect_status(1)
            .run();
        assert!(!out.stderr.contains("cannot reach"), "{}", out.stderr);
        // Bounds a wait, it does not measure speed: the server would keep it 20 s.
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "{cmd} waited for the server");
    }
}

/// An HTTP server that answers every request with `status` and an HTML page.
fn web_server(status: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let body = "<!DOCTYPE html><html><head><title>Welcome to nginx</title></head>\
                                <body><p>PAGE-BODY-MARKER: this page is served by a web server</p></body></html>";
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_web_server_that_is_not_kubernetes_is_described_not_pasted() {
    let ws = workspace();
    for status in ["404 Not Found", "200 OK"] {
        let server = web_server(status);
        let kc = kubeconfig(&ws, &server, TOKEN_USER);
        for cmd in ["diff", "apply"] {
            let out = test(&ws, cmd, &kc)
                .stderr_contains(format!("the server at {server} answered"))
                .stderr_contains("it is not a Kubernetes API server")
                .stderr_contains("check the `server:` of cluster \"faulty-cluster\"")
                .run();
            assert!(
                !out.stderr.contains("PAGE-BODY-MARKER") && !out.stderr.contains('<'),
                "{status} {cmd}: the page was pasted:\n{}",
                out.stderr
            );
        }
        if status.starts_with("404") {
            test(&ws, "diff", &kc)
                .stderr_contains("HTTP 404 with an HTML page titled \"Welcome to nginx\"")
                .run();
        }
    }
}

#[test]
fn a_failing_exec_plugin_shows_its_exit_code_and_stderr_never_its_stdout() {
    let ws = workspace();
    let plugin = ws.root().join("get-token");
    std::fs::write(
        &plugin,
        "#!/bin/sh\n\
         echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\
         \"status\":{\"token\":\"k8s-aws-v1.STDOUT-TOKEN-MARKER\"}}'\n\
         echo 'An error occurred (ExpiredToken): the SSO session has expired; run aws sso login' >&2\n\
         exit 3\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let user = format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      args: [eks, get-token]\n      interactiveMode: Never\n",
        plugin.display()
    );
    let (server, _) = hung_server();
    let kc = kubeconfig(&ws, &server, &user);
    for cmd in ["diff", "apply"] {
        test(&ws, cmd, &kc)
            .args(["--request-timeout", "2s"])
            // The plugin's stdout (where a credential would be) is never shown.
            .output_lacks("STDOUT-TOKEN-MARKER")
            .stderr_contains("the exec credential plugin")
            .stderr_contains("failed (exit code 3)")
            .stderr_contains("the SSO session has expired; run aws sso login")
            .run();
    }
}
