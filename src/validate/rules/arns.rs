//! ARNs across files: well-formed for their service (PR004), in the cluster's Region (PR005), one
//! AWS account for the KMS keys, the ACM certificate and the IAM roles (PR006), and HTTPS
//! offload with a certificate (PR021). eksctl only checks that `keyARN` parses; Helm and the
//! load balancer controller find the rest out minutes later, in events nobody reads.

use crate::aws::arn;
use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::validate::facts::{Fact, SSL_CERT};
use crate::validate::rules::Deployment;
use crate::validate::rules::placeholders::is_placeholder;

#[derive(Clone, Copy, PartialEq)]
enum Service {
    Kms,
    Acm,
    Role,
}

impl Service {
    fn parse(self, text: &str) -> Result<arn::Arn<'_>, String> {
        match self {
            Service::Kms => arn::parse_kms_key(text),
            Service::Acm => arn::parse_certificate(text),
            Service::Role => arn::parse_role(text),
        }
    }
    fn what(self) -> &'static str {
        match self {
            Service::Kms => "KMS key",
            Service::Acm => "ACM certificate",
            Service::Role => "IAM role",
        }
    }
    fn example(self) -> &'static str {
        match self {
            Service::Kms => "arn:aws:kms:REGION:ACCOUNT:key/KEY-ID",
            Service::Acm => "arn:aws:acm:REGION:ACCOUNT:certificate/UUID",
            Service::Role => "arn:aws:iam::ACCOUNT:role/NAME",
        }
    }
}

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    // Artifact ARNs: these are checked here. Config ARNs are checked by the config loader and
    // join only the account comparison.
    let mut arns: Vec<(Service, &Fact<String>)> = Vec::new();
    if let Some(c) = d.cluster {
        arns.extend(c.kms_key.iter().map(|f| (Service::Kms, f)));
    }
    for m in &d.manifests {
        arns.extend(m.storage_classes.iter().filter_map(|s| s.kms_key.as_ref()).map(|f| (Service::Kms, f)));
        arns.extend(m.role_arns.iter().map(|f| (Service::Role, f)));
    }
    if let Some(e) = d.ebs {
        arns.extend(e.role_arn.iter().map(|f| (Service::Role, f)));
    }
    let certificate = d.hub.and_then(|h| h.certificate.as_ref());
    https(d, out);

    let region = d.region();
    let mut accounts: Vec<(String, Service, &Fact<String>)> = Vec::new();
    if let Some(cfg) = d.config {
        // The config's KMS key comes first: it is what the user declared.
        if let Some(k) = &cfg.cluster.kms_key
            && let Ok(a) = arn::parse(&k.value)
        {
            accounts.push((a.account.to_string(), Service::Kms, k));
        }
    }
    for (service, f) in arns.iter().copied().chain(certificate.map(|c| (Service::Acm, c))) {
        if is_placeholder(&f.value) {
            continue; // reported as a placeholder (PR003)
        }
        match service.parse(&f.value) {
            Err(e) => {
                // A bad certificate in the HTTPS annotation is PR021's to report.
                if service != Service::Acm {
                    out.push(
                        f.error(ids::ARN_FORMAT, format!("not a valid {} ARN: {e}", service.what()))
                            .hint(format!("it looks like {}", service.example())),
                    );
                }
            }
            Ok(a) => {
                if let Some(r) = region
                    && service != Service::Role
                    && a.region != r.value
                    && !is_placeholder(&r.value)
                {
                    let hint = match service {
                        Service::Acm => {
                            "a load balancer can only use an ACM certificate from its own Region; request one there"
                        }
                        _ => {
                            "EKS and EBS need a KMS key in the cluster's Region; create or replicate one there"
                        }
                    };
                    out.push(
                        f.error(
                            ids::ARN_REGION,
                            format!(
                                "the {} is in `{}`, the cluster in `{}`",
                                service.what(),
                                a.region,
                                r.value
                            ),
                        )
                        .hint(hint),
                    );
                }
                accounts.push((a.account.to_string(), service, f));
            }
        }
    }
    if let Some((first, first_service, first_fact)) = accounts.first().cloned() {
        for (acct, service, f) in &accounts[1..] {
            if *acct != first && !std::ptr::eq(*f, first_fact) {
                out.push(
                    f.error(
                        ids::ARN_ACCOUNT,
                        format!(
                            "the {} belongs to account {acct}, the {} to account {first}",
                            service.what(),
                            first_service.what()
                        ),
                    )
                    .hint(format!(
                        "all resources of one deployment live in one AWS account (the {} is at {}:{})",
                        first_service.what(),
                        first_fact.loc.file.display(),
                        first_fact.loc.pos.line
                    )),
                );
            }
        }
    }
}

/// PR021: `proxy.https.type: offload` ends TLS at the AWS load balancer, which needs the
/// certificate annotation with an ACM certificate ARN.
fn https(d: &Deployment, out: &mut Vec<Diagnostic>) {
    let Some(h) = d.hub else { return };
    let Some(offload) = &h.https_offload else { return };
    match &h.certificate {
        None => {
            let loc = h.annotations_loc.as_ref().unwrap_or(offload);
            out.push(
                loc.error(
                    ids::HTTPS,
                    format!("HTTPS offload is enabled but the proxy service has no `{SSL_CERT}` annotation"),
                )
                .hint("add the annotation with the ACM certificate ARN of the hub's domain"),
            );
        }
        Some(c) if is_placeholder(&c.value) => {}
        Some(c) => {
            if let Err(e) = arn::parse_certificate(&c.value) {
                out.push(
                    c.error(ids::HTTPS, format!("HTTPS offload needs an ACM certificate ARN here: {e}"))
                        .hint("copy it from the ACM console: arn:aws:acm:REGION:ACCOUNT:certificate/UUID"),
                );
            }
        }
    }
}
