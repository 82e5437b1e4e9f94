//! Pincer's small state files (the gateway's config and exec approvals, the node's exec
//! approvals, settings and secrets) are written one way, so that nothing acknowledged is lost:
//!
//! - **Atomic and private**: the new content goes to a uniquely named temporary file in the
//!   same directory (mode 0600 on Unix), is fsynced, renamed over the target, and the directory
//!   is fsynced. A crash at any point leaves the old file or the new one, never a mix.
//! - **Compare-and-swap under a lock**: [`lock`] holds the file exclusively across read →
//!   compare → write, against other threads of this process (a per-path registry) and other
//!   processes (an advisory lock on a `.<name>.lock` file next to it). A caller that checks a
//!   base hash after [`Locked::read`] and then calls [`Locked::write`] cannot be overtaken.
//!
//! Every writer of a file must go through this crate for the guarantee to hold: the lock is
//! advisory. [`Locked::write`] also removes temporary files a crashed writer left behind (no
//! other writer can be mid-write while the lock is held).

mod error;
mod lock;
mod write;

pub use error::StateFileError;
pub use lock::{lock, Locked};

use std::path::Path;

/// Replace `path` with `bytes` (atomic, private, durable) under the file's lock. For whole-file
/// writes that do not depend on what was there; a read-modify-write uses [`lock`].
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateFileError> {
    lock(path)?.write(bytes)
}

/// Create `dir` (and missing parents) readable only by this user (0700 on Unix). An existing
/// directory keeps its mode.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// A directory that holds secrets (a state dir: keys, tokens, databases): created like
/// [`create_private_dir`], and an existing one narrowed to this user (0700 on Unix). Narrowing
/// an existing directory is best effort (it may belong to someone else, who then decides):
/// a failure is logged, not returned.
pub fn ensure_private_state_dir(dir: &Path) -> std::io::Result<()> {
    create_private_dir(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot restrict the state directory to this user (0700)");
        }
    }
    Ok(())
}
