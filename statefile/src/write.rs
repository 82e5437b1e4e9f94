//! The atomic replace: unique temp file in the same directory → fsync → rename → fsync dir.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::StateFileError;

/// Random characters in a temp file's name (`.<name>.<random>.tmp`).
const TEMP_RANDOM_LEN: usize = 10;
const TEMP_SUFFIX: &str = ".tmp";

pub(crate) fn dir_and_name(path: &Path) -> Result<(PathBuf, String), StateFileError> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| StateFileError::Io {
        action: "write",
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path has no (UTF-8) file name"),
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_string()))
}

fn temp_prefix(name: &str) -> String {
    format!(".{name}.")
}

/// Replace `path` with `bytes`. The caller holds the file's lock.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<(), StateFileError> {
    let (dir, name) = dir_and_name(path)?;
    remove_stale_temps(&dir, &name);
    let prefix = temp_prefix(&name);
    // tempfile creates the file with O_EXCL and mode 0600 on Unix, and deletes it on drop
    // (so on every error path below).
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
        .rand_bytes(TEMP_RANDOM_LEN)
        .tempfile_in(&dir)
        .map_err(StateFileError::io("create a temporary file for", path))?;
    tmp.write_all(bytes).map_err(StateFileError::io("write", tmp.path()))?;
    tmp.as_file().sync_all().map_err(StateFileError::io("sync", tmp.path()))?;
    tmp.persist(path).map_err(|e| StateFileError::io("replace", path)(e.error))?;
    sync_dir(&dir);
    Ok(())
}

/// Remove `.<name>.<random>.tmp` files a writer killed mid-write left behind. Only called
/// under the file's lock, when no other writer of this file can be between create and rename.
fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = temp_prefix(name);
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else { continue };
        let is_ours = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
            .is_some_and(|random| random.len() == TEMP_RANDOM_LEN && !random.contains('.'));
        if is_ours {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!(path = %entry.path().display(), "removed a temporary file left by an interrupted write"),
                Err(e) => tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove a stale temporary file"),
            }
        }
    }
}

/// Make the rename itself durable. Failure only weakens durability against power loss (the
/// rename is already visible to every process), so it is logged, not returned.
#[cfg(unix)]
fn sync_dir(dir: &Path) {
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot fsync the directory after a rename");
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}
