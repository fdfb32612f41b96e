//! `import`: the walkthrough's hand-edited files, filled in as its README says, become a config
//! and a secrets file that render the same hub — the tokens kept, the password kept only as its
//! hash, and everything the rendered files do not carry over listed. No cluster here; the
//! takeover of the live objects is tested in `cluster_diff_apply.rs`
//! (`a_hub_built_by_hand_is_imported_and_its_objects_taken_over`).

mod support;

use std::fs;

use support::Test;
use support::walkthrough::{self, CERT};

#[test]
fn walkthrough_files_become_a_config_that_renders_the_same_secrets() {
    let t = Test::new();
    let filled = walkthrough::fill(&t.path("hand"), "1.34");
    let out = t
        .args(["import", "--from", "hand", "-c", "pangeo.yaml", "--domain", "hub.example.org"])
        .stderr_contains("wrote pangeo.yaml")
        .stderr_contains(
            "jupyterhub.hub.config.DummyAuthenticator.password: dropped (sensitive value) (kept only as a PBKDF2 hash",
        )
        // What the walkthrough deployed is carried over, so the StorageClass differs only by our label.
        .stderr_contains(
            "hand/storageclass.yaml: what the rendered file does not carry over, or changes:\n  \
             metadata.labels.app.kubernetes.io/managed-by: added \"pangeo-render\"\n\n",
        )
        .stderr_contains("clusterAutoscaler.imagePullPolicy: Always (the upstream cluster-autoscaler-autodiscover.yaml")
        .stderr_contains(
            "jupyterhub.hub.config.Authenticator.allowed_users: added [\"admin\"] (pangeo-render's authenticator",
        )
        .stderr_contains("hub.allowedUsers: []")
        // The walkthrough's single braces, which make KubeSpawner refuse every spawn, are fixed, and
        // import says so (tests/python/test_spawner_values.py proves both forms with KubeSpawner).
        .stderr_contains(
            "jupyterhub.singleuser.extraEnv.DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE: \"{JUPYTER_IMAGE_SPEC}\" → \
             \"{{JUPYTER_IMAGE_SPEC}}\" (KubeSpawner formats env values: with single braces it refuses every \
             spawn (KeyError); doubled, they reach the notebook as written)",
        )
        // The gateway's option handler is kept as written, and the report says how to switch.
        .stderr_contains(
            "wrote gateway-options.py: the Dask Gateway option handler, exactly as hand/daskhub.yaml had it \
             (daskGateway.optionHandler)",
        )
        .stderr_contains(
            "daskGateway.optionHandler: {file: gateway-options.py} — the gateway's option handler kept as written",
        )
        .stderr_contains(
            "To switch to pangeo-render's generated handler (the same options from daskGateway.worker, and an \
             image without a tag refused by name), delete daskGateway.optionHandler from the config",
        )
        .run();
    // Nothing of the handler is a difference: the rendered file runs the gateway's own code.
    assert!(!out.stderr.contains("extraConfig.optionHandler: "), "{}", out.stderr);
    for secret in [&filled.proxy_token, &filled.gateway_token, &filled.password] {
        assert!(
            !out.stderr.contains(secret.as_str()) && !out.stdout.contains(secret.as_str()),
            "secret printed"
        );
    }
    let config = fs::read_to_string(out.path("pangeo.yaml")).unwrap();
    // JupyterHub read the walkthrough's 2G as 2 GiB: the config says so in Kubernetes units.
    assert!(config.contains("memory: {guarantee: 2Gi, limit: 4Gi}"), "{config}");
    assert!(config.contains("clusterAutoscaler: \"eksctl-cluster-autoscaler-role\""), "{config}");
    assert!(config.contains("name: \"gp2\"") && config.contains(CERT), "{config}");
    // The fixture of an imported hub, proven by every tier, is what import writes (version aside).
    let body = |text: &str| text[text.find("apiVersion:").unwrap()..].to_string();
    let fixture = fs::read_to_string(support::repo().join("fixtures/imported/pangeo.yaml")).unwrap();
    assert_eq!(
        body(&config).replace("kubernetesVersion: \"1.34\"", "kubernetesVersion: \"1.35\""),
        body(&fixture)
    );
    for carried in [
        "fsTypeParameter: \"fsType\"",
        "allowVolumeExpansion: false",
        "schedulerOnDaskWorkers: false",
        "storageClass: clusterDefault",
        "imagePullPolicy: Always",
        "maxWorkersPerCluster: null",
    ] {
        assert!(config.contains(carried), "no `{carried}` in:\n{config}");
    }
    // The handler file is the very text of daskhub.yaml's optionHandler, and the fixture's.
    let hand: serde_json::Value =
        serde_saphyr::from_str(&fs::read_to_string(out.path("hand/daskhub.yaml")).unwrap()).unwrap();
    let walkthrough_code = hand["dask-gateway"]["gateway"]["extraConfig"]["optionHandler"].as_str().unwrap();
    let kept = fs::read_to_string(out.path("gateway-options.py")).unwrap();
    assert_eq!(kept, walkthrough_code);
    assert_eq!(
        kept,
        fs::read_to_string(support::repo().join("fixtures/imported/gateway-options.py")).unwrap()
    );
    assert!(config.contains("optionHandler: {file: \"gateway-options.py\"}"), "{config}");
    assert!(!config.contains(&filled.password));
    assert!(!fs::read_to_string(out.path("pangeo.secrets.yaml")).unwrap().contains(&filled.password));
    support::assert_mode(&out.path("pangeo.secrets.yaml"), 0o600);

    let stored: serde_json::Value =
        serde_saphyr::from_str(&fs::read_to_string(out.path("pangeo.secrets.yaml")).unwrap()).unwrap();
    assert_eq!(stored["proxySecretToken"], filled.proxy_token.as_str());
    assert_eq!(stored["daskGatewayApiToken"], filled.gateway_token.as_str());
    let hash = stored["adminPasswordHash"].as_str().unwrap();
    assert!(pangeo_render::secrets::password::verify(&filled.password, hash));

    // The usual flow takes over: values renders the hub with the same tokens and the same roles.
    Test::at(out.dir.path())
        .env("PANGEO_RENDER_TODAY", "2026-09-01")
        .args(["values", "-c", "pangeo.yaml", "--output-dir", "rendered"])
        .run();
    let daskhub = fs::read_to_string(out.path("rendered/daskhub.yaml")).unwrap();
    assert!(daskhub.contains(&format!("secretToken: \"{}\"", filled.proxy_token)));
    assert_eq!(daskhub.matches(filled.gateway_token.as_str()).count(), 2);
    assert!(daskhub.contains("limit: \"4G\"") && daskhub.contains("guarantee: \"2G\""));
    assert!(!daskhub.contains(&filled.password) && !daskhub.contains("DummyAuthenticator"));
    assert!(daskhub.contains("DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE: \"{{JUPYTER_IMAGE_SPEC}}\"\n"));
    support::assert_nowhere(&out.path("rendered"), &filled.password);
    // The walkthrough's schedulers unplaced, its home volumes on the default class, as deployed.
    assert!(!daskhub.contains("scheduler:") && !daskhub.contains("storage:"), "{daskhub}");
    let class = fs::read_to_string(out.path("rendered/storageclass.yaml")).unwrap();
    assert!(class.contains("  fsType: \"ext4\"\n") && !class.contains("allowVolumeExpansion"), "{class}");
    let autoscaler = fs::read_to_string(out.path("rendered/cluster-autoscaler.yaml")).unwrap();
    assert!(autoscaler.contains("imagePullPolicy: Always\n"), "{autoscaler}");
    assert!(autoscaler.contains("arn:aws:iam::123456789012:role/eksctl-cluster-autoscaler-role"));
    let ebs = fs::read_to_string(out.path("rendered/aws-ebs-csi-driver.yaml")).unwrap();
    assert!(ebs.contains("arn:aws:iam::123456789012:role/ebs-csi-driver-role"));
    assert!(ebs.contains("602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-ebs-csi-driver"));
    // The gateway gets the kept handler byte for byte.
    let rendered = |dir: &str| -> serde_json::Value {
        serde_saphyr::from_str(&fs::read_to_string(out.path(format!("{dir}/daskhub.yaml"))).unwrap()).unwrap()
    };
    let handler =
        |v: &serde_json::Value| v["dask-gateway"]["gateway"]["extraConfig"]["optionHandler"].clone();
    assert_eq!(handler(&rendered("rendered")), walkthrough_code);

    // The advice, as printed: delete the key, and the next render has pangeo-render's own handler
    // (the same bounds, from daskGateway.worker), the rest of the hub unchanged.
    let key = "  optionHandler: {file: \"gateway-options.py\"}\n";
    fs::write(out.path("pangeo.yaml"), config.replace(key, "")).unwrap();
    Test::at(out.dir.path())
        .env("PANGEO_RENDER_TODAY", "2026-09-01")
        .args(["values", "-c", "pangeo.yaml", "--output-dir", "generated"])
        .run();
    let generated = rendered("generated");
    let code = handler(&generated);
    let code = code.as_str().unwrap();
    assert!(code.starts_with("# Generated by pangeo-render"), "{code}");
    assert!(code.contains("default=0.8,\n        min=0.8,\n        max=4.0,"), "{code}");
    let mut before = rendered("rendered");
    before["dask-gateway"]["gateway"]["extraConfig"]["optionHandler"] =
        generated["dask-gateway"]["gateway"]["extraConfig"]["optionHandler"].clone();
    assert_eq!(before, generated);
}

