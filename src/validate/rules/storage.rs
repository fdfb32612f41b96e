//! PR022, StorageClasses: exactly one default among the rendered ones (EKS clusters from 1.30 on
//! have none, and two defaults make PVC binding ambiguous), encrypted volumes (`encrypted:
//! "true"`, a string), and the EBS CSI driver as provisioner (the in-tree
//! `kubernetes.io/aws-ebs` provisioner is gone from current Kubernetes).

use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::validate::facts::{DEFAULT_CLASS, StorageClassFacts};
use crate::validate::rules::Deployment;

const PROVISIONER: &str = "ebs.csi.aws.com";

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    let classes: Vec<&StorageClassFacts> = d.manifests.iter().flat_map(|m| &m.storage_classes).collect();
    if classes.is_empty() {
        return;
    }
    for sc in &classes {
        let name = sc.name.as_ref().map_or("?", |n| n.value.as_str());
        match &sc.provisioner {
            Some(p) if p.value == PROVISIONER => {}
            Some(p) => out.push(
                p.error(ids::STORAGE_CLASS, format!("StorageClass `{name}` is provisioned by `{}`", p.value))
                    .hint(format!("use provisioner: {PROVISIONER} (the EBS CSI driver)")),
            ),
            None => {} // the schema reports the missing field
        }
        match &sc.encrypted {
            Some(e) if e.value == "true" && sc.encrypted_is_string => {}
            Some(e) if e.value == "true" => {} // unquoted true: the schema says it must be a string
            Some(e) => out.push(
                e.error(ids::STORAGE_CLASS, format!("StorageClass `{name}` does not encrypt volumes"))
                    .hint("set parameters.encrypted: \"true\" (a quoted string)"),
            ),
            None => out.push(
                sc.parameters_loc
                    .error(ids::STORAGE_CLASS, format!("StorageClass `{name}` does not encrypt volumes"))
                    .hint("add parameters.encrypted: \"true\" (a quoted string)"),
            ),
        }
    }
    let defaults: Vec<_> = classes.iter().filter(|c| c.default.is_some()).collect();
    // A config with `storageClass.default: false` deliberately ships no default class.
    let want_default = d.config.is_none_or(|c| c.config.storage_class.default);
    match defaults.len() {
        0 if want_default => out.push(
            classes[0]
                .loc
                .error(ids::STORAGE_CLASS, "no StorageClass is marked as the default")
                .hint(format!("annotate one with {DEFAULT_CLASS}: \"true\"; EKS clusters from 1.30 on have no default class, so users' volumes would stay Pending")),
        ),
        0 | 1 => {}
        _ => {
            for c in &defaults[1..] {
                let name = c.name.as_ref().map_or("?", |n| n.value.as_str());
                out.push(
                    c.default
                        .as_ref()
                        .unwrap_or(&c.loc)
                        .error(ids::STORAGE_CLASS, format!("StorageClass `{name}` is a second default class"))
                        .hint("keep the default-class annotation on exactly one StorageClass"),
                );
            }
        }
    }
}
