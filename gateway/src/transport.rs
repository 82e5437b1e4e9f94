//! What a connection runs over: a stream of inbound frames and a sink of outbound ones.
//!
//! [`crate::conn::run`] serves any [`FrameTransport`]: a WebSocket ([`WsTransport`]) or the
//! in-memory transport ([`crate::in_memory`]), which carries the same frames in-process.
//! Outbound frames are axum's WebSocket [`Message`]s (text frames and close frames with their
//! code); inbound frames are classified into [`Inbound`] by the transport, which knows how its
//! own failures look.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::ws::WebSocket;
pub use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::{Sink, Stream};

/// One thing read from a transport.
#[derive(Debug)]
pub enum Inbound {
    /// A text frame: the protocol's only data frame.
    Text(Utf8Bytes),
    /// A binary frame (refused by the protocol).
    Binary,
    /// A ping or pong (answered by the transport itself; nothing for the connection to do).
    Control,
    /// The peer sent a close frame.
    Closed,
    /// The frame being read is over the transport's size limit (`policy.maxPayload`).
    TooBig,
    /// The transport failed (the peer went away).
    Failed,
}

/// A duplex frame transport a connection can be served over.
pub trait FrameTransport: Stream<Item = Inbound> + Sink<Message, Error = axum::Error> + Send + Unpin + 'static {}

impl<T> FrameTransport for T where T: Stream<Item = Inbound> + Sink<Message, Error = axum::Error> + Send + Unpin + 'static {}

/// An upgraded WebSocket as a [`FrameTransport`].
pub struct WsTransport(WebSocket);

impl WsTransport {
    pub fn new(socket: WebSocket) -> Self {
        WsTransport(socket)
    }
}

impl Stream for WsTransport {
    type Item = Inbound;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Inbound>> {
        Pin::new(&mut self.0).poll_next(cx).map(|read| {
            read.map(|read| match read {
                Ok(Message::Text(text)) => Inbound::Text(text),
                Ok(Message::Binary(_)) => Inbound::Binary,
                Ok(Message::Ping(_) | Message::Pong(_)) => Inbound::Control,
                Ok(Message::Close(_)) => Inbound::Closed,
                Err(e) if is_message_too_big(&e) => Inbound::TooBig,
                Err(_) => Inbound::Failed,
            })
        })
    }
}

impl Sink<Message> for WsTransport {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Pin::new(&mut self.0).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), axum::Error> {
        Pin::new(&mut self.0).start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// Whether a read failed because the message exceeded the socket's size limit (tungstenite's
/// capacity error; axum does not expose its type, so this goes by its text).
fn is_message_too_big(e: &axum::Error) -> bool {
    let text = e.to_string();
    text.contains("Space limit exceeded") || text.contains("Message too long")
}
