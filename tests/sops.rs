//! The SOPS-encrypted secrets file against the real `sops` and `age-keygen`, built from their Go
//! modules by `scripts/sops-tools` (`PANGEO_SOPS_TOOLS` names the directory; otherwise the script
//! is run, cached). Both ways: what we write, `sops` decrypts; what `sops` encrypts or edits, we
//! read; a second clone with only the encrypted file and the key renders the same files.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{Test, Workspace};

/// Where SOPS looks for age identities besides `$HOME`; reset for every command of a test.
const SOPS_KEY_VARS: [&str; 4] = ["XDG_CONFIG_HOME", "SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD"];

fn tools() -> PathBuf {
    if let Some(p) = std::env::var_os("PANGEO_SOPS_TOOLS") {
        return PathBuf::from(p);
    }
    let out = Command::new(support::repo().join("scripts/sops-tools")).arg("build").output().unwrap();
    assert!(
        out.status.success(),
        "scripts/sops-tools build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim())
}

/// A workspace with an age key of its own and a `.sops.yaml` that encrypts the secrets file for
/// it. `home` stands in for `$HOME`, so nobody's real key is found by accident.
struct Sealed {
    ws: Workspace,
    home: tempfile::TempDir,
    key: PathBuf,
    recipient: String,
}

impl Sealed {
    fn new() -> Sealed {
        let ws = Workspace::with_config(&support::fixture("walkthrough"));
        let home = tempfile::tempdir().unwrap();
        let (key, recipient) = keygen(home.path(), "key.txt");
        fs::write(
            ws.root().join(".sops.yaml"),
            format!("creation_rules:\n  - path_regex: \\.secrets\\.yaml$\n    age: {recipient}\n"),
        )
        .unwrap();
        Sealed { ws, home, key, recipient }
    }

    /// `pangeo-render` in the workspace with SOPS's variables reset: only `key` (if any) is an
    /// identity.
    fn test(&self, key: Option<&Path>) -> Test {
        self.test_in(self.ws.root(), key)
    }

    /// The same in another directory (a teammate's clone).
    fn test_in(&self, dir: &Path, key: Option<&Path>) -> Test {
        let test =
            SOPS_KEY_VARS.iter().fold(Test::at(dir).env("HOME", self.home.path()), |t, v| t.env_remove(v));
        match key {
            Some(k) => test.env("SOPS_AGE_KEY_FILE", k),
            None => test,
        }
    }

    /// The real `sops`, run in the workspace (it finds `.sops.yaml` from its working directory)
    /// with SOPS's variables reset and our key as its identity.
    fn sops(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(tools().join("sops"));
        cmd.env("HOME", self.home.path());
        for v in SOPS_KEY_VARS {
            cmd.env_remove(v);
        }
        cmd.env("SOPS_AGE_KEY_FILE", &self.key);
        cmd.current_dir(self.ws.root()).args(args).output().unwrap()
    }

    fn secrets_text(&self) -> String {
        fs::read_to_string(self.ws.secrets_path()).unwrap()
    }
}

fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let out = Command::new(tools().join("age-keygen")).arg("-o").arg(&key).output().unwrap();
    assert!(out.status.success(), "age-keygen: {}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(tools().join("age-keygen")).arg("-y").arg(&key).output().unwrap();
    (key, String::from_utf8(out.stdout).unwrap().trim().to_string())
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The plaintext secrets as `sops -d` prints them.
fn decrypted(s: &Sealed) -> pangeo_render::secrets::Secrets {
    let plain = ok(&s.sops(&["decrypt", "pangeo.secrets.yaml"]));
    serde_saphyr::from_str(&plain).unwrap()
}

fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().into(), fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn what_we_encrypt_sops_decrypts_and_a_second_clone_renders_the_same() {
    let s = Sealed::new();
    // `init` lists the plaintext secrets file in .gitignore; the encrypted one can be committed.
    fs::write(s.ws.root().join(".gitignore"), "/pangeo.secrets.yaml\n").unwrap();
    let first = s
        .test(Some(&s.key))
        .args(["values"])
        .stderr_contains("encrypted with SOPS for")
        .stderr_contains(&s.recipient)
        .stderr_contains("once `/pangeo.secrets.yaml` is removed from")
        .run();
    let text = s.secrets_text();
    assert!(text.contains("\nsops:\n") && text.contains(&s.recipient), "{text}");

    let secrets = decrypted(&s);
    for value in pangeo_render::secrets::values(&secrets) {
        assert!(!text.contains(value), "a secret is in the encrypted file in plaintext");
        assert!(!first.stderr.contains(value), "a secret is on stderr");
    }
    assert_eq!(secrets.kind, "PangeoSecrets");
    let daskhub = fs::read_to_string(s.ws.out().join("daskhub.yaml")).unwrap();
    assert!(
        daskhub.contains(&secrets.proxy_secret_token) && daskhub.contains(&secrets.dask_gateway_api_token)
    );
    // sops itself calls it encrypted and finds the MAC right (decrypt checks it).
    assert!(ok(&s.sops(&["filestatus", "pangeo.secrets.yaml"])).contains("\"encrypted\":true"));

    // A re-run changes nothing: the encrypted file is not rewritten.
    s.test(Some(&s.key)).args(["values"]).run();
    assert_eq!(s.secrets_text(), text);

    // A teammate's clone: the config, .sops.yaml and the encrypted file, plus the key.
    let clone = tempfile::tempdir().unwrap();
    for f in ["pangeo.yaml", ".sops.yaml", "pangeo.secrets.yaml"] {
        fs::copy(s.ws.root().join(f), clone.path().join(f)).unwrap();
    }
    // git checks files out 0644; an encrypted secrets file may be readable by others.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(clone.path().join("pangeo.secrets.yaml"), fs::Permissions::from_mode(0o644)).unwrap();
    let out = s.test_in(clone.path(), Some(&s.key)).args(["values"]).run();
    assert!(!out.stderr.contains("generated admin password"), "{}", out.stderr);
    assert_eq!(files_under(&clone.path().join("rendered")), files_under(&s.ws.out()));
    assert_eq!(fs::read(clone.path().join("pangeo.secrets.yaml")).unwrap(), text.as_bytes());
}

#[test]
fn what_sops_encrypts_and_sets_we_read() {
    let s = Sealed::new();
    s.ws.write_fixed_secrets();
    ok(&s.sops(&["encrypt", "--in-place", "pangeo.secrets.yaml"]));
    let by_sops = s.secrets_text();
    assert!(by_sops.contains("ENC[AES256_GCM"));

    s.test(Some(&s.key)).args(["values"]).run();
    let daskhub = fs::read_to_string(s.ws.out().join("daskhub.yaml")).unwrap();
    assert!(daskhub.contains(&"1".repeat(64)), "the token sops encrypted is rendered");
    assert_eq!(s.secrets_text(), by_sops, "an unchanged encrypted file is left as sops wrote it");

    let new_token = "3".repeat(64);
    ok(&s.sops(&["set", "pangeo.secrets.yaml", "[\"proxySecretToken\"]", &format!("\"{new_token}\"")]));
    s.test(Some(&s.key)).args(["values"]).output_lacks(&new_token).run();
    let daskhub = fs::read_to_string(s.ws.out().join("daskhub.yaml")).unwrap();
    assert!(daskhub.contains(&new_token) && !daskhub.contains(&"1".repeat(64)));
}

#[test]
fn rotating_keeps_the_file_encrypted_for_its_recipients_and_unchanged_values_as_they_were() {
    let s = Sealed::new();
    s.test(Some(&s.key)).args(["values"]).run();
    let before = s.secrets_text();
    let old = decrypted(&s);
    s.test(Some(&s.key)).args(["values", "--rotate", "tokens"]).run();
    let after = s.secrets_text();
    let new = decrypted(&s);
    assert_ne!(new.proxy_secret_token, old.proxy_secret_token);
    assert_eq!(new.admin_password_hash, old.admin_password_hash);
    let line = |text: &str, key: &str| text.lines().find(|l| l.starts_with(key)).unwrap().to_string();
    assert_eq!(line(&before, "adminPasswordHash:"), line(&after, "adminPasswordHash:"));
    assert_ne!(line(&before, "proxySecretToken:"), line(&after, "proxySecretToken:"));
}

#[test]
fn a_plaintext_file_is_encrypted_once_a_rule_asks_for_it() {
    let s = Sealed::new();
    s.ws.write_fixed_secrets();
    s.test(Some(&s.key)).args(["values"]).stderr_contains("encrypted").run();
    assert_eq!(decrypted(&s).proxy_secret_token, "1".repeat(64));
    assert!(!s.secrets_text().contains(&"1".repeat(64)));
}

/// `values` refused with exit 2, one error naming the file, and nothing written; its stderr.
fn refused(s: &Sealed, key: Option<&Path>) -> String {
    let out = s.test(key).args(["values"]).expect_status(2).stderr_contains("pangeo.secrets.yaml").run();
    assert!(!s.ws.out().exists(), "nothing may be written");
    assert_eq!(out.stderr.trim().lines().count(), 1, "one error: {}", out.stderr);
    out.stderr
}

#[test]
fn a_tampered_file_is_refused_as_sops_refuses_it() {
    let s = Sealed::new();
    s.ws.write_fixed_secrets();
    ok(&s.sops(&["encrypt", "--in-place", "pangeo.secrets.yaml"]));
    // Swap the two tokens' sealed values: each is a valid ciphertext, but not for that key.
    let text = s.secrets_text();
    let get =
        |k: &str| text.lines().find(|l| l.starts_with(k)).unwrap().split_once(": ").unwrap().1.to_string();
    let (proxy, gateway) = (get("proxySecretToken"), get("daskGatewayApiToken"));
    fs::write(
        s.ws.secrets_path(),
        text.replace(&proxy, "SWAP").replace(&gateway, &proxy).replace("SWAP", &gateway),
    )
    .unwrap();
    assert!(!s.sops(&["decrypt", "pangeo.secrets.yaml"]).status.success(), "sops refuses it too");
    let err = refused(&s, Some(&s.key));
    assert!(err.contains("MAC does not match") && err.contains("git checkout"), "{err}");

    // A value changed to plaintext by hand: the MAC covers every value.
    fs::write(s.ws.secrets_path(), text.replace(&proxy, &"4".repeat(64))).unwrap();
    let err = refused(&s, Some(&s.key));
    assert!(!err.contains(&"4".repeat(64)), "{err}");
}

#[test]
fn no_identity_or_someone_elses_is_one_clear_error() {
    let s = Sealed::new();
    s.test(Some(&s.key)).args(["values"]).run();
    fs::remove_dir_all(s.ws.out()).unwrap();

    let err = refused(&s, None);
    assert!(
        err.contains("no age identity") && err.contains("SOPS_AGE_KEY_FILE") && err.contains(&s.recipient),
        "{err}"
    );

    let (other, other_recipient) = keygen(s.home.path(), "other.txt");
    let err = refused(&s, Some(&other));
    assert!(err.contains("none of your age identities") && err.contains(&other_recipient), "{err}");

    // The default key path SOPS uses works without any variable.
    let default = s.home.path().join(".config/sops/age");
    fs::create_dir_all(&default).unwrap();
    fs::copy(&s.key, default.join("keys.txt")).unwrap();
    s.test(None).args(["values"]).run();
}
