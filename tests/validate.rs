//! `validate` end to end, through the real binary: rendered fixtures are clean, every rule has a
//! fixture that triggers exactly it at the right place, output formats and exit codes, hostile
//! YAML, and no secret ever printed.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{Test, Workspace, fixture_configs, repo};

/// A day on which the fixtures' Kubernetes 1.34 is more than 90 days from the end of EKS standard
/// support (2026-12-02), so that PR010 says nothing unless a test asks for it.
const TODAY: &str = "2026-09-01";

/// `pangeo-render validate …` in the workspace, on [`TODAY`].
fn validate(ws: &Workspace) -> Test {
    ws.test().today(TODAY).args(["validate"])
}

/// `FILE-NAME:LINE:COL: SEVERITY[ID]` for each diagnostic of a JSON report.
fn short_lines(report: &Value) -> Vec<String> {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let file =
                Path::new(d["file"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
            format!(
                "{file}:{}:{}: {}[{}]",
                d["line"],
                d["col"],
                d["severity"].as_str().unwrap(),
                d["id"].as_str().unwrap()
            )
        })
        .collect()
}

/// A workspace with the fixture's config rendered (fixed secrets) into `rendered/`.
fn rendered(name: &str) -> Workspace {
    let ws = Workspace::with_config(&support::fixture(name));
    ws.write_fixed_secrets();
    ws.test().today(TODAY).args(["values"]).run();
    ws
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} does not contain {from:?}", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn every_fixture_renders_to_files_that_validate_clean() {
    for (name, _) in fixture_configs() {
        let ws = rendered(&name);
        // Each way of giving the same deployment: the directory, the files with -c, the config
        // beside its rendered/ directory, and the config alone.
        let files: Vec<String> = fs::read_dir(ws.out())
            .unwrap()
            .map(|e| format!("rendered/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        let mut with_c = vec!["--strict", "-o", "json", "-c", "pangeo.yaml"];
        with_c.extend(files.iter().map(String::as_str));
        for args in [
            vec!["--strict", "-o", "json", "rendered"],
            with_c,
            vec!["--strict", "-o", "json", "pangeo.yaml", "rendered"],
            vec!["--strict", "-o", "json", "-c", "pangeo.yaml"],
        ] {
            let report = validate(&ws).case(&name).args(args).run().json();
            assert_eq!(report["diagnostics"], serde_json::json!([]), "{name}");
        }
        // The secrets file beside the config is recognised and its tokens and hash checked.
        validate(&ws).case(&name).args(["--strict", "pangeo.secrets.yaml"]).expect_stderr("").run();
    }
}

fn rule_fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        fs::read_dir(repo().join("fixtures/rules")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    dirs
}

#[test]
fn every_rule_fixture_triggers_exactly_its_rule_where_expected() {
    let ws = Workspace::empty();
    for dir in rule_fixture_dirs() {
        let dir_name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let id = &dir_name[..5];
        let expected: Vec<String> =
            fs::read_to_string(dir.join("expected.txt")).unwrap().lines().map(str::to_string).collect();
        assert!(!expected.is_empty(), "{dir_name}: expected.txt is empty");
        // A rule that only a flag switches on names it in args.txt.
        let extra: Vec<String> = fs::read_to_string(dir.join("args.txt"))
            .map(|t| t.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        // The exit code follows the report's error count, checked below.
        let run = validate(&ws).case(&dir_name).args(&extra).args(["-o", "json"]).arg(&dir).run_any();
        let report = run.json();
        assert_eq!(short_lines(&report), expected, "{dir_name}: {}", run.stdout);
        for d in report["diagnostics"].as_array().unwrap() {
            assert_eq!(d["id"], id, "{dir_name} triggers another rule: {d}");
        }
        let errors = report["errors"].as_u64().unwrap();
        assert_eq!(run.status, if errors > 0 { 1 } else { 0 }, "{dir_name}");
        // Warnings fail only with --strict.
        validate(&ws).case(&dir_name).args(&extra).arg("--strict").arg(&dir).expect_status(1).run();

        // Configs that break the same rule, each checked alone with -c.
        let configs = dir.join("config");
        let Ok(entries) = fs::read_dir(&configs) else { continue };
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        let mut lines = Vec::new();
        for file in &files {
            let run = validate(&ws).args(["-o", "json", "-c"]).arg(file).run_any();
            let report = run.json();
            for d in report["diagnostics"].as_array().unwrap() {
                assert_eq!(d["id"], id, "{} triggers another rule: {d}", file.display());
            }
            let errors = report["errors"].as_u64().unwrap();
            assert_eq!(run.status, if errors > 0 { 1 } else { 0 }, "{}", file.display());
            lines.extend(short_lines(&report));
        }
        let expected: Vec<String> =
            fs::read_to_string(configs.join("expected.txt")).unwrap().lines().map(str::to_string).collect();
        assert_eq!(lines, expected, "{dir_name}/config");
    }
}

#[test]
fn every_rule_is_documented_with_a_fixture() {
    let doc = fs::read_to_string(repo().join("docs/rules.md")).unwrap();
    for rule in pangeo_render::diag::ids::ALL {
        let fixture = format!("fixtures/rules/{}-{}/", rule.id, rule.name);
        let row = format!("| {} | `{}` | {} | [`{fixture}`]", rule.id, rule.name, rule.summary);
        assert!(doc.contains(&row), "docs/rules.md lacks the row for {}: {row}", rule.id);
        let expected = fs::read_to_string(repo().join(&fixture).join("expected.txt"))
            .unwrap_or_else(|e| panic!("{} has no fixture {fixture}: {e}", rule.id));
        assert!(
            expected.contains(&format!("[{}]", rule.id)),
            "{fixture}expected.txt does not expect {}",
            rule.id
        );
    }
    for dir in rule_fixture_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            pangeo_render::diag::ids::ALL.iter().any(|r| name == format!("{}-{}", r.id, r.name)),
            "fixtures/rules/{name} names no rule"
        );
    }
}

