//! The helm commands pangeo-render prints and runs, built in one place from a release's name,
//! namespace and pinned chart and from where the cluster is: `helm upgrade --install` (printed
//! in the values files and by `apply`, run by `apply --helm`) and `helm template` (run by `diff`
//! for the upgrade preview).
//!
//! When we run helm ourselves the values go to it on its stdin (`--values -`): they hold the
//! tokens and the password hash, and a temporary file would leave them on disk if we were killed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::helm::chart::ChartPin;
use crate::kube::exec::ExecToken;

/// Where helm finds the cluster: the same kubeconfig and context as our own requests, and the
/// token our exec plugin run handed out (so that helm does not run the plugin again); or, for the
/// `helm template` of a preview, our own endpoint for its lookups ([`Target::loopback`]).
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// Given to helm as `HELM_KUBETOKEN`, in its environment (not on its command line, which
    /// every user of the machine can read); client-go then skips the kubeconfig's exec plugin.
    pub token: Option<ExecToken>,
    /// An API server in place of the kubeconfig's, which helm then does not read at all: the
    /// endpoint that answers a chart's lookups (src/helm/lookups.rs). Given to helm as
    /// `HELM_KUBEAPISERVER`, in its environment, as the URL's path is the endpoint's key.
    pub api_server: Option<ExecToken>,
}

impl Target {
    /// The lookups endpoint at `url` (src/helm/lookups.rs).
    pub fn loopback(url: ExecToken) -> Target {
        Target { kubeconfig: None, context: None, token: None, api_server: Some(url) }
    }

    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.api_server.is_some() {
            args.extend(["--kubeconfig".into(), "/dev/null".into()]);
            return args;
        }
        if let Some(k) = &self.kubeconfig {
            args.extend(["--kubeconfig".into(), k.display().to_string()]);
        }
        if let Some(c) = &self.context {
            args.extend(["--kube-context".into(), c.clone()]);
        }
        args
    }
}

/// The values argument for helm to read them from its stdin.
pub const VALUES_ON_STDIN: &str = "-";

/// `helm upgrade --install …` arguments (without the program name); `values` is a path, or
/// [`VALUES_ON_STDIN`].
pub fn upgrade_args(
    name: &str,
    namespace: &str,
    chart: &ChartPin,
    values: &str,
    target: &Target,
    dry_run: bool,
) -> Vec<String> {
    let mut args: Vec<String> = vec!["upgrade".into(), "--install".into(), name.into(), chart.helm_arg()];
    if let Some(v) = chart.version_flag() {
        args.extend(["--version".into(), v.into()]);
    }
    args.extend(["--namespace".into(), namespace.into(), "--create-namespace".into()]);
    args.extend(target.args());
    args.extend(["--values".into(), values.into()]);
    if dry_run {
        args.push("--dry-run=server".into());
    }
    args
}

/// `helm template …` arguments for what `helm upgrade` (or, with `upgrade` false, `helm install`)
/// of release `name` would make: the live cluster's version for `.Capabilities`, and
/// `--dry-run=server` so that the chart's `lookup`s read the live cluster.
pub fn template_args(
    name: &str,
    namespace: &str,
    chart: &ChartPin,
    values: &str,
    kube_version: &str,
    upgrade: bool,
    target: &Target,
) -> Vec<String> {
    let mut args: Vec<String> = vec!["template".into(), name.into(), chart.helm_arg()];
    if let Some(v) = chart.version_flag() {
        args.extend(["--version".into(), v.into()]);
    }
    args.extend(["--namespace".into(), namespace.into()]);
    if upgrade {
        args.push("--is-upgrade".into());
    }
    args.extend(["--kube-version".into(), kube_version.into(), "--dry-run=server".into()]);
    args.extend(target.args());
    args.extend(["--values".into(), values.into()]);
    args
}

/// The environment of the `helm template` that a preview runs, beyond [`run`]'s: Go's garbage
/// collector set to let the heap grow to five times what is live before collecting, instead of
/// twice (`GOGC=400`), unless the user set `GOGC`. helm renders a chart in one short burst whose
/// heap is nearly all garbage by its end: collecting less often takes a tenth off its time for
/// DaskHub, for 13 MB more at the peak (BENCHMARKS.md).
pub fn template_env() -> Vec<(&'static str, &'static str)> {
    if std::env::var_os("GOGC").is_some() { Vec::new() } else { vec![("GOGC", "400")] }
}

/// Runs `helm ARGS` against `target` with `values` on its stdin (written from another thread, so
/// that a helm which writes before it has read everything cannot deadlock us), and collects its
/// output.
pub fn run(helm: &Path, args: &[String], values: &str, target: &Target) -> std::io::Result<Output> {
    run_with(helm, args, values, target, &[])
}

