//! Writing files so that a failure never leaves one half-written: write a temp file in the same
//! directory, flush it, set its mode, then rename it over the target (atomic on POSIX).

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

pub fn write_atomic(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile creates the file 0600, so a secret is never readable by others, even briefly.
    let mut tmp =
        tempfile::Builder::new().prefix(".pangeo-render-").tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if secret { 0o600 } else { 0o644 };
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(path, e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// True when the file exists and already holds exactly these bytes; unchanged files are not
/// rewritten, so their modification time stays put for make-style tools.
pub fn unchanged(path: &Path, bytes: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|old| old == bytes)
}

/// Whether `path` has the mode we write with: 0600 for files holding secrets, 0644 otherwise.
#[cfg(unix)]
pub fn mode_ok(path: &Path, secret: bool) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let want = if secret { 0o600 } else { 0o644 };
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o777 == want)
}

#[cfg(not(unix))]
pub fn mode_ok(_: &Path, _: bool) -> bool {
    true
}
