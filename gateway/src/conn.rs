//! One connection: challenge, handshake, then the request/event loop. It runs over any
//! [`FrameTransport`] (a WebSocket, or the in-memory transport of [`crate::in_memory`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use pincer_protocol::connect::Role;
use pincer_protocol::error::{DetailCode, ErrorShape};
use pincer_protocol::frames::{Frame, FrameError, RequestFrame, ResponseFrame};
use pincer_protocol::methods::{self, events};
use pincer_protocol::{close_code, now_ms};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::caller::Caller;
use crate::handshake::{self, Peer, Rejection};
use crate::hub::ConnHandle;
use crate::listener::ConnectionSlot;
use crate::outbound::{OutboundQueue, WriteEnd, Writer};
use crate::router::{self, Mode};
use crate::services::{agent_runs, node_lifecycle, presence};
use crate::state::SharedState;
use crate::transport::{CloseFrame, FrameTransport, Inbound, Message};

/// Pre-auth handshake budget.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Close code for an unauthenticated socket evicted to admit a newer one (RFC 6455 "try
/// again later", what OpenClaw sends when it sheds pre-auth work).
const TRY_AGAIN_LATER: u16 = 1013;

async fn send_close<S: futures_util::Sink<Message> + Unpin>(sink: &mut S, code: u16, reason: &str) {
    // Close reasons are limited to 123 bytes on the wire.
    let mut reason = reason.to_string();
    while reason.len() > 123 {
        reason.pop();
    }
    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
    let _ = sink.close().await;
}

async fn send_text<S: futures_util::Sink<Message> + Unpin>(sink: &mut S, text: String) -> bool {
    sink.send(Message::Text(text.into())).await.is_ok()
}