/// [`run`], with `env` added to helm's environment.
///
/// helm's own cluster settings in the user's environment (`HELM_KUBECONTEXT`,
/// `HELM_KUBEAPISERVER`, `HELM_KUBEASUSER`, `HELM_KUBECAFILE`…) are not passed on: the helm we run
/// must reach the cluster that this command proved is the config's, as this command reached it,
/// not whatever a shell left set.
pub fn run_with(
    helm: &Path,
    args: &[String],
    values: &str,
    target: &Target,
    env: &[(&str, &str)],
) -> std::io::Result<Output> {
    let mut command = Command::new(helm);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HELM_KUBE") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    if let Some(token) = &target.token {
        command.env("HELM_KUBETOKEN", token.expose());
    }
    if let Some(url) = &target.api_server {
        command.env("HELM_KUBEAPISERVER", url.expose());
    }
    let mut child =
        command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let values = values.as_bytes().to_vec();
    // A helm that exits without reading (a bad flag) closes the pipe: that write error is not
    // ours to report; its exit status and stderr say what went wrong.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&values);
    });
    let output = child.wait_with_output();
    let _ = writer.join();
    output
}

/// Where `helm` is on PATH.
pub fn find_helm() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("helm")).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_word(w: &str) -> String {
    let safe = !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b));
    if safe { w.to_string() } else { format!("'{}'", w.replace('\'', r"'\''")) }
}

/// A command line to print, each word quoted as a shell needs it.
pub fn command_line(program: &str, args: &[String]) -> String {
    std::iter::once(program.to_string())
        .chain(args.iter().map(|a| shell_word(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("rendered/daskhub.yaml"), "rendered/daskhub.yaml");
        assert_eq!(shell_word("my dir/x"), "'my dir/x'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn upgrade_args_forward_the_cluster_and_values() {
        let chart = ChartPin::new("dask/daskhub", Some("2024.1.1"), Path::new(""));
        let target = Target {
            kubeconfig: Some("/k/config".into()),
            context: Some("prod".into()),
            ..Target::default()
        };
        let args = upgrade_args("daskhub", "hub", &chart, VALUES_ON_STDIN, &target, true);
        assert_eq!(
            command_line("helm", &args),
            "helm upgrade --install daskhub dask/daskhub --version 2024.1.1 --namespace hub --create-namespace \
             --kubeconfig /k/config --kube-context prod --values - --dry-run=server"
        );
    }

    #[test]
    fn template_args_render_as_an_upgrade_against_the_live_cluster() {
        let chart = ChartPin::new("/charts/hub", Some("0.1.0"), Path::new(""));
        let target = Target { kubeconfig: Some("/k".into()), ..Target::default() };
        let args = template_args("daskhub", "hub", &chart, VALUES_ON_STDIN, "v1.35.4", true, &target);
        assert_eq!(
            args.join(" "),
            "template daskhub /charts/hub --namespace hub --is-upgrade --kube-version v1.35.4 --dry-run=server \
             --kubeconfig /k --values -"
        );
    }

    #[test]
    fn the_lookups_endpoint_reaches_helm_in_its_environment_and_no_kubeconfig_is_read() {
        let url = crate::kube::exec::ExecToken::for_tests("http://127.0.0.1:4321/secretkey");
        let target = Target::loopback(url);
        let chart = ChartPin::new("/charts/hub", Some("0.1.0"), Path::new(""));
        let args = template_args("daskhub", "hub", &chart, VALUES_ON_STDIN, "v1.35.4", true, &target);
        assert!(args.join(" ").ends_with("--dry-run=server --kubeconfig /dev/null --values -"), "{args:?}");
        let args: Vec<String> = vec!["-c".into(), "printf %s \"$HELM_KUBEAPISERVER\"".into()];
        let out = run(Path::new("/bin/sh"), &args, "", &target).unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "http://127.0.0.1:4321/secretkey");
        assert_eq!(format!("{target:?}").matches("secretkey").count(), 0, "{target:?}");
    }

    #[test]
    fn a_template_runs_with_a_lazier_collector_unless_the_user_set_one() {
        let args: Vec<String> = vec!["-c".into(), "printf %s \"$GOGC\"".into()];
        let out = run_with(Path::new("/bin/sh"), &args, "", &Target::default(), &template_env()).unwrap();
        let expected = std::env::var("GOGC").unwrap_or_else(|_| "400".into());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
        // helm upgrade runs as the user's helm would.
        let out = run(Path::new("/bin/sh"), &args, "", &Target::default()).unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), std::env::var("GOGC").unwrap_or_default());
    }

    #[test]
    fn values_reach_helm_on_stdin() {
        // `cat` in helm's place: what it prints is what it read.
        let out = run(Path::new("/bin/cat"), &[], "proxy:\n  secretToken: x\n", &Target::default()).unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "proxy:\n  secretToken: x\n");
    }

    #[test]
    fn the_exec_token_reaches_helm_in_its_environment_not_its_arguments() {
        let token = crate::kube::exec::ExecToken::for_tests("k8s-aws-v1.abc");
        let target = Target { token: Some(token), ..Target::default() };
        let args: Vec<String> = vec!["-c".into(), "printf %s \"$HELM_KUBETOKEN\"".into()];
        let out = run(Path::new("/bin/sh"), &args, "", &target).unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "k8s-aws-v1.abc");
        assert_eq!(format!("{target:?}").matches("abc").count(), 0, "{target:?}");
    }
}
