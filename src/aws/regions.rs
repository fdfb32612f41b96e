//! AWS Regions and the letters of their Availability Zones.
//!
//! Sources: the AWS "Regions and Availability Zones" documentation (EC2 User Guide,
//! `DescribeAvailabilityZones` per Region) and eksctl's `SupportedRegions()` in
//! pkg/apis/eksctl.io/v1alpha5/types.go (eksctl-io/eksctl 99984adb, 2026-08-21), as of 2026-11.
//! AZ *names* are mapped per account, but the set of letters a Region offers is fixed; Local Zones
//! (`us-west-2-lax-1a`) are not Availability Zones and are not listed.

pub struct Region {
    pub code: &'static str,
    pub partition: &'static str,
    pub zone_letters: &'static str,
}

const fn r(code: &'static str, partition: &'static str, zone_letters: &'static str) -> Region {
    Region { code, partition, zone_letters }
}

pub const REGIONS: &[Region] = &[
    r("us-east-1", "aws", "abcdef"),
    r("us-east-2", "aws", "abc"),
    r("us-west-1", "aws", "abc"),
    r("us-west-2", "aws", "abcd"),
    r("af-south-1", "aws", "abc"),
    r("ap-east-1", "aws", "abc"),
    r("ap-east-2", "aws", "abc"),
    r("ap-south-1", "aws", "abc"),
    r("ap-south-2", "aws", "abc"),
    r("ap-northeast-1", "aws", "acd"),
    r("ap-northeast-2", "aws", "abcd"),
    r("ap-northeast-3", "aws", "abc"),
    r("ap-southeast-1", "aws", "abc"),
    r("ap-southeast-2", "aws", "abc"),
    r("ap-southeast-3", "aws", "abc"),
    r("ap-southeast-4", "aws", "abc"),
    r("ap-southeast-5", "aws", "abc"),
    r("ap-southeast-6", "aws", "abc"),
    r("ap-southeast-7", "aws", "abc"),
    r("ca-central-1", "aws", "abd"),
    r("ca-west-1", "aws", "abc"),
    r("eu-central-1", "aws", "abc"),
    r("eu-central-2", "aws", "abc"),
    r("eu-north-1", "aws", "abc"),
    r("eu-south-1", "aws", "abc"),
    r("eu-south-2", "aws", "abc"),
    r("eu-west-1", "aws", "abc"),
    r("eu-west-2", "aws", "abc"),
    r("eu-west-3", "aws", "abc"),
    r("il-central-1", "aws", "abc"),
    r("me-central-1", "aws", "abc"),
    r("me-south-1", "aws", "abc"),
    r("mx-central-1", "aws", "abc"),
    r("sa-east-1", "aws", "abc"),
    r("cn-north-1", "aws-cn", "abd"),
    r("cn-northwest-1", "aws-cn", "abc"),
    r("us-gov-east-1", "aws-us-gov", "abc"),
    r("us-gov-west-1", "aws-us-gov", "abc"),
];

pub fn find(code: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.code == code)
}

impl Region {
    pub fn zones(&self) -> Vec<String> {
        self.zone_letters.chars().map(|c| format!("{}{c}", self.code)).collect()
    }

    pub fn has_zone(&self, zone: &str) -> bool {
        zone.strip_prefix(self.code)
            .filter(|rest| rest.len() == 1)
            .is_some_and(|letter| self.zone_letters.contains(letter))
    }
}

/// The closest known Region codes to a mistyped one, for hints.
pub fn suggest(code: &str) -> Option<&'static str> {
    REGIONS
        .iter()
        .map(|r| (strsim(code, r.code), r.code))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance; the lists are short, so the simple quadratic form is fine.
pub fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_belong_to_their_region() {
        let west = find("us-west-2").unwrap();
        assert!(west.has_zone("us-west-2a"));
        assert!(!west.has_zone("us-west-2z"));
        assert!(!west.has_zone("us-east-1a"));
        assert!(!west.has_zone("us-west-2-lax-1a"));
        assert_eq!(suggest("us-west2"), Some("us-west-2"));
    }
}
