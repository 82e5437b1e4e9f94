//! `exec-approvals.json`: read, validate, compare-and-swap, atomic owner-only writes.

use std::path::{Path, PathBuf};

use pincer_statefile::{Locked, StateFileError};

use pincer_protocol::approvals::{approvals_hash, ExecApprovalsFile, ExecApprovalsSnapshot};
use serde_json::Value;

use super::error::{ApprovalsError, InvalidApprovalsFile};
use super::policy::pattern_error;

pub const FILE_NAME: &str = "exec-approvals.json";

/// The file as last read: raw bytes (for the hash) and the parsed form.
pub struct Loaded {
    pub raw: Option<Vec<u8>>,
    pub file: ExecApprovalsFile,
}

impl Loaded {
    pub fn hash(&self) -> String {
        approvals_hash(self.raw.as_deref())
    }
}

/// Every write is a compare-and-swap under the file's `pincer_statefile` lock, held from the
/// read that is compared to the write that replaces it: no other thread or process (another
/// `Store` on the same path, a second node on the same state dir, a gateway sharing the dir)
/// can write in between.
pub struct Store {
    path: PathBuf,
}

impl Store {
    pub fn new(state_dir: &Path) -> Store {
        Store { path: state_dir.join(FILE_NAME) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_raw(&self) -> Result<Option<Vec<u8>>, ApprovalsError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ApprovalsError::io("read", &self.path, e)),
        }
    }

    fn lock(&self) -> Result<Locked, ApprovalsError> {
        pincer_statefile::lock(&self.path).map_err(|e| self.file_error("lock", e))
    }

    fn file_error(&self, op: &'static str, e: StateFileError) -> ApprovalsError {
        ApprovalsError::io(op, &self.path, e.into_source())
    }

    pub fn load(&self) -> Result<Loaded, ApprovalsError> {
        self.parse(self.read_raw()?)
    }

    fn load_locked(&self, file: &Locked) -> Result<Loaded, ApprovalsError> {
        self.parse(file.read().map_err(|e| self.file_error("read", e))?)
    }

    fn parse(&self, raw: Option<Vec<u8>>) -> Result<Loaded, ApprovalsError> {
        let file = match raw.as_deref() {
            None => ExecApprovalsFile::default(),
            Some(bytes) => {
                serde_json::from_slice::<Value>(bytes).map_err(InvalidApprovalsFile::Shape).and_then(validate).map_err(|reason| {
                    ApprovalsError::Corrupt { path: self.path.clone(), reason: Box::new(reason), hash: approvals_hash(Some(bytes)) }
                })?
            }
        };
        Ok(Loaded { raw, file })
    }

    pub fn snapshot(&self) -> Result<ExecApprovalsSnapshot, ApprovalsError> {
        let loaded = self.load()?;
        Ok(self.snapshot_of(&loaded))
    }

    fn snapshot_of(&self, loaded: &Loaded) -> ExecApprovalsSnapshot {
        let mut file = loaded.file.clone();
        if loaded.raw.is_none() {
            file.defaults.get_or_insert_with(Default::default);
            file.agents.get_or_insert_with(Default::default);
        }
        let mut file = serde_json::to_value(&file).unwrap_or(Value::Null);
        // The socket token authenticates local prompt clients; it never leaves the machine.
        if let Some(socket) = file.get_mut("socket").and_then(Value::as_object_mut) {
            socket.remove("token");
        }
        ExecApprovalsSnapshot { path: self.path.display().to_string(), exists: loaded.raw.is_some(), hash: loaded.hash(), file }
    }

    /// `system.execApprovals.set`: the file is written only if `base_hash` names what is on
    /// disk now (a missing file may be created without one).
    pub fn set(&self, value: Value, base_hash: Option<&str>) -> Result<ExecApprovalsSnapshot, ApprovalsError> {
        let mut file = validate(value)?;
        let locked = self.lock()?;
        let current = locked.read().map_err(|e| self.file_error("read", e))?;
        check_base_hash(current.as_deref(), base_hash)?;
        if let Some(bytes) = current.as_deref() {
            keep_socket_token(&mut file, bytes);
        }
        self.write(&locked, &file)
    }

    /// Read-modify-write under the file's lock (used by allow-always): what is changed is
    /// what is on disk at that moment, and nobody writes before this does.
    pub fn update(&self, change: impl FnOnce(&mut ExecApprovalsFile)) -> Result<ExecApprovalsSnapshot, ApprovalsError> {
        let locked = self.lock()?;
        let mut loaded = self.load_locked(&locked)?;
        change(&mut loaded.file);
        self.write(&locked, &loaded.file)
    }

    fn write(&self, locked: &Locked, file: &ExecApprovalsFile) -> Result<ExecApprovalsSnapshot, ApprovalsError> {
        let mut text = serde_json::to_string_pretty(file).map_err(InvalidApprovalsFile::Shape)?;
        text.push('\n');
        locked.write(text.as_bytes()).map_err(|e| self.file_error("write", e))?;
        let loaded = Loaded { raw: Some(text.into_bytes()), file: file.clone() };
        tracing::info!(path = %self.path.display(), hash = %loaded.hash(), "exec approvals written");
        Ok(self.snapshot_of(&loaded))
    }
}

