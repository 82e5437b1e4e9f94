//! `RawSocket`: a WebSocket with no protocol logic, for tests that drive the handshake by
//! hand (wrong first request, oversize or garbage frames) and watch how the server closes.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pincer_protocol::connect::ConnectChallenge;
use pincer_protocol::frames::RequestFrame;
use pincer_protocol::{Frame, ResponseFrame};
use serde_json::Value;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::error::{ClientError, ABNORMAL_CLOSE};
use crate::options::{ConnectOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_MESSAGE_BYTES};
use crate::transport::{self, WsStream};

/// One thing read from the socket (pings and pongs are skipped).
// Frame is the common case; boxing it would only burden every test match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Frame(Frame),
    /// A text frame that is not a valid protocol frame, verbatim.
    Invalid(String),
    Binary(Vec<u8>),
    /// The connection closed: the peer's close code and reason, 1005 for a close frame
    /// without a code, 1006 when the connection ended without a close frame.
    Close(u16, String),
}

/// Read the next message and classify it. Connection-ending errors become `Close(1006, ..)`
/// so callers see one shape for "the server hung up".
pub(crate) async fn next_incoming(ws: &mut WsStream) -> Result<Incoming, ClientError> {
    loop {
        let message = match ws.next().await {
            None => return Ok(Incoming::Close(ABNORMAL_CLOSE, String::new())),
            Some(Ok(message)) => message,
            Some(Err(e)) => return ended_by(e),
        };
        return Ok(match message {
            Message::Text(text) => match Frame::parse(text.as_str()) {
                Ok(frame) => Incoming::Frame(frame),
                Err(_) => Incoming::Invalid(text.as_str().to_string()),
            },
            Message::Binary(bytes) => Incoming::Binary(bytes.to_vec()),
            Message::Close(Some(frame)) => Incoming::Close(u16::from(frame.code), frame.reason.as_str().to_string()),
            Message::Close(None) => Incoming::Close(1005, String::new()),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        });
    }
}

fn ended_by(e: WsError) -> Result<Incoming, ClientError> {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed => Ok(Incoming::Close(ABNORMAL_CLOSE, String::new())),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            Ok(Incoming::Close(ABNORMAL_CLOSE, "reset without closing handshake".into()))
        }
        WsError::Io(io) if is_disconnect(&io) => Ok(Incoming::Close(ABNORMAL_CLOSE, io.to_string())),
        other => Err(other.into()),
    }
}

fn is_disconnect(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof)
}

/// A bare WebSocket to a gateway.
pub struct RawSocket {
    ws: WsStream,
    closed: Option<(u16, String)>,
    next_id: u64,
}

impl RawSocket {
    pub async fn open(url: &str, headers: &[(String, String)]) -> Result<RawSocket, ClientError> {
        let ws = transport::open(url, headers, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_CONNECT_TIMEOUT, None).await?;
        Ok(RawSocket { ws, closed: None, next_id: 1 })
    }