#[test]
fn text_output_names_file_line_column_rule_field_and_hint_without_colour() {
    let ws = Workspace::empty();
    let file = repo().join("fixtures/rules/PR013-node-sizes/cluster.yaml");
    validate(&ws)
        .arg(&file)
        .expect_status(1)
        .expect_stdout("")
        .expect_stderr(format!(
            "{}:12:14: error[PR013]: managedNodeGroups[0].minSize: minSize 5 is greater than maxSize 2\n  hint: lower minSize or raise maxSize\n\
             1 error(s), 0 warning(s) in 1 file(s): invalid\n",
            file.display()
        ))
        .run();
}

#[test]
fn json_output_has_a_stable_shape() {
    let ws = Workspace::empty();
    let file = repo().join("fixtures/rules/PR024-instance-type/cluster.yaml");
    // A warning alone is valid: exit 0.
    let report = validate(&ws).args(["-o", "json"]).arg(&file).expect_stderr("").run().json();
    assert_eq!(report["valid"], true);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["warnings"], 1);
    let d = &report["diagnostics"][0];
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "severity", "file", "line", "col", "field", "message", "hint"]);
    assert_eq!(d["id"], "PR024");
    assert_eq!(d["severity"], "warning");
    assert_eq!(d["file"], file.to_string_lossy().as_ref());
    assert_eq!((d["line"].as_u64(), d["col"].as_u64()), (Some(11), Some(31)));
    assert_eq!(d["field"], "managedNodeGroups[0].instanceTypes[1]");
}

#[test]
fn exit_codes_for_usage_and_io_errors() {
    let ws = Workspace::empty();
    validate(&ws).expect_status(2).stderr_contains("nothing to validate").run();
    validate(&ws).args(["no-such.yaml"]).expect_status(2).stderr_contains("no-such.yaml").run();
    validate(&ws).args(["-c", "no-such.yaml"]).expect_status(2).run();
    validate(&ws).case("bad flag value").args(["-o", "xml", "no-such.yaml"]).expect_status(2).run();
}

#[test]
fn unknown_and_empty_files_are_skipped_with_a_warning() {
    let ws = Workspace::empty();
    fs::write(ws.root().join("workflow.yml"), "on: push\njobs: {}\n").unwrap();
    fs::write(ws.root().join("empty.yaml"), "# nothing\n").unwrap();
    let report = validate(&ws).args(["-o", "json", "workflow.yml", "empty.yaml"]).run().json();
    let lines = short_lines(&report);
    assert_eq!(lines, ["empty.yaml:1:1: warning[PR023]", "workflow.yml:1:1: warning[PR023]"]);
}