fn check_base_hash(current: Option<&[u8]>, base_hash: Option<&str>) -> Result<(), ApprovalsError> {
    match (current, base_hash) {
        (Some(_), None) => Err(ApprovalsError::BaseHashRequired),
        (current, Some(base)) if base != approvals_hash(current) => Err(ApprovalsError::HashMismatch),
        _ => Ok(()),
    }
}

/// `get` hides `socket.token`, so a `set` built from it must not erase the token on disk.
fn keep_socket_token(file: &mut ExecApprovalsFile, current: &[u8]) {
    let Ok(current) = serde_json::from_slice::<Value>(current) else { return };
    let Some(token) = current.pointer("/socket/token").cloned() else { return };
    if let Some(socket) = file.extra.get_mut("socket").and_then(Value::as_object_mut) {
        socket.entry("token").or_insert(token);
    }
}

/// Version 1, known enum values (serde), usable allowlist patterns.
pub fn validate(value: Value) -> Result<ExecApprovalsFile, InvalidApprovalsFile> {
    if !value.is_object() {
        return Err(InvalidApprovalsFile::NotAnObject);
    }
    let file: ExecApprovalsFile = serde_json::from_value(value).map_err(InvalidApprovalsFile::Shape)?;
    if file.version != 1 {
        return Err(InvalidApprovalsFile::Version(file.version));
    }
    let layers = file
        .defaults
        .iter()
        .map(|d| ("defaults".to_string(), d))
        .chain(file.agents.iter().flatten().map(|(id, fields)| (format!("agents.{id}"), fields)));
    for (at, fields) in layers {
        for (i, entry) in fields.allowlist.iter().flatten().enumerate() {
            if let Some(reason) = pattern_error(&entry.pattern) {
                return Err(InvalidApprovalsFile::Pattern { at, index: i, pattern: entry.pattern.clone(), reason });
            }
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_file_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let snap = store.snapshot().unwrap();
        assert!(!snap.exists);
        assert_eq!(snap.hash, approvals_hash(None));
        assert_eq!(snap.file, json!({"version": 1, "defaults": {}, "agents": {}}));
        assert_eq!(snap.path, dir.path().join(FILE_NAME).display().to_string());
        assert!(!dir.path().join(FILE_NAME).exists(), "get never creates the file");
    }

    #[test]
    fn set_then_cas() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let f1 = json!({"version": 1, "defaults": {"security": "full"}});
        let s1 = store.set(f1.clone(), None).unwrap();
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(s1.hash, approvals_hash(Some(&bytes)));
        assert!(s1.exists);
        assert_eq!(s1.file, f1);

        let f2 = json!({"version": 1, "defaults": {"security": "deny"}});
        let err = store.set(f2.clone(), None).unwrap_err();
        assert!(matches!(err, ApprovalsError::BaseHashRequired));
        assert!(err.to_string().contains("baseHash"));
        let err = store.set(f2.clone(), Some(&approvals_hash(None))).unwrap_err();
        assert!(matches!(err, ApprovalsError::HashMismatch));
        assert_eq!(err.code(), "INVALID_REQUEST");
        assert!(err.to_string().contains("baseHash"));
        assert_eq!(std::fs::read(dir.path().join(FILE_NAME)).unwrap(), bytes, "nothing written on mismatch");

        let s2 = store.set(f2, Some(&s1.hash)).unwrap();
        assert_ne!(s2.hash, s1.hash);
        assert_eq!(store.snapshot().unwrap(), s2);
    }

    #[test]
    fn invalid_files_are_rejected_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let refused = |bad: Value| match store.set(bad.clone(), None) {
            Err(ApprovalsError::InvalidFile(reason)) => reason,
            Err(other) => panic!("{bad}: expected an invalid file, got {other}"),
            Ok(_) => panic!("{bad} was accepted"),
        };
        assert!(matches!(refused(json!({"version": 2})), InvalidApprovalsFile::Version(2)));
        assert!(matches!(refused(json!([1])), InvalidApprovalsFile::NotAnObject));
        assert!(matches!(refused(json!("x")), InvalidApprovalsFile::NotAnObject));
        let pattern = refused(json!({"version": 1, "agents": {"main": {"allowlist": [{"pattern": "/usr/bin/["}]}}}));
        assert!(
            matches!(&pattern, InvalidApprovalsFile::Pattern { at, index: 0, pattern, .. } if at == "agents.main" && pattern == "/usr/bin/["),
            "{pattern:?}"
        );
        for bad in [
            json!({"version": 1, "defaults": {"security": "yolo"}}),
            json!({"version": 1, "agents": {"main": {"ask": "sometimes"}}}),
            json!({"version": 1, "agents": {"main": {"askFallback": "maybe"}}}),
            json!({"version": 1, "agents": {"main": {"allowlist": [{"id": "x"}]}}}),
            json!({"defaults": {}}),
        ] {
            assert!(matches!(refused(bad.clone()), InvalidApprovalsFile::Shape(_)), "{bad}");
        }
        assert_eq!(store.set(json!([1]), None).unwrap_err().code(), "INVALID_REQUEST");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file and no temp files");
    }

    #[cfg(unix)]
    #[test]
    fn written_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(&dir.path().join("nested"));
        store.set(json!({"version": 1}), None).unwrap();
        let mode = std::fs::metadata(dir.path().join("nested").join(FILE_NAME)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn socket_token_is_hidden_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let s1 = store.set(json!({"version": 1, "socket": {"path": "/s", "token": "sekrit"}}), None).unwrap();
        assert_eq!(s1.file, json!({"version": 1, "socket": {"path": "/s"}}));
        store.set(s1.file.clone(), Some(&s1.hash)).unwrap();
        let disk: Value = serde_json::from_slice(&std::fs::read(dir.path().join(FILE_NAME)).unwrap()).unwrap();
        assert_eq!(disk["socket"]["token"], "sekrit");
    }

    #[test]
    fn corrupt_file_is_reported_with_its_hash_and_can_be_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
        let store = Store::new(dir.path());
        let err = store.snapshot().err().unwrap();
        let hash = approvals_hash(Some(b"{not json"));
        assert!(matches!(&err, ApprovalsError::Corrupt { hash: h, .. } if *h == hash));
        assert_eq!(err.code(), "UNAVAILABLE");
        assert!(err.to_string().contains(&hash));
        store.set(json!({"version": 1}), Some(&hash)).unwrap();
        assert!(store.snapshot().unwrap().exists);
    }

    /// Four writers, each with its own `Store` on one file (as a second node process or the
    /// desktop app's node next to a CLI would have), `set` with the same base hash at the same
    /// moment, round after round: exactly one is written, the others get `HashMismatch`, and
    /// the file on disk is the acknowledged one.
    #[test]
    fn concurrent_sets_from_separate_stores_with_one_base_hash_write_exactly_one() {
        const WRITERS: usize = 4;
        const ROUNDS: usize = 60;
        let dir = tempfile::tempdir().unwrap();
        let file_of = |round: usize, writer: usize| json!({"version": 1, "agents": {"main": {"allowlist": [{"pattern": format!("/usr/bin/r{round}-w{writer}")}]}}});
        for round in 0..ROUNDS {
            let base = Store::new(dir.path()).snapshot().unwrap().hash;
            let start = std::sync::Barrier::new(WRITERS);
            let results: Vec<_> = std::thread::scope(|scope| {
                let writers: Vec<_> = (0..WRITERS)
                    .map(|writer| {
                        let (start, base, dir, file) = (&start, &base, dir.path(), file_of(round, writer));
                        scope.spawn(move || {
                            let store = Store::new(dir);
                            start.wait();
                            store.set(file, Some(base))
                        })
                    })
                    .collect();
                writers.into_iter().map(|w| w.join().unwrap()).collect()
            });
            let mut winners = Vec::new();
            for (writer, result) in results.into_iter().enumerate() {
                match result {
                    Ok(snapshot) => winners.push((writer, snapshot)),
                    Err(e) => assert!(matches!(e, ApprovalsError::HashMismatch), "round {round} writer {writer}: {e}"),
                }
            }
            assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
            let (writer, acked) = &winners[0];
            let disk = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
            assert_eq!(acked.hash, approvals_hash(Some(&disk)), "round {round}: the acknowledged file is not on disk");
            assert_eq!(serde_json::from_slice::<Value>(&disk).unwrap(), file_of(round, *writer));
        }
    }

    /// Allow-always entries added at once from separate stores are all kept (the read-modify-
    /// write holds the file; none is refused or overwritten).
    #[test]
    fn concurrent_updates_from_separate_stores_keep_every_entry() {
        const WRITERS: usize = 4;
        const EACH: usize = 15;
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|scope| {
            for writer in 0..WRITERS {
                let dir = dir.path();
                scope.spawn(move || {
                    let store = Store::new(dir);
                    for i in 0..EACH {
                        store
                            .update(|file| {
                                let agent = file.agents.get_or_insert_with(Default::default).entry("main".into()).or_default();
                                let pattern = format!("/usr/bin/w{writer}-{i}");
                                agent
                                    .allowlist
                                    .get_or_insert_with(Vec::new)
                                    .push(serde_json::from_value(json!({"pattern": pattern})).unwrap());
                            })
                            .unwrap();
                    }
                });
            }
        });
        let file = Store::new(dir.path()).load().unwrap().file;
        let mut patterns: Vec<String> = file.agents.unwrap()["main"].allowlist.clone().unwrap().into_iter().map(|e| e.pattern).collect();
        patterns.sort();
        let mut expected: Vec<String> = (0..WRITERS).flat_map(|w| (0..EACH).map(move |i| format!("/usr/bin/w{w}-{i}"))).collect();
        expected.sort();
        assert_eq!(patterns, expected);
    }

    #[test]
    fn update_goes_through_cas() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let snap = store.update(|f| f.defaults = Some(Default::default())).unwrap();
        assert_eq!(snap.hash, approvals_hash(Some(&std::fs::read(dir.path().join(FILE_NAME)).unwrap())));
    }
}
