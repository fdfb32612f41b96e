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
    /// Where the dates come from, as printed with every verdict that quotes them.
    pub source: &'static str,
}

/// The AWS EKS User Guide's release calendar.
pub const AWS_DOCS: &str = "AWS EKS User Guide, Kubernetes version lifecycle (https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html)";
/// endoflife.date, itself read from the AWS calendar (the only source here for 1.35).
pub const ENDOFLIFE: &str = "endoflife.date/amazon-eks (from the AWS EKS release calendar)";

const fn v(
    version: &'static str,
    end_of_standard: &'static str,
    end_of_extended: &'static str,
    source: &'static str,
) -> EksVersion {
    EksVersion { version, end_of_standard, end_of_extended, source }
}

pub const VERSIONS: &[EksVersion] = &[
    v("1.35", "2027-03-27", "2028-03-27", ENDOFLIFE),
    v("1.34", "2026-12-02", "2027-12-02", AWS_DOCS),
    v("1.33", "2026-07-29", "2027-07-29", AWS_DOCS),
    v("1.32", "2026-03-23", "2027-03-23", AWS_DOCS),
    v("1.31", "2025-11-26", "2026-11-26", AWS_DOCS),
    v("1.30", "2025-07-23", "2026-07-23", AWS_DOCS),
    v("1.29", "2025-03-23", "2026-03-23", AWS_DOCS),
    v("1.28", "2024-11-26", "2025-11-26", ENDOFLIFE),
    v("1.27", "2024-07-24", "2025-07-24", ENDOFLIFE),
    v("1.26", "2024-06-11", "2025-06-11", ENDOFLIFE),
    v("1.25", "2024-05-01", "2025-05-01", ENDOFLIFE),
];

/// Set by `--allow-unsupported-version`: a version newer than [`VERSIONS`] knows is a warning,
/// not an error (the data lags EKS by a release now and then). One switch for the whole run,
/// read by [`verdict`], which every checker shares.
static ALLOW_NEWER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn allow_newer_versions() {
    ALLOW_NEWER.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// How many days before standard support ends `validate` starts warning.
pub const WARN_DAYS_BEFORE_STANDARD_ENDS: i64 = 90;

pub fn find(version: &str) -> Option<&'static EksVersion> {
    VERSIONS.iter().find(|v| v.version == version)
}

/// The next minor version EKS offers after `version` (EKS upgrades one minor at a time).
pub fn next(version: &str) -> Option<&'static EksVersion> {
    let (major, minor) = parse(version)?;
    find(&format!("{major}.{}", minor + 1))
}

/// `"1.34"` → `(1, 34)`.
pub fn parse(version: &str) -> Option<(u32, u32)> {
    let (a, b) = version.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

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

/// How serious a version's place in the calendar is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Error,
}

