//! What `values` may and may not do to files, and that the advice it prints works: it never
//! writes over a file it did not render, writes all files or none, leaves nothing a killed run
//! could leak into git, refuses a secrets file others can read (as ssh does), and each repair it
//! suggests is run here exactly as printed.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::Workspace;

const ARTIFACTS: &[&str] = &[
    "cluster.yaml",
    "guard.yaml",
    "cluster-autoscaler.yaml",
    "aws-ebs-csi-driver.yaml",
    "storageclass.yaml",
    "daskhub.yaml",
];

/// Every file under `dir` with its bytes (and mode), to prove that nothing changed.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>, u32)> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(tree(&p));
        } else if let Ok(bytes) = fs::read(&p) {
            out.push((p.clone(), bytes, pangeo_render::fsutil::mode_of(&p)));
        }
    }
    out.sort();
    out
}

fn secrets_line(ws: &Workspace, key: &str) -> String {
    let text = fs::read_to_string(ws.secrets_path()).unwrap();
    text.lines().find(|l| l.starts_with(&format!("{key}:"))).unwrap_or_default().to_string()
}

fn edit_secrets(ws: &Workspace, key: &str, line: Option<&str>) {
    let text = fs::read_to_string(ws.secrets_path()).unwrap();
    let edited: Vec<&str> =
        text.lines().filter_map(|l| if l.starts_with(&format!("{key}:")) { line } else { Some(l) }).collect();
    fs::write(ws.secrets_path(), edited.join("\n") + "\n").unwrap();
}

/// The command quoted in backticks after `marker` in a message.
fn quoted_command(message: &str, marker: &str) -> String {
    let at = message.find(marker).unwrap_or_else(|| panic!("no `{marker}` in:\n{message}"));
    message[at..].split('`').nth(1).unwrap().to_string()
}

#[test]
fn a_config_named_like_an_artifact_is_never_overwritten() {
    let ws = Workspace::empty();
    let config = ws.root().join("cluster.yaml");
    fs::copy(support::fixture("walkthrough"), &config).unwrap();
    let before = tree(ws.root());
    ws.test()
        .args(["values", "-c"])
        .arg(&config)
        .arg("--output-dir")
        .arg(ws.root())
        .expect_status(2)
        .stderr_contains(format!(
            "values would write {}/cluster.yaml over the config file",
            ws.root().display()
        ))
        .stderr_contains("choose another --output-dir")
        .run();
    assert_eq!(tree(ws.root()), before, "something was written");
    // The same through another spelling of the directory.
    ws.test().args(["values", "-c", "cluster.yaml", "--output-dir", "./sub/.."]).expect_status(2).run();
    assert_eq!(tree(ws.root()), before, "something was written");
}

#[test]
fn the_secrets_file_cannot_be_an_artifact_or_the_config() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.test().args(["values"]).run();
    let before = tree(ws.root());
    ws.test()
        .args(["values", "--secrets", "rendered/cluster.yaml"])
        .expect_status(2)
        .stderr_contains("over the secrets file")
        .run();
    ws.test()
        .args(["values", "--secrets", "pangeo.yaml"])
        .expect_status(2)
        .stderr_contains("that is the config file")
        .run();
    assert_eq!(tree(ws.root()), before, "something was written");
    ws.test().args(["values"]).run();
}

#[test]
fn a_users_own_file_in_the_output_directory_is_refused_and_nothing_is_written() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    fs::create_dir_all(ws.out()).unwrap();
    fs::write(ws.out().join("daskhub.yaml"), "# my hand-written values\njupyterhub: {}\n").unwrap();
    let before = tree(ws.root());
    ws.test()
        .args(["values"])
        .expect_status(2)
        .stderr_contains("daskhub.yaml: exists and was not rendered by pangeo-render")
        .run();
    assert_eq!(tree(ws.root()), before, "something was written");
    assert!(!ws.secrets_path().exists());
}

#[test]
fn values_writes_every_file_or_none() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.test().args(["values"]).run();
    // A change that touches every artifact, and a directory where a later one goes.
    let text = fs::read_to_string(ws.config()).unwrap();
    fs::write(ws.config(), text.replacen("name: pangeo", "name: pangeo2", 1)).unwrap();
    let storageclass = ws.out().join("storageclass.yaml");
    fs::remove_file(&storageclass).unwrap();
    fs::create_dir(&storageclass).unwrap();
    fs::write(storageclass.join("keep"), "x").unwrap();
    let before = tree(ws.root());
    ws.test().args(["values"]).expect_status(2).stderr_contains("storageclass.yaml: is a directory").run();
    assert_eq!(tree(ws.root()), before, "earlier artifacts were replaced although a later one failed");

    fs::remove_dir_all(&storageclass).unwrap();
    ws.test().args(["values"]).run();
    for a in ARTIFACTS {
        assert!(ws.out().join(a).is_file(), "{a}");
    }
    assert!(fs::read_to_string(ws.out().join("cluster.yaml")).unwrap().contains("name: \"pangeo2\""));
}

