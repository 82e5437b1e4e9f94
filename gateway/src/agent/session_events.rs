//! Live transcript updates for clients that follow sessions: `session.message` for every
//! message added to a transcript (to `sessions.subscribe` subscribers and to
//! `sessions.messages.subscribe` subscribers of that session), `session.tool` for tool phases
//! and `session.operation` for long operations such as compaction (to `sessions.subscribe`
//! subscribers). Nothing is built when nobody follows.

use pincer_protocol::methods::events;
use serde_json::{json, Value};

use super::keys::agent_id_of;
use crate::state::SharedState;
use crate::store::Stored;

/// The `__openclaw` envelope a transcript message carries on the wire (`chat.history` and
/// `session.message`): its id, its position in the session and the run that wrote it.
pub fn envelope(id: i64, seq: i64, run_id: Option<&str>) -> Value {
    let mut meta = json!({"id": id.to_string(), "seq": seq});
    if let Some(run_id) = run_id {
        meta["runId"] = json!(run_id);
    }
    meta
}

/// `message` was added to session `session_key` where `stored` says.
pub fn message_added(state: &SharedState, session_key: &str, stored: Stored, run_id: Option<&str>, message: &Value) {
    if !state.hub.has_session_followers(session_key) {
        return;
    }
    let Stored { id, seq } = stored;
    let mut message = message.clone();
    if let Some(fields) = message.as_object_mut() {
        fields.insert("__openclaw".into(), envelope(id, seq, run_id));
    }
    let mut payload = json!({
        "sessionKey": session_key,
        "agentId": agent_id_of(session_key),
        "message": message,
        "messageId": id.to_string(),
        "messageSeq": seq,
    });
    if let Some(run_id) = run_id {
        payload["runId"] = json!(run_id);
    }
    with_session_row(state, session_key, &mut payload);
    state.hub.broadcast_session_message(session_key, &payload);
}

/// The session's `sessions.list` row as `session`, and its fields at the top level too, as
/// OpenClaw sends them (so a client can update its list without another request).
fn with_session_row(state: &SharedState, session_key: &str, payload: &mut Value) {
    let (Some(row), Some(fields)) = (crate::services::session_view::snapshot(state, session_key), payload.as_object_mut()) else {
        return;
    };
    if let Some(row_fields) = row.as_object() {
        for (k, v) in row_fields {
            if k != "key" && !fields.contains_key(k) {
                fields.insert(k.clone(), v.clone());
            }
        }
    }
    fields.insert("session".into(), row);
}

/// A run's `agent` tool event, mirrored as `session.tool` with the session's row.
pub fn tool_phase(state: &SharedState, session_key: &str, agent_payload: &Value) {
    if !state.hub.has_all_session_followers() {
        return;
    }
    let mut payload = agent_payload.clone();
    with_session_row(state, session_key, &mut payload);
    state.hub.broadcast_filtered(events::SESSION_TOOL, &payload, None, |c| c.follows_all_sessions());
}

/// A long operation on a session (`compact`), announced as `session.operation` start and end;
/// dropped without [`Operation::end`] (an early return on an error), it ends as not completed.
pub struct Operation<'a> {
    state: &'a SharedState,
    id: String,
    session_key: &'a str,
    operation: &'static str,
    ended: bool,
}

impl<'a> Operation<'a> {
    pub fn start(state: &'a SharedState, session_key: &'a str, operation: &'static str) -> Operation<'a> {
        let op = Operation { state, id: uuid::Uuid::new_v4().to_string(), session_key, operation, ended: false };
        op.announce(json!({"phase": "start"}));
        op
    }

    /// `completed: false` with the `reason` when it failed or had nothing to do.
    pub fn end(mut self, completed: bool, reason: Option<&str>) {
        self.ended = true;
        let mut fields = json!({"phase": "end", "completed": completed});
        if let Some(reason) = reason {
            fields["reason"] = json!(reason);
        }
        self.announce(fields);
    }

    fn announce(&self, fields: Value) {
        if !self.state.hub.has_all_session_followers() {
            return;
        }
        let mut payload = json!({
            "operationId": self.id,
            "operation": self.operation,
            "sessionKey": self.session_key,
            "agentId": agent_id_of(self.session_key),
            "ts": pincer_agent::model::now_ms(),
        });
        if let (Some(out), Some(extra)) = (payload.as_object_mut(), fields.as_object()) {
            out.extend(extra.clone());
        }
        self.state.hub.broadcast_filtered(events::SESSION_OPERATION, &payload, None, |c| c.follows_all_sessions());
    }
}

impl Drop for Operation<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.announce(json!({"phase": "end", "completed": false, "reason": "failed"}));
        }
    }
}
