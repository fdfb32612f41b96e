//! Proves that the test control plane is a real kube-apiserver: what these tests
//! assert (server-side apply merging, managedFields, conflicts, immutable fields,
//! RBAC) is the API server's own behaviour, which no mock would reproduce.

#[path = "support/cluster.rs"]
mod cluster;

use cluster::{TestCluster, unique_name};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::Status;
use serde_json::json;
use std::collections::BTreeMap;

/// The status of an API error; panics on success or on a non-API error.
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Box<Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Creates a StorageClass (as field manager `smoke-create`) and returns its name.
async fn create_storage_class(api: &Api<StorageClass>, prefix: &str) -> String {
    let name = unique_name(prefix);
    let sc = StorageClass {
        metadata: ObjectMeta { name: Some(name.clone()), ..Default::default() },
        provisioner: "ebs.csi.aws.com".into(),
        parameters: Some(BTreeMap::from([("type".into(), "gp3".into())])),
        reclaim_policy: Some("Delete".into()),
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        ..Default::default()
    };
    let pp = PostParams { field_manager: Some("smoke-create".into()), ..Default::default() };
    api.create(&pp, &sc).await.expect("create StorageClass");
    name
}

#[tokio::test]
async fn namespace_and_storage_class_are_stored() {
    let Some(cluster) = TestCluster::try_get() else { return };
    let client = cluster.admin_client().await;

    // The version comes from the build's -X flags: the server says what it is.
    let version = client.apiserver_version().await.expect("/version");
    assert_eq!(version.major, "1");
    assert!(!version.minor.is_empty(), "{version:?}");
    assert!(version.git_version.starts_with("v1."), "{version:?}");
    assert!(!version.git_version.contains("master"), "{version:?}");

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns_name = unique_name("smoke-ns");
    let ns = Namespace {
        metadata: ObjectMeta { name: Some(ns_name.clone()), ..Default::default() },
        ..Default::default()
    };
    let created = namespaces.create(&PostParams::default(), &ns).await.expect("create namespace");
    // Set by the server, not by us.
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let fetched = namespaces.get(&ns_name).await.expect("get namespace");
    assert_eq!(fetched.metadata.uid, created.metadata.uid);
    // Admission (NamespaceLifecycle defaults) sets the kubernetes.io/metadata.name label.
    let labels = fetched.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("kubernetes.io/metadata.name"), Some(&ns_name));

    // The helper's namespaces are real too.
    let helper_ns = cluster.namespace("smoke-helper");
    namespaces.get(&helper_ns).await.expect("helper namespace");

    let classes: Api<StorageClass> = Api::all(client);
    let sc_name = create_storage_class(&classes, "smoke-sc").await;
    let sc = classes.get(&sc_name).await.expect("get StorageClass");
    assert_eq!(sc.provisioner, "ebs.csi.aws.com");
    assert_eq!(sc.parameters.unwrap_or_default().get("type").map(String::as_str), Some("gp3"));
}

#[tokio::test]
async fn server_side_apply_dry_run_returns_merged_object() {
    let Some(cluster) = TestCluster::try_get() else { return };
    let client = cluster.admin_client().await;
    let classes: Api<StorageClass> = Api::all(client);
    let name = create_storage_class(&classes, "smoke-ssa").await;

    // Apply only a label and a mutable field; the server merges it with the stored object.
    let patch = json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": { "name": name, "labels": { "app.kubernetes.io/part-of": "pangeo" } },
        "allowVolumeExpansion": true,
    });
    let params = PatchParams::apply("pangeo-render").dry_run();
    let merged =
        classes.patch(&name, &params, &Patch::Apply(&patch)).await.expect("server-side apply dry-run");

    // Fields from the stored object are kept, the applied ones are added.
    assert_eq!(merged.provisioner, "ebs.csi.aws.com");
    assert_eq!(merged.parameters.as_ref().and_then(|p| p.get("type")).map(String::as_str), Some("gp3"));
    assert_eq!(merged.allow_volume_expansion, Some(true));
    let labels = merged.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("app.kubernetes.io/part-of").map(String::as_str), Some("pangeo"));

    // managedFields records both managers and what each owns.
    let managed = merged.metadata.managed_fields.clone().unwrap_or_default();
    let entry = |manager: &str| {
        managed
            .iter()
            .find(|m| m.manager.as_deref() == Some(manager))
            .unwrap_or_else(|| panic!("no managedFields entry for {manager}: {managed:#?}"))
    };
    let ours = entry("pangeo-render");
    assert_eq!(ours.operation.as_deref(), Some("Apply"));
    let owned = serde_json::to_string(&ours.fields_v1).unwrap();
    assert!(owned.contains("f:allowVolumeExpansion"), "{owned}");
    assert!(!owned.contains("f:provisioner"), "{owned}");
    assert_eq!(entry("smoke-create").operation.as_deref(), Some("Update"));

    // dryRun=All persisted nothing.
    let stored = classes.get(&name).await.expect("get StorageClass");
    assert_eq!(stored.allow_volume_expansion, None);
    assert!(stored.metadata.labels.unwrap_or_default().is_empty());
    assert_eq!(stored.metadata.resource_version, merged.metadata.resource_version);
}