/// Serve one connection. `slot` is its place in the listener's admission (a socket accepted by
/// the listener): until the handshake succeeds the socket reads within a small byte budget and
/// may be evicted. In-process transports have no slot.
pub async fn run<T: FrameTransport>(state: SharedState, transport: T, peer: Peer, slot: Option<ConnectionSlot>) {
    let (mut sink, mut stream) = transport.split();
    let budget_exhausted = || slot.as_ref().is_some_and(|s| s.budget().is_exhausted());
    let conn_id = uuid::Uuid::new_v4().to_string();
    let nonce = uuid::Uuid::new_v4().to_string();
    let challenge = json!({"type": "event", "event": events::CONNECT_CHALLENGE, "payload": {"nonce": nonce, "ts": now_ms()}});
    if !send_text(&mut sink, challenge.to_string()).await {
        return;
    }

    // ---- handshake --------------------------------------------------------------------
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    let (req, params) = loop {
        let msg = tokio::select! {
            msg = stream.next() => msg,
            _ = tokio::time::sleep_until(deadline) => {
                send_close(&mut sink, close_code::NORMAL, "handshake timeout").await;
                return;
            }
            _ = state.shutdown.cancelled() => {
                send_close(&mut sink, close_code::SERVICE_RESTART, "service restart").await;
                return;
            }
            _ = evicted(slot.as_ref()) => {
                send_close(&mut sink, TRY_AGAIN_LATER, "too many unauthenticated connections").await;
                return;
            }
        };
        let text = match msg {
            Some(Inbound::Text(t)) => t,
            Some(Inbound::Binary) => {
                send_close(&mut sink, close_code::POLICY_VIOLATION, "invalid request frame: binary frames are not supported").await;
                return;
            }
            Some(Inbound::Control) => continue,
            // The socket read past its pre-auth byte budget: the frame being received is over
            // the 64 KiB cap (the budget stopped it before it was buffered whole).
            Some(Inbound::Failed | Inbound::TooBig) if budget_exhausted() => {
                send_close(&mut sink, close_code::MESSAGE_TOO_BIG, "preauth payload too large").await;
                return;
            }
            Some(Inbound::TooBig) => {
                send_close(&mut sink, close_code::MESSAGE_TOO_BIG, "").await;
                return;
            }
            Some(Inbound::Closed | Inbound::Failed) | None => return,
        };
        if text.len() > pincer_protocol::PREAUTH_MAX_PAYLOAD_BYTES {
            send_close(&mut sink, close_code::MESSAGE_TOO_BIG, "preauth payload too large").await;
            return;
        }
        let req = match Frame::parse(text.as_str()) {
            Ok(Frame::Req(req)) => req,
            Ok(_)
            | Err(FrameError::UnknownType(_))
            | Err(FrameError::MissingType)
            | Err(FrameError::Shape { .. })
            | Err(FrameError::NotAnObject) => {
                send_close(&mut sink, close_code::POLICY_VIOLATION, "invalid request frame").await;
                return;
            }
            Err(FrameError::Json(_)) => {
                // OpenClaw closes a pre-auth socket that sends malformed JSON with 1000.
                send_close(&mut sink, close_code::NORMAL, "invalid frame: malformed JSON").await;
                return;
            }
        };
        if req.method != methods::CONNECT {
            let err = ErrorShape::invalid_request("invalid handshake: first request must be connect");
            send_text(&mut sink, Frame::Res(ResponseFrame::err(req.id.clone(), err.clone())).to_json()).await;
            send_close(&mut sink, close_code::POLICY_VIOLATION, &err.message).await;
            return;
        }
        match handshake::parse_connect_params(req.params_or_empty()) {
            Ok(params) => break (req, params),
            Err(rejection) => {
                reject(&mut sink, &req, rejection).await;
                return;
            }
        }
    };

    let accepted = match handshake::authenticate(&state, &params, &nonce, &peer) {
        Ok(a) => a,
        Err(rejection) => {
            tracing::info!(conn = %conn_id, client = %params.client.id, code = ?rejection.error.detail_code(), "connect rejected: {}", rejection.error.message);
            reject(&mut sink, &req, rejection).await;
            return;
        }
    };

    // ---- connected --------------------------------------------------------------------
    if let Some(slot) = &slot {
        slot.mark_authenticated();
    }
    let (queue, rx) = OutboundQueue::new(&conn_id, pincer_protocol::DEFAULT_MAX_BUFFERED_BYTES);
    let conn = Arc::new(ConnHandle::new(
        conn_id.clone(),
        accepted.role,
        accepted.scopes.clone(),
        params.client.clone(),
        params.caps.clone().unwrap_or_default(),
        accepted.device_id.clone(),
        peer.addr,
        now_ms(),
        queue.clone(),
    ));
    let hello = presence::hello_ok(&state, &conn_id, &accepted, router::features());
    conn.send_text(Frame::Res(ResponseFrame::ok(req.id.clone(), hello)).to_json());
    state.hub.insert(conn.clone());
    tracing::info!(conn = %conn_id, client = %params.client.id, role = accepted.role.as_str(), remote = %peer.addr, "client connected");
    node_lifecycle::on_connected(&state, &conn, &params, &accepted);

    let caller = Caller::new(conn.clone());
    serve(&state, &caller, Writer::new(sink, queue, rx), &mut stream).await;

    state.hub.remove(&conn_id);
    node_lifecycle::on_disconnected(&state, &conn);
    tracing::info!(conn = %conn_id, "client disconnected");
}

/// Resolves when the listener evicts this (unauthenticated) connection; never without a slot.
async fn evicted(slot: Option<&ConnectionSlot>) {
    match slot {
        Some(slot) => slot.evicted().await,
        None => std::future::pending().await,
    }
}

async fn reject<S: futures_util::Sink<Message> + Unpin>(sink: &mut S, req: &RequestFrame, rejection: Rejection) {
    send_text(sink, Frame::Res(ResponseFrame::err(req.id.clone(), rejection.error)).to_json()).await;
    send_close(sink, rejection.close_code, &rejection.close_reason).await;
}

