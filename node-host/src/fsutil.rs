//! Small, careful file writes: private (0600) and atomic, so a crash leaves the old file or the
//! new one, never half of either.

use std::path::Path;

/// Replace `path` with `bytes` through `pincer_statefile`: unique 0600 temp file in the same
/// directory, fsync, rename, fsync the directory, under the file's in-process and
/// cross-process lock.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    Ok(pincer_statefile::write_private_atomic(path, bytes)?)
}

/// Create `dir` (and parents) readable only by this user.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_private_atomic(&path, b"one").unwrap();
        write_private_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // No temporary files left behind: the file and its lock file.
        let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, [".a.json.lock", "a.json"]);
    }
}