/// The calendar's verdict on a configured version: nothing while standard support has more than
/// [`WARN_DAYS_BEFORE_STANDARD_ENDS`] days left; a warning from then on and through extended
/// support (six times the control-plane price); an error once extended support has ended or for
/// a version EKS never offered. Messages name the dates and their source; `config` (the config
/// file, when known) goes into the hint's `upgrade` command. One definition for every checker.
pub fn verdict(version: &str, today: &str, config: Option<&str>) -> Option<(Severity, String, String)> {
    let standard = standard(today).join(", ");
    let Some(v) = find(version) else {
        let newest = &VERSIONS[0];
        if ALLOW_NEWER.load(std::sync::atomic::Ordering::Relaxed) && parse(version) > parse(newest.version) {
            return Some((
                Severity::Warning,
                format!(
                    "Kubernetes {version} is newer than pangeo-render's EKS data, whose newest version is {} (standard support until {}; source: {}); going on because of --allow-unsupported-version",
                    newest.version, newest.end_of_standard, newest.source
                ),
                "check the dates yourself (https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html), and upgrade pangeo-render when a release knows this version".into(),
            ));
        }
        return Some((
            Severity::Error,
            format!("Kubernetes {version} is not a version EKS offers"),
            format!(
                "supported: {}; a newer version EKS offers and pangeo-render does not know yet: pass --allow-unsupported-version",
                in_support(today).join(", ")
            ),
        ));
    };
    let days = |date: &str| days_between(today, date).unwrap_or(0);
    let src = v.source;
    let hint = match next(version) {
        Some(n) => format!(
            "plan the upgrade to {}: `pangeo-render upgrade -c {}` (standard support today: {standard})",
            n.version,
            config.unwrap_or("CONFIG")
        ),
        None => format!("use a version in standard support: {standard}"),
    };
    let (severity, message) = match support(version, today) {
        Support::Standard if days(v.end_of_standard) > WARN_DAYS_BEFORE_STANDARD_ENDS => return None,
        Support::Standard => (
            Severity::Warning,
            format!(
                "Kubernetes {version} leaves EKS standard support on {} (in {} days); extended support, at six times the control-plane price, ends on {} (source: {src})",
                v.end_of_standard,
                days(v.end_of_standard),
                v.end_of_extended
            ),
        ),
        Support::Extended { ends } => (
            Severity::Warning,
            format!(
                "Kubernetes {version} left EKS standard support on {}: it is in extended support, at six times the control-plane price, until {ends} (in {} days) (source: {src})",
                v.end_of_standard,
                days(ends)
            ),
        ),
        Support::Ended { on } => (
            Severity::Error,
            format!(
                "Kubernetes {version} left EKS extended support on {on} (standard support ended on {}); EKS cannot create such clusters and upgrades existing ones itself (source: {src})",
                v.end_of_standard
            ),
        ),
        Support::Unknown => unreachable!("found above"),
    };
    Some((severity, message, hint))
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

/// Days from `from` to `to` (both `YYYY-MM-DD`); negative when `to` is earlier.
pub fn days_between(from: &str, to: &str) -> Option<i64> {
    Some(days_from_civil(to)? - days_from_civil(from)?)
}

/// `YYYY-MM-DD` → days since 1970-01-01 (Howard Hinnant's days-from-civil algorithm).
pub fn days_from_civil(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Days since 1970-01-01 → `YYYY-MM-DD` (Howard Hinnant's civil-from-days algorithm).
pub(crate) fn civil_date(days: u64) -> String {
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
        assert_eq!(days_from_civil("2025-11-25"), Some(20_417));
        assert_eq!(days_between("2026-11-27", "2026-12-02"), Some(5));
        assert_eq!(days_between("2024-02-28", "2024-03-01"), Some(2));
        assert_eq!(days_between("2027-01-01", "2026-12-31"), Some(-1));
        assert_eq!(next("1.34").map(|v| v.version), Some("1.35"));
        assert_eq!(verdict("1.35", "2026-12-26", None), None);
        let (sev, msg, hint) = verdict("1.35", "2026-12-27", Some("p.yaml")).unwrap();
        assert_eq!(sev, Severity::Warning);
        assert!(msg.contains("leaves EKS standard support on 2027-03-27 (in 90 days)"), "{msg}");
        assert!(msg.contains("ends on 2028-03-27") && msg.contains("endoflife.date"), "{msg}");
        assert!(hint.contains("use a version in standard support"), "{hint}");
        let (sev, msg, hint) = verdict("1.34", "2026-12-02", Some("p.yaml")).unwrap();
        assert_eq!(sev, Severity::Warning);
        assert!(
            msg.contains("until 2027-12-02 (in 365 days)") && msg.contains("docs.aws.amazon.com"),
            "{msg}"
        );
        assert!(hint.contains("`pangeo-render upgrade -c p.yaml`"), "{hint}");
        let (sev, msg, _) = verdict("1.34", "2027-12-02", None).unwrap();
        assert_eq!(sev, Severity::Error);
        assert!(msg.contains("left EKS extended support on 2027-12-02"), "{msg}");
        assert!(next("1.35").is_none());
    }
}