/// The connected phase: one task reads requests and writes responses, queued events and
/// the results of detached requests, in the order they become ready. Every write goes through
/// the [`Writer`], which ends the connection when it is dropped as a slow consumer or a write
/// stalls (see [`crate::outbound`]).
async fn serve<T: FrameTransport>(
    state: &SharedState,
    caller: &Caller,
    mut writer: Writer<SplitSink<T, Message>>,
    stream: &mut SplitStream<T>,
) {
    let conn = caller.events();
    let mut in_flight: HashMap<String, AbortHandle> = HashMap::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
    let end = loop {
        tokio::select! {
            biased;
            out = writer.next() => {
                if let Err(end) = match out {
                    Ok(item) => writer.write_queued(item).await,
                    Err(end) => Err(end),
                } {
                    break end;
                }
            }
            Some(id) = done_rx.recv() => {
                in_flight.remove(&id);
            }
            msg = stream.next() => {
                let text = match msg {
                    Some(Inbound::Text(t)) => t,
                    Some(Inbound::Binary) => {
                        respond_invalid(conn, "invalid", "invalid request frame: binary frames are not supported");
                        continue;
                    }
                    Some(Inbound::Control) => continue,
                    Some(Inbound::TooBig) => {
                        // Over policy.maxPayload: close 1009 like OpenClaw's `ws` server does.
                        writer.close(close_code::MESSAGE_TOO_BIG, "").await;
                        break WriteEnd::Closed;
                    }
                    Some(Inbound::Closed | Inbound::Failed) | None => break WriteEnd::PeerGone,
                };
                match Frame::parse(text.as_str()) {
                    Ok(Frame::Req(req)) if req.method == methods::CONNECT => {
                        let err = if conn.has_scope(pincer_protocol::scopes::ADMIN) {
                            ErrorShape::invalid_request("connect is only valid as the first request")
                        } else if conn.role == Role::Node {
                            ErrorShape::invalid_request("unauthorized role: node")
                        } else {
                            ErrorShape::missing_scope(pincer_protocol::scopes::ADMIN, &[pincer_protocol::scopes::ADMIN])
                        };
                        if let Err(end) = writer.write_now(Frame::Res(ResponseFrame::err(req.id, err)).to_json()).await {
                            break end;
                        }
                    }
                    Ok(Frame::Req(req)) if router::mode_of(&req.method).is_detached() && in_flight.contains_key(&req.id) => {
                        // Its answer would be ambiguous, and a cancel could not tell them apart.
                        let err = ErrorShape::invalid_request(format!(
                            "request id {} is still in use by an unanswered request; use a new id",
                            req.id
                        ));
                        if let Err(end) = writer.write_now(Frame::Res(ResponseFrame::err(req.id, err)).to_json()).await {
                            break end;
                        }
                    }
                    Ok(Frame::Req(req)) if router::mode_of(&req.method).is_detached() => {
                        let id = req.id.clone();
                        let task_state = state.clone();
                        let task_caller = caller.clone();
                        let done = done_tx.clone();
                        let handle = tokio::spawn(async move {
                            let id = req.id.clone();
                            let two_phase = router::mode_of(&req.method) == Mode::AckThenFinal;
                            let res = router::dispatch(&task_state, &task_caller, req).await;
                            let pending = if two_phase { agent_runs::pending_run(&res) } else { None };
                            task_caller.events().send_text(Frame::Res(res).to_json());
                            if let Some(run_id) = pending {
                                if let Some(last) = agent_runs::final_response(&task_state, id.clone(), &run_id).await {
                                    task_caller.events().send_text(Frame::Res(last).to_json());
                                }
                            }
                            let _ = done.send(id);
                        });
                        in_flight.insert(id, handle.abort_handle());
                    }
                    Ok(Frame::Req(req)) => {
                        let res = router::dispatch(state, caller, req).await;
                        if let Err(end) = writer.write_now(Frame::Res(res).to_json()).await {
                            break end;
                        }
                    }
                    Ok(Frame::Cancel(cancel)) => {
                        // The client gave up on a request: stop its work (dropping an invoke's
                        // waiter also tells the node to cancel).
                        if let Some(handle) = in_flight.remove(&cancel.id) {
                            handle.abort();
                        }
                    }
                    Ok(Frame::Res(res)) => respond_invalid(conn, &res.id, "invalid request frame: clients send requests, not responses"),
                    Ok(Frame::Event(_)) => respond_invalid(conn, "invalid", "invalid request frame: clients send requests, not events"),
                    Err(FrameError::Json(e)) => {
                        tracing::debug!(conn = %conn.conn_id, error = %e, "malformed JSON frame");
                        respond_invalid(conn, "invalid", &format!("invalid frame: malformed JSON ({e})"));
                    }
                    Err(e @ (FrameError::UnknownType(_) | FrameError::MissingType | FrameError::NotAnObject | FrameError::Shape { .. })) => {
                        let id = frame_id(&text).unwrap_or_else(|| "invalid".into());
                        respond_invalid(conn, &id, &format!("invalid request frame: {e}"));
                    }
                }
            }
        }
    };
    for (_, handle) in in_flight {
        handle.abort();
    }
    writer.finish(end).await;
}

fn frame_id(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("id")?.as_str().map(str::to_string)
}

fn respond_invalid(conn: &ConnHandle, id: &str, message: &str) {
    let err = ErrorShape::invalid_request(message).with_detail_code(DetailCode::InvalidFrame);
    conn.send_text(Frame::Res(ResponseFrame::err(id, err)).to_json());
}
