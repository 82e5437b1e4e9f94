//! The accept loop: every TCP connection is admitted (or not) before hyper reads a byte.
//!
//! * **Connection caps.** At most `gateway.connections.max` sockets are open at once; one more
//!   is closed as soon as it is accepted, so a flood cannot exhaust file descriptors. Of those,
//!   at most `gateway.connections.maxUnauthenticated` may not have completed `connect` yet;
//!   when a new connection would exceed that, the *oldest* unauthenticated one is evicted. A
//!   real client needs milliseconds to authenticate, a slowloris attacker needs its sockets to
//!   stay open, so evicting the oldest keeps the door open for new clients (and `/healthz`)
//!   while idle sockets pile up.
//! * **Header-read timeout.** hyper closes a connection whose request headers are not complete
//!   within `gateway.connections.headerReadTimeoutMs` (axum's `serve` sets no timer, so its
//!   timeout never fired).
//! * **Pre-auth read budget.** Each stream reads through a [`BudgetedStream`] until its
//!   connection authenticates (see [`crate::read_budget`]).
//! * **Open-files limit.** The soft `RLIMIT_NOFILE` is raised to the hard limit at start, and
//!   the connection cap is kept below it.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use crate::read_budget::{BudgetedStream, ReadBudget};

/// `gateway.connections.max` default: far above a desktop's or a small team's needs (the
/// benchmark's 1,000 clients included), far below a raised open-files limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8192;
/// `gateway.connections.maxUnauthenticated` default. Each such connection can hold at most
/// its pre-auth read budget (~128 KiB), so this bounds pre-auth memory to ~32 MiB.
pub const DEFAULT_MAX_UNAUTHENTICATED: usize = 256;
/// `gateway.connections.headerReadTimeoutMs` default.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// File descriptors kept free for everything that is not a client socket (SQLite, logs,
/// spawned processes, outgoing provider connections).
const RESERVED_FDS: u64 = 128;

/// How many connections the gateway admits and how long it waits for their headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_unauthenticated: usize,
    pub header_read_timeout: Duration,
    pub preauth_read_bytes: u64,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_unauthenticated: DEFAULT_MAX_UNAUTHENTICATED,
            header_read_timeout: Duration::from_millis(DEFAULT_HEADER_READ_TIMEOUT_MS),
            preauth_read_bytes: crate::read_budget::PREAUTH_READ_BUDGET_BYTES,
        }
    }
}

impl ConnectionLimits {
    /// The same limits with the connection cap kept below the process's open-files limit.
    pub fn within_open_files(mut self, open_files: Option<u64>) -> Self {
        if let Some(limit) = open_files {
            let room = usize::try_from(limit.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX);
            if room < self.max_connections {
                tracing::warn!(
                    configured = self.max_connections,
                    open_files_limit = limit,
                    "gateway.connections.max is above what the open-files limit allows; using {room}"
                );
                self.max_connections = room;
            }
        }
        self.max_unauthenticated = self.max_unauthenticated.min(self.max_connections);
        self
    }
}

/// Raise the soft open-files limit to the hard one; returns the limit now in force.
pub fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::debug!(limit, "open-files limit");
            Some(limit)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-files limit");
            None
        }
    }
}

#[derive(Default)]
struct Counts {
    open: usize,
    /// Unauthenticated connections by admission order (ids grow), with their eviction signal.
    unauthenticated: BTreeMap<u64, CancellationToken>,
    next_id: u64,
}

/// Admission control shared by the accept loop and the connections.
pub struct Admission {
    limits: ConnectionLimits,
    counts: Mutex<Counts>,
    warned_full: AtomicBool,
}

impl Admission {
    pub fn new(limits: ConnectionLimits) -> Arc<Admission> {
        Arc::new(Admission { limits, counts: Mutex::new(Counts::default()), warned_full: AtomicBool::new(false) })
    }

    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        match self.counts.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// `(open, unauthenticated)` right now.
    pub fn snapshot(&self) -> (usize, usize) {
        let c = self.counts();
        (c.open, c.unauthenticated.len())
    }

    /// A slot for a new connection, or `None` when the gateway is at `max_connections`.
    /// Evicts the oldest unauthenticated connection when that set is full.
    pub fn admit(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let mut c = self.counts();
        if c.open >= self.limits.max_connections {
            self.warn_once("connection cap reached; refusing new connections (gateway.connections.max)");
            return None;
        }
        if c.unauthenticated.len() >= self.limits.max_unauthenticated {
            if let Some((_, oldest)) = c.unauthenticated.pop_first() {
                oldest.cancel();
            }
            self.warn_once("unauthenticated connection cap reached; evicting the oldest (gateway.connections.maxUnauthenticated)");
        }
        let id = c.next_id;
        c.next_id += 1;
        c.open += 1;
        let evicted = CancellationToken::new();
        c.unauthenticated.insert(id, evicted.clone());
        drop(c);
        Some(ConnectionSlot(Arc::new(SlotInner {
            id,
            admission: self.clone(),
            budget: ReadBudget::new(self.limits.preauth_read_bytes),
            evicted,
        })))
    }

    /// Under a flood this would fire per connection; the first time is what an operator needs.
    fn warn_once(&self, message: &str) {
        if !self.warned_full.swap(true, Ordering::Relaxed) {
            tracing::warn!("{message}");
        } else {
            tracing::debug!("{message}");
        }
    }
}

struct SlotInner {
    id: u64,
    admission: Arc<Admission>,
    budget: Arc<ReadBudget>,
    evicted: CancellationToken,
}

