//! What the client runs over: a WebSocket opened from a URL + extra headers, or any other
//! duplex of the same frames ([`ClientTransport`], e.g. the gateway's in-memory transport).

use std::time::Duration;

use futures_util::{Sink, Stream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;

use crate::error::ClientError;

/// A duplex of WebSocket messages the client can run over: an opened WebSocket, or an
/// in-process transport that carries the same frames (close frames included).
pub trait ClientTransport: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Send + Unpin {}

impl<T> ClientTransport for T where T: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Send + Unpin {}

/// The connection a client reads and writes, whatever carries it.
pub type WsStream = Box<dyn ClientTransport>;

/// How much tungstenite reads (and zeroes first) per read call.
const READ_BUFFER_BYTES: usize = 8 * 1024;

pub(crate) async fn open(
    url: &str,
    headers: &[(String, String)],
    max_message_bytes: usize,
    timeout: Duration,
    tls_fingerprint: Option<&str>,
) -> Result<WsStream, ClientError> {
    if let Some(in_process) = crate::in_process::open(url) {
        return in_process;
    }
    let mut request = url.into_client_request().map_err(|e| ClientError::InvalidUrl(format!("{url}: {e}")))?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| ClientError::InvalidUrl(format!("header name {name:?}: {e}")))?;
        let value = HeaderValue::from_str(value).map_err(|e| ClientError::InvalidUrl(format!("header value {value:?}: {e}")))?;
        request.headers_mut().insert(name, value);
    }
    let mut connector = None;
    if url.starts_with("wss:") {
        install_crypto_provider()?;
        if let Some(fp) = tls_fingerprint {
            connector = Some(pinned::connector(fp)?);
        }
    } else if tls_fingerprint.is_some() {
        return Err(ClientError::InvalidUrl(format!("{url}: a TLS fingerprint needs a wss:// URL")));
    }
    // tungstenite zeroes the free part of its read buffer (up to `read_buffer_size`) before
    // every read attempt, including the ones that find nothing to read: with its 128 KiB
    // default that is a 128 KiB memset per wake-up of every connection. Protocol frames are
    // small; larger messages still arrive, in more reads.
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes))
        .read_buffer_size(READ_BUFFER_BYTES);
    // Nagle off: the protocol is small request/response frames, where batching only adds
    // latency (and would skew the benchmark).
    let connect = tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
    match tokio::time::timeout(timeout, connect).await {
        Err(_) => Err(ClientError::timeout(format!("websocket open of {url}"))),
        Ok(Ok((ws, _response))) => Ok(Box::new(ws)),
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

/// Certificate pinning by SHA-256 fingerprint (`--tls-fingerprint`).
#[cfg(feature = "tls")]
mod pinned {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use sha2::{Digest, Sha256};
    use tokio_tungstenite::Connector;

    use crate::error::ClientError;

    /// Normalise `AA:bb:…` / `aabb…` to 64 lowercase hex digits.
    pub fn normalise(fingerprint: &str) -> Option<String> {
        let hex: String = fingerprint.chars().filter(|c| *c != ':' && !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
        let hex = hex.strip_prefix("sha256/").map(str::to_string).unwrap_or(hex);
        (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
    }

    #[derive(Debug)]
    struct Pinned {
        sha256: String,
        provider: Arc<rustls::crypto::CryptoProvider>,
    }

    impl ServerCertVerifier for Pinned {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            let seen = hex::encode(Sha256::digest(end_entity.as_ref()));
            if seen == self.sha256 {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(rustls::Error::General(format!("server certificate sha256 {seen} does not match the pinned fingerprint")))
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider.signature_verification_algorithms.supported_schemes()
        }
    }

    pub fn connector(fingerprint: &str) -> Result<Connector, ClientError> {
        let sha256 = normalise(fingerprint)
            .ok_or_else(|| ClientError::InvalidUrl(format!("TLS fingerprint {fingerprint:?} is not a SHA-256 hex digest")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::InvalidUrl(format!("TLS setup: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { sha256, provider }))
            .with_no_client_auth();
        Ok(Connector::Rustls(Arc::new(config)))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn fingerprints_normalise() {
            let hex = "ab".repeat(32);
            let colons =
                hex.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap().to_ascii_uppercase()).collect::<Vec<_>>().join(":");
            assert_eq!(super::normalise(&colons).as_deref(), Some(hex.as_str()));
            assert_eq!(super::normalise("abc"), None);
        }
    }
}

#[cfg(not(feature = "tls"))]
mod pinned {
    use crate::error::ClientError;
    pub fn connector(_fingerprint: &str) -> Result<tokio_tungstenite::Connector, ClientError> {
        Err(ClientError::InvalidUrl("wss:// needs pincer-client's \"tls\" feature".into()))
    }
}