fn staging_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with(".pangeo-render-tmp-") {
            out.push(p.clone());
        }
        if p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.') {
            out.extend(staging_dirs(&p));
        }
    }
    out
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_killed_run_leaves_nothing_git_would_stage_and_the_next_run_cleans_up() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    git(ws.root(), &["init", "-q"]);
    // A FIFO where storageclass.yaml goes: the run stops there, after the secrets and the first
    // artifacts are staged, until it is killed — as SIGKILL at that moment would.
    fs::create_dir_all(ws.out()).unwrap();
    let fifo = ws.out().join("storageclass.yaml");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut child = ws.test().args(["values"]).spawn();
    let staged_secrets = || {
        staging_dirs(ws.root()).iter().any(|d| {
            fs::read_dir(d)
                .unwrap()
                .any(|e| e.unwrap().file_name().to_string_lossy().ends_with("secrets.yaml"))
        })
    };
    let mut waited = 0;
    while !(staged_secrets() && staging_dirs(&ws.out()).len() == 1) {
        assert!(child.try_wait().unwrap().is_none(), "values ended before it reached the FIFO");
        std::thread::sleep(std::time::Duration::from_millis(20));
        waited += 1;
        assert!(waited < 3000, "values never staged its files");
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let left = staging_dirs(ws.root());
    assert_eq!(left.len(), 2, "{left:?}");
    // What a killed run left holds the tokens; git must not pick it up.
    git(ws.root(), &["add", "-A"]);
    let staged = git(ws.root(), &["diff", "--cached", "--name-only"]);
    assert!(!staged.contains(".pangeo-render"), "git staged a temporary file:\n{staged}");
    // An older version's temporary file, too.
    let legacy = ws.out().join(".pangeo-render-Xy12Ab");
    fs::write(&legacy, "daskhub copy").unwrap();

    fs::remove_file(&fifo).unwrap();
    let out = ws.test().args(["values"]).run();
    assert_eq!(out.stderr.matches("(left by an interrupted run)").count(), 3, "{}", out.stderr);
    assert!(staging_dirs(ws.root()).is_empty() && !legacy.exists());
    let secrets = fs::read_to_string(ws.secrets_path()).unwrap();
    let token = secrets.lines().find_map(|l| l.strip_prefix("proxySecretToken: ")).unwrap().trim_matches('"');
    support::assert_nowhere(&ws.out(), "left by an interrupted run");
    // The only files holding the token are the two meant to.
    let holders: Vec<PathBuf> = tree(ws.root())
        .into_iter()
        .filter(|(p, b, _)| {
            !p.starts_with(ws.root().join(".git")) && String::from_utf8_lossy(b).contains(token)
        })
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(holders, vec![ws.secrets_path(), ws.out().join("daskhub.yaml")]);
}

#[test]
fn a_secrets_file_others_can_read_is_refused_with_the_chmod_that_fixes_it() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.test().args(["values"]).run();
    use std::os::unix::fs::PermissionsExt;
    for mode in [0o644, 0o666, 0o640] {
        fs::set_permissions(ws.secrets_path(), fs::Permissions::from_mode(mode)).unwrap();
        let before = tree(ws.root());
        let out = ws
            .test()
            .args(["values"])
            .expect_status(2)
            .stderr_contains(format!("permissions {mode:04o} are too open"))
            .run();
        assert_eq!(tree(ws.root()), before, "the file was used or changed");
        // diff reads the same file, and refuses it the same way before it talks to any cluster.
        ws.test()
            .args(["diff", "--kubeconfig", "/nonexistent"])
            .expect_status(2)
            .stderr_contains("are too open")
            .run();

        let fix = quoted_command(&out.stderr, "run `");
        assert!(fix.starts_with("chmod 600 "), "{fix}");
        assert!(Command::new("sh").arg("-c").arg(&fix).current_dir(ws.root()).status().unwrap().success());
        ws.test().args(["values"]).run();
        support::assert_mode(&ws.secrets_path(), 0o600);
    }
}

