//! Which chart, at which version, each Helm release is installed from: pinned in the config
//! (`releases.*.chart`, `releases.*.version`), with verified defaults.
//!
//! A chart is a repository reference as helm resolves it (`dask/daskhub`, `oci://…`), passed
//! with `--version`, or a local chart folder or packaged `.tgz`. helm ignores `--version` for a
//! local chart, so pinning one means checking its `Chart.yaml` ourselves: the config's version
//! must be what the chart says ([`ChartPin::identity`]).

use std::io::Read;
use std::path::{Path, PathBuf};

/// The EBS CSI driver chart the project renders values for and has verified: values schema and
/// defaults in `../shared/conformance/aws-ebs-csi-driver/` (kubernetes-sigs/aws-ebs-csi-driver,
/// `charts/aws-ebs-csi-driver/Chart.yaml` at tag helm-chart-aws-ebs-csi-driver-2.64.0, driver
/// v1.64.0), rendered, installed and upgraded on the test control plane
/// (`../shared/research/charts.md`). `tests/conformance.rs` keeps this in step with that file.
pub const EBS_CSI_CHART: &str = "aws-ebs-csi-driver/aws-ebs-csi-driver";
pub const EBS_CSI_VERSION: &str = "2.64.0";

/// The chart repositories of the default charts, for the `helm repo add` hint.
pub const REPOSITORIES: &[(&str, &str)] = &[
    ("dask", "https://helm.dask.org"),
    ("aws-ebs-csi-driver", "https://kubernetes-sigs.github.io/aws-ebs-csi-driver"),
];

/// A release's chart and version, as the config pins them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartPin {
    /// What the config says (`dask/daskhub`, `./charts/hub`, …).
    pub reference: String,
    /// `--version` for a repository chart; for a local chart, what its Chart.yaml must say
    /// (`None`: whatever it says).
    pub version: Option<String>,
    /// For a local chart: its path, relative paths taken from the config file's folder.
    pub local: Option<PathBuf>,
}

/// A chart's name and version, as Helm records them in a release (`chart.metadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartId {
    pub name: String,
    pub version: String,
}

impl std::fmt::Display for ChartId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.name, self.version)
    }
}

/// Whether a chart reference names a local folder or archive rather than a repository chart.
pub fn is_local(reference: &str) -> bool {
    reference.starts_with("./")
        || reference.starts_with("../")
        || reference.starts_with('/')
        || reference == "."
        || reference.ends_with(".tgz")
}

impl ChartPin {
    /// Resolves `reference` (relative local paths against `config_dir`).
    pub fn new(reference: &str, version: Option<&str>, config_dir: &Path) -> Self {
        let local = is_local(reference).then(|| {
            let p = Path::new(reference);
            if p.is_absolute() { p.to_path_buf() } else { config_dir.join(p) }
        });
        ChartPin { reference: reference.to_string(), version: version.map(str::to_string), local }
    }

    /// The chart argument of a helm command: the reference, or the local path as seen from the
    /// current directory.
    pub fn helm_arg(&self) -> String {
        match &self.local {
            Some(p) => p.display().to_string(),
            None => self.reference.clone(),
        }
    }

    /// `--version` for helm: only repository charts (helm ignores it for local ones).
    pub fn version_flag(&self) -> Option<&str> {
        if self.local.is_some() { None } else { self.version.as_deref() }
    }

    /// The chart name and version a release installed from this pin records. A repository
    /// chart's name is the last part of its reference; a local chart's name and version are
    /// read from its Chart.yaml, which must agree with the pinned version.
    pub fn identity(&self) -> Result<ChartId, String> {
        let Some(path) = &self.local else {
            let name = self.reference.rsplit('/').next().unwrap_or(&self.reference).to_string();
            let version = self.version.clone().unwrap_or_default();
            return Ok(ChartId { name, version });
        };
        let id = read_local(path)?;
        match &self.version {
            Some(v) if *v != id.version => Err(format!(
                "the chart at {} is version {} (its Chart.yaml), not the pinned {v}; set the version to {} or use the chart of version {v}",
                path.display(),
                id.version,
                id.version
            )),
            _ => Ok(id),
        }
    }
}

/// Name and version from a local chart folder's `Chart.yaml`, or from the top folder's
/// `Chart.yaml` inside a packaged chart (`.tgz`, as `helm package` writes it).
pub fn read_local(path: &Path) -> Result<ChartId, String> {
    let text = if path.is_dir() {
        let file = path.join("Chart.yaml");
        std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?
    } else {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read chart {}: {e}", path.display()))?;
        chart_yaml_in_tgz(&bytes).map_err(|e| format!("chart {}: {e}", path.display()))?
    };
    let doc = crate::yaml::parse_single(&text)
        .map_err(|e| format!("Chart.yaml of {} is not valid YAML: {}", path.display(), e.message))?
        .to_json();
    let field = |k: &str| doc.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
    match (field("name"), field("version")) {
        (Some(name), Some(version)) => Ok(ChartId { name, version }),
        _ => Err(format!("Chart.yaml of {} has no name or version", path.display())),
    }
}