impl Drop for SlotInner {
    fn drop(&mut self) {
        let mut c = self.admission.counts();
        c.open = c.open.saturating_sub(1);
        c.unauthenticated.remove(&self.id);
    }
}

/// One admitted connection's place; the place is given back when the last clone is dropped
/// (the HTTP connection and, after an upgrade, the WebSocket task each hold one).
#[derive(Clone)]
pub struct ConnectionSlot(Arc<SlotInner>);

impl ConnectionSlot {
    pub fn budget(&self) -> Arc<ReadBudget> {
        self.0.budget.clone()
    }

    /// The connection authenticated: lift its read budget and stop counting it as
    /// unauthenticated (it can no longer be evicted).
    pub fn mark_authenticated(&self) {
        self.0.budget.lift();
        self.0.admission.counts().unauthenticated.remove(&self.0.id);
    }

    /// Resolves when the admission evicted this (unauthenticated) connection.
    pub async fn evicted(&self) {
        self.0.evicted.cancelled().await
    }
}

/// Accept, admit and serve connections until `stop` resolves; then let open HTTP exchanges
/// finish (upgraded WebSockets are closed by the caller's shutdown).
pub async fn serve(listener: TcpListener, app: Router, admission: Arc<Admission>, stop: impl Future<Output = ()>) {
    let draining = CancellationToken::new();
    let in_flight = Arc::new(());
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, addr) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning; per-connection errors
                // (a peer that reset before accept) are simply skipped.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = admission.admit() else {
            drop(tcp);
            continue;
        };
        // Nagle off on every accepted socket: small frames in both directions, and Nagle plus
        // the peer's delayed ACK would hold a node.invoke.request back ~40 ms.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let conn = HttpConnection { addr, app: app.clone(), slot, header_read_timeout: admission.limits().header_read_timeout };
        let draining = draining.clone();
        let guard = in_flight.clone();
        tokio::spawn(async move {
            conn.serve(tcp, draining).await;
            drop(guard);
        });
    }
    draining.cancel();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while Arc::strong_count(&in_flight) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

struct HttpConnection {
    addr: SocketAddr,
    app: Router,
    slot: ConnectionSlot,
    header_read_timeout: Duration,
}

impl HttpConnection {
    async fn serve(self, tcp: TcpStream, draining: CancellationToken) {
        let HttpConnection { addr, app, slot, header_read_timeout } = self;
        let io = TokioIo::new(BudgetedStream::new(tcp, slot.budget()));
        let request_slot = slot.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            // What axum's `into_make_service_with_connect_info` would add, plus the slot the
            // WebSocket handshake marks authenticated.
            req.extensions_mut().insert(ConnectInfo(addr));
            req.extensions_mut().insert(request_slot.clone());
            let mut app = app.clone();
            async move { app.call(req).await }
        });
        let mut builder = http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
        let conn = builder.serve_connection(io, service).with_upgrades();
        tokio::pin!(conn);
        let mut shutting_down = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(remote = %addr, error = %e, "http connection ended with an error");
                    }
                    return;
                }
                _ = slot.evicted() => {
                    tracing::debug!(remote = %addr, "unauthenticated connection evicted");
                    return;
                }
                _ = draining.cancelled(), if !shutting_down => {
                    conn.as_mut().graceful_shutdown();
                    shutting_down = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: usize, max_unauthenticated: usize) -> ConnectionLimits {
        ConnectionLimits { max_connections, max_unauthenticated, ..Default::default() }
    }

    #[tokio::test]
    async fn the_oldest_unauthenticated_connection_is_evicted_when_the_set_is_full() {
        let admission = Admission::new(limits(10, 2));
        let first = admission.admit().unwrap();
        let second = admission.admit().unwrap();
        assert_eq!(admission.snapshot(), (2, 2));
        let third = admission.admit().unwrap();
        // The first was told to go; the newer ones were not.
        tokio::time::timeout(Duration::from_secs(1), first.evicted()).await.expect("oldest evicted");
        assert!(!second.0.evicted.is_cancelled());
        assert!(!third.0.evicted.is_cancelled());
        assert_eq!(admission.snapshot(), (3, 2), "the evicted socket counts as open until it is gone");
        drop(first);
        assert_eq!(admission.snapshot(), (2, 2));
    }

    #[test]
    fn authenticated_connections_are_never_evicted_and_only_the_total_cap_refuses() {
        let admission = Admission::new(limits(3, 1));
        let authed = admission.admit().unwrap();
        authed.mark_authenticated();
        let a = admission.admit().unwrap();
        let b = admission.admit().unwrap();
        assert!(a.0.evicted.is_cancelled(), "a was the oldest unauthenticated one");
        assert!(!authed.0.evicted.is_cancelled());
        assert_eq!(admission.snapshot(), (3, 1));
        assert!(admission.admit().is_none(), "at max_connections new sockets are refused");
        drop(a);
        drop(b);
        assert_eq!(admission.snapshot(), (1, 0));
        assert!(admission.admit().is_some());
    }

    #[test]
    fn the_connection_cap_stays_below_the_open_files_limit() {
        let l = limits(8192, 256).within_open_files(Some(1024));
        assert_eq!(l.max_connections, 1024 - RESERVED_FDS as usize);
        assert_eq!(l.max_unauthenticated, 256);
        let l = limits(8192, 256).within_open_files(Some(200));
        assert_eq!((l.max_connections, l.max_unauthenticated), (72, 72));
        assert_eq!(limits(100, 10).within_open_files(None), limits(100, 10));
    }
}
