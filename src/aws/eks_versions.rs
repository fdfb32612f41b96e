//! Kubernetes versions on Amazon EKS and their support windows.
//!
//! Source: AWS EKS User Guide, "Understand the Kubernetes version lifecycle on EKS"
//! (https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html, awsdocs commit
//! 0138560) for 1.25–1.34; endoflife.date's amazon-eks page for 1.35. 1.36 is left out: its only
//! source is an unofficial blog, and eksctl (v0.230) knows no 1.36 constant yet.
//! Standard support lasts 14 months from the EKS release, extended support 12 more; after that new
//! clusters cannot be created on the version. Dates are `YYYY-MM-DD`, compared as text.

pub struct EksVersion {
    pub version: &'static str,
    pub end_of_standard: &'static str,
    pub end_of_extended: &'static str,
}

const fn v(
    version: &'static str,
    end_of_standard: &'static str,
    end_of_extended: &'static str,
) -> EksVersion {
    EksVersion { version, end_of_standard, end_of_extended }
}

pub const VERSIONS: &[EksVersion] = &[
    v("1.35", "2027-03-27", "2028-03-27"),
    v("1.34", "2026-12-02", "2027-12-02"),
    v("1.33", "2026-07-29", "2027-07-29"),
    v("1.32", "2026-03-23", "2027-03-23"),
    v("1.31", "2025-11-26", "2026-11-26"),
    v("1.30", "2025-07-23", "2026-07-23"),
    v("1.29", "2025-03-23", "2026-03-23"),
    v("1.28", "2024-11-26", "2025-11-26"),
    v("1.27", "2024-07-24", "2025-07-24"),
    v("1.26", "2024-06-11", "2025-06-11"),
    v("1.25", "2024-05-01", "2025-05-01"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Standard,
    Extended { ends: &'static str },
    Ended { on: &'static str },
    Unknown,
}

pub fn support(version: &str, today: &str) -> Support {
    match VERSIONS.iter().find(|v| v.version == version) {
        None => Support::Unknown,
        Some(v) if today < v.end_of_standard => Support::Standard,
        Some(v) if today < v.end_of_extended => Support::Extended { ends: v.end_of_extended },
        Some(v) => Support::Ended { on: v.end_of_extended },
    }
}

/// The default for new configs: the newest version in standard support whose standard support
/// lasts longest is simply the newest one listed that is still standard.
pub fn default_version(today: &str) -> &'static str {
    VERSIONS.iter().find(|v| today < v.end_of_standard).map(|v| v.version).unwrap_or(VERSIONS[0].version)
}

/// Versions in standard support today, newest first.
pub fn standard(today: &str) -> Vec<&'static str> {
    VERSIONS.iter().filter(|v| support(v.version, today) == Support::Standard).map(|v| v.version).collect()
}

pub fn in_support(today: &str) -> Vec<&'static str> {
    VERSIONS.iter().filter(|v| today < v.end_of_extended).map(|v| v.version).collect()
}

/// Today's date (UTC) as `YYYY-MM-DD`. `PANGEO_RENDER_TODAY` overrides it so that tests and
/// reproducible runs do not change verdicts when a support window closes.
pub fn today() -> String {
    if let Ok(d) = std::env::var("PANGEO_RENDER_TODAY") {
        return d;
    }
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    civil_date(secs / 86_400)
}

/// Days since 1970-01-01 → `YYYY-MM-DD` (Howard Hinnant's civil-from-days algorithm).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_windows() {
        assert_eq!(support("1.34", "2026-11-25"), Support::Standard);
        assert_eq!(support("1.31", "2026-11-25"), Support::Extended { ends: "2026-11-26" });
        assert_eq!(support("1.28", "2026-11-25"), Support::Ended { on: "2025-11-26" });
        assert_eq!(support("1.99", "2026-11-25"), Support::Unknown);
        assert_eq!(default_version("2026-11-25"), "1.35");
        assert_eq!(civil_date(20_417), "2025-11-25");
    }
}
