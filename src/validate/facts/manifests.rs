//! Kubernetes manifests and the EBS CSI driver's values.

use std::path::Path;

use super::{Fact, Loc, Reader, scalar_text};
use crate::yaml::Node;

#[derive(Clone, Debug)]
pub struct StorageClassFacts {
    pub name: Option<Fact<String>>,
    pub loc: Loc,
    /// The `is-default-class` annotation, when it is "true".
    pub default: Option<Loc>,
    pub provisioner: Option<Fact<String>>,
    pub provisioner_loc: Loc,
    /// `parameters.encrypted` as written (any scalar), with its location.
    pub encrypted: Option<Fact<String>>,
    pub encrypted_is_string: bool,
    pub parameters_loc: Loc,
    pub kms_key: Option<Fact<String>>,
}

#[derive(Clone, Debug)]
pub struct AutoscalerFacts {
    pub image: Option<Fact<String>>,
    /// The `--node-group-auto-discovery=…` argument, without the flag name.
    pub discovery: Option<Fact<String>>,
    pub container_loc: Loc,
}

/// Everything read from one file of Kubernetes manifests.
#[derive(Clone, Debug, Default)]
pub struct ManifestFacts {
    pub storage_classes: Vec<StorageClassFacts>,
    pub autoscalers: Vec<AutoscalerFacts>,
    /// `eks.amazonaws.com/role-arn` annotations on ServiceAccounts.
    pub role_arns: Vec<Fact<String>>,
}

pub const ROLE_ARN: &str = "eks.amazonaws.com/role-arn";
pub const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const DISCOVERY_FLAG: &str = "--node-group-auto-discovery=";

impl ManifestFacts {
    pub fn from_docs(file: &Path, docs: &[Node]) -> ManifestFacts {
        let mut out = ManifestFacts::default();
        for doc in docs {
            let r = Reader::new(file, doc);
            match doc.get("kind").and_then(Node::as_str) {
                Some("StorageClass") => out.storage_classes.push(StorageClassFacts {
                    name: r.string(&["metadata", "name"]),
                    loc: r.loc(&[]),
                    default: r
                        .string(&["metadata", "annotations", DEFAULT_CLASS])
                        .filter(|f| f.value == "true")
                        .map(|f| f.loc),
                    provisioner: r.string(&["provisioner"]),
                    provisioner_loc: r.key_loc(&["provisioner"]),
                    encrypted: r.node(&["parameters", "encrypted"]).and_then(|n| {
                        Some(Fact { value: scalar_text(n)?, loc: r.loc(&["parameters", "encrypted"]) })
                    }),
                    encrypted_is_string: r.string(&["parameters", "encrypted"]).is_some(),
                    parameters_loc: r.key_loc(&["parameters"]),
                    kms_key: r.string(&["parameters", "kmsKeyId"]),
                }),
                Some("ServiceAccount") => {
                    out.role_arns.extend(r.string(&["metadata", "annotations", ROLE_ARN]));
                }
                Some("Deployment") => {
                    let containers =
                        r.node(&["spec", "template", "spec", "containers"]).map(Node::as_seq).unwrap_or(&[]);
                    for (i, c) in containers.iter().enumerate() {
                        let is_autoscaler = c
                            .get("image")
                            .and_then(Node::as_str)
                            .is_some_and(|im| im.contains("cluster-autoscaler"))
                            || c.get("name").and_then(Node::as_str) == Some("cluster-autoscaler");
                        if !is_autoscaler {
                            continue;
                        }
                        let idx = i.to_string();
                        let cp = ["spec", "template", "spec", "containers", idx.as_str()];
                        let mut discovery = None;
                        for list in ["command", "args"] {
                            for f in r.strings(&[&cp[..], &[list]].concat()) {
                                if let Some(v) = f.value.strip_prefix(DISCOVERY_FLAG) {
                                    discovery = Some(Fact { value: v.to_string(), loc: f.loc });
                                }
                            }
                        }
                        out.autoscalers.push(AutoscalerFacts {
                            image: r.string(&[&cp[..], &["image"]].concat()),
                            discovery,
                            container_loc: r.loc(&cp),
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }
}

#[derive(Clone, Debug)]
pub struct EbsFacts {
    pub role_arn: Option<Fact<String>>,
}

impl EbsFacts {
    pub fn from_values(file: &Path, root: &Node) -> EbsFacts {
        let r = Reader::new(file, root);
        EbsFacts { role_arn: r.string(&["controller", "serviceAccount", "annotations", ROLE_ARN]) }
    }
}