    /// A raw connection over an already open transport (the gateway's in-memory transport).
    pub fn over(transport: impl crate::transport::ClientTransport + 'static) -> RawSocket {
        RawSocket { ws: Box::new(transport), closed: None, next_id: 1 }
    }

    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), ClientError> {
        self.send(Message::text(text.into())).await
    }

    pub async fn send_json(&mut self, value: &Value) -> Result<(), ClientError> {
        self.send_text(value.to_string()).await
    }

    pub async fn send_frame(&mut self, frame: &Frame) -> Result<(), ClientError> {
        self.send_text(frame.to_json()).await
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), ClientError> {
        self.send(Message::binary(bytes)).await
    }

    /// Send a `req` with a fresh id (`raw-<n>`) and return that id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> Result<String, ClientError> {
        let id = format!("raw-{}", self.next_id);
        self.next_id += 1;
        self.send_frame(&Frame::Req(RequestFrame::new(id.clone(), method, params))).await?;
        Ok(id)
    }

    async fn send(&mut self, message: Message) -> Result<(), ClientError> {
        match self.ws.send(message).await {
            Ok(()) => Ok(()),
            // Writing after the server closed: report the close, which is what tests check.
            Err(e) => {
                if let Some((code, reason)) = &self.closed {
                    return Err(ClientError::Closed { code: *code, reason: reason.clone() });
                }
                // A disconnect shows as Close(1006); the server's close frame, if it sent
                // one, is still readable with `next_frame`.
                match ended_by(e)? {
                    Incoming::Close(code, reason) => Err(ClientError::Closed { code, reason }),
                    _ => Err(ClientError::Closed { code: ABNORMAL_CLOSE, reason: String::new() }),
                }
            }
        }
    }

    /// The next frame, close, or invalid text within `timeout`. After the connection closed
    /// every call returns the same `Close`.
    pub async fn next_frame(&mut self, timeout: Duration) -> Result<Incoming, ClientError> {
        if let Some((code, reason)) = &self.closed {
            return Ok(Incoming::Close(*code, reason.clone()));
        }
        let incoming = tokio::time::timeout(timeout, next_incoming(&mut self.ws)).await.map_err(|_| ClientError::timeout("a frame"))??;
        if let Incoming::Close(code, reason) = &incoming {
            self.closed = Some((*code, reason.clone()));
        }
        Ok(incoming)
    }

    /// Wait for `connect.challenge`, skipping nothing else silently: any other frame is an
    /// error, because the challenge must come first.
    pub async fn expect_challenge(&mut self, timeout: Duration) -> Result<ConnectChallenge, ClientError> {
        match self.next_frame(timeout).await {
            Ok(Incoming::Frame(Frame::Event(e))) if e.event == "connect.challenge" => serde_json::from_value(e.payload.unwrap_or_default())
                .map_err(|err| ClientError::Protocol(format!("invalid connect.challenge: {err}"))),
            Ok(Incoming::Close(code, reason)) => Err(ClientError::Closed { code, reason }),
            Ok(other) => Err(ClientError::Protocol(format!("expected connect.challenge, got {other:?}"))),
            Err(ClientError::Timeout { .. }) => Err(ClientError::ChallengeMissing),
            Err(e) => Err(e),
        }
    }

    /// Wait for the `res` with `id`, skipping events.
    pub async fn expect_response(&mut self, id: &str, timeout: Duration) -> Result<ResponseFrame, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_frame(left).await? {
                Incoming::Frame(Frame::Res(res)) if res.id == id => return Ok(res),
                Incoming::Close(code, reason) => return Err(ClientError::Closed { code, reason }),
                _ => continue,
            }
        }
    }

    /// Wait until the server closes, skipping everything else.
    pub async fn expect_close(&mut self, timeout: Duration) -> Result<(u16, String), ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let Incoming::Close(code, reason) = self.next_frame(left).await? {
                return Ok((code, reason));
            }
        }
    }

    /// Do the handshake by hand with `opts` (challenge, `connect`) and return the raw
    /// `connect` response, accepted or not; the socket stays raw afterwards.
    pub async fn handshake(&mut self, opts: &ConnectOptions) -> Result<ResponseFrame, ClientError> {
        let challenge = self.expect_challenge(opts.challenge_timeout).await?;
        let params = serde_json::to_value(opts.connect_params(&challenge))
            .map_err(|e| ClientError::Protocol(format!("cannot encode connect params: {e}")))?;
        let id = self.send_request("connect", params).await?;
        self.expect_response(&id, opts.request_timeout).await
    }

    /// Send a close frame and wait for the server's reply.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(u16, String), ClientError> {
        let frame = CloseFrame { code: CloseCode::from(code), reason: reason.to_string().into() };
        let _ = self.ws.send(Message::Close(Some(frame))).await;
        self.expect_close(Duration::from_secs(5)).await
    }

    /// The close seen so far, if any.
    pub fn close_info(&self) -> Option<&(u16, String)> {
        self.closed.as_ref()
    }
}
