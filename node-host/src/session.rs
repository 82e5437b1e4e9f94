//! Serving one live connection: invokes in, results and events out, a tick watchdog.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pincer_client::{EventFrame, GatewayClient, HelloOk};
use pincer_protocol::close_code;
use pincer_protocol::methods;
use pincer_protocol::nodes::{NodeEventParams, NodeInvokeCancel, NodeInvokeRequest, NodeInvokeResult};
use serde_json::{Map, Value};
use tokio::sync::{broadcast, mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::commands::{CommandRegistry, InvokeContext};
use crate::error::{codes, CommandError};
use crate::events::OutgoingEvent;

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    Shutdown,
    Closed { code: u16, reason: String },
    TickTimeout,
}

/// How much of the caller's `timeoutMs` the node keeps for itself, so its answer (even a
/// timeout error) reaches the gateway before the gateway gives up.
fn answer_margin(timeout: Duration) -> Duration {
    (timeout / 10).min(Duration::from_millis(500))
}

/// How many recent invoke ids a connection remembers to drop duplicate deliveries. Duplicates
/// only arise where the client's backlog and its live feed overlap (the first events of a
/// connection), so this covers the node's whole event backlog with room to spare.
const RECENT_INVOKE_IDS: usize = 1024;

/// The last `capacity` ids seen, oldest forgotten first: constant memory however many invokes
/// a long-lived connection serves.
struct RecentIds {
    order: VecDeque<String>,
    set: HashSet<String>,
    capacity: usize,
}

impl RecentIds {
    fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        RecentIds { order: VecDeque::with_capacity(capacity), set: HashSet::with_capacity(capacity), capacity }
    }

    /// Remember `id`; false when it is already remembered.
    fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.set.remove(&oldest);
            }
        }
        self.order.push_back(id.to_string());
        self.set.insert(id.to_string());
        true
    }
}

/// In-flight invokes by id, for `node.invoke.cancel` and disconnects.
#[derive(Default, Clone)]
struct InFlight(Arc<Mutex<HashMap<String, CancellationToken>>>);

impl InFlight {
    /// Register `id`; false when it is already running (a duplicate delivery).
    fn start(&self, id: &str, token: CancellationToken) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.contains_key(id) {
            return false;
        }
        map.insert(id.to_string(), token);
        true
    }

    fn finish(&self, id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    fn cancel(&self, id: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(id).map(|t| t.cancel()).is_some()
    }

    fn cancel_all(&self) {
        for token in self.0.lock().unwrap_or_else(|p| p.into_inner()).values() {
            token.cancel();
        }
    }
}

/// Serve `client` until it closes, the tick watchdog fires, or `shutdown` resolves.
pub async fn serve_connection<S: Future<Output = ()> + Send>(
    client: &GatewayClient,
    hello: &HelloOk,
    node_id: &str,
    registry: Arc<CommandRegistry>,
    outgoing: &mut mpsc::Receiver<OutgoingEvent>,
    max_concurrent: usize,
    shutdown: &mut Pin<&mut S>,
) -> SessionEnd {
    let mut live = client.events();
    let inflight = InFlight::default();
    let slots = Arc::new(Semaphore::new(max_concurrent.max(1)));
    let mut seen = RecentIds::new(RECENT_INVOKE_IDS);
    // Events that arrived before `events()` subscribed sit in the backlog.
    for event in client.drain_events() {
        handle_event(event, client, node_id, &registry, &inflight, &slots, &mut seen);
    }
    let tick = Duration::from_millis(hello.policy.tick_interval_ms.max(1_000));
    let mut last_traffic = Instant::now();
    let end = loop {
        let watchdog = tokio::time::sleep_until(last_traffic + tick * 2);
        tokio::select! {
            event = live.recv() => match event {
                Ok(event) => {
                    last_traffic = Instant::now();
                    handle_event(event, client, node_id, &registry, &inflight, &slots, &mut seen);
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "node fell behind the gateway's events; some invokes may time out");
                    last_traffic = Instant::now();
                }
                Err(broadcast::error::RecvError::Closed) => {
                    let (code, reason) = client.closed().await;
                    break SessionEnd::Closed { code, reason };
                }
            },
            Some(out) = outgoing.recv() => send_event(client, out),
            _ = watchdog => {
                tracing::warn!(silence_ms = (tick * 2).as_millis() as u64, "no traffic from the gateway; closing with 4000 and reconnecting");
                let _ = tokio::time::timeout(Duration::from_secs(2), client.close(close_code::TICK_TIMEOUT, "tick timeout")).await;
                break SessionEnd::TickTimeout;
            }
            (code, reason) = client.closed() => break SessionEnd::Closed { code, reason },
            _ = shutdown.as_mut() => {
                let _ = tokio::time::timeout(Duration::from_secs(2), client.close(close_code::NORMAL, "node stopping")).await;
                break SessionEnd::Shutdown;
            }
        }
    };
    inflight.cancel_all();
    end
}

