//! Every rendered file, for every fixture, against the *upstream* schemas in
//! `../shared/conformance/` (eksctl ClusterConfig; the Z2JH and dask-gateway schemas of the
//! targeted chart, over the chart defaults merged as Helm merges them; the EBS CSI values schema).
//! This tier never skips: without the conformance data it fails and says where it looked.

mod support;

use serde_json::Value;
use std::path::PathBuf;

use pangeo_render::config::{self, Chart};
use pangeo_render::render::{self, Templates};

fn conformance_dir() -> PathBuf {
    let dir = std::env::var_os("PANGEO_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::repo().join("../shared/conformance"));
    assert!(
        dir.join("eksctl-clusterconfig.schema.json").exists(),
        "upstream conformance data not found at {} (set PANGEO_CONFORMANCE_DIR)",
        dir.display()
    );
    dir
}

fn load_json(rel: &str) -> Value {
    let text = std::fs::read_to_string(conformance_dir().join(rel)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn load_yaml(rel: &str) -> Value {
    let text = std::fs::read_to_string(conformance_dir().join(rel)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The jsonschema crate checks `$ref`s as URI references; eksctl's use `|`, which is not allowed
/// there. Percent-encoding it keeps the reference pointing at the same definition.
fn encode_refs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if k == "$ref" {
                    if let Value::String(s) = val {
                        *s = s.replace('|', "%7C");
                    }
                } else {
                    encode_refs(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(encode_refs),
        _ => {}
    }
}

/// Helm's coalesce: maps merge key by key, anything else in `top` replaces `base`, and a `null`
/// in `top` deletes the key.
fn coalesce(base: &Value, top: &Value) -> Value {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            let mut out = b.clone();
            for (k, tv) in t {
                if tv.is_null() {
                    out.remove(k);
                } else if let Some(bv) = b.get(k) {
                    out.insert(k.clone(), coalesce(bv, tv));
                } else {
                    out.insert(k.clone(), tv.clone());
                }
            }
            Value::Object(out)
        }
        (_, t) => t.clone(),
    }
}

fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    let v = jsonschema::validator_for(schema).expect("upstream schema compiles");
    v.iter_errors(instance).map(|e| format!("at {}: {}", e.instance_path(), e.kind_message())).collect()
}

trait KindMessage {
    fn kind_message(&self) -> String;
}
impl KindMessage for jsonschema::ValidationError<'_> {
    fn kind_message(&self) -> String {
        // Fixture secrets are fixed test values, so the crate's message (which quotes values) is fine here.
        self.to_string()
    }
}

fn rendered(fixture: &std::path::Path) -> (Chart, std::collections::HashMap<&'static str, Value>) {
    let loaded = config::load(fixture).unwrap_or_else(|e| panic!("{}: {e:?}", fixture.display()));
    let hash = pangeo_render::secrets::password::hash_with("conformance", &[3u8; 16], 600_000);
    let (mut secrets, _) = pangeo_render::secrets::resolve(
        std::path::Path::new("conformance.secrets.yaml"),
        None,
        &[],
        Some("conformance"),
    )
    .unwrap();
    secrets.admin_password_hash = hash;
    let artifacts = render::render(&loaded.config, &secrets, &Templates::Embedded, "pangeo.yaml").unwrap();
    let map = artifacts
        .iter()
        .map(|a| {
            let docs: Vec<Value> = serde_saphyr::from_multiple(&a.text).unwrap();
            let v = if docs.len() == 1 { docs.into_iter().next().unwrap() } else { Value::Array(docs) };
            (a.file_name, v)
        })
        .collect();
    (loaded.config.hub.chart, map)
}

#[test]
fn cluster_yaml_matches_the_eksctl_schema() {
    let mut schema = load_json("eksctl-clusterconfig.schema.json");
    encode_refs(&mut schema);
    for (name, cfg) in support::fixture_configs() {
        let (_, files) = rendered(&cfg);
        let errs = errors(&schema, &files["cluster.yaml"]);
        assert!(errs.is_empty(), "{name}/cluster.yaml: {errs:#?}");
    }
}

#[test]
fn daskhub_sections_match_the_targeted_chart_schemas() {
    for (name, cfg) in support::fixture_configs() {
        let (chart, files) = rendered(&cfg);
        let values = &files["daskhub.yaml"];
        let (z2jh_schema, z2jh_defaults, dg_schema, dg_defaults, daskhub_defaults) = match chart {
            Chart::Daskhub2024 => (
                "z2jh-3.2.1-values.schema.json",
                "z2jh/3.2.1/values.yaml",
                "dask-gateway-2024.1.0-values.schema.json",
                "dask-gateway/2024.1.0/values.yaml",
                "daskhub/2024.1.1/values.yaml",
            ),
            Chart::Daskhub2026 => (
                "z2jh-values.schema.json",
                "z2jh/values.yaml",
                "dask-gateway-values.schema.json",
                "dask-gateway/values.yaml",
                "daskhub/values.yaml",
            ),
        };
        let parent = load_yaml(daskhub_defaults);
        for (section, schema, defaults) in
            [("jupyterhub", z2jh_schema, z2jh_defaults), ("dask-gateway", dg_schema, dg_defaults)]
        {
            // Subchart defaults ← the parent chart's values for it ← the user's values.
            let merged = coalesce(&coalesce(&load_yaml(defaults), &parent[section]), &values[section]);
            let errs = errors(&load_json(schema), &merged);
            assert!(errs.is_empty(), "{name}/daskhub.yaml#{section} against {schema}: {errs:#?}");
        }
    }
}

#[test]
fn ebs_csi_values_match_the_chart_schema() {
    let schema = load_json("aws-ebs-csi-driver/values.schema.json");
    let defaults = load_yaml("aws-ebs-csi-driver/values.yaml");
    for (name, cfg) in support::fixture_configs() {
        let (_, files) = rendered(&cfg);
        let merged = coalesce(&defaults, &files["aws-ebs-csi-driver.yaml"]);
        let errs = errors(&schema, &merged);
        assert!(errs.is_empty(), "{name}/aws-ebs-csi-driver.yaml: {errs:#?}");
    }
}

/// The EBS CSI chart every install is pinned to is the one whose schema and defaults the values
/// are checked against here.
#[test]
fn the_pinned_ebs_csi_chart_is_the_verified_one() {
    let chart = load_yaml("aws-ebs-csi-driver/Chart.yaml");
    assert_eq!(chart["name"], "aws-ebs-csi-driver");
    assert_eq!(chart["version"], pangeo_render::helm::chart::EBS_CSI_VERSION);
    assert!(pangeo_render::helm::chart::EBS_CSI_CHART.ends_with("/aws-ebs-csi-driver"));
}

/// The checker must be able to fail: a known-bad value is refused by the same schemas.
#[test]
fn the_upstream_schemas_catch_a_known_mistake() {
    let mut schema = load_json("eksctl-clusterconfig.schema.json");
    encode_refs(&mut schema);
    let (_, files) = rendered(&support::fixture("walkthrough"));
    let mut cluster = files["cluster.yaml"].clone();
    cluster["metadata"]["version"] = serde_json::json!(1.3);
    assert!(!errors(&schema, &cluster).is_empty());
    let mut values = files["daskhub.yaml"].clone();
    values["jupyterhub"]["proxy"]["service"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout"] =
        serde_json::json!(3600);
    let merged = coalesce(&load_yaml("z2jh/3.2.1/values.yaml"), &values["jupyterhub"]);
    assert!(!errors(&load_json("z2jh-3.2.1-values.schema.json"), &merged).is_empty());
}

/// The README names every image of the EBS CSI chart that `regionalImageRegistry` leaves on
/// public.ecr.aws; a chart that adds or moves a sidecar makes this fail until the README says so.
#[test]
fn readme_names_every_ebs_sidecar_that_stays_on_public_ecr() {
    let values = load_yaml("aws-ebs-csi-driver/values.yaml");
    let readme = std::fs::read_to_string(support::repo().join("README.md")).unwrap();
    let sidecars = values["sidecars"].as_object().expect("sidecars in the chart's values");
    assert!(sidecars.len() >= 6, "the chart's sidecars: {sidecars:?}");
    for (name, sidecar) in sidecars {
        // A sidecar without an image of its own runs the driver image, which moves with the flag.
        let Some(repo) = sidecar["image"]["repository"].as_str() else { continue };
        assert!(repo.starts_with("public.ecr.aws/"), "{name} is not on public.ecr.aws: {repo}");
        assert!(readme.contains(&format!("`{repo}`")), "README does not name {repo} ({name})");
    }
}
