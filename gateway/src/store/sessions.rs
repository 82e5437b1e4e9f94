//! Agent sessions, transcripts and runs in the state database.
//!
//! A session key (`agent:main:main`) names a conversation; its `session_id` names the current
//! transcript (a reset starts a new one). Transcript rows hold one message each, in OpenClaw's
//! JSON shape; compaction marks folded rows `compacted` instead of deleting them.

use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use super::{Store, StoreResult};

/// One session's row.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub session_key: String,
    pub session_id: String,
    pub agent_id: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Overrides and counters (`label`, `model`, `thinkingLevel`, usage totals, …).
    pub meta: Value,
}

/// A stored transcript message.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptRow {
    pub id: i64,
    pub run_id: Option<String>,
    /// 1-based position in the session's whole transcript (compacted messages count too, so
    /// a message keeps its number).
    pub seq: i64,
    pub message: Value,
}

/// Where a message was stored: its row id and its position in the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub id: i64,
    pub seq: i64,
}

/// Inserts a transcript row as the session's next position (`?1` is the session id).
const INSERT_MESSAGE: &str = "INSERT INTO transcript (session_id, run_id, role, message, ts, seq)
     VALUES (?1, ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(seq), 0) + 1 FROM transcript WHERE session_id = ?1))
     RETURNING id, seq";

fn insert_message(
    tx: &rusqlite::Transaction<'_>,
    session_id: &str,
    run_id: Option<&str>,
    role: &str,
    text: &str,
    ts: i64,
) -> rusqlite::Result<Stored> {
    tx.query_row(INSERT_MESSAGE, params![session_id, run_id, role, text, ts], |r| Ok(Stored { id: r.get(0)?, seq: r.get(1)? }))
}

type RawRow = (i64, Option<String>, String, i64);

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn parse_row((id, run_id, text, seq): RawRow) -> StoreResult<TranscriptRow> {
    Ok(TranscriptRow { id, run_id, seq, message: serde_json::from_str(&text)? })
}

/// A run as recorded (status `queued`, `running`, `ok`, `error` or `aborted`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub run_id: String,
    pub session_key: String,
    pub status: String,
    pub fingerprint: String,
    pub input: Value,
    pub options: Value,
    pub accepted_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub error: Option<String>,
}

fn session_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(SessionRecord, String)> {
    Ok((
        SessionRecord {
            session_key: row.get(0)?,
            session_id: row.get(1)?,
            agent_id: row.get(2)?,
            created_at_ms: row.get(3)?,
            updated_at_ms: row.get(4)?,
            meta: Value::Null,
        },
        row.get::<_, String>(5)?,
    ))
}

fn finish_session((mut record, meta): (SessionRecord, String)) -> StoreResult<SessionRecord> {
    record.meta = serde_json::from_str(&meta)?;
    Ok(record)
}

const SESSION_COLUMNS: &str = "session_key, session_id, agent_id, created_at_ms, updated_at_ms, meta";

