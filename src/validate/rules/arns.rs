//! ARNs of the config and across files: well-formed for their service (PR004), in the cluster's
//! partition and Region (PR005), one AWS account for the KMS keys, the ACM certificate and the IAM
//! roles (PR006), and HTTPS offload with a certificate (PR021). eksctl only checks that `keyARN` parses; Helm and the
//! load balancer controller find the rest out minutes later, in events nobody reads.

use crate::aws::{arn, regions};
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

/// One ARN to check: its service, where it is, and the Region its resources must be in.
struct Checked<'a> {
    service: Service,
    fact: &'a Fact<String>,
    region: Option<&'a Fact<String>>,
    /// A malformed ACM ARN in the HTTPS annotation is PR021's to report; anywhere else PR004's.
    format_is_https: bool,
}

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    // The config's ARNs first, against the config's own Region: what the user declared is the
    // reference when accounts disagree. Then the artifacts' ARNs, against the cluster's Region.
    let mut arns: Vec<Checked> = Vec::new();
    if let Some(cfg) = d.config {
        let region = cfg.cluster.region.as_ref();
        let config_arns = (cfg.cluster.kms_key.iter().map(|f| (Service::Kms, f)))
            .chain(cfg.storage_kms_key.iter().map(|f| (Service::Kms, f)))
            .chain(cfg.hub.certificate.iter().map(|f| (Service::Acm, f)));
        arns.extend(config_arns.map(|(service, fact)| Checked {
            service,
            fact,
            region,
            format_is_https: false,
        }));
    }
    let region = d.region();
    let mut artifact = |service, fact| arns.push(Checked { service, fact, region, format_is_https: false });
    if let Some(c) = d.cluster {
        c.kms_key.iter().for_each(|f| artifact(Service::Kms, f));
    }
    for m in &d.manifests {
        m.storage_classes.iter().filter_map(|s| s.kms_key.as_ref()).for_each(|f| artifact(Service::Kms, f));
        m.role_arns.iter().for_each(|f| artifact(Service::Role, f));
    }
    if let Some(e) = d.ebs {
        e.role_arn.iter().for_each(|f| artifact(Service::Role, f));
    }
    if let Some(c) = d.hub.and_then(|h| h.certificate.as_ref()) {
        arns.push(Checked { service: Service::Acm, fact: c, region, format_is_https: true });
    }
    https(d, out);

    let mut accounts: Vec<(String, Service, &Fact<String>)> = Vec::new();
    for c in &arns {
        let f = c.fact;
        if is_placeholder(&f.value) {
            continue; // reported as a placeholder (PR003)
        }
        match c.service.parse(&f.value) {
            Err(e) => {
                if !c.format_is_https {
                    out.push(
                        f.error(ids::ARN_FORMAT, format!("not a valid {} ARN: {e}", c.service.what()))
                            .hint(format!("it looks like {}", c.service.example())),
                    );
                }
            }
            Ok(a) => {
                if let Some(r) = c.region.filter(|r| !is_placeholder(&r.value)) {
                    where_it_lives(c.service, f, &a, r, out);
                }
                accounts.push((a.account.to_string(), c.service, f));
            }
        }
    }
    one_account(&accounts, out);
}

/// PR005: an ARN names the partition of the cluster's Region (`aws-cn` ARNs exist only in the
/// China Regions, `aws-us-gov` in GovCloud), and a KMS key or certificate is in the Region itself.
fn where_it_lives(
    service: Service,
    f: &Fact<String>,
    a: &arn::Arn,
    r: &Fact<String>,
    out: &mut Vec<Diagnostic>,
) {
    // An unknown Region is PR007's; comparing with it would only repeat that.
    let Some(region) = regions::find(&r.value) else { return };
    if a.partition != region.partition {
        out.push(
            f.error(
                ids::ARN_REGION,
                format!(
                    "the {} is in partition `{}`, but the cluster's Region {} is in partition `{}`",
                    service.what(),
                    a.partition,
                    region.code,
                    region.partition
                ),
            )
            .hint(format!(
                "ARNs of this deployment start with arn:{}: (or choose a Region of partition `{}`)",
                region.partition, a.partition
            )),
        );
        return;
    }
    if service != Service::Role && a.region != r.value {
        let hint = match service {
            Service::Acm => {
                "a load balancer can only use an ACM certificate from its own Region; request one there"
            }
            _ => "EKS and EBS need a KMS key in the cluster's Region; create or replicate one there",
        };
        out.push(
            f.error(
                ids::ARN_REGION,
                format!("the {} is in `{}`, the cluster in `{}`", service.what(), a.region, r.value),
            )
            .hint(hint),
        );
    }
}

/// PR006: every ARN of a deployment names one AWS account. The account most ARNs name (on a tie,
/// the first declared) is taken as meant; each ARN naming another is reported at its own field.
fn one_account(accounts: &[(String, Service, &Fact<String>)], out: &mut Vec<Diagnostic>) {
    let count = |acct: &str| accounts.iter().filter(|(a, _, _)| a == acct).count();
    let Some((meant, service, fact)) = accounts.iter().max_by(|x, y| {
        // max_by keeps the last of equals: compare so that earlier entries win ties.
        count(&x.0).cmp(&count(&y.0)).then(std::cmp::Ordering::Greater)
    }) else {
        return;
    };
    let others = count(meant);
    for (acct, other, f) in accounts {
        if acct != meant && !std::ptr::eq(*f, *fact) {
            let rest = match others {
                1 => format!("the {} names account {meant}", service.what()),
                n => format!("{n} other ARNs name account {meant}"),
            };
            out.push(
                f.error(
                    ids::ARN_ACCOUNT,
                    format!("this {} belongs to account {acct}, but {rest}", other.what()),
                )
                .hint(format!(
                    "all resources of one deployment live in one AWS account (account {meant}: the {} at {}:{})",
                    service.what(),
                    fact.loc.file.display(),
                    fact.loc.pos.line
                )),
            );
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
