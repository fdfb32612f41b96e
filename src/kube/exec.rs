//! The kubeconfig user's exec credential plugin (`aws eks get-token`, about a second), run once
//! per connection.
//!
//! kube-rs runs it wherever it needs the credential: for the TLS identity, for the auth layer,
//! and once more in its own client builder (used with a proxy), so two or three times per
//! command. Here it runs once and its credential replaces the `exec` entry, as a token (or a
//! client certificate) would be written in the kubeconfig. A failure reads like kubectl's: the
//! plugin, its exit code and what it printed on stderr — never its stdout, which is where a
//! credential would be.

use std::fmt;
use std::process::{Command, Stdio};

use ::kube::config::{AuthInfo, ExecInteractiveMode};
use base64::Engine as _;
use serde::Deserialize;

#[derive(Deserialize)]
struct ExecCredential {
    status: Option<Status>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    token: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
}

/// The bearer token an exec plugin handed out, kept for the helm we run (which would otherwise
/// run the plugin again: `HELM_KUBETOKEN`). Never printed: its `Debug` says only that it is there.
#[derive(Clone)]
pub struct ExecToken(String);

impl ExecToken {
    /// A credential of our own making, kept out of `Debug` output the same way: the address of
    /// the lookups endpoint, whose path is its key (src/helm/lookups.rs).
    pub fn new(token: String) -> Self {
        ExecToken(token)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    #[cfg(test)]
    pub fn for_tests(token: &str) -> Self {
        ExecToken(token.into())
    }
}

impl fmt::Debug for ExecToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExecToken(..)")
    }
}

/// Runs `auth.exec` (if any) and puts its credential in its place; returns the token, if that is
/// what the plugin handed out. `who` names the kubeconfig and user for messages. Plugins that
/// need the cluster's details (`provideClusterInfo`) are left to kube-rs.
pub fn resolve(auth: &mut AuthInfo, who: &str) -> Result<Option<ExecToken>, String> {
    let Some(exec) = auth.exec.as_ref().filter(|e| !e.provide_cluster_info) else { return Ok(None) };
    let Some(program) = exec.command.clone() else {
        return Err(format!("{who}: the exec credential plugin has no command"));
    };
    let mut cmd = Command::new(&program);
    cmd.args(exec.args.iter().flatten());
    for pair in exec.env.iter().flatten() {
        if let (Some(name), Some(value)) = (pair.get("name"), pair.get("value")) {
            cmd.env(name, value);
        }
    }
    for name in exec.drop_env.iter().flatten() {
        cmd.env_remove(name);
    }
    // What a plugin may do with the terminal, as client-go decides it: prompts (MFA) need
    // stdin and stderr; a plugin that must not prompt gets neither, and its stderr is kept
    // for the error message.
    let interactive = match exec.interactive_mode {
        Some(ExecInteractiveMode::Never) => false,
        Some(ExecInteractiveMode::Always) => true,
        Some(ExecInteractiveMode::IfAvailable) | None => std::io::IsTerminal::is_terminal(&std::io::stdin()),
    };
    let api_version = exec.api_version.clone().unwrap_or_else(|| "client.authentication.k8s.io/v1".into());
    let info = serde_json::json!({
        "apiVersion": api_version,
        "kind": "ExecCredential",
        "spec": { "interactive": interactive },
    });
    cmd.env("KUBERNETES_EXEC_INFO", info.to_string()).stdout(Stdio::piped());
    if interactive {
        cmd.stdin(Stdio::inherit()).stderr(Stdio::inherit());
    } else {
        cmd.stdin(Stdio::null()).stderr(Stdio::piped());
    }
    let out = cmd.output().map_err(|e| {
        let hint = exec.install_hint.as_deref().map(|h| format!("\n{}", h.trim_end())).unwrap_or_default();
        format!("{who}: the exec credential plugin `{program}` could not be started: {e}{hint}")
    })?;
    if !out.status.success() {
        let code =
            out.status.code().map_or_else(|| "killed by a signal".to_string(), |c| format!("exit code {c}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr = stderr.trim();
        let said = if interactive {
            " (its messages are above)".to_string()
        } else if stderr.is_empty() {
            " and printed nothing on stderr".to_string()
        } else {
            format!(":\n{stderr}")
        };
        return Err(format!("{who}: the exec credential plugin `{program}` failed ({code}){said}"));
    }
    let credential: ExecCredential = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{who}: the exec credential plugin `{program}` printed no ExecCredential on stdout (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let status = credential.status.unwrap_or(Status {
        token: None,
        client_certificate_data: None,
        client_key_data: None,
    });
    let handed_out = match status {
        Status { token: Some(token), .. } => {
            auth.token = Some(token.clone().into());
            Some(ExecToken(token))
        }
        Status { client_certificate_data: Some(cert), client_key_data: Some(key), .. } => {
            let b64 = base64::engine::general_purpose::STANDARD;
            auth.client_certificate_data = Some(b64.encode(cert));
            auth.client_key_data = Some(b64.encode(key).into());
            None
        }
        _ => {
            return Err(format!(
                "{who}: the exec credential plugin `{program}` returned neither a token nor a client certificate"
            ));
        }
    };
    auth.exec = None;
    Ok(handed_out)
}
