//! Opening the WebSocket: URL + extra headers → upgraded stream.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::ClientError;

pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) async fn open(
    url: &str,
    headers: &[(String, String)],
    max_message_bytes: usize,
    timeout: Duration,
) -> Result<WsStream, ClientError> {
    let mut request = url.into_client_request().map_err(|e| ClientError::InvalidUrl(format!("{url}: {e}")))?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| ClientError::InvalidUrl(format!("header name {name:?}: {e}")))?;
        let value =
            HeaderValue::from_str(value).map_err(|e| ClientError::InvalidUrl(format!("header value {value:?}: {e}")))?;
        request.headers_mut().insert(name, value);
    }
    if url.starts_with("wss:") {
        install_crypto_provider()?;
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes));
    // Nagle off: the protocol is small request/response frames, where batching only adds
    // latency (and would skew the benchmark).
    let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    match tokio::time::timeout(timeout, connect).await {
        Err(_) => Err(ClientError::timeout(format!("websocket open of {url}"))),
        Ok(Ok((ws, _response))) => Ok(ws),
        // Scheme/host problems are the caller's URL, not the network.
        Ok(Err(WsError::Url(e))) => Err(ClientError::InvalidUrl(format!("{url}: {e}"))),
        Ok(Err(e)) => Err(e.into()),
    }
}

/// rustls needs a process-wide crypto provider; install ring unless something else in the
/// process already installed one (both outcomes are fine).
#[cfg(feature = "tls")]
fn install_crypto_provider() -> Result<(), ClientError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(())
}

#[cfg(not(feature = "tls"))]
fn install_crypto_provider() -> Result<(), ClientError> {
    Err(ClientError::InvalidUrl("wss:// needs pincer-client's \"tls\" feature".into()))
}