#[test]
fn the_issue_spelling_with_dash_o_still_names_the_config_and_says_to_use_dash_c() {
    let t = Test::new();
    walkthrough::fill(&t.path("hand"), "1.34");
    let out = t
        .args(["import", "--from", "hand", "-o", "adopted.yaml", "--domain", "hub.example.org"])
        .stderr_contains(
            "warning: deprecated: `import -o FILE` will be removed; write `import -c adopted.yaml`",
        )
        .run();
    assert!(out.path("adopted.yaml").exists() && out.path("adopted.secrets.yaml").exists());
}

#[test]
fn the_report_as_json_matches_its_schema_and_shows_no_secret() {
    let t = Test::new();
    let filled = walkthrough::fill(&t.path("hand"), "1.34");
    let out = t.args(["import", "--from", "hand", "-o", "json", "--domain", "hub.example.org"]).run();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    support::assert_output_schema(&doc);
    assert_eq!(doc["kind"], "ImportReport");
    assert_eq!(doc["optionHandler"], "gateway-options.py");
    assert!(out.path("gateway-options.py").is_file());
    let password = doc["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == "jupyterhub.hub.config.DummyAuthenticator.password")
        .expect("the password's move is listed");
    assert_eq!(password["change"], "dropped");
    assert_eq!(password["theirs"], "(sensitive value)");
    for secret in [&filled.proxy_token, &filled.gateway_token, &filled.password] {
        assert!(!out.stdout.contains(secret.as_str()), "secret in the report");
    }
}

#[test]
fn a_placeholder_left_in_is_an_error_at_its_line_and_nothing_is_written() {
    let t = Test::new();
    walkthrough::fill(&t.path("hand"), "1.34");
    let daskhub = t.path("hand/daskhub.yaml");
    let text = fs::read_to_string(&daskhub).unwrap().replace(&"3a".repeat(32), "<token-1>");
    fs::write(&daskhub, text).unwrap();
    let out = t
        .args(["import", "--from", "hand", "-c", "pangeo.yaml", "--domain", "hub.example.org"])
        .stderr_contains("hand/daskhub.yaml:18:18: error[PR003]: jupyterhub.proxy.secretToken: the walkthrough's placeholder is still here")
        .stderr_contains("hint: import reads the files as they were deployed")
        .expect_status(1)
        .run();
    assert!(!out.path("pangeo.yaml").exists() && !out.path("pangeo.secrets.yaml").exists());
}

#[test]
fn without_a_domain_it_says_which_flag_gives_one() {
    let t = Test::new();
    walkthrough::fill(&t.path("hand"), "1.34");
    t.args(["import", "--from", "hand"])
        .stderr_contains("error[PR002]: jupyterhub.proxy.https.hosts: the hub's domain is not in this file")
        .stderr_contains("hint: pass it: pangeo-render import --from DIR --domain hub.example.org")
        .expect_status(1)
        .run();
}

#[test]
fn an_existing_config_or_secrets_file_is_never_overwritten() {
    let t = Test::new().file("pangeo.secrets.yaml", "mine");
    walkthrough::fill(&t.path("hand"), "1.34");
    let out = t
        .args(["import", "--from", "hand", "--domain", "hub.example.org"])
        .stderr_contains(
            "pangeo.secrets.yaml already exists; import writes a new config, secrets file and \
             gateway-options.py and never overwrites one",
        )
        .expect_status(2)
        .run();
    assert_eq!(fs::read_to_string(out.path("pangeo.secrets.yaml")).unwrap(), "mine");
    assert!(!out.path("pangeo.yaml").exists() && !out.path("gateway-options.py").exists());

    // A handler of the team's own beside the config is not overwritten either; nothing is written.
    let t = Test::new().file("gateway-options.py", "# mine\n");
    walkthrough::fill(&t.path("hand"), "1.34");
    let out = t
        .args(["import", "--from", "hand", "--domain", "hub.example.org"])
        .stderr_contains("gateway-options.py already exists")
        .expect_status(2)
        .run();
    assert_eq!(fs::read_to_string(out.path("gateway-options.py")).unwrap(), "# mine\n");
    assert!(!out.path("pangeo.yaml").exists() && !out.path("pangeo.secrets.yaml").exists());
}