#[test]
fn a_short_token_is_repaired_by_the_rotation_the_error_suggests() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.test().args(["values"]).run();
    let hash = secrets_line(&ws, "adminPasswordHash");
    edit_secrets(&ws, "proxySecretToken", Some("proxySecretToken: \"abc123\""));
    // The verdict `validate` gives for the file: the rule, the line, the key, never the value.
    let out = ws
        .test()
        .args(["values"])
        .expect_status(1)
        .stderr_contains(
            "pangeo.secrets.yaml:5:19: error[PR015]: proxySecretToken: the token is not 64 lower-case hexadecimal characters (it has 6 characters)",
        )
        .output_lacks("abc123")
        .run();
    let fix = quoted_command(&out.stderr, "or let");
    assert!(fix.starts_with("pangeo-render values "), "not a values command: {fix}");
    ws.test().printed(&fix).run();
    let token = secrets_line(&ws, "proxySecretToken");
    assert_eq!(token.len(), "proxySecretToken: \"\"".len() + 64, "{token}");
    assert_eq!(secrets_line(&ws, "adminPasswordHash"), hash, "the password changed too");
    // An upper-case token is refused the same way.
    edit_secrets(&ws, "daskGatewayApiToken", Some(&format!("daskGatewayApiToken: \"{}\"", "AB".repeat(32))));
    ws.test()
        .args(["values"])
        .expect_status(1)
        .stderr_contains("error[PR015]: daskGatewayApiToken: the token is not 64 lower-case")
        .run();
}

#[test]
fn a_weak_hash_is_repaired_by_the_rotation_the_error_suggests() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.test().args(["values"]).run();
    let token = secrets_line(&ws, "proxySecretToken");
    let weak = pangeo_render::secrets::password::hash_with("weak-but-long", &[1u8; 16], 1000);
    edit_secrets(&ws, "adminPasswordHash", Some(&format!("adminPasswordHash: \"{weak}\"")));
    let out = ws
        .test()
        .args(["values"])
        .expect_status(1)
        .stderr_contains("error[PR016]: adminPasswordHash: the admin password hash is not usable: 1000 iterations is below the minimum")
        .run();
    // Both suggested ways work: the generated password, and one of the user's own.
    let generated = quoted_command(&out.stderr, "a generated one with");
    assert_eq!(generated, "pangeo-render values --rotate password");
    let own = quoted_command(&out.stderr, "your own with");
    assert_eq!(own, "pangeo-render values --rotate password --admin-password-stdin");
    ws.test().printed(&own).stdin("a-new-Passw0rd\n").run();
    let line = secrets_line(&ws, "adminPasswordHash");
    let stored = line.trim_start_matches("adminPasswordHash: ").trim_matches('"');
    assert!(pangeo_render::secrets::password::verify("a-new-Passw0rd", stored));
    assert_eq!(secrets_line(&ws, "proxySecretToken"), token, "the tokens changed too");

    edit_secrets(&ws, "adminPasswordHash", Some(&format!("adminPasswordHash: \"{weak}\"")));
    ws.test().printed(&generated).stderr_contains("generated admin password").run();
}

#[test]
fn deleting_a_line_of_the_secrets_file_regenerates_that_secret_only_as_its_header_says() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.test().args(["values"]).run();
    let header = fs::read_to_string(ws.secrets_path()).unwrap();
    assert!(header.contains("Delete a line and run `pangeo-render values` to regenerate it"), "{header}");
    let proxy = secrets_line(&ws, "proxySecretToken");
    let hash = secrets_line(&ws, "adminPasswordHash");
    let gateway = secrets_line(&ws, "daskGatewayApiToken");

    edit_secrets(&ws, "daskGatewayApiToken", None);
    // diff and apply need every secret, and say which one is missing and how to get it back.
    ws.test()
        .args(["diff", "--kubeconfig", "/nonexistent"])
        .expect_status(2)
        .stderr_contains("daskGatewayApiToken is missing; run `pangeo-render values` to generate it")
        .run();
    ws.test().args(["values"]).stderr_contains("generated daskGatewayApiToken, which was missing from").run();
    assert_eq!(
        (secrets_line(&ws, "proxySecretToken"), secrets_line(&ws, "adminPasswordHash")),
        (proxy, hash)
    );
    assert_ne!(secrets_line(&ws, "daskGatewayApiToken"), gateway);
    assert!(!secrets_line(&ws, "daskGatewayApiToken").is_empty());

    edit_secrets(&ws, "adminPasswordHash", None);
    ws.test()
        .args(["values"])
        .stderr_contains("generated adminPasswordHash")
        .stderr_contains("generated admin password")
        .run();
    support::assert_mode(&ws.secrets_path(), 0o600);
}

#[test]
fn passwords_of_blanks_or_with_line_breaks_are_refused() {
    for (password, why) in [
        ("        \n", "empty or only spaces"),
        ("\t \t \t \t \n", "empty or only spaces"),
        ("first-line\nsecond-line\n", "line break inside"),
        ("first-line\r\nsecond-line", "line break inside"),
    ] {
        let ws = Workspace::with_config(&support::fixture("walkthrough"));
        ws.test()
            .args(["values", "--admin-password-stdin"])
            .stdin(password)
            .expect_status(2)
            .stderr_contains(why)
            .run();
        assert!(!ws.secrets_path().exists() && !ws.out().exists(), "{password:?}: something was written");
    }
}
