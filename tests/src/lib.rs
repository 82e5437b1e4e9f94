//! Support for Pincer's cross-process tests and the `pincer-bench` harness: locating (and
//! building) workspace binaries, free ports, throwaway state dirs, child processes that are
//! always cleaned up, process-tree memory, and the real OpenClaw gateway as a peer.
//!
//! Nothing here prints; the bench binary does its own output.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod agent;
pub mod bench;
pub mod bins;
pub mod desktop;
pub mod expect;
pub mod fake_gateway;
pub mod fake_node;
pub mod gateway;
pub mod interop;
pub mod llama;
pub mod llm_script;
pub mod openclaw;
pub mod process;
pub mod procfs;
pub mod soak;
pub mod state;
pub mod wait;

pub use bins::{target_dir, workspace_bin, workspace_bin_in, workspace_root};
pub use gateway::{TestGateway, TestGatewayOptions, Transport, TEST_TOKEN};
pub use process::ChildGuard;
pub use state::TempState;
pub use wait::wait_for_health;

/// A loopback port that was free a moment ago (bind to port 0, read it, release it). Racy by
/// nature, but fine for tests that start their server right away.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[derive(Debug, thiserror::Error)]
pub enum SupportError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("building {package}/{bin} failed: {detail}")]
    Build { package: String, bin: String, detail: String },
    #[error("binary not found: {0}")]
    BinaryMissing(std::path::PathBuf),
    /// Boxed: `ClientError` is large and this error is returned everywhere.
    #[error("{0}")]
    Client(Box<pincer_client::ClientError>),
    #[error("timed out after {secs:.1} s waiting for {what}")]
    Timeout { what: String, secs: f64 },
    #[error("process exited early: {0}")]
    Exited(String),
    #[error("{0}")]
    Other(String),
}

impl From<pincer_client::ClientError> for SupportError {
    fn from(e: pincer_client::ClientError) -> Self {
        SupportError::Client(Box::new(e))
    }
}