#[test]
fn hostile_yaml_gets_a_clear_error_and_no_panic() {
    let ws = Workspace::empty();
    let mut deep = String::new();
    for i in 0..200 {
        deep.push_str(&format!("{}k{i}:\n", "  ".repeat(i)));
    }
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "truncated.yaml",
            "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata:\n  name: \"pangeo\n".into(),
            "",
        ),
        ("tabs.yaml", "jupyterhub:\n\tproxy: {}\n".into(), "tab"),
        ("duplicate.yaml", "jupyterhub: {}\njupyterhub: {}\n".into(), "duplicate"),
        ("deep.yaml", deep, ""),
        ("bomb.yaml", bomb, ""),
        ("flow.yaml", format!("a: {}{}\n", "[".repeat(5000), "]".repeat(5000)), ""),
        ("binary.yaml", "\u{0}\u{1}\u{2}".into(), ""),
    ];
    for (name, text, word) in &cases {
        fs::write(ws.root().join(name), text).unwrap();
        let report = validate(&ws).args(["-o", "json", name]).expect_status(1).run().json();
        let d = &report["diagnostics"][0];
        assert_eq!(d["id"], "PR001", "{name}: {d}");
        assert!(d["message"].as_str().unwrap().to_lowercase().contains(word), "{name}: {d}");
        assert!(d["line"].as_u64().unwrap() >= 1, "{name}: {d}");
    }
    // 50 MB: refused by size before it is parsed (or even read whole).
    let big = ws.root().join("big.yaml");
    let line = format!("key: {}\n", "x".repeat(1018));
    fs::write(&big, line.repeat(50 * 1024)).unwrap();
    validate(&ws)
        .args(["big.yaml"])
        .expect_status(1)
        .stderr_contains("error[PR001]")
        .stderr_contains("larger than")
        .run();
    // Not UTF-8: a finding, not a crash.
    let latin = ws.root().join("latin1.yaml");
    fs::write(&latin, b"name: caf\xe9\n").unwrap();
    validate(&ws).args(["latin1.yaml"]).expect_status(1).stderr_contains("error[PR001]: not UTF-8").run();
}

#[test]
fn secrets_are_never_printed() {
    let ws = rendered("walkthrough");
    let secrets = fs::read_to_string(ws.secrets_path()).unwrap();
    let value = |k: &str| {
        secrets.lines().find_map(|l| l.strip_prefix(&format!("{k}: "))).unwrap().trim_matches('"').to_string()
    };
    let (proxy, api, hash) =
        (value("proxySecretToken"), value("daskGatewayApiToken"), value("adminPasswordHash"));
    let daskhub = ws.out().join("daskhub.yaml");
    let original = fs::read_to_string(&daskhub).unwrap();
    // Each edit makes a rule or the parser speak about a line holding a secret.
    let weak_hash = pangeo_render::secrets::password::hash_with("snapshot-password", &[7u8; 16], 1000);
    let edits: Vec<(String, String)> = vec![
        (format!("apiToken: \"{api}\"\n    extraConfig"), format!("apiToken: \"{proxy}\"\n    extraConfig")),
        (format!("secretToken: \"{proxy}\""), format!("secretToken: \"{}\"", &proxy[..40])),
        (format!("secretToken: \"{proxy}\""), format!("secretToken: {proxy}x")),
        (format!("secretToken: \"{proxy}\""), format!("secretToken: [\"{proxy}\"]")),
        (
            format!("secretToken: \"{proxy}\""),
            format!("secretToken: \"{proxy}\"\n    secretToken: \"{proxy}\""),
        ),
        (format!("secretToken: \"{proxy}\""), format!("secretToken: \"{proxy}")),
        (format!("password_hash: \"{hash}\""), format!("password_hash: \"{weak_hash}\"")),
        (format!("password_hash: \"{hash}\""), format!("password_hash: \"{}\"", &hash[..hash.len() - 3])),
        (format!("password_hash: \"{hash}\""), format!("password_hash: {{value: \"{hash}\"}}")),
        // A secret pasted as a mapping key: the unknown-key message quotes keys.
        (format!("secretToken: \"{proxy}\""), format!("secretToken: \"{proxy}\"\n    \"{api}\": true")),
        (format!("secretToken: \"{proxy}\""), format!("\"{proxy}\": secretToken")),
        (format!("secretToken: \"{proxy}\""), format!("secretToken: \"{proxy}\"\n    \"{hash}\": 1")),
    ];
    let needles: Vec<String> = [&proxy, &api, &hash, &weak_hash]
        .iter()
        .flat_map(|s| {
            // The whole value, a token's first 16 characters, a hash's salt and digest.
            let mut v = vec![s.to_string()];
            if !s.starts_with('$') {
                v.push(s[..16].to_string());
            }
            v.extend(s.split('$').filter(|p| p.len() >= 16).map(str::to_string));
            v
        })
        .collect();
    for (from, to) in &edits {
        fs::write(&daskhub, &original).unwrap();
        edit(&daskhub, from, to);
        for format in ["text", "json"] {
            let refused = validate(&ws)
                .case(format!("edit {to:?}"))
                .args(["-o", format, "-c", "pangeo.yaml", "rendered"])
                .expect_status(1);
            needles.iter().fold(refused, |test, n| test.output_lacks(n.as_str())).run();
        }
    }
}

