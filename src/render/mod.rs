//! Rendering: (config, secrets, templates) → the six artifacts, as text. No I/O, no cluster.
//!
//! Templates are the minijinja files under `charts/`, compiled into the binary; `--charts DIR`
//! renders from a user's own copy instead. Values that the templates need but the config does
//! not spell out (role ARNs, the autoscaler image, zones) are derived once, in [`derive`], so
//! templates stay declarative.

mod context;
pub mod guard;
pub mod in_cluster;
mod templates;

pub use context::{Derived, derive};
pub use templates::Templates;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::secrets::Secrets;

/// What a rendered file is, which decides how later stages treat it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactKind {
    EksctlCluster,
    DaskhubValues,
    StorageClass,
    ClusterAutoscaler,
    /// The admission policy that guards our objects against a client-side `kubectl apply`.
    Guard,
    EbsCsiValues,
}

impl ArtifactKind {
    /// Kubernetes manifests are applied by `apply`; the others are Helm values or eksctl input.
    pub fn is_manifest(self) -> bool {
        matches!(self, ArtifactKind::StorageClass | ArtifactKind::ClusterAutoscaler | ArtifactKind::Guard)
    }
}

#[derive(Clone, Debug)]
pub struct Artifact {
    pub file_name: &'static str,
    pub kind: ArtifactKind,
    pub text: String,
    /// Holds tokens or the password hash (`daskhub.yaml`, unless `secrets.inCluster`): written
    /// 0600 and listed in the output folder's `.gitignore`.
    pub holds_secrets: bool,
}

impl Artifact {
    /// The rendered file's YAML documents. Our templates always give valid YAML; a template a
    /// user edited (`--charts`) may not, and that is reported against the file.
    pub fn documents(&self) -> Result<Vec<crate::yaml::Node>> {
        crate::yaml::parse_documents(&self.text).map_err(|e| self.invalid(e))
    }

    /// The rendered file as one YAML document (a values file).
    pub fn document(&self) -> Result<crate::yaml::Node> {
        crate::yaml::parse_single(&self.text).map_err(|e| self.invalid(e))
    }

    fn invalid(&self, e: crate::yaml::ParseError) -> Error {
        Error::Template {
            name: self.file_name.to_string(),
            message: format!("rendered YAML is invalid at line {}: {}", e.pos.line, e.message),
        }
    }
}

/// What the first line of every rendered file says; `values` overwrites only files that carry it.
pub const RENDERED_MARK: &str = "rendered by pangeo-render";

/// The six artifacts, in the order a user applies them: the guard before the objects it guards.
pub const ARTIFACTS: &[(&str, &str, ArtifactKind)] = &[
    ("cluster.yaml", "cluster.yaml.j2", ArtifactKind::EksctlCluster),
    ("guard.yaml", "guard.yaml.j2", ArtifactKind::Guard),
    ("cluster-autoscaler.yaml", "cluster-autoscaler.yaml.j2", ArtifactKind::ClusterAutoscaler),
    ("aws-ebs-csi-driver.yaml", "aws-ebs-csi-driver.yaml.j2", ArtifactKind::EbsCsiValues),
    ("storageclass.yaml", "storageclass.yaml.j2", ArtifactKind::StorageClass),
    ("daskhub.yaml", "daskhub.yaml.j2", ArtifactKind::DaskhubValues),
];

/// Renders every artifact. `source` is the config's file name, quoted in each file's header.
pub fn render(
    config: &Config,
    secrets: &Secrets,
    templates: &Templates,
    source: &str,
) -> Result<Vec<Artifact>> {
    let env = templates.environment()?;
    let derived = derive(config);
    let config_value = minijinja::Value::from(minijinja::value::Serde(config));
    let secrets_value = minijinja::Value::from(minijinja::value::Serde(secrets));
    let derived_value = minijinja::Value::from(minijinja::value::Serde(&derived));
    let gateway_image = config.gateway_image().reference();

    let snippet_ctx = minijinja::context! {
        config => config_value.clone(),
        gateway_image => gateway_image.clone(),
    };
    let render_one = |name: &str, ctx: &minijinja::Value| -> Result<String> {
        let tmpl = env.get_template(name).map_err(|e| template_error(name, &e))?;
        tmpl.render(ctx).map_err(|e| template_error(name, &e))
    };
    let authenticator = templates.raw("daskhub/authenticator.py")?;
    // A kept handler (daskGateway.optionHandler) goes in exactly as its file says; ours is
    // generated from daskGateway.worker and image. Either way a YAML scalar that reads back as
    // the very text (the values the cluster has must be what is rendered, byte for byte).
    let options_handler = match &config.dask_gateway.option_handler {
        Some(kept) => kept.code.clone().ok_or_else(|| Error::Template {
            name: "daskhub.yaml.j2".into(),
            message: format!(
                "daskGateway.optionHandler: {} was not read (config::read_option_handler)",
                kept.file.display()
            ),
        })?,
        None => {
            let mut code = render_one("daskhub/gateway-options.py.j2", &snippet_ctx)?;
            code.truncate(code.trim_end().len());
            code.push('\n');
            code
        }
    };

    let ctx = minijinja::context! {
        c => config_value.clone(),
        config => config_value,
        s => secrets_value,
        d => derived_value,
        source => source,
        gateway_image => gateway_image,
        authenticator => authenticator.trim_end(),
        // Its YAML value (charts/daskhub.yaml.j2), and the bare text as templates copied from
        // older versions (`--charts`) use it, after `optionHandler: |`.
        options_handler_value => crate::yaml::scalar_for_text(&options_handler, 6),
        options_handler => options_handler.trim_end(),
    };
    ARTIFACTS
        .iter()
        .map(|(file_name, template, kind)| {
            let mut text = render_one(template, &ctx)?;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            let holds_secrets = *kind == ArtifactKind::DaskhubValues && !config.secrets.in_cluster;
            Ok(Artifact { file_name, kind: *kind, text, holds_secrets })
        })
        .collect()
}

fn template_error(name: &str, e: &minijinja::Error) -> Error {
    // minijinja's Display carries the line; the detailed form adds the source snippet.
    let mut message = e.to_string();
    if let Some(detail) = e.detail()
        && !message.contains(detail)
    {
        message.push_str(": ");
        message.push_str(detail);
    }
    Error::Template { name: name.to_string(), message }
}
