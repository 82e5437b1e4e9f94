//! What the run queue (`messages.queue`) records about runs beyond their status: runs dropped
//! from a full queue, runs merged into another by `collect`, a summary run that carries what
//! was dropped, and the partial text of a running answer.
//!
//! Every change here is one transaction committed before it is announced on the wire.

use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use super::{NewRun, Store, StoreResult};

impl Store {
    /// Close queued runs that were dropped from a full queue, with the reason the caller is told.
    /// Only runs still `queued` change; returns the ids that did.
    pub fn drop_queued_runs(&self, run_ids: &[String], reason: &str, now_ms: i64) -> StoreResult<Vec<String>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut dropped = Vec::new();
            for id in run_ids {
                let n = tx.execute(
                    "UPDATE runs SET status = 'dropped', error = ?2, ended_at_ms = ?3 WHERE run_id = ?1 AND status = 'queued'",
                    params![id, reason, now_ms],
                )?;
                if n > 0 {
                    dropped.push(id.clone());
                }
            }
            tx.commit()?;
            Ok(dropped)
        })
    }

    /// `collect`: `owner` (still queued) takes `input`, the combined message, and `merged` are
    /// closed as merged into it, atomically: the combined message and the sources it replaces are
    /// never both (or neither) pending.
    pub fn merge_queued_runs(&self, owner: &str, merged: &[String], input: &Value, now_ms: i64) -> StoreResult<()> {
        let text = serde_json::to_string(input)?;
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute("UPDATE runs SET input = ?2 WHERE run_id = ?1 AND status = 'queued'", params![owner, text])?;
            for id in merged {
                tx.execute(
                    "UPDATE runs SET status = 'merged', merged_into = ?2, ended_at_ms = ?3 WHERE run_id = ?1 AND status = 'queued'",
                    params![id, owner, now_ms],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// `drop: "summarize"`: the oldest queued runs are dropped and the summary run (created if
    /// needed) gets the new summary text, in one transaction.
    pub fn summarize_dropped_runs(
        &self,
        dropped: &[String],
        reason: &str,
        summary: &NewRun<'_>,
        summary_exists: bool,
    ) -> StoreResult<Vec<String>> {
        let input = serde_json::to_string(summary.input)?;
        let options = serde_json::to_string(summary.options)?;
        self.with(|c| {
            let tx = c.transaction()?;
            let mut closed = Vec::new();
            for id in dropped {
                let n = tx.execute(
                    "UPDATE runs SET status = 'dropped', error = ?2, ended_at_ms = ?3 WHERE run_id = ?1 AND status = 'queued'",
                    params![id, reason, summary.now_ms],
                )?;
                if n > 0 {
                    closed.push(id.clone());
                }
            }
            if summary_exists {
                tx.execute("UPDATE runs SET input = ?2 WHERE run_id = ?1 AND status = 'queued'", params![summary.run_id, input])?;
            } else {
                tx.execute(
                    "INSERT INTO runs (run_id, session_key, status, fingerprint, input, options, accepted_at_ms)
                     VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6)",
                    params![summary.run_id, summary.session_key, summary.fingerprint, input, options, summary.now_ms],
                )?;
            }
            tx.commit()?;
            Ok(closed)
        })
    }

    /// The run a `collect`-merged run was folded into.
    pub fn run_merged_into(&self, run_id: &str) -> StoreResult<Option<String>> {
        self.with(|c| {
            Ok(c.query_row("SELECT merged_into FROM runs WHERE run_id = ?1", [run_id], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .flatten())
        })
    }

    /// Remember the text streamed so far by a running run (`None` clears it: the message was
    /// stored whole, or a new model call starts).
    pub fn save_partial_text(&self, run_id: &str, text: Option<&str>) -> StoreResult<()> {
        self.with(|c| {
            c.execute("UPDATE runs SET partial_text = ?2 WHERE run_id = ?1", params![run_id, text])?;
            Ok(())
        })
    }

    /// The text a run had streamed when it was last saved (recovery after a killed process).
    pub fn partial_text(&self, run_id: &str) -> StoreResult<Option<String>> {
        self.with(|c| {
            Ok(c.query_row("SELECT partial_text FROM runs WHERE run_id = ?1", [run_id], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .flatten()
                .filter(|t| !t.is_empty()))
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn queue(store: &Store, ids: &[&str]) {
        for id in ids {
            store
                .enqueue_run(&NewRun {
                    run_id: id,
                    session_key: "agent:main:main",
                    fingerprint: "f",
                    input: &json!({"role": "user", "content": [{"type": "text", "text": id}], "timestamp": 1}),
                    options: &json!({}),
                    now_ms: 1,
                })
                .unwrap();
        }
    }

    #[test]
    fn dropping_closes_only_queued_runs_and_keeps_their_message() {
        let store = Store::open_in_memory().unwrap();
        queue(&store, &["a", "b"]);
        store.end_run("b", "ok", None, 2).unwrap();
        let dropped = store.drop_queued_runs(&["a".into(), "b".into()], "full", 3).unwrap();
        assert_eq!(dropped, ["a"]);
        let a = store.run("a").unwrap().unwrap();
        assert_eq!((a.status.as_str(), a.error.as_deref(), a.ended_at_ms), ("dropped", Some("full"), Some(3)));
        assert_eq!(a.input["content"][0]["text"], "a", "the dropped message stays on record");
        assert_eq!(store.run("b").unwrap().unwrap().status, "ok");
    }

    #[test]
    fn merging_rewrites_the_owner_and_closes_the_sources_in_one_step() {
        let store = Store::open_in_memory().unwrap();
        queue(&store, &["a", "b", "c"]);
        store.merge_queued_runs("c", &["a".into(), "b".into()], &json!({"role": "user", "combined": true}), 5).unwrap();
        assert_eq!(store.run("c").unwrap().unwrap().input["combined"], true);
        assert_eq!(store.run("c").unwrap().unwrap().status, "queued");
        for id in ["a", "b"] {
            assert_eq!(store.run(id).unwrap().unwrap().status, "merged");
            assert_eq!(store.run_merged_into(id).unwrap().as_deref(), Some("c"));
        }
        assert_eq!(store.run_merged_into("c").unwrap(), None);
        let queued: Vec<_> = store.runs_with_status("queued").unwrap().into_iter().map(|r| r.run_id).collect();
        assert_eq!(queued, ["c"]);
    }

    #[test]
    fn partial_text_is_saved_cleared_and_empty_reads_as_none() {
        let store = Store::open_in_memory().unwrap();
        queue(&store, &["a"]);
        assert_eq!(store.partial_text("a").unwrap(), None);
        store.save_partial_text("a", Some("Hel")).unwrap();
        assert_eq!(store.partial_text("a").unwrap().as_deref(), Some("Hel"));
        store.save_partial_text("a", Some("")).unwrap();
        assert_eq!(store.partial_text("a").unwrap(), None);
        store.save_partial_text("a", Some("Hello")).unwrap();
        store.save_partial_text("a", None).unwrap();
        assert_eq!(store.partial_text("a").unwrap(), None);
    }
}
