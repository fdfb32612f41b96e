//! Writing files so that a failure never leaves one half-written, a set of files is replaced
//! all or not at all, and a killed run leaves nothing behind that git would pick up.
//!
//! [`Staging`] writes every new file into a private staging directory beside its target
//! (`.pangeo-render-tmp-XXXXXX/`, mode 0700, holding a `.gitignore` of `*` so that `git add -A`
//! never stages a secret-bearing copy), then renames each over its target — atomic on POSIX.
//! If a rename fails, the files already replaced get their old content back. A run killed with
//! SIGKILL cannot clean up; the next run that writes into the same directory removes the
//! staging directories no live run holds ([`remove_leftovers`]): each run holds a lock on a file
//! in its own. Several runs may write into one directory at once (a fleet's secrets files share
//! their folder), so the lock file is locked before it gets its name, and a staging directory
//! without one is taken for a leftover only once it is old ([`LEFTOVER_AGE`]).
//!
//! And `-`, which names stdin or stdout wherever a file argument is read or written, as in
//! kubectl and helm: [`is_stdio`], [`refuse_stdio`], [`read_stdin`].

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Names of staging directories.
pub const STAGING_PREFIX: &str = ".pangeo-render-tmp-";
/// Temporary files of versions before staging directories: `.pangeo-render-` + 6 characters.
const LEGACY_PREFIX: &str = ".pangeo-render-";
const LOCK_FILE: &str = ".lock";
/// The lock file while it is being locked, before it is renamed to [`LOCK_FILE`].
const NEW_LOCK_FILE: &str = ".lock-new";
/// How old a staging directory without a lock file must be to count as a killed run's: younger,
/// it may be a live run's, created a moment ago and not locked yet.
pub const LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// New contents for a set of files, written only by [`Staging::commit`].
#[derive(Default)]
pub struct Staging {
    dirs: Vec<StageDir>,
    files: Vec<Staged>,
}

struct StageDir {
    target_dir: PathBuf,
    tmp: tempfile::TempDir,
    /// Held until the staging directory is gone, so another run does not take it for a leftover.
    _lock: File,
}

struct Staged {
    target: PathBuf,
    staged: PathBuf,
    /// The target's content and mode before, to put back if a later rename fails.
    old: Option<(Vec<u8>, u32)>,
}

impl Staging {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `bytes` for `target` into the staging directory of the target's directory
    /// (created on first use), with mode 0600 for secrets and 0644 otherwise.
    pub fn add(&mut self, target: &Path, bytes: &[u8], secret: bool) -> Result<()> {
        if target.is_dir() {
            return Err(Error::Io {
                path: target.to_path_buf(),
                message: "is a directory, where a file is to be written; move it away, or choose another output path".into(),
            });
        }
        let dir = parent_dir(target);
        let i = match self.dirs.iter().position(|d| d.target_dir == dir) {
            Some(i) => i,
            None => {
                self.dirs.push(StageDir::create(&dir)?);
                self.dirs.len() - 1
            }
        };
        let name = target
            .file_name()
            .ok_or_else(|| Error::Io { path: target.to_path_buf(), message: "is not a file name".into() })?;
        let staged = self.dirs[i].tmp.path().join(format!("{}-{}", self.files.len(), name.to_string_lossy()));
        write_new(&staged, bytes, if secret { 0o600 } else { 0o644 })?;
        let old = std::fs::read(target).ok().map(|b| (b, mode_of(target)));
        self.files.push(Staged { target: target.to_path_buf(), staged, old });
        Ok(())
    }

    /// Renames every staged file over its target, in the order added. If one rename fails,
    /// the targets replaced before it are restored and the error names the file.
    pub fn commit(self) -> Result<()> {
        for (i, f) in self.files.iter().enumerate() {
            if let Err(e) = std::fs::rename(&f.staged, &f.target) {
                let restored = self.restore(i);
                let mut message = e.to_string();
                if i > 0 {
                    message.push_str(&match restored {
                        Ok(()) => "; the files written before it were restored, nothing changed".to_string(),
                        Err(r) => format!("; restoring the files written before it failed too: {r}"),
                    });
                }
                return Err(Error::Io { path: f.target.clone(), message });
            }
        }
        Ok(())
    }

    /// Puts back the first `n` targets as they were.
    fn restore(&self, n: usize) -> Result<()> {
        for f in self.files[..n].iter().rev() {
            match &f.old {
                Some((bytes, mode)) => {
                    // The staged name is free again (renamed away): reuse it for the old content.
                    write_new(&f.staged, bytes, *mode)?;
                    std::fs::rename(&f.staged, &f.target).map_err(|e| Error::io(&f.target, e))?;
                }
                None => std::fs::remove_file(&f.target).map_err(|e| Error::io(&f.target, e))?,
            }
        }
        Ok(())
    }
}

impl StageDir {
    fn create(dir: &Path) -> Result<StageDir> {
        let tmp =
            tempfile::Builder::new().prefix(STAGING_PREFIX).tempdir_in(dir).map_err(|e| Error::io(dir, e))?;
        // Before any secret goes in: git ignores everything here, this file included.
        write_new(
            &tmp.path().join(".gitignore"),
            b"# pangeo-render staging; removed after each run\n*\n",
            0o644,
        )?;
        // Locked, then named: a `.lock` that exists is locked for as long as this run lives.
        let new_path = tmp.path().join(NEW_LOCK_FILE);
        let lock_path = tmp.path().join(LOCK_FILE);
        let lock = File::create(&new_path).map_err(|e| Error::io(&new_path, e))?;
        lock.lock().map_err(|e| Error::io(&new_path, e))?;
        std::fs::rename(&new_path, &lock_path).map_err(|e| Error::io(&lock_path, e))?;
        Ok(StageDir { target_dir: dir.to_path_buf(), tmp, _lock: lock })
    }
}

