//! Amazon Resource Names: `arn:partition:service:region:account:resource`.
//!
//! Formats from the AWS IAM User Guide ("IAM identifiers") and FINDINGS §7: KMS keys
//! `arn:aws:kms:REGION:ACCOUNT:key/UUID` (or `mrk-` + 32 hex for multi-Region keys, or an
//! `alias/NAME`), ACM certificates `arn:aws:acm:REGION:ACCOUNT:certificate/UUID`, IAM roles
//! `arn:aws:iam::ACCOUNT:role/NAME` (no Region).

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

pub fn parse(text: &str) -> Result<Arn<'_>, String> {
    let Some(rest) = text.strip_prefix("arn:") else {
        return Err("an ARN starts with `arn:`".into());
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if parts.len() != 5 {
        return Err(
            "an ARN has six `:`-separated parts: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE".into()
        );
    }
    let arn = Arn {
        partition: parts[0],
        service: parts[1],
        region: parts[2],
        account: parts[3],
        resource: parts[4],
    };
    if !matches!(arn.partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Err(format!("unknown partition `{}` (expected aws, aws-cn or aws-us-gov)", arn.partition));
    }
    if arn.account.len() != 12 || !arn.account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the account id `{}` is not 12 digits", arn.account));
    }
    Ok(arn)
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A KMS key for EKS secrets encryption or EBS volumes.
pub fn parse_kms_key(text: &str) -> Result<Arn<'_>, String> {
    let arn = parse(text)?;
    if arn.service != "kms" {
        return Err(format!("this is a `{}` ARN, a KMS key ARN is expected", arn.service));
    }
    let ok = match arn.resource.split_once('/') {
        Some(("key", id)) => {
            is_uuid(id)
                || id
                    .strip_prefix("mrk-")
                    .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        }
        Some(("alias", name)) => !name.is_empty(),
        _ => false,
    };
    if !ok {
        return Err("the resource part must be `key/<key-id>` (a UUID or mrk-…) or `alias/<name>`".into());
    }
    Ok(arn)
}

/// An ACM certificate for the load balancer's HTTPS listener.
pub fn parse_certificate(text: &str) -> Result<Arn<'_>, String> {
    let arn = parse(text)?;
    if arn.service != "acm" {
        return Err(format!("this is a `{}` ARN, an ACM certificate ARN is expected", arn.service));
    }
    match arn.resource.split_once('/') {
        Some(("certificate", id)) if is_uuid(id) => Ok(arn),
        _ => Err("the resource part must be `certificate/<uuid>`".into()),
    }
}

/// An IAM role, as in the `eks.amazonaws.com/role-arn` annotation.
pub fn parse_role(text: &str) -> Result<Arn<'_>, String> {
    let arn = parse(text)?;
    if arn.service != "iam" || !arn.region.is_empty() {
        return Err("an IAM role ARN looks like arn:aws:iam::ACCOUNT:role/NAME".into());
    }
    match arn.resource.split_once('/') {
        Some(("role", name)) if !name.is_empty() => Ok(arn),
        _ => Err("the resource part must be `role/<name>`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds() {
        let k = parse_kms_key("arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
            .unwrap();
        assert_eq!((k.region, k.account), ("us-west-2", "123456789012"));
        assert!(
            parse_kms_key("arn:aws:kms:us-west-2:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab")
                .is_ok()
        );
        assert!(parse_kms_key("<insert-your-kms-key-arn-here>").is_err());
        assert!(parse_kms_key("arn:aws:kms:us-west-2:12345:key/x").is_err());
        assert!(
            parse_certificate(
                "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
            )
            .is_ok()
        );
        assert!(parse_role("arn:aws:iam::123456789012:role/eksctl-cluster-autoscaler-role").is_ok());
        assert!(parse_role("arn:aws:iam:us-west-2:123456789012:role/x").is_err());
    }
}