fn handle_event(
    event: EventFrame,
    client: &GatewayClient,
    node_id: &str,
    registry: &Arc<CommandRegistry>,
    inflight: &InFlight,
    slots: &Arc<Semaphore>,
    seen: &mut RecentIds,
) {
    match event.event.as_str() {
        "node.invoke.request" => {
            let payload = event.payload.unwrap_or(Value::Null);
            match serde_json::from_value::<NodeInvokeRequest>(payload) {
                Ok(request) => {
                    // The backlog and the live feed can both carry the same frame.
                    if !seen.insert(&request.id) {
                        return;
                    }
                    start_invoke(request, client.clone(), node_id.to_string(), registry.clone(), inflight.clone(), slots.clone());
                }
                Err(e) => tracing::warn!(error = %e, "ignoring a malformed node.invoke.request"),
            }
        }
        "node.invoke.cancel" => {
            if let Some(cancel) = event.payload.and_then(|p| serde_json::from_value::<NodeInvokeCancel>(p).ok()) {
                let found = inflight.cancel(&cancel.invoke_id);
                tracing::info!(invoke = %cancel.invoke_id, found, "invoke cancelled by the gateway");
            }
        }
        _ => {}
    }
}

fn start_invoke(
    request: NodeInvokeRequest,
    client: GatewayClient,
    node_id: String,
    registry: Arc<CommandRegistry>,
    inflight: InFlight,
    slots: Arc<Semaphore>,
) {
    let cancel = CancellationToken::new();
    if !inflight.start(&request.id, cancel.clone()) {
        tracing::debug!(invoke = %request.id, "duplicate invoke ignored");
        return;
    }
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let outcome = match slots.clone().try_acquire_owned() {
            Ok(_permit) => run_invoke(&request, &registry, cancel).await,
            Err(_) => Err(CommandError::unavailable("node busy, retry")),
        };
        inflight.finish(&request.id);
        tracing::info!(
            invoke = %request.id, command = %request.command, ok = outcome.is_ok(),
            ms = started.elapsed().as_millis() as u64, "invoke served"
        );
        send_result(&client, &request.id, &node_id, outcome).await;
    });
}

async fn run_invoke(request: &NodeInvokeRequest, registry: &CommandRegistry, cancel: CancellationToken) -> Result<Value, CommandError> {
    let params = request
        .params_value()
        .map_err(|e| CommandError::invalid_request(format!("paramsJSON is malformed JSON: {e}")))?
        .unwrap_or(Value::Null);
    if !registry.contains(&request.command) {
        return Err(CommandError::new(codes::UNKNOWN_COMMAND, format!("this node does not implement \"{}\"", request.command)));
    }
    let timeout = request.timeout_ms.filter(|ms| *ms > 0).map(Duration::from_millis);
    let ctx = InvokeContext { cancel: cancel.clone(), timeout, session_key: request.session_key.clone() };
    let work = registry.invoke(&request.command, params, ctx);
    let Some(timeout) = timeout else { return work.await };
    // On the caller's deadline, cancel the work and give it a moment to clean up (kill a
    // process tree, stop a recording) so the answer still arrives in time.
    let budget = timeout.saturating_sub(answer_margin(timeout));
    tokio::pin!(work);
    tokio::select! {
        result = &mut work => result,
        _ = tokio::time::sleep(budget) => {
            cancel.cancel();
            let cleanup = answer_margin(timeout).max(Duration::from_millis(50));
            match tokio::time::timeout(cleanup, &mut work).await {
                // Commands that report their own timeout (system.run's timedOut) keep their answer.
                Ok(Ok(value)) => Ok(value),
                _ => Err(CommandError::new(codes::TIMEOUT, format!("{} did not finish within {} ms", request.command, timeout.as_millis()))),
            }
        }
    }
}

async fn send_result(client: &GatewayClient, id: &str, node_id: &str, outcome: Result<Value, CommandError>) {
    let (ok, payload_json, error) = match outcome {
        Ok(payload) => (true, Some(serde_json::to_string(&payload).unwrap_or_else(|_| "null".into())), None),
        Err(e) => (false, None, Some(e.to_wire())),
    };
    let result =
        NodeInvokeResult { id: id.to_string(), node_id: node_id.to_string(), ok, payload: None, payload_json, error, extra: Map::new() };
    if let Err(e) = client.call::<_, Value>(methods::NODE_INVOKE_RESULT, &result).await {
        tracing::warn!(invoke = %id, error = %e, "could not deliver node.invoke.result");
    }
}

fn send_event(client: &GatewayClient, out: OutgoingEvent) {
    let client = client.clone();
    tokio::spawn(async move {
        let params = NodeEventParams {
            event: out.event.clone(),
            payload: None,
            payload_json: Some(serde_json::to_string(&out.payload).unwrap_or_default()),
            extra: Map::new(),
        };
        if let Err(e) = client.call::<_, Value>(methods::NODE_EVENT, &params).await {
            tracing::debug!(event = %out.event, error = %e, "node.event not delivered");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_drop_duplicates_and_forget_the_oldest_beyond_capacity() {
        let mut seen = RecentIds::new(2);
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"), "a duplicate delivery is dropped");
        assert!(seen.insert("b"));
        assert!(seen.insert("c"), "a third id evicts the oldest");
        assert!(seen.insert("a"), "a is forgotten once two newer ids arrived");
        assert!(!seen.insert("c"));
        assert_eq!((seen.order.len(), seen.set.len()), (2, 2));
    }
}