/// Removes what killed runs left in `dir`: staging directories whose lock no one holds (or,
/// without a lock file, older than [`LEFTOVER_AGE`]), and the temporary files of older versions.
/// Returns what was removed.
pub fn remove_leftovers(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() && name.starts_with(STAGING_PREFIX) {
            let free = match File::open(path.join(LOCK_FILE)) {
                Ok(f) => f.try_lock().is_ok(),
                // Killed before the lock file existed, or a live run creating it right now.
                Err(_) => entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= LEFTOVER_AGE)),
            };
            if free && std::fs::remove_dir_all(&path).is_ok() {
                removed.push(path);
            }
        } else if kind.is_file() && is_legacy_temp(&name) && std::fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    }
    removed.sort();
    removed
}

fn is_legacy_temp(name: &str) -> bool {
    name.strip_prefix(LEGACY_PREFIX)
        .is_some_and(|rest| rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Writes one file atomically (staged, then renamed).
pub fn write_atomic(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    let mut staging = Staging::new();
    staging.add(path, bytes, secret)?;
    staging.commit()
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

/// The directory a path is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The same file, whether or not it exists yet: the longest existing part of the path resolved
/// (symlinks, `..`), the rest appended with `.` and `..` taken lexically (what the directories
/// `values` creates will be). Two paths naming one file compare equal.
pub fn identity(path: &Path) -> PathBuf {
    use std::path::Component;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let parts: Vec<Component> = abs.components().collect();
    for n in (1..=parts.len()).rev() {
        let head: PathBuf = parts[..n].iter().collect();
        if let Ok(mut out) = head.canonicalize() {
            for c in &parts[n..] {
                match c {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(name) => out.push(name),
                    _ => {}
                }
            }
            return out;
        }
    }
    abs
}

/// The permission bits of a file (0 where there are none).
pub fn mode_of(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        0o644
    }
}

/// Creates `path` (which must not exist) with `mode` from the start, and syncs it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let mut f = opts.open(path).map_err(|e| Error::io(path, e))?;
    // The umask may have narrowed the mode at creation; set exactly what is wanted.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(|e| Error::io(path, e))?;
    }
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))?;
    Ok(())
}

/// The name diagnostics give standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// True for the path argument `-`: standard input or output, not a file named `-`.
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Refuses `-` for an argument that must be a real file or directory, saying why.
pub fn refuse_stdio(flag: &str, path: &Path, why: &str) -> Result<()> {
    match is_stdio(path) {
        true => Err(Error::Usage(format!("{flag} -: {why}"))),
        false => Ok(()),
    }
}

/// All of standard input as UTF-8 text.
pub fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| Error::io(STDIN_NAME, e))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_rename_restores_the_files_already_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(&a, "old a").unwrap();
        let mut s = Staging::new();
        s.add(&a, b"new a", false).unwrap();
        s.add(&b, b"new b", true).unwrap();
        // Something takes b's place between staging and committing.
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("x"), "x").unwrap();
        let err = s.commit().unwrap_err().to_string();
        assert!(err.contains("b.yaml") && err.contains("restored"), "{err}");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        assert!(remove_leftovers(dir.path()).is_empty(), "the staging directory was not removed");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn leftovers_of_a_killed_run_are_removed_but_not_a_live_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut killed = Staging::new();
        killed.add(&dir.path().join("s.yaml"), b"secret", true).unwrap();
        let killed_dir = killed.dirs[0].tmp.path().to_path_buf();
        // SIGKILL runs no destructors and releases the lock with the process; this is the same.
        let _ = killed.dirs.pop().unwrap().tmp.keep();
        let mut live = Staging::new();
        live.add(&dir.path().join("t.yaml"), b"other", true).unwrap();
        std::fs::write(dir.path().join(".pangeo-render-AbC123"), "old temp file").unwrap();
        std::fs::write(dir.path().join(".pangeo-render-keep-me"), "not ours").unwrap();

        let removed = remove_leftovers(dir.path());
        assert_eq!(removed, vec![dir.path().join(".pangeo-render-AbC123"), killed_dir]);
        assert!(live.dirs[0].tmp.path().exists());
        live.commit().unwrap();
        assert!(dir.path().join(".pangeo-render-keep-me").exists());
    }

    #[test]
    fn a_staging_directory_without_a_lock_is_a_leftover_only_once_it_is_old() {
        let dir = tempfile::tempdir().unwrap();
        // What a run looks like between creating its directory and naming its lock file.
        let young = dir.path().join(format!("{STAGING_PREFIX}young1"));
        let old = dir.path().join(format!("{STAGING_PREFIX}old123"));
        std::fs::create_dir(&young).unwrap();
        std::fs::create_dir(&old).unwrap();
        let then = std::time::SystemTime::now() - LEFTOVER_AGE - std::time::Duration::from_secs(1);
        File::open(&old).unwrap().set_modified(then).unwrap();
        assert_eq!(remove_leftovers(dir.path()), vec![old]);
        assert!(young.exists());
    }

    #[test]
    fn staged_files_get_their_mode_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(&dir.path().join("s"), b"x", true).unwrap();
        write_atomic(&dir.path().join("p"), b"x", false).unwrap();
        assert_eq!(mode_of(&dir.path().join("s")), 0o600);
        assert_eq!(mode_of(&dir.path().join("p")), 0o644);
    }
}
