//! The connection hub: every live socket, its identity, and scope-filtered broadcasts.
//!
//! Each connection owns an outbound queue drained by its writer ([`crate::outbound`]), so a
//! broadcast never waits on a slow socket; the queued bytes are counted and a connection that
//! falls more than `maxBufferedBytes` behind is dropped. A broadcast serializes its frame once
//! and every receiver's queue shares it.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pincer_protocol::connect::{ClientInfo, Role};
use pincer_protocol::frames::StateVersion;
use pincer_protocol::methods::events;
use pincer_protocol::scopes;
use serde_json::Value;

pub use crate::outbound::Outbound;
use crate::outbound::{EventFrame, OutboundQueue};

pub type ConnId = String;

/// A live, authenticated connection.
pub struct ConnHandle {
    pub conn_id: ConnId,
    pub role: Role,
    pub scopes: Vec<String>,
    pub client: ClientInfo,
    /// Declared `caps` (node capabilities, or operator client capability flags).
    pub caps: Vec<String>,
    pub device_id: Option<String>,
    pub remote: SocketAddr,
    pub connected_at_ms: i64,
    /// Everything sent to this connection goes through here (its `seq` is numbered by the
    /// writer, in queue order).
    queue: Arc<OutboundQueue>,
    /// What this client asked to follow with `sessions.subscribe` / `sessions.messages.subscribe`.
    session_subscriptions: Mutex<SessionSubscriptions>,
}

/// A connection's session subscriptions; they end with the connection.
#[derive(Default)]
struct SessionSubscriptions {
    /// `sessions.subscribe`: messages and tool phases of every session.
    all: bool,
    /// `sessions.messages.subscribe`: messages of these session keys.
    keys: HashSet<String>,
}

impl ConnHandle {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        conn_id: ConnId,
        role: Role,
        scopes: Vec<String>,
        client: ClientInfo,
        caps: Vec<String>,
        device_id: Option<String>,
        remote: SocketAddr,
        connected_at_ms: i64,
        queue: Arc<OutboundQueue>,
    ) -> Self {
        ConnHandle {
            conn_id,
            role,
            scopes,
            client,
            caps,
            device_id,
            remote,
            connected_at_ms,
            queue,
            session_subscriptions: Mutex::new(SessionSubscriptions::default()),
        }
    }

    /// `sessions.subscribe`: from now on, messages and tool phases of every session.
    pub fn subscribe_all_sessions(&self) {
        if let Ok(mut s) = self.session_subscriptions.lock() {
            s.all = true;
        }
    }

    /// `sessions.messages.subscribe` (`on`) / `unsubscribe` (`!on`) for one session key.
    pub fn subscribe_session_messages(&self, key: &str, on: bool) {
        if let Ok(mut s) = self.session_subscriptions.lock() {
            if on {
                s.keys.insert(key.to_string());
            } else {
                s.keys.remove(key);
            }
        }
    }

    /// Whether `session.message` events of `key` are for this client.
    pub fn follows_session_messages(&self, key: &str) -> bool {
        self.session_subscriptions.lock().is_ok_and(|s| s.all || s.keys.contains(key))
    }

    /// Whether `session.tool` events are for this client.
    pub fn follows_all_sessions(&self) -> bool {
        self.session_subscriptions.lock().is_ok_and(|s| s.all)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.role == Role::Operator && scopes::satisfies(&self.scopes, scope)
    }

    /// Queue a complete frame; drops the connection if its backlog would go over the limit.
    pub fn send_text(&self, text: String) -> bool {
        self.queue.push(Outbound::Text(text))
    }

    /// Send one event with this connection's next `seq`.
    pub fn send_event(&self, event: &str, payload_json: &str, state_version: Option<StateVersion>) -> bool {
        self.send_frame(&Arc::new(EventFrame::new(event, payload_json, state_version)))
    }

    /// Queue a broadcast frame shared with other receivers; the writer gives it this
    /// connection's next `seq`.
    pub fn send_frame(&self, frame: &Arc<EventFrame>) -> bool {
        self.queue.push(Outbound::Event(Arc::clone(frame)))
    }

    /// Send an event that is addressed to this connection alone (no `seq`, like OpenClaw's
    /// targeted `node.invoke.request`).
    pub fn send_targeted(&self, event: &str, payload: &Value) -> bool {
        let payload_json = serde_json::to_string(payload).unwrap_or_else(|_| "null".into());
        self.send_text(EventFrame::new(event, &payload_json, None).render(None))
    }

    /// Close gracefully, after what is already queued.
    pub fn close(&self, code: u16, reason: &str) {
        self.queue.push(Outbound::Close(code, reason.to_string()));
    }

    /// Bytes queued for this connection and not yet written to its socket.
    pub fn queued_bytes(&self) -> usize {
        self.queue.queued_bytes()
    }

    /// Whether this connection was dropped for falling more than `maxBufferedBytes` behind.
    pub fn dropped_as_slow(&self) -> bool {
        self.queue.dropped_as_slow()
    }
}

/// Render an event frame from an already-serialized payload.
pub fn render_event(event: &str, payload_json: &str, seq: Option<u64>, state_version: Option<StateVersion>) -> String {
    EventFrame::new(event, payload_json, state_version).render(seq)
}

