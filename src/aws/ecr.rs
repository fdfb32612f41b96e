//! Amazon ECR registries that serve EKS add-on images (such as the EBS CSI driver), per Region.
//!
//! Source: AWS EKS User Guide "View Amazon container image registries for Amazon EKS add-ons"
//! (https://docs.aws.amazon.com/eks/latest/userguide/add-ons-images.html, awsdocs commit
//! 1cc6ebb4), cross-checked with eksctl's `EKSResourceAccountID()` (99984adb). Regions not listed
//! use the default account 602401143452. The EBS CSI chart (2.64.0) defaults to
//! public.ecr.aws, so the regional registry is only used when the config asks for it.

const DEFAULT_ACCOUNT: &str = "602401143452";

const ACCOUNTS: &[(&str, &str)] = &[
    ("af-south-1", "877085696533"),
    ("ap-east-1", "800184023465"),
    ("ap-east-2", "533267051163"),
    ("ap-south-2", "900889452093"),
    ("ap-southeast-3", "296578399912"),
    ("ap-southeast-4", "491585149902"),
    ("ap-southeast-5", "151610086707"),
    ("ap-southeast-6", "333609536671"),
    ("ap-southeast-7", "121268973566"),
    ("ca-west-1", "761377655185"),
    ("cn-north-1", "918309763551"),
    ("cn-northwest-1", "961992271922"),
    ("eu-central-2", "900612956339"),
    ("eu-south-1", "590381155156"),
    ("eu-south-2", "455263428931"),
    ("il-central-1", "066635153087"),
    ("me-central-1", "759879836304"),
    ("me-south-1", "558608220178"),
    ("mx-central-1", "730335286997"),
    ("us-gov-east-1", "151742754352"),
    ("us-gov-west-1", "013241004608"),
];

/// `<account>.dkr.ecr.<region>.<suffix>` for a Region.
pub fn registry(region: &str) -> String {
    let account = ACCOUNTS.iter().find(|(r, _)| *r == region).map(|(_, a)| *a).unwrap_or(DEFAULT_ACCOUNT);
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("{account}.dkr.ecr.{region}.{suffix}")
}
