//! The atomic replace and the lock, from the outside.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use pincer_statefile::{lock, write_private_atomic, StateFileError};

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn write_replaces_the_content_privately_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("a.json");
    write_private_atomic(&path, b"one").unwrap();
    write_private_atomic(&path, b"two").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"two");
    assert_eq!(names(&dir.path().join("nested")), [".a.json.lock", "a.json"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("nested").join(".a.json.lock")), 0o600);
        assert_eq!(mode(&dir.path().join("nested")), 0o700, "a directory it creates is private");
    }
}

#[test]
fn read_under_the_lock_sees_a_missing_file_as_none() {
    let dir = tempfile::tempdir().unwrap();
    let file = lock(&dir.path().join("x.json")).unwrap();
    assert_eq!(file.read().unwrap(), None);
    file.write(b"{}").unwrap();
    assert_eq!(file.read().unwrap().as_deref(), Some(&b"{}"[..]));
}

/// Read-modify-write from many threads: with the lock held across the cycle no increment is
/// lost (without it, two threads read the same count and one write overwrites the other).
#[test]
fn read_modify_write_cycles_from_many_threads_never_lose_an_update() {
    const THREADS: usize = 8;
    const CYCLES: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("counter"));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let path = Arc::clone(&path);
            std::thread::spawn(move || {
                for _ in 0..CYCLES {
                    let file = lock(&path).unwrap();
                    let n: usize = file.read().unwrap().map(|b| String::from_utf8(b).unwrap().parse().unwrap()).unwrap_or(0);
                    file.write((n + 1).to_string().as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(std::fs::read_to_string(&*path).unwrap(), (THREADS * CYCLES).to_string());
    assert_eq!(names(dir.path()), [".counter.lock", "counter"]);
}

#[test]
fn a_thread_asking_again_for_a_file_it_holds_gets_an_error_not_a_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let held = lock(&dir.path().join("a.json")).unwrap();
    // Another spelling of the same file is the same lock.
    let again = lock(&dir.path().join("sub").join("..").join(".").join("a.json"));
    assert!(matches!(again, Err(StateFileError::AlreadyHeld { .. })), "{again:?}");
    assert!(matches!(write_private_atomic(&dir.path().join("a.json"), b"x"), Err(StateFileError::AlreadyHeld { .. })));
    // Another file is independent.
    lock(&dir.path().join("b.json")).unwrap();
    drop(held);
    write_private_atomic(&dir.path().join("a.json"), b"x").unwrap();
}

/// Another process sees the advisory lock: a separate open of the lock file (a separate open
/// file description, as another process would have) cannot take it while the file is held.
#[test]
fn the_lock_file_is_locked_for_other_processes_while_held() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.json");
    let held = lock(&path).unwrap();
    let other = std::fs::OpenOptions::new().write(true).open(dir.path().join(".a.json.lock")).unwrap();
    assert!(matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
    drop(held);
    other.try_lock().unwrap();
}

#[test]
fn temporary_files_of_an_interrupted_write_are_removed_by_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.json");
    for stray in [".a.json.Ab3dEf7hIj.tmp", ".a.json.short.tmp", ".b.json.Ab3dEf7hIj.tmp", "a.json.Ab3dEf7hIj.tmp"] {
        std::fs::write(dir.path().join(stray), b"half").unwrap();
    }
    write_private_atomic(&path, b"whole").unwrap();
    // Only this file's own temp-name pattern is touched.
    assert_eq!(names(dir.path()), [".a.json.lock", ".a.json.short.tmp", ".b.json.Ab3dEf7hIj.tmp", "a.json", "a.json.Ab3dEf7hIj.tmp"]);
}

#[test]
fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.json");
    write_private_atomic(&path, b"old").unwrap();
    // A directory where the rename must land: the rename fails after the temp file was written.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir_all(blocked.join("inner")).unwrap();
    let e = write_private_atomic(&blocked, b"new").unwrap_err();
    assert!(matches!(&e, StateFileError::Io { action: "replace", .. }), "{e}");
    assert!(e.to_string().starts_with(&format!("cannot replace {}: ", blocked.display())), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert_eq!(names(dir.path()), [".a.json.lock", ".blocked.lock", "a.json", "blocked"]);
}

#[cfg(unix)]
#[test]
fn a_state_dir_is_created_private_and_an_existing_open_one_is_narrowed() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();

    let fresh = dir.path().join("fresh");
    pincer_statefile::ensure_private_state_dir(&fresh).unwrap();
    assert_eq!(mode(&fresh), 0o700);

    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    pincer_statefile::ensure_private_state_dir(&open).unwrap();
    assert_eq!(mode(&open), 0o700);
}