#[test]
fn files_beside_the_named_ones_are_context() {
    let ws = rendered("walkthrough");
    let (cluster, sc) = (ws.out().join("cluster.yaml"), ws.out().join("storageclass.yaml"));
    // An old problem in a file nobody named is not reported ...
    edit(&sc, "name: \"gp3-encrypted\"", "name: \"<storage-class-name>\"");
    let run = validate(&ws).args(["-o", "json", "rendered/daskhub.yaml"]).run();
    assert_eq!(short_lines(&run.json()), Vec::<String>::new(), "{}", run.stdout);
    // ... but a change to the named cluster.yaml that breaks the unnamed daskhub.yaml is.
    edit(&cluster, "effect: \"NoExecute\"", "effect: \"NoSchedule\"");
    let report = validate(&ws).args(["-o", "json", "rendered/cluster.yaml"]).expect_status(1).run().json();
    let lines = short_lines(&report);
    assert!(lines.iter().any(|l| l.starts_with("daskhub.yaml:") && l.ends_with("error[PR017]")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("storageclass.yaml:")), "{lines:?}");
}

#[test]
fn artifacts_are_checked_against_the_config() {
    let ws = rendered("eu-central-1");
    let cluster = ws.out().join("cluster.yaml");
    edit(&cluster, "region: \"eu-central-1\"", "region: \"eu-west-1\"");
    for args in [["-c", "pangeo.yaml", "rendered/cluster.yaml"].as_slice(), &["pangeo.yaml", "rendered"]] {
        let report = validate(&ws).args(["-o", "json"]).args(args).expect_status(1).run().json();
        let drift: Vec<&Value> =
            report["diagnostics"].as_array().unwrap().iter().filter(|d| d["id"] == "PR025").collect();
        assert_eq!(drift.len(), 1, "{report:#}");
        assert_eq!(drift[0]["message"], "the Region is `eu-west-1`, the config says `eu-central-1`");
        assert_eq!(drift[0]["field"], "metadata.region");
    }
}

/// A config without a worker limit (`null`, as import writes for a hand-built gateway): a
/// `daskhub.yaml` that sets one has drifted from it.
#[test]
fn a_worker_limit_the_config_does_not_have_is_drift() {
    let ws = rendered("imported");
    let daskhub = ws.out().join("daskhub.yaml");
    let close = "            handler=option_handler,\n        )\n";
    edit(&daskhub, close, &format!("{close}        c.ClusterConfig.cluster_max_workers = 24\n"));
    let report = validate(&ws).args(["-o", "json", "pangeo.yaml", "rendered"]).expect_status(1).run().json();
    let drift: Vec<&Value> =
        report["diagnostics"].as_array().unwrap().iter().filter(|d| d["id"] == "PR025").collect();
    assert_eq!(drift.len(), 1, "{report:#}");
    assert_eq!(drift[0]["message"], "the maximum workers per cluster is 24, the config says none (null)");
}

#[test]
fn a_config_alone_gets_the_capacity_rule() {
    let text = fs::read_to_string(support::fixture("walkthrough")).unwrap();
    let ws = Workspace::with_text(
        &text.replace("cores: {default: 0.8, min: 0.8, max: 4.0}", "cores: {default: 24, min: 0.8, max: 32}"),
    );
    let report = validate(&ws).args(["-o", "json", "-c", "pangeo.yaml"]).expect_status(1).run().json();
    assert_eq!(short_lines(&report), ["pangeo.yaml:41:22: error[PR020]"], "{report:#}");
    assert_eq!(report["diagnostics"][0]["field"], "daskGateway.worker.cores.default");
}

