//! Capturing a child's stdout and stderr under one shared byte budget.
//!
//! The first `cap` bytes of both streams together are kept (OpenClaw's head capture); the rest
//! is read and thrown away, so a child that prints gigabytes neither blocks on a full pipe nor
//! grows the node's memory.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};

/// OpenClaw's `OUTPUT_CAP`: 200,000 bytes of stdout + stderr combined.
pub const OUTPUT_CAP_BYTES: usize = 200_000;

/// The budget both readers draw from.
#[derive(Debug, Clone)]
pub struct OutputBudget {
    remaining: Arc<AtomicUsize>,
    truncated: Arc<AtomicBool>,
}

impl OutputBudget {
    pub fn new(cap: usize) -> Self {
        OutputBudget { remaining: Arc::new(AtomicUsize::new(cap)), truncated: Arc::new(AtomicBool::new(false)) }
    }

    /// Reserve up to `want` bytes; returns how many may be kept.
    fn take(&self, want: usize) -> usize {
        let mut granted = 0;
        let _ = self.remaining.fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
            granted = want.min(left);
            Some(left - granted)
        });
        if granted < want {
            self.truncated.store(true, Ordering::Release);
        }
        granted
    }

    pub fn truncated(&self) -> bool {
        self.truncated.load(Ordering::Acquire)
    }
}

/// Read `stream` to its end, keeping what the budget allows.
pub async fn capture<R: AsyncRead + Unpin>(mut stream: R, budget: OutputBudget) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                let keep = budget.take(n);
                kept.extend_from_slice(&buf[..keep]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!(error = %e, "child output stream failed");
                break;
            }
        }
    }
    kept
}

/// Bytes as text; a multi-byte character cut by the cap becomes U+FFFD instead of an error.
pub fn to_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_streams_share_one_budget() {
        let budget = OutputBudget::new(10);
        let a = capture(&b"1234567"[..], budget.clone()).await;
        let b = capture(&b"abcdefg"[..], budget.clone()).await;
        assert_eq!(a, b"1234567");
        assert_eq!(b, b"abc");
        assert!(budget.truncated());
    }

    #[tokio::test]
    async fn under_the_cap_nothing_is_truncated() {
        let budget = OutputBudget::new(100);
        assert_eq!(capture(&b"hello"[..], budget.clone()).await, b"hello");
        assert!(!budget.truncated());
    }
}
