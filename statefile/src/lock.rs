//! Exclusive access to one state file: a per-path registry for the threads of this process and
//! an advisory lock (`flock` on Unix, `LockFileEx` on Windows, through std) on a lock file next
//! to it for other processes. The lock file is separate because the state file itself is
//! replaced by rename on every write, and a lock on a replaced inode protects nothing.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, LazyLock, Mutex};
use std::thread::ThreadId;

use crate::error::StateFileError;
use crate::write;

/// Files held by threads of this process, and a signal for waiters when one is released.
struct Registry {
    held: Mutex<HashMap<PathBuf, ThreadId>>,
    released: Condvar,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry { held: Mutex::new(HashMap::new()), released: Condvar::new() });

impl Registry {
    fn acquire(&self, key: &Path) -> Result<(), StateFileError> {
        let me = std::thread::current().id();
        // A panic while holding the map cannot leave it inconsistent (single inserts/removes).
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match held.get(key) {
                None => {
                    held.insert(key.to_path_buf(), me);
                    return Ok(());
                }
                Some(owner) if *owner == me => return Err(StateFileError::AlreadyHeld { path: key.to_path_buf() }),
                Some(_) => held = self.released.wait(held).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    fn release(&self, key: &Path) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.remove(key);
        drop(held);
        self.released.notify_all();
    }
}

/// A state file held exclusively; released on drop. Never hold one across an `.await`: other
/// threads wanting the same file block until it is dropped.
#[derive(Debug)]
pub struct Locked {
    path: PathBuf,
    /// The registry key: the path with its directory canonicalized, so two spellings of one
    /// file share one lock.
    key: PathBuf,
    lock_file: File,
}

/// Take `path` exclusively (waiting for other threads and processes that hold it), creating
/// its directory (0700) if missing. Fails with [`StateFileError::AlreadyHeld`] if this thread
/// already holds it.
pub fn lock(path: &Path) -> Result<Locked, StateFileError> {
    let (dir, name) = write::dir_and_name(path)?;
    crate::create_private_dir(&dir).map_err(StateFileError::io("create the directory of", path))?;
    let key = std::fs::canonicalize(&dir).map_err(StateFileError::io("resolve the directory of", path))?.join(&name);
    REGISTRY.acquire(&key)?;
    match open_and_lock(&dir.join(format!(".{name}.lock"))) {
        Ok(lock_file) => Ok(Locked { path: path.to_path_buf(), key, lock_file }),
        Err(e) => {
            REGISTRY.release(&key);
            Err(e)
        }
    }
}

fn open_and_lock(lock_path: &Path) -> Result<File, StateFileError> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(lock_path).map_err(StateFileError::io("open", lock_path))?;
    file.lock().map_err(StateFileError::io("lock", lock_path))?;
    Ok(file)
}

impl Locked {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes now, `None` if it does not exist.
    pub fn read(&self) -> Result<Option<Vec<u8>>, StateFileError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateFileError::io("read", &self.path)(e)),
        }
    }

    /// Replace the file with `bytes`: atomic, private, durable once this returns.
    pub fn write(&self, bytes: &[u8]) -> Result<(), StateFileError> {
        write::replace(&self.path, bytes)
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        // Closing the file would release the advisory lock too; unlock first so the order
        // (process lock, then thread lock) is explicit.
        let _ = self.lock_file.unlock();
        REGISTRY.release(&self.key);
    }
}