/// The text of `TOP/Chart.yaml` in a gzipped tar archive (ustar headers; a chart's paths are
/// short, so long-name extensions are skipped).
fn chart_yaml_in_tgz(bytes: &[u8]) -> Result<String, String> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut tar)
        .map_err(|e| format!("not a gzipped archive: {e}"))?;
    let mut at = 0;
    while at + 512 <= tar.len() {
        let header = &tar[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let text = |range: std::ops::Range<usize>| {
            let field = &header[range];
            let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
            String::from_utf8_lossy(&field[..end]).into_owned()
        };
        let size_text = text(124..136);
        let size = usize::from_str_radix(size_text.trim(), 8)
            .map_err(|_| "not a tar archive (bad entry size)".to_string())?;
        let prefix = text(345..500);
        let name = text(0..100);
        let path = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let body = at + 512;
        let typeflag = header[156];
        let is_file = typeflag == b'0' || typeflag == 0;
        if is_file && path.matches('/').count() == 1 && path.ends_with("/Chart.yaml") {
            let data = tar.get(body..body + size).ok_or("the archive is truncated")?;
            return String::from_utf8(data.to_vec()).map_err(|_| "Chart.yaml is not UTF-8".to_string());
        }
        at = body + size.div_ceil(512) * 512;
    }
    Err("no Chart.yaml in the archive's top folder".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn tar_entry(path: &str, data: &[u8]) -> Vec<u8> {
        let mut h = [0u8; 512];
        h[..path.len()].copy_from_slice(path.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        let size = format!("{:011o}", data.len());
        h[124..135].copy_from_slice(size.as_bytes());
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        let mut out = h.to_vec();
        out.extend_from_slice(data);
        out.resize(512 + data.len().div_ceil(512) * 512, 0);
        out
    }

    fn tgz(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut tar = Vec::new();
        for (p, d) in entries {
            tar.extend(tar_entry(p, d.as_bytes()));
        }
        tar.extend([0u8; 1024]);
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&tar).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn repository_and_local_references() {
        let dir = Path::new("deploy");
        let repo = ChartPin::new("dask/daskhub", Some("2024.1.1"), dir);
        assert_eq!((repo.helm_arg(), repo.version_flag()), ("dask/daskhub".to_string(), Some("2024.1.1")));
        assert_eq!(repo.identity().unwrap().to_string(), "daskhub-2024.1.1");
        let oci = ChartPin::new("oci://registry.example/charts/daskhub", Some("1.0.0"), dir);
        assert_eq!(oci.identity().unwrap().name, "daskhub");
        let local = ChartPin::new("./charts/hub", Some("0.1.0"), dir);
        assert_eq!(local.helm_arg(), "deploy/./charts/hub");
        assert_eq!(local.version_flag(), None);
        assert!(ChartPin::new("hub-0.1.0.tgz", None, dir).local.is_some());
        assert!(ChartPin::new("/abs/hub", None, dir).local == Some(PathBuf::from("/abs/hub")));
    }

    #[test]
    fn local_folder_and_tgz_are_read_and_checked_against_the_pin() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("hub");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("Chart.yaml"), "apiVersion: v2\nname: hub\nversion: 0.2.0\n").unwrap();
        let pin = ChartPin::new("./hub", Some("0.2.0"), tmp.path());
        assert_eq!(pin.identity().unwrap().to_string(), "hub-0.2.0");
        let wrong = ChartPin::new("./hub", Some("0.3.0"), tmp.path()).identity().unwrap_err();
        assert!(wrong.contains("is version 0.2.0 (its Chart.yaml), not the pinned 0.3.0"), "{wrong}");
        assert_eq!(ChartPin::new("./hub", None, tmp.path()).identity().unwrap().version, "0.2.0");

        let archive = tmp.path().join("hub-0.4.0.tgz");
        let bytes = tgz(&[
            ("hub/values.yaml", "a: 1\n"),
            ("hub/charts/sub/Chart.yaml", "name: sub\nversion: 9.9.9\n"),
            ("hub/Chart.yaml", "apiVersion: v2\nname: hub\nversion: 0.4.0\n"),
        ]);
        std::fs::write(&archive, bytes).unwrap();
        let id = ChartPin::new("./hub-0.4.0.tgz", Some("0.4.0"), tmp.path()).identity().unwrap();
        assert_eq!(id.to_string(), "hub-0.4.0");

        let missing = ChartPin::new("./nope", None, tmp.path()).identity().unwrap_err();
        assert!(missing.contains("cannot read chart") && missing.contains("nope"), "{missing}");
        std::fs::write(tmp.path().join("bad.tgz"), b"not gzip").unwrap();
        assert!(ChartPin::new("./bad.tgz", None, tmp.path()).identity().is_err());
    }
}
