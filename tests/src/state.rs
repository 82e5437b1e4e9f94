//! Throwaway state directories.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// A temporary directory for one gateway's or node's state, removed on drop unless
/// `PINCER_KEEP_STATE=1` (then its path is logged so a failed test can be inspected).
#[derive(Debug)]
pub struct TempState {
    dir: Option<TempDir>,
    path: PathBuf,
}

impl TempState {
    pub fn new(prefix: &str) -> std::io::Result<TempState> {
        let dir = tempfile::Builder::new().prefix(&format!("pincer-{prefix}-")).tempdir()?;
        let path = dir.path().to_path_buf();
        Ok(TempState { dir: Some(dir), path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Keep the directory after drop and return its path.
    pub fn keep(mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
        self.path.clone()
    }
}

impl Drop for TempState {
    fn drop(&mut self) {
        if std::env::var_os("PINCER_KEEP_STATE").is_some() {
            if let Some(dir) = self.dir.take() {
                // Not inside the macro: tracing skips evaluating its fields when no
                // subscriber is listening, and `dir` would then be dropped (deleted).
                let path = dir.keep();
                tracing::info!(path = %path.display(), "kept state dir");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_on_drop_unless_kept() {
        let s = TempState::new("t").unwrap();
        let p = s.path().to_path_buf();
        std::fs::write(s.join("f"), b"x").unwrap();
        drop(s);
        assert!(!p.exists());

        let s = TempState::new("t").unwrap();
        let p = s.keep();
        assert!(p.is_dir());
        std::fs::remove_dir_all(p).unwrap();
    }
}