#[test]
fn a_broken_config_reports_the_config_loaders_findings() {
    let text = fs::read_to_string(support::fixture("walkthrough")).unwrap();
    let ws = Workspace::with_text(&text.replace("region: us-west-2", "region: us-west-9"));
    let report = validate(&ws).args(["-o", "json", "pangeo.yaml"]).expect_status(1).run().json();
    let ids: Vec<String> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.contains(&"PR007".to_string()), "{ids:?}");
}

#[test]
fn every_artifact_schema_compiles() {
    for schema in pangeo_render::validate::schemas::ALL {
        let _ = schema.validator();
    }
}

/// PR010 over a config's life, from the calendar in src/aws/eks_versions.rs: the walkthrough's
/// 1.34 leaves standard support on 2026-12-02 and extended support on 2027-12-02 (AWS docs).
#[test]
fn the_kubernetes_version_warns_90_days_before_standard_support_ends_and_fails_after_extended() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    // The PR010 findings of `validate` on `today`, which must exit with `code`.
    let run_on = |today: &str, strict: bool, code: i32| -> Vec<Value> {
        let report = ws
            .test()
            .today(today)
            .args(["validate", "-o", "json"])
            .args(strict.then_some("--strict"))
            .args(["-c", "pangeo.yaml"])
            .expect_status(code)
            .run()
            .json();
        report["diagnostics"].as_array().unwrap().iter().filter(|d| d["id"] == "PR010").cloned().collect()
    };

    // 91 days before: nothing to say.
    assert_eq!(run_on("2026-09-02", true, 0), Vec::<Value>::new());

    // 90 days before: a warning with both dates, the source, and the command that plans the upgrade.
    let d = run_on("2026-09-03", false, 0);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["severity"], "warning");
    assert_eq!(d[0]["field"], "cluster.kubernetesVersion");
    let msg = d[0]["message"].as_str().unwrap();
    assert!(msg.contains("Kubernetes 1.34 leaves EKS standard support on 2026-12-02 (in 90 days)"), "{msg}");
    assert!(msg.contains("ends on 2027-12-02"), "{msg}");
    assert!(msg.contains("source: AWS EKS User Guide"), "{msg}");
    let hint = d[0]["hint"].as_str().unwrap();
    assert!(hint.contains("plan the upgrade to 1.35: `pangeo-render upgrade -c pangeo.yaml`"), "{hint}");
    // --strict fails on the warning.
    run_on("2026-09-03", true, 1);

    // In extended support: still a warning, now with the end of extended support.
    let d = run_on("2026-12-02", false, 0);
    assert_eq!(d[0]["severity"], "warning", "{d:?}");
    let msg = d[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("left EKS standard support on 2026-12-02")
            && msg.contains("until 2027-12-02 (in 365 days)"),
        "{msg}"
    );

    // After extended support: an error.
    let d = run_on("2027-12-02", false, 1);
    assert_eq!(d[0]["severity"], "error", "{d:?}");
    assert!(d[0]["message"].as_str().unwrap().contains("left EKS extended support on 2027-12-02"), "{d:?}");
}

/// PR020 counts the nodes a user's largest Dask cluster needs; its advice (raise maxSize to that
/// count) makes the finding go away.
#[test]
fn capacity_names_the_nodes_max_workers_need_and_its_advice_works() {
    let text = fs::read_to_string(repo().join("fixtures/walkthrough/pangeo.yaml")).unwrap();
    let text = text.replace("maxWorkersPerCluster: 24", "maxWorkersPerCluster: 2000");
    assert!(text.contains("maxWorkersPerCluster: 2000"));
    let ws = Workspace::with_text(&text);
    let report = validate(&ws).args(["-o", "json", "-c", "pangeo.yaml"]).expect_status(1).run().json();
    let found: Vec<&Value> =
        report["diagnostics"].as_array().unwrap().iter().filter(|d| d["id"] == "PR020").collect();
    assert_eq!(found.len(), 1, "{report:#}");
    let message = found[0]["message"].as_str().unwrap();
    let hint = found[0]["hint"].as_str().unwrap();
    assert!(message.contains("a user may ask for 2000 workers"), "{message}");
    assert!(message.contains("but group `dask-workers` has maxSize 30"), "{message}");
    // "… or raise the group's maxSize to N (at FILE:LINE)"
    let needed: u32 = hint
        .split("maxSize to ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no node count in the hint: {hint}"));
    assert!(message.contains(&format!("they need {needed} nodes")), "{message}");
    let fixed = text.replace("maxSize: 30", &format!("maxSize: {needed}"));
    assert_ne!(fixed, text);
    let ws = Workspace::with_text(&fixed);
    let run = validate(&ws).args(["-o", "json", "-c", "pangeo.yaml"]).run();
    assert!(!run.stdout.contains("PR020"), "the advice did not work: {}", run.stdout);
}

