//! A cap on the bytes an unauthenticated connection can make the gateway read.
//!
//! The WebSocket layer only checks a message's size once the whole message is buffered, and
//! its limit (`policy.maxPayload`, 25 MiB) is fixed when the socket is upgraded, before anyone
//! has authenticated. So the pre-auth limit is enforced one layer down: every accepted TCP
//! stream is wrapped in a [`BudgetedStream`] that refuses to read more than its
//! [`ReadBudget`] allows (request headers and pre-auth frames together). A successful
//! `connect` lifts the budget; from then on only the WebSocket limits apply.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Room for the HTTP upgrade request (browsers on `localhost` may carry sizeable cookies),
/// WebSocket framing and a few pings, on top of the 64 KiB pre-auth frame itself.
pub const PREAUTH_HEADER_ALLOWANCE_BYTES: u64 = 64 * 1024;

/// What an unauthenticated connection may send in total: its HTTP request and its pre-auth
/// frames (the 64 KiB `connect` frame cap plus [`PREAUTH_HEADER_ALLOWANCE_BYTES`]).
pub const PREAUTH_READ_BUDGET_BYTES: u64 = pincer_protocol::PREAUTH_MAX_PAYLOAD_BYTES as u64 + PREAUTH_HEADER_ALLOWANCE_BYTES;

const UNLIMITED: u64 = u64::MAX;

/// The error a [`BudgetedStream`] read fails with once its budget is spent.
#[derive(Debug, thiserror::Error)]
#[error("pre-auth read budget of {limit} bytes exhausted")]
pub struct ReadBudgetExhausted {
    pub limit: u64,
}

/// Bytes a connection may still read; shared between the stream and the connection's owner.
#[derive(Debug)]
pub struct ReadBudget {
    limit: u64,
    remaining: AtomicU64,
    exhausted: AtomicBool,
}

impl ReadBudget {
    pub fn new(limit: u64) -> Arc<ReadBudget> {
        Arc::new(ReadBudget { limit, remaining: AtomicU64::new(limit), exhausted: AtomicBool::new(false) })
    }

    /// No more cap (the connection authenticated).
    pub fn lift(&self) {
        self.remaining.store(UNLIMITED, Ordering::Release);
    }

    /// Whether a read was refused because the budget was spent.
    pub fn is_exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Acquire)
    }

    fn remaining(&self) -> u64 {
        self.remaining.load(Ordering::Acquire)
    }

    fn consume(&self, n: usize) {
        let _ = self.remaining.fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| (r != UNLIMITED).then(|| r.saturating_sub(n as u64)));
    }
}

/// A stream whose reads stop at its [`ReadBudget`]; writes pass through untouched (the
/// gateway must still be able to send its close frame).
#[derive(Debug)]
pub struct BudgetedStream<S> {
    inner: S,
    budget: Arc<ReadBudget>,
}

impl<S> BudgetedStream<S> {
    pub fn new(inner: S, budget: Arc<ReadBudget>) -> Self {
        BudgetedStream { inner, budget }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for BudgetedStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let allowed = self.budget.remaining();
        if allowed == 0 {
            self.budget.exhausted.store(true, Ordering::Release);
            return Poll::Ready(Err(io::Error::other(ReadBudgetExhausted { limit: self.budget.limit })));
        }
        if allowed >= buf.remaining() as u64 {
            let before = buf.filled().len();
            ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
            let read = buf.filled().len() - before;
            self.budget.consume(read);
            return Poll::Ready(Ok(()));
        }
        // The caller's buffer is larger than what is left: read into one that is exactly the
        // rest of the budget (this happens once per connection, at the edge).
        let mut edge = vec![0u8; allowed as usize];
        let mut limited = ReadBuf::new(&mut edge);
        ready!(Pin::new(&mut self.inner).poll_read(cx, &mut limited))?;
        let read = limited.filled().len();
        buf.put_slice(limited.filled());
        self.budget.consume(read);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for BudgetedStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Feed `sent` bytes into a budgeted stream and read until it fails or ends.
    async fn read_all(budget: Arc<ReadBudget>, sent: usize) -> (usize, Option<io::Error>) {
        let (mut client, server) = tokio::io::duplex(1024 * 1024);
        let writer = tokio::spawn(async move {
            let chunk = vec![b'x'; 8 * 1024];
            let mut left = sent;
            while left > 0 {
                let n = left.min(chunk.len());
                if client.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
                left -= n;
            }
        });
        let mut stream = BudgetedStream::new(server, budget);
        let mut total = 0;
        let mut buf = vec![0u8; 16 * 1024];
        let error = loop {
            match stream.read(&mut buf).await {
                Ok(0) => break None,
                Ok(n) => total += n,
                Err(e) => break Some(e),
            }
        };
        drop(stream);
        let _ = writer.await;
        (total, error)
    }

    #[tokio::test]
    async fn reads_stop_exactly_at_the_budget_with_a_typed_error() {
        let budget = ReadBudget::new(100_000);
        let (read, error) = read_all(budget.clone(), 24 * 1024 * 1024).await;
        assert_eq!(read, 100_000);
        let error = error.expect("the read past the budget fails");
        assert!(error.get_ref().is_some_and(|e| e.is::<ReadBudgetExhausted>()), "{error}");
        assert!(budget.is_exhausted());
    }

    #[tokio::test]
    async fn traffic_within_the_budget_is_untouched() {
        let budget = ReadBudget::new(100_000);
        let (read, error) = read_all(budget.clone(), 99_999).await;
        assert_eq!(read, 99_999);
        assert!(error.is_none());
        assert!(!budget.is_exhausted());
    }

    #[tokio::test]
    async fn a_lifted_budget_reads_everything() {
        let budget = ReadBudget::new(1_000);
        budget.lift();
        let (read, error) = read_all(budget.clone(), 2 * 1024 * 1024).await;
        assert_eq!(read, 2 * 1024 * 1024);
        assert!(error.is_none());
    }
}