impl Store {
    pub fn session(&self, session_key: &str) -> StoreResult<Option<SessionRecord>> {
        let row = self.with(|c| {
            Ok(c.query_row(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session_key = ?1"), [session_key], session_from_row)
                .optional()?)
        })?;
        row.map(finish_session).transpose()
    }

    pub fn session_by_id(&self, session_id: &str) -> StoreResult<Option<SessionRecord>> {
        let row = self.with(|c| {
            Ok(c.query_row(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = ?1"), [session_id], session_from_row)
                .optional()?)
        })?;
        row.map(finish_session).transpose()
    }

    /// Sessions, most recently updated first.
    pub fn sessions(&self, limit: usize) -> StoreResult<Vec<SessionRecord>> {
        let rows = self.with(|c| {
            let mut stmt =
                c.prepare(&format!("SELECT {SESSION_COLUMNS} FROM sessions ORDER BY updated_at_ms DESC, session_key LIMIT ?1"))?;
            let rows = stmt.query_map([limit as i64], session_from_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter().map(finish_session).collect()
    }

    pub fn session_count(&self) -> StoreResult<usize> {
        self.with(|c| Ok(c.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get::<_, i64>(0))? as usize))
    }

    /// Insert or replace a session row.
    pub fn save_session(&self, record: &SessionRecord) -> StoreResult<()> {
        let meta = serde_json::to_string(&record.meta)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO sessions (session_key, session_id, agent_id, created_at_ms, updated_at_ms, meta)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(session_key) DO UPDATE SET session_id = ?2, agent_id = ?3, updated_at_ms = ?5, meta = ?6",
                params![record.session_key, record.session_id, record.agent_id, record.created_at_ms, record.updated_at_ms, meta],
            )?;
            Ok(())
        })
    }

    /// Delete a session and its current transcript. Returns whether it existed.
    pub fn delete_session(&self, session_key: &str) -> StoreResult<bool> {
        self.with(|c| {
            let tx = c.transaction()?;
            let id: Option<String> =
                tx.query_row("SELECT session_id FROM sessions WHERE session_key = ?1", [session_key], |r| r.get(0)).optional()?;
            if let Some(id) = &id {
                tx.execute("DELETE FROM transcript WHERE session_id = ?1", [id])?;
                tx.execute("DELETE FROM sessions WHERE session_key = ?1", [session_key])?;
            }
            tx.commit()?;
            Ok(id.is_some())
        })
    }

    /// Append one message to a transcript and touch the session, in one transaction.
    pub fn append_message(
        &self,
        session_key: &str,
        session_id: &str,
        run_id: Option<&str>,
        message: &Value,
        now_ms: i64,
    ) -> StoreResult<Stored> {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("unknown").to_string();
        let ts = message.get("timestamp").and_then(Value::as_i64).unwrap_or(now_ms);
        let text = serde_json::to_string(message)?;
        self.with(|c| {
            let tx = c.transaction()?;
            let stored = insert_message(&tx, session_id, run_id, &role, &text, ts)?;
            tx.execute("UPDATE sessions SET updated_at_ms = ?2 WHERE session_key = ?1", params![session_key, now_ms])?;
            tx.commit()?;
            Ok(stored)
        })
    }

    /// The live (not compacted) transcript, oldest first; a compaction summary comes first.
    pub fn transcript(&self, session_id: &str) -> StoreResult<Vec<TranscriptRow>> {
        let rows = self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, run_id, message, seq FROM transcript WHERE session_id = ?1 AND compacted = 0
                 ORDER BY (role != 'compactionSummary'), id",
            )?;
            let rows = stmt.query_map([session_id], raw_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter().map(parse_row).collect()
    }

    /// The newest `limit` live messages by position, oldest first (what `chat.history` pages),
    /// without reading the rest. A compaction summary sits where it was written, after the
    /// messages it kept, as OpenClaw places its compaction marker.
    pub fn transcript_tail(&self, session_id: &str, limit: usize) -> StoreResult<Vec<TranscriptRow>> {
        let rows = self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, run_id, message, seq FROM transcript WHERE session_id = ?1 AND compacted = 0
                 ORDER BY seq DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![session_id, limit as i64], raw_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter().rev().map(parse_row).collect()
    }

    /// The assistant messages a run wrote, oldest first (compacted ones included: the answer
    /// of a run does not change when the history is later summarised).
    pub fn run_assistant_messages(&self, run_id: &str) -> StoreResult<Vec<Value>> {
        let texts = self.with(|c| {
            let mut stmt = c.prepare("SELECT message FROM transcript WHERE run_id = ?1 AND role = 'assistant' ORDER BY id")?;
            let rows = stmt.query_map([run_id], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        texts.iter().map(|t| Ok(serde_json::from_str(t)?)).collect()
    }

    /// Number of live messages and the newest one, for `sessions.list`.
    pub fn transcript_stats(&self, session_id: &str) -> StoreResult<(usize, Option<Value>)> {
        let (count, last) = self.with(|c| {
            let count: i64 =
                c.query_row("SELECT COUNT(*) FROM transcript WHERE session_id = ?1 AND compacted = 0", [session_id], |r| r.get(0))?;
            let last: Option<String> = c
                .query_row(
                    "SELECT message FROM transcript WHERE session_id = ?1 AND compacted = 0 ORDER BY id DESC LIMIT 1",
                    [session_id],
                    |r| r.get(0),
                )
                .optional()?;
            Ok((count, last))
        })?;
        Ok((count as usize, last.map(|t| serde_json::from_str(&t)).transpose()?))
    }

    /// Fold transcript rows with `id < keep_from_id` into a summary row, atomically.
    /// Folds the live messages before `keep_from_id` (and any earlier summary) behind `summary`;
    /// returns how many were folded and where the summary was stored.
    pub fn compact_transcript(&self, session_id: &str, keep_from_id: i64, summary: &Value, now_ms: i64) -> StoreResult<(usize, Stored)> {
        let text = serde_json::to_string(summary)?;
        self.with(|c| {
            let tx = c.transaction()?;
            let folded = tx.execute(
                "UPDATE transcript SET compacted = 1 WHERE session_id = ?1 AND compacted = 0 AND (id < ?2 OR role = 'compactionSummary')",
                params![session_id, keep_from_id],
            )?;
            let stored = insert_message(&tx, session_id, None, "compactionSummary", &text, now_ms)?;
            tx.commit()?;
            Ok((folded, stored))
        })
    }

    /// Record an accepted run and its input message, before the request is acknowledged.
    pub fn enqueue_run(&self, run: &NewRun<'_>) -> StoreResult<()> {
        let input = serde_json::to_string(run.input)?;
        let options = serde_json::to_string(run.options)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (run_id, session_key, status, fingerprint, input, options, accepted_at_ms)
                 VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6)",
                params![run.run_id, run.session_key, run.fingerprint, input, options, run.now_ms],
            )?;
            Ok(())
        })
    }