#[tokio::test]
async fn storage_class_provisioner_is_immutable() {
    let Some(cluster) = TestCluster::try_get() else { return };
    let client = cluster.admin_client().await;
    let classes: Api<StorageClass> = Api::all(client);
    let name = create_storage_class(&classes, "smoke-immutable").await;
    let patch = json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": { "name": name },
        "provisioner": "kubernetes.io/aws-ebs",
    });

    // Without force, another manager's field is a conflict (409).
    let status =
        api_error(classes.patch(&name, &PatchParams::apply("pangeo-render"), &Patch::Apply(&patch)).await);
    assert_eq!(status.code, 409, "{status:?}");
    assert_eq!(status.reason, "Conflict", "{status:?}");
    assert!(status.message.contains(r#"conflict with "smoke-create""#), "{status:?}");
    assert!(status.message.contains(".provisioner"), "{status:?}");

    // Forced, ownership passes to us, and validation refuses the change (422).
    let status = api_error(
        classes.patch(&name, &PatchParams::apply("pangeo-render").force(), &Patch::Apply(&patch)).await,
    );
    assert_eq!(status.code, 422, "{status:?}");
    assert_eq!(status.reason, "Invalid", "{status:?}");
    assert!(
        status.message.contains("provisioner: Forbidden: updates to provisioner are forbidden"),
        "{status:?}"
    );

    let stored = classes.get(&name).await.expect("get StorageClass");
    assert_eq!(stored.provisioner, "ebs.csi.aws.com");
}

#[tokio::test]
async fn read_only_identities_are_forbidden_to_create() {
    let Some(cluster) = TestCluster::try_get() else { return };
    let ns = cluster.namespace("smoke-rbac");
    let cm = ConfigMap {
        metadata: ObjectMeta { name: Some("probe".into()), ..Default::default() },
        data: Some(BTreeMap::from([("k".into(), "v".into())])),
        ..Default::default()
    };

    // `viewer` is bound to ClusterRole view: it may read, but not create.
    let viewer: Api<ConfigMap> = Api::namespaced(cluster.viewer_client().await, &ns);
    viewer.list(&Default::default()).await.expect("viewer may list");
    let status = api_error(viewer.create(&PostParams::default(), &cm).await);
    assert_eq!(status.code, 403, "{status:?}");
    assert_eq!(status.reason, "Forbidden", "{status:?}");
    assert!(status.message.contains(r#"User "viewer" cannot create resource "configmaps""#), "{status:?}");

    // `reader` has no bindings: not even a namespace may be created.
    let reader: Api<Namespace> = Api::all(cluster.reader_client().await);
    let ns_obj = Namespace {
        metadata: ObjectMeta { name: Some(unique_name("smoke-denied")), ..Default::default() },
        ..Default::default()
    };
    let status = api_error(reader.create(&PostParams::default(), &ns_obj).await);
    assert_eq!(status.code, 403, "{status:?}");
    assert!(status.message.contains(r#"User "reader" cannot create resource "namespaces""#), "{status:?}");

    // The same request as admin works, so the 403s are RBAC, not a broken request.
    let admin: Api<ConfigMap> = Api::namespaced(cluster.admin_client().await, &ns);
    admin.create(&PostParams::default(), &cm).await.expect("admin may create");
}
