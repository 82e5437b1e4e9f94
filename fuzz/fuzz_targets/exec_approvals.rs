//! `exec-approvals.json`: the protocol's file type, the node's validation, allowlist patterns,
//! the effective policy, and the node's compare-and-swap store (on a scratch directory).
//!
//! Invariants: nothing panics; a parsed file re-serializes to one that parses back equal
//! (unknown keys kept); validation is a fixed point; a pattern validation accepts is one the
//! matcher can compile (else a saved allowlist entry would silently never match); a file the
//! store accepted reads back as written, with `hash` = SHA-256 of the bytes on disk, and a
//! stale `baseHash` is refused.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use pincer_fuzz::assert_json_eq;
use pincer_node::approvals::fuzzing::{compile_pattern, pattern_error, validate_approvals_file, EffectivePolicy};
use pincer_node::approvals::{ApprovalsError, ExecGate, NoPrompter};
use pincer_protocol::approvals::{approvals_hash, ExecApprovalsFile};
use serde_json::Value;

/// One scratch state dir per fuzz process (tmpfs when available: the store fsyncs).
fn state_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let dir = base.join(format!("pincer-fuzz-approvals-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        // `~` in patterns expands to HOME; keep it free of glob metacharacters.
        std::env::set_var("HOME", "/home/fuzz");
        dir
    })
}

fn check_store(value: &Value) {
    let dir = state_dir();
    let _ = std::fs::remove_file(dir.join("exec-approvals.json"));
    let Ok(gate) = ExecGate::open(dir, Arc::new(NoPrompter)) else { return };
    let Ok(before) = gate.snapshot() else { return };
    match gate.set(value.clone(), Some(&before.hash)) {
        Ok(written) => {
            let on_disk = std::fs::read(gate.approvals_path()).unwrap_or_default();
            assert_eq!(written.hash, approvals_hash(Some(&on_disk)), "snapshot hash is not the hash of the file");
            let read = gate.snapshot().unwrap_or_else(|e| panic!("file just written does not load: {e}"));
            assert_eq!(read.hash, written.hash);
            assert_json_eq("stored file", &written.file, &read.file);
            // The old hash is stale now (the file exists and changed).
            assert!(matches!(gate.set(value.clone(), Some(&before.hash)), Err(ApprovalsError::HashMismatch)), "stale baseHash accepted");
        }
        Err(ApprovalsError::InvalidFile(_)) => assert!(validate_approvals_file(value.clone()).is_err()),
        Err(e) => panic!("set failed on a scratch dir: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };

    if let Ok(file) = serde_json::from_value::<ExecApprovalsFile>(value.clone()) {
        let back = serde_json::to_value(&file).unwrap_or_default();
        let again: ExecApprovalsFile = serde_json::from_value(back.clone()).unwrap_or_else(|e| panic!("round trip: {e}\n{back}"));
        assert_json_eq("approvals file", &back, &serde_json::to_value(&again).unwrap_or_default());
    }

    let Ok(file) = validate_approvals_file(value.clone()) else { return };
    let back = serde_json::to_value(&file).unwrap_or_default();
    let again = validate_approvals_file(back.clone()).unwrap_or_else(|e| panic!("validated file rejected on re-check: {e}"));
    assert_json_eq("validated file", &back, &serde_json::to_value(&again).unwrap_or_default());

    state_dir();
    let layers = file.defaults.iter().chain(file.agents.iter().flat_map(|a| a.values()));
    for entry in layers.flat_map(|l| l.allowlist.iter().flatten()) {
        assert!(pattern_error(&entry.pattern).is_none());
        if entry.pattern.contains('/') || entry.pattern.contains('\\') {
            assert!(compile_pattern(&entry.pattern).is_some(), "accepted pattern {:?} can never match", entry.pattern);
        }
    }
    let agents: Vec<String> = file.agents.iter().flat_map(|a| a.keys().cloned()).chain(["main".to_string()]).collect();
    for agent in agents {
        let policy = EffectivePolicy::resolve(&file, &agent);
        let _ = policy.allows(Path::new("/usr/bin/ls"));
    }
    check_store(&value);
});
