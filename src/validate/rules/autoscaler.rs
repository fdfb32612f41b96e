//! The Cluster Autoscaler: its image minor must equal the cluster's Kubernetes minor (PR011, the
//! autoscaler README's rule), it should come from registry.k8s.io (k8s.gcr.io is frozen), and its
//! node-group discovery tag must name this cluster (PR012), or it never scales anything.

use crate::aws::autoscaler;
use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::validate::rules::Deployment;
use crate::validate::rules::placeholders::is_placeholder;

const TAG_PREFIX: &str = "k8s.io/cluster-autoscaler/";

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    let cluster = d.cluster_side();
    let minor = cluster.and_then(|c| c.version.as_ref()).filter(|v| v.value.matches('.').count() == 1);
    let name = cluster.and_then(|c| c.name.as_ref());
    for a in d.manifests.iter().flat_map(|m| &m.autoscalers) {
        if let Some(image) = &a.image {
            let (repo, tag) = split_image(&image.value);
            match tag {
                None => out.push(image.error(ids::IMAGE_TAG, "the autoscaler image has no tag").hint(
                    format!("pin a version, e.g. {}", autoscaler::image_for("1.34").unwrap_or_default()),
                )),
                Some(tag) if tag.contains(':') => {} // a digest: pinned, version unknown
                Some(tag) => {
                    let image_minor =
                        tag.trim_start_matches('v').split('.').take(2).collect::<Vec<_>>().join(".");
                    if let Some(v) = minor
                        && image_minor != v.value
                    {
                        let hint = match autoscaler::image_for(&v.value) {
                            Some(img) => format!("use {img}"),
                            None => format!("use a cluster-autoscaler release v{}.x", v.value),
                        };
                        out.push(
                            image
                                .error(ids::AUTOSCALER_IMAGE, format!("the autoscaler is {tag}, the cluster runs Kubernetes {}; their minor versions must match", v.value))
                                .hint(hint),
                        );
                    }
                }
            }
            if repo.starts_with("k8s.gcr.io/") {
                out.push(
                    image
                        .warning(
                            ids::AUTOSCALER_IMAGE,
                            "k8s.gcr.io is frozen and gets no new autoscaler releases",
                        )
                        .hint(format!("use {}", autoscaler::IMAGE_REPOSITORY)),
                );
            }
        }
        match &a.discovery {
            None => out.push(
                a.container_loc
                    .error(
                        ids::AUTOSCALER_TAG,
                        "the autoscaler has no --node-group-auto-discovery flag, so it manages no node group",
                    )
                    .hint(format!(
                        "add --node-group-auto-discovery=asg:tag={TAG_PREFIX}enabled,{TAG_PREFIX}CLUSTER-NAME"
                    )),
            ),
            Some(flag) if is_placeholder(&flag.value) => {} // PR003 says it
            Some(flag) => {
                let tags: Vec<&str> = flag.value.strip_prefix("asg:tag=").unwrap_or("").split(',').collect();
                let names: Vec<&str> = tags
                    .iter()
                    .filter_map(|t| t.strip_prefix(TAG_PREFIX))
                    .filter(|t| *t != "enabled")
                    .collect();
                if !tags.contains(&"k8s.io/cluster-autoscaler/enabled") || names.is_empty() {
                    out.push(
                        flag.error(
                            ids::AUTOSCALER_TAG,
                            "the discovery flag does not select node groups by the cluster's autoscaler tags",
                        )
                        .hint(format!("use asg:tag={TAG_PREFIX}enabled,{TAG_PREFIX}CLUSTER-NAME")),
                    );
                } else if let Some(n) = name
                    && !names.contains(&n.value.as_str())
                {
                    out.push(
                        flag.error(
                            ids::AUTOSCALER_TAG,
                            format!(
                                "the discovery tag names cluster `{}`, this cluster is `{}`",
                                names.join(","),
                                n.value
                            ),
                        )
                        .hint(format!("use asg:tag={TAG_PREFIX}enabled,{TAG_PREFIX}{}", n.value)),
                    );
                }
            }
        }
    }
}

/// `registry/path/name:tag` → (`registry/path/name`, `tag`); a `:` in the registry's port is not
/// a tag, and a digest (`@sha256:…`) counts as pinned.
pub fn split_image(image: &str) -> (&str, Option<&str>) {
    if let Some((name, digest)) = image.split_once('@') {
        return (split_image(name).0, Some(digest));
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            let tag = &image[at + 1..];
            (&image[..at], (!tag.is_empty()).then_some(tag))
        }
        None => (image, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_images() {
        assert_eq!(
            split_image("registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.5"),
            ("registry.k8s.io/autoscaling/cluster-autoscaler", Some("v1.34.5"))
        );
        assert_eq!(split_image("localhost:5000/x"), ("localhost:5000/x", None));
        assert_eq!(split_image("pangeo/base-notebook:"), ("pangeo/base-notebook", None));
        assert_eq!(split_image("x"), ("x", None));
        assert_eq!(split_image("a/b:v1@sha256:00"), ("a/b", Some("sha256:00")));
    }
}