    /// A queued run starts: its input message joins the transcript, atomically with the status.
    /// Marks the run running and moves its message into the transcript; returns that
    /// message's row id and content (none for a run without a message).
    pub fn start_run(&self, run_id: &str, session_key: &str, session_id: &str, now_ms: i64) -> StoreResult<Option<(Stored, Value)>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let input: String = tx.query_row("SELECT input FROM runs WHERE run_id = ?1", [run_id], |r| r.get(0))?;
            let message: Value = serde_json::from_str(&input)?;
            let mut added = None;
            if !message.is_null() {
                let ts = message.get("timestamp").and_then(Value::as_i64).unwrap_or(now_ms);
                let role = message.get("role").and_then(Value::as_str).unwrap_or("user").to_string();
                let stored = insert_message(&tx, session_id, Some(run_id), &role, &input, ts)?;
                added = Some((stored, message));
            }
            tx.execute("UPDATE runs SET status = 'running', started_at_ms = ?2 WHERE run_id = ?1", params![run_id, now_ms])?;
            tx.execute("UPDATE sessions SET updated_at_ms = ?2 WHERE session_key = ?1", params![session_key, now_ms])?;
            tx.commit()?;
            Ok(added)
        })
    }

    pub fn end_run(&self, run_id: &str, status: &str, error: Option<&str>, now_ms: i64) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET status = ?2, error = ?3, ended_at_ms = ?4 WHERE run_id = ?1",
                params![run_id, status, error, now_ms],
            )?;
            Ok(())
        })
    }

    pub fn run(&self, run_id: &str) -> StoreResult<Option<RunRecord>> {
        let row = self.with(|c| {
            Ok(c.query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?1"), [run_id], run_from_row).optional()?)
        })?;
        row.map(finish_run).transpose()
    }

    /// Runs in a state (`queued`: accepted, never started; `running`: a process died mid-run),
    /// oldest first.
    pub fn runs_with_status(&self, status: &str) -> StoreResult<Vec<RunRecord>> {
        let rows = self.with(|c| {
            let mut stmt = c.prepare(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE status = ?1 ORDER BY accepted_at_ms, rowid"))?;
            let rows = stmt.query_map([status], run_from_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter().map(finish_run).collect()
    }
}

/// A run to record as accepted.
pub struct NewRun<'a> {
    pub run_id: &'a str,
    pub session_key: &'a str,
    /// Identifies the request, so a replay with other content is refused.
    pub fingerprint: &'a str,
    /// The user message (or `null` for a run without one).
    pub input: &'a Value,
    /// Per-run options (model override, extra system prompt, timeout).
    pub options: &'a Value,
    pub now_ms: i64,
}

const RUN_COLUMNS: &str = "run_id, session_key, status, fingerprint, input, options, accepted_at_ms, started_at_ms, ended_at_ms, error";

type RawRun = (RunRecord, String, String);

fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
    Ok((
        RunRecord {
            run_id: r.get(0)?,
            session_key: r.get(1)?,
            status: r.get(2)?,
            fingerprint: r.get(3)?,
            input: Value::Null,
            options: Value::Null,
            accepted_at_ms: r.get(6)?,
            started_at_ms: r.get(7)?,
            ended_at_ms: r.get(8)?,
            error: r.get(9)?,
        },
        r.get(4)?,
        r.get(5)?,
    ))
}

fn finish_run((mut run, input, options): RawRun) -> StoreResult<RunRecord> {
    run.input = serde_json::from_str(&input)?;
    run.options = serde_json::from_str(&options)?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn session(key: &str, id: &str) -> SessionRecord {
        SessionRecord {
            session_key: key.into(),
            session_id: id.into(),
            agent_id: "main".into(),
            created_at_ms: 1,
            updated_at_ms: 1,
            meta: json!({}),
        }
    }

    #[test]
    fn transcript_keeps_order_and_compaction_puts_the_summary_first_for_the_model() {
        let store = Store::open_in_memory().unwrap();
        store.save_session(&session("agent:main:main", "s1")).unwrap();
        let mut ids = Vec::new();
        for i in 0..4 {
            ids.push(store.append_message("agent:main:main", "s1", Some("r1"), &json!({"role": "user", "n": i}), 10 + i).unwrap());
        }
        assert_eq!(ids.iter().map(|s| s.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
        let (folded, summary) =
            store.compact_transcript("s1", ids[2].id, &json!({"role": "compactionSummary", "summary": "x"}), 20).unwrap();
        assert_eq!(folded, 2);
        assert_eq!(summary.seq, 5, "positions never repeat");
        let rows = store.transcript("s1").unwrap();
        let roles: Vec<_> = rows.iter().map(|r| r.message["role"].as_str().unwrap().to_string()).collect();
        assert_eq!(roles, ["compactionSummary", "user", "user"]);
        assert_eq!(rows[1].message["n"], 2);
        let tail: Vec<_> =
            store.transcript_tail("s1", 2).unwrap().into_iter().map(|r| r.message["role"].as_str().unwrap().to_string()).collect();
        assert_eq!(tail, ["user", "compactionSummary"], "the tail is the newest messages by position, oldest first");
        let tail = store.transcript_tail("s1", 10).unwrap();
        assert_eq!(tail.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4, 5], "history goes by position: the summary where it was written");
        // A second compaction folds the first summary too.
        store.compact_transcript("s1", ids[3].id, &json!({"role": "compactionSummary", "summary": "y"}), 30).unwrap();
        let rows = store.transcript("s1").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].message["summary"], "y");
        assert_eq!(store.session("agent:main:main").unwrap().unwrap().updated_at_ms, 13);
    }

    #[test]
    fn a_queued_run_joins_the_transcript_when_it_starts() {
        let store = Store::open_in_memory().unwrap();
        store.save_session(&session("agent:main:main", "s1")).unwrap();
        let input = json!({"role": "user", "content": [{"type": "text", "text": "hi"}], "timestamp": 3});
        for id in ["r1", "r2"] {
            store
                .enqueue_run(&NewRun {
                    run_id: id,
                    session_key: "agent:main:main",
                    fingerprint: "f",
                    input: &input,
                    options: &json!({}),
                    now_ms: 3,
                })
                .unwrap();
        }
        assert!(store.transcript("s1").unwrap().is_empty(), "a queued message is not in the transcript yet");
        store.start_run("r1", "agent:main:main", "s1", 4).unwrap();
        store.end_run("r1", "ok", None, 5).unwrap();
        let rows = store.transcript("s1").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].run_id.as_deref(), Some("r1"));
        assert_eq!(rows[0].message, input);
        let queued: Vec<_> = store.runs_with_status("queued").unwrap().into_iter().map(|r| r.run_id).collect();
        assert_eq!(queued, ["r2"]);
        let r1 = store.run("r1").unwrap().unwrap();
        assert_eq!((r1.status.as_str(), r1.started_at_ms, r1.ended_at_ms), ("ok", Some(4), Some(5)));
        assert!(store.delete_session("agent:main:main").unwrap());
        assert!(!store.delete_session("agent:main:main").unwrap());
    }
}