/// Who may receive a broadcast event, following OpenClaw's rules: transport events go to
/// everyone, the rest to operators holding the family's scope; unknown families fail closed.
pub fn may_receive(conn: &ConnHandle, event: &str) -> bool {
    match event {
        events::TICK | events::SHUTDOWN | events::HEALTH | events::HEARTBEAT | events::VOICEWAKE_CHANGED => true,
        events::PRESENCE => conn.role == Role::Operator,
        _ if conn.role == Role::Node => false,
        events::CHAT | events::AGENT | events::SESSIONS_CHANGED => conn.has_scope(scopes::READ),
        events::SESSION_MESSAGE | events::SESSION_TOOL | events::SESSION_OPERATION => conn.has_scope(scopes::READ),
        e if e.starts_with("exec.approval.") => conn.has_scope(scopes::APPROVALS),
        e if e.starts_with("device.pair.") || e.starts_with("node.pair.") => conn.has_scope(scopes::PAIRING),
        events::NODE_HOST_STATS | events::NODE_RUNNER_INVENTORY_CHANGED => conn.has_scope(scopes::READ),
        _ => conn.has_scope(scopes::ADMIN),
    }
}

#[derive(Default)]
pub struct Hub {
    conns: Mutex<HashMap<ConnId, Arc<ConnHandle>>>,
    state_version: Mutex<StateVersion>,
    /// A coalesced presence broadcast is scheduled and has not read the list yet.
    presence_pending: AtomicBool,
}

impl Hub {
    pub fn insert(&self, conn: Arc<ConnHandle>) {
        if let Ok(mut map) = self.conns.lock() {
            map.insert(conn.conn_id.clone(), conn);
        }
    }

    pub fn remove(&self, conn_id: &str) -> Option<Arc<ConnHandle>> {
        self.conns.lock().ok()?.remove(conn_id)
    }

    pub fn get(&self, conn_id: &str) -> Option<Arc<ConnHandle>> {
        self.conns.lock().ok()?.get(conn_id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<ConnHandle>> {
        self.conns.lock().map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.conns.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn state_version(&self) -> StateVersion {
        self.state_version.lock().map(|v| *v).unwrap_or_default()
    }

    pub fn bump_presence(&self) -> StateVersion {
        match self.state_version.lock() {
            Ok(mut v) => {
                v.presence += 1;
                *v
            }
            Err(_) => StateVersion::default(),
        }
    }

    /// Claim the next presence broadcast: `true` if none was scheduled (the caller schedules
    /// it), `false` if one is pending and will carry the caller's change.
    pub fn schedule_presence_broadcast(&self) -> bool {
        !self.presence_pending.swap(true, Ordering::AcqRel)
    }

    /// The scheduled presence broadcast is about to read the list: later changes need another.
    pub fn presence_broadcast_started(&self) {
        self.presence_pending.store(false, Ordering::Release);
    }

    pub fn bump_health(&self) -> StateVersion {
        match self.state_version.lock() {
            Ok(mut v) => {
                v.health += 1;
                *v
            }
            Err(_) => StateVersion::default(),
        }
    }

    /// Broadcast to every connection allowed to see `event`.
    pub fn broadcast(&self, event: &str, payload: &Value) {
        self.broadcast_filtered(event, payload, None, |_| true);
    }

    /// Broadcast with a state version and an extra filter.
    pub fn broadcast_filtered(
        &self,
        event: &str,
        payload: &Value,
        state_version: Option<StateVersion>,
        extra: impl Fn(&ConnHandle) -> bool,
    ) {
        let payload_json = serde_json::to_string(payload).unwrap_or_else(|_| "null".into());
        self.broadcast_serialized(event, &payload_json, state_version, extra);
    }

    /// Broadcast an already-serialized payload: the frame is built once and shared by every
    /// receiver's queue.
    pub fn broadcast_serialized(
        &self,
        event: &str,
        payload_json: &str,
        state_version: Option<StateVersion>,
        extra: impl Fn(&ConnHandle) -> bool,
    ) {
        let frame = Arc::new(EventFrame::new(event, payload_json, state_version));
        for conn in self.all() {
            if may_receive(&conn, event) && extra(&conn) {
                conn.send_frame(&frame);
            }
        }
    }

    /// Whether anyone follows the messages of session `key` (so the event is worth building).
    pub fn has_session_followers(&self, key: &str) -> bool {
        self.all().iter().any(|c| c.follows_session_messages(key) && may_receive(c, events::SESSION_MESSAGE))
    }

    /// `session.message` to the clients following session `key`.
    pub fn broadcast_session_message(&self, key: &str, payload: &Value) {
        self.broadcast_filtered(events::SESSION_MESSAGE, payload, None, |c| c.follows_session_messages(key));
    }

    /// Whether anyone subscribed to every session (`session.tool` receivers).
    pub fn has_all_session_followers(&self) -> bool {
        self.all().iter().any(|c| c.follows_all_sessions() && may_receive(c, events::SESSION_TOOL))
    }

    /// Send an event to one connection (with its seq), if it is still connected.
    pub fn send_to(&self, conn_id: &str, event: &str, payload: &Value) -> bool {
        match self.get(conn_id) {
            Some(conn) => {
                let payload_json = serde_json::to_string(payload).unwrap_or_else(|_| "null".into());
                conn.send_event(event, &payload_json, None)
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_events_are_valid_frames() {
        let text = render_event("tick", r#"{"ts":1}"#, Some(3), Some(StateVersion { presence: 1, health: 2 }));
        let frame = pincer_protocol::Frame::parse(&text).unwrap();
        let pincer_protocol::Frame::Event(ev) = frame else { panic!("not an event") };
        assert_eq!(ev.event, "tick");
        assert_eq!(ev.seq, Some(3));
        assert_eq!(ev.state_version, Some(StateVersion { presence: 1, health: 2 }));
        assert_eq!(ev.payload.unwrap()["ts"], 1);
    }
}
