//! Who is calling a method: what handlers see of a caller instead of its connection.
//!
//! A `Caller` carries the caller's identity (role, scopes, device, client info, declared
//! caps) and its event sink (the connection's outbound queue and session subscriptions). It
//! knows nothing of the transport: the same handlers serve a WebSocket client, a client on
//! the in-memory transport ([`crate::in_memory`]) and, later, the desktop shell.

use std::net::SocketAddr;
use std::sync::Arc;

use pincer_protocol::connect::{ClientInfo, Role};
use pincer_protocol::scopes;

use crate::approvals::Requester;
use crate::hub::{ConnHandle, ConnId};
use crate::nodes::system_run::RunRequester;

/// The caller of one request. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Caller {
    /// The connection's hub entry: identity plus the queue its events go to.
    conn: Arc<ConnHandle>,
}

impl Caller {
    /// The caller behind an authenticated connection.
    pub fn new(conn: Arc<ConnHandle>) -> Self {
        Caller { conn }
    }

    /// The id of the connection the request came on (approvals and invokes remember it).
    pub fn conn_id(&self) -> &ConnId {
        &self.conn.conn_id
    }

    pub fn role(&self) -> Role {
        self.conn.role
    }

    pub fn scopes(&self) -> &[String] {
        &self.conn.scopes
    }

    /// Whether the caller is an operator holding `scope` (or one that implies it).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.conn.has_scope(scope)
    }

    /// The paired device the caller signed in as (for a node: its node id).
    pub fn device_id(&self) -> Option<&str> {
        self.conn.device_id.as_deref()
    }

    pub fn client(&self) -> &ClientInfo {
        &self.conn.client
    }

    /// Declared `caps` (node capabilities, or operator client capability flags).
    pub fn caps(&self) -> &[String] {
        &self.conn.caps
    }

    pub fn remote(&self) -> SocketAddr {
        self.conn.remote
    }

    pub fn connected_at_ms(&self) -> i64 {
        self.conn.connected_at_ms
    }

    /// Where this caller's events go (targeted events, session subscriptions, close).
    pub fn events(&self) -> &Arc<ConnHandle> {
        &self.conn
    }

    /// The name a person reads in audits and approval prompts.
    pub fn display_name(&self) -> String {
        self.conn.client.display_name.clone().unwrap_or_else(|| self.conn.client.id.clone())
    }

    /// The caller as the approval broker records requesters.
    pub fn requester(&self) -> Requester {
        Requester::Client { conn_id: self.conn.conn_id.clone(), device_id: self.conn.device_id.clone() }
    }

    /// The caller as the `system.run` gate knows it.
    pub fn run_requester(&self) -> RunRequester {
        RunRequester { identity: self.requester(), may_approve: self.has_scope(scopes::APPROVALS) || self.has_scope(scopes::ADMIN) }
    }
}
