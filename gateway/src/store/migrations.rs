//! Versioned schema migrations. Append new steps; never edit a released one.

use rusqlite_migration::{Migrations, M};

/// The schema steps, oldest first; the database's `user_version` counts those applied.
const STEPS: [&str; 5] = [
    "CREATE TABLE devices (
            device_id TEXT PRIMARY KEY,
            record TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL
        );
        CREATE TABLE device_tokens (
            device_id TEXT NOT NULL,
            role TEXT NOT NULL,
            token_hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL,
            rotated_at_ms INTEGER,
            revoked_at_ms INTEGER,
            last_used_at_ms INTEGER,
            PRIMARY KEY (device_id, role)
        );
        CREATE TABLE device_pair_requests (
            request_id TEXT PRIMARY KEY,
            device_id TEXT NOT NULL,
            record TEXT NOT NULL,
            ts INTEGER NOT NULL
        );
        CREATE INDEX device_pair_requests_device ON device_pair_requests(device_id);
        CREATE TABLE node_pairings (
            node_id TEXT PRIMARY KEY,
            record TEXT NOT NULL,
            approved_at_ms INTEGER NOT NULL
        );
        CREATE TABLE node_pair_requests (
            request_id TEXT PRIMARY KEY,
            node_id TEXT NOT NULL,
            record TEXT NOT NULL,
            ts INTEGER NOT NULL
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at_ms INTEGER NOT NULL
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts INTEGER NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            decision TEXT NOT NULL,
            actor TEXT,
            details TEXT NOT NULL
        );
        -- The audit log is append-only: refuse edits and deletes at the database level.
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;",
    // Agent sessions, their transcripts (one row per message, in OpenClaw's message shape)
    // and runs (so `agent.wait` and crash recovery know what was in flight).
    "CREATE TABLE sessions (
            session_key TEXT PRIMARY KEY,
            session_id TEXT NOT NULL UNIQUE,
            agent_id TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            meta TEXT NOT NULL
        );
        CREATE TABLE transcript (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            run_id TEXT,
            role TEXT NOT NULL,
            message TEXT NOT NULL,
            ts INTEGER NOT NULL,
            compacted INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX transcript_session ON transcript(session_id, compacted, id);
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            session_key TEXT NOT NULL,
            status TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            input TEXT NOT NULL,
            options TEXT NOT NULL,
            accepted_at_ms INTEGER NOT NULL,
            started_at_ms INTEGER,
            ended_at_ms INTEGER,
            error TEXT
        );
        CREATE INDEX runs_status ON runs(status);",
    // `agent`'s final answer reads the messages of one run.
    "CREATE INDEX transcript_run ON transcript(run_id) WHERE run_id IS NOT NULL;",
    // Each message's 1-based position in its session, fixed when it is written (clients merge
    // `chat.history` with live `session.message` events by it).
    "ALTER TABLE transcript ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
        UPDATE transcript SET seq = (SELECT COUNT(*) FROM transcript AS t WHERE t.session_id = transcript.session_id AND t.id <= transcript.id);
        CREATE INDEX transcript_seq ON transcript(session_id, seq);",
    // The run queue (`messages.queue`): a run merged into another by `collect` names the run
    // that answers it; `partial_text` is the assistant text streamed so far by a running run,
    // written every few hundred milliseconds so a killed process keeps what was shown.
    "ALTER TABLE runs ADD COLUMN merged_into TEXT;
        ALTER TABLE runs ADD COLUMN partial_text TEXT;",
];

/// How many schema versions this build knows.
pub const COUNT: usize = STEPS.len();

pub fn migrations() -> Migrations<'static> {
    Migrations::new(STEPS.iter().map(|step| M::up(step)).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }

    #[test]
    fn positions_are_backfilled_per_session_for_transcripts_written_before_they_existed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        super::migrations().to_version(&mut conn, 3).unwrap();
        for (session, n) in [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2)] {
            conn.execute(
                "INSERT INTO transcript (session_id, role, message, ts) VALUES (?1, 'user', ?2, 0)",
                rusqlite::params![session, format!("{{\"n\":{n}}}")],
            )
            .unwrap();
        }
        drop(conn);
        let store = crate::store::Store::open(&path).unwrap();
        let seqs = |s: &str| store.transcript(s).unwrap().iter().map(|r| (r.message["n"].as_i64().unwrap(), r.seq)).collect::<Vec<_>>();
        assert_eq!(seqs("a"), [(1, 1), (2, 2), (3, 3)]);
        assert_eq!(seqs("b"), [(1, 1), (2, 2)]);
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(crate::store::Store::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 42).unwrap();
        drop(conn);
        let err = crate::store::Store::open(&path).err().unwrap();
        assert!(matches!(err, crate::store::StoreError::TooNew { found: 42, known: super::COUNT }), "{err:?}");
        assert!(err.to_string().contains("newer Pincer"), "{err}");
    }
}