/// PR035's advice for a limit the config sets and a kept handler does not, each way as printed:
/// the line added to the handler, or the config's limit removed.
#[test]
fn a_kept_handler_without_the_configs_limit_gets_advice_that_works() {
    let fixture = repo().join("fixtures/rules/PR035-option-handler/config/limit-not-in-handler.yaml");
    let ws = Workspace::with_config(&fixture);
    let out = validate(&ws).args(["-c", "pangeo.yaml"]).expect_status(1).run();
    let hint = out.stderr.lines().find_map(|l| l.strip_prefix("  hint: ")).unwrap();
    assert_eq!(
        hint,
        "add `c.ClusterConfig.cluster_max_workers = 24` to gateway-options.py, or write maxWorkersPerCluster: null"
    );
    let handler = ws.root().join("gateway-options.py");
    let kept = fs::read_to_string(&handler).unwrap();
    // The first way: the line, as printed, at the end of the handler.
    let line = hint.split('`').nth(1).unwrap();
    fs::write(&handler, format!("{kept}{line}\n")).unwrap();
    validate(&ws).args(["--strict", "-c", "pangeo.yaml"]).expect_stderr("").run();
    // The second way: the handler as it was, the config without a limit.
    fs::write(&handler, &kept).unwrap();
    edit(&ws.config(), "maxWorkersPerCluster: 24", "maxWorkersPerCluster: null");
    validate(&ws).args(["--strict", "-c", "pangeo.yaml"]).expect_stderr("").run();
    // A handler that allows more than the config says is refused, so the capacity checks, which
    // read the config, are not fooled; the kept handler's own numbers are the ones reported.
    fs::write(&handler, kept.replace("max=4.0, label=\"Worker Cores\"", "max=64, label=\"Worker Cores\""))
        .unwrap();
    let report = validate(&ws).args(["-o", "json", "-c", "pangeo.yaml"]).expect_status(1).run().json();
    assert_eq!(short_lines(&report), ["gateway-options.py:11:53: error[PR035]"], "{report:#}");
    assert_eq!(
        report["diagnostics"][0]["message"],
        "the option handler's worker_cores max is 64, daskGateway.worker.cores.max says 4 (pangeo.yaml:56)"
    );
}

/// A Python file given to validate is checked as the option handler of the config beside it that
/// names it; one that no config names is passed over with a warning (silent with --ignore-unknown).
#[test]
fn a_python_file_is_checked_as_the_option_handler_its_config_names() {
    let ws = Workspace::with_config(&repo().join("fixtures/rules/PR035-option-handler/pangeo.yaml"));
    fs::write(ws.root().join("report.py"), "print(1)\n").unwrap();
    let report = validate(&ws).args(["-o", "json", "gateway-options.py"]).expect_status(1).run().json();
    assert_eq!(
        short_lines(&report),
        [
            "gateway-options.py:11:53: error[PR035]",
            "gateway-options.py:13:29: error[PR035]",
            "gateway-options.py:16:39: error[PR035]"
        ],
        "{report:#}"
    );
    // Another Python file: not the handler; the handler's findings are not its business.
    validate(&ws)
        .args(["report.py"])
        .expect_stderr(
            "report.py:1:1: warning[PR023]: a Python file that no config beside it names as its option handler; \
             skipped\n  hint: validate checks a Python file as the Dask Gateway option handler a config names \
             (daskGateway.optionHandler.file)\n0 error(s), 1 warning(s) in 1 file(s): valid\n",
        )
        .run();
    validate(&ws).args(["--ignore-unknown", "report.py"]).expect_stderr("").run();
}
