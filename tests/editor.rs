//! Editors: a config written by `init` opened in the real YAML language server (redhat's
//! yaml-language-server from npm, installed by `scripts/yaml-ls-env`, driven over stdio as
//! VS Code, Neovim or Helix drive it) — offline, with the schema store switched off. The
//! config's `# yaml-language-server: $schema=…` modeline must resolve to the schema `init`
//! wrote beside it: the fresh config gets no diagnostics, and a misspelt key gets the schema's
//! error. Skipped with PANGEO_SKIP_EDITOR_TESTS=1 where npm is unavailable.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Workspace, repo};

fn skip() -> bool {
    let skipped = std::env::var_os("PANGEO_SKIP_EDITOR_TESTS").is_some_and(|v| v == "1");
    if skipped {
        support::skip("PANGEO_SKIP_EDITOR_TESTS=1");
    }
    skipped
}

fn language_server() -> PathBuf {
    let out = Command::new(repo().join("scripts/yaml-ls-env")).output().expect("run scripts/yaml-ls-env");
    assert!(out.status.success(), "scripts/yaml-ls-env failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(
        stdout.lines().find_map(|l| l.strip_prefix("PANGEO_YAML_LS=")).expect("PANGEO_YAML_LS").trim(),
    )
}

/// A language server on stdio: requests and notifications out, messages in (on a thread).
struct Lsp {
    child: Child,
    next_id: u64,
    incoming: mpsc::Receiver<Value>,
}

impl Lsp {
    fn start(bin: &Path) -> Lsp {
        let mut child = Command::new(bin)
            .arg("--stdio")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start yaml-language-server");
        let stdout = child.stdout.take().unwrap();
        let (tx, incoming) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("Content-Length header")];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                if tx.send(serde_json::from_slice(&body).expect("JSON-RPC body")).is_err() {
                    return;
                }
            }
        });
        Lsp { child, next_id: 1, incoming }
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        let stdin = self.child.stdin.as_mut().unwrap();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let msg = self.receive();
            if msg["id"] == id && msg.get("method").is_none() {
                return msg;
            }
        }
    }

    /// The next message; requests from the server are answered with `null` on the way.
    fn receive(&mut self) -> Value {
        let msg = self
            .incoming
            .recv_timeout(Duration::from_secs(120))
            .expect("yaml-language-server stopped answering");
        if msg.get("method").is_some() && msg.get("id").is_some() {
            self.send(json!({"jsonrpc": "2.0", "id": msg["id"], "result": null}));
        }
        msg
    }
}

impl Drop for Lsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn the_init_modeline_resolves_offline_in_the_yaml_language_server() {
    if skip() {
        return;
    }
    let bin = language_server();
    let ws = Workspace::empty();
    let dir = ws.root().join("deploy");
    std::fs::create_dir(&dir).unwrap();
    let config = dir.join("pangeo.yaml");
    ws.test()
        .args(["init", "-c", "deploy/pangeo.yaml"])
        .args(["--name", "c1", "--region", "us-west-2", "--domain", "hub.example.com"])
        .args([
            "--kms-key-arn",
            "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ])
        .args([
            "--certificate-arn",
            "arn:aws:acm:us-west-2:111122223333:certificate/12345678-1234-1234-1234-123456789012",
        ])
        .run();
    let good = std::fs::read_to_string(&config).unwrap();
    assert!(good.starts_with("# yaml-language-server: $schema=pangeo-config.schema.json\n"), "{good}");
    assert!(dir.join("pangeo-config.schema.json").exists());
    // The same file with a misspelt key and a wrong type, beside it.
    let bad = good
        .replace("  region: \"us-west-2\"\n", "  regoin: \"us-west-2\"\n")
        .replace("minSize: 1", "minSize: one");
    assert_ne!(bad, good);
    let bad_path = dir.join("typo.yaml");
    std::fs::write(&bad_path, &bad).unwrap();

    let mut lsp = Lsp::start(&bin);
    let init = lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": uri(&dir), "capabilities": {}, "workspaceFolders": null}),
    );
    assert!(init.get("result").is_some(), "{init}");
    lsp.notify("initialized", json!({}));
    // Offline: no schema store, only what the file itself names.
    lsp.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"yaml": {"validate": true, "schemaStore": {"enable": false}, "format": {"enable": false}}}}),
    );
    for (path, text) in [(&config, &good), (&bad_path, &bad)] {
        lsp.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri(path), "languageId": "yaml", "version": 1, "text": text}}),
        );
    }

    let (mut good_diags, mut bad_diags): (Option<Value>, Option<Value>) = (None, None);
    while good_diags.is_none() || bad_diags.as_ref().is_none_or(|d| d.as_array().unwrap().is_empty()) {
        let msg = lsp.receive();
        if msg["method"] != "textDocument/publishDiagnostics" {
            continue;
        }
        let diags = msg["params"]["diagnostics"].clone();
        if msg["params"]["uri"] == uri(&config) {
            good_diags = Some(diags);
        } else if msg["params"]["uri"] == uri(&bad_path) {
            bad_diags = Some(diags);
        }
    }
    let messages = |d: &Value| -> Vec<String> {
        d.as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap_or_default().to_string()).collect()
    };
    assert_eq!(messages(&good_diags.unwrap()), Vec::<String>::new(), "the fresh config has diagnostics");
    let bad = messages(&bad_diags.unwrap());
    assert!(bad.iter().any(|m| m.contains("regoin")), "no error for the misspelt key: {bad:?}");
    assert!(
        bad.iter().any(|m| m.contains("Incorrect type") || m.contains("integer")),
        "no type error: {bad:?}"
    );
}
