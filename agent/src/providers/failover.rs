//! Retries and model failover behind one [`ModelClient`].
//!
//! For each candidate in `[primary, fallbacks…]`: up to `attempts` tries with exponential backoff
//! (or the server's `Retry-After`), for retryable errors only; then the next candidate, for errors
//! that allow failover (auth, unknown model, exhausted retries, …). Context-length errors,
//! refusals and aborts end the run: another model would not fix them, or the user asked to stop.
//!
//! Streamed output is never repeated: once any delta of an attempt reached the caller, a failure
//! of that attempt is final — no retry, and no failover either, since a fresh stream from another
//! model would be appended to the half answer the user already saw. The error goes back to the
//! tool loop, which records it (and the user can resend).
//!
//! Candidates that failed with rate limits, auth errors, 5xx or timeouts cool down (shared by
//! every client of the same [`AgentConfig`](crate::config::AgentConfig)): later runs skip them
//! until the cooldown ends, except the last candidate, which is always tried.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::config::RetryConfig;
use crate::model::AssistantMessage;
use crate::provider::{DeltaSink, ModelClient, ModelRequest, ProviderError, StreamDelta};
use crate::providers::retry::{backoff, Cooldowns};

/// Retries and failover over a chain of models.
pub struct FailoverClient {
    candidates: Vec<Arc<dyn ModelClient>>,
    policy: RetryConfig,
    cooldowns: Arc<Cooldowns>,
}

impl FailoverClient {
    /// `candidates` in order of preference (must not be empty).
    pub fn new(candidates: Vec<Arc<dyn ModelClient>>, policy: RetryConfig, cooldowns: Arc<Cooldowns>) -> FailoverClient {
        FailoverClient { candidates, policy, cooldowns }
    }

    /// The labels of the chain, in order.
    pub fn labels(&self) -> Vec<String> {
        self.candidates.iter().map(|c| c.label()).collect()
    }

    async fn run(
        &self,
        request: &ModelRequest,
        cancel: &CancellationToken,
        on_delta: DeltaSink<'_>,
    ) -> Result<AssistantMessage, ProviderError> {
        let mut last_error = None;
        let count = self.candidates.len();
        for (i, client) in self.candidates.iter().enumerate() {
            let label = client.label();
            let is_last = i + 1 == count;
            if !is_last {
                if let Some(until) = self.cooldowns.cooling_until(&label) {
                    let left = until.saturating_duration_since(std::time::Instant::now());
                    tracing::info!(model = %label, cooldown_left_ms = left.as_millis() as u64, "skipping a model that is cooling down");
                    continue;
                }
            }
            match self.try_model(client.as_ref(), &label, request, cancel, on_delta).await {
                Ok(message) => {
                    self.cooldowns.record_success(&label);
                    if i > 0 {
                        tracing::info!(model = %label, "answered by a fallback model");
                    }
                    return Ok(message);
                }
                Err(Outcome::Final(e)) => return Err(e),
                Err(Outcome::NextModel(e)) => {
                    if deserves_cooldown(&e) {
                        let length = self.cooldowns.record_failure(&label, &self.policy, e.retry_after());
                        tracing::warn!(model = %label, error = %e, cooldown_s = length.as_secs(), "model failed; cooling down");
                    } else {
                        tracing::warn!(model = %label, error = %e, "model failed");
                    }
                    if !is_last {
                        tracing::info!(from = %label, "failing over to the next model");
                    }
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| ProviderError::Config { message: "no model to try".into() }))
    }

    /// All attempts on one model.
    async fn try_model(
        &self,
        client: &dyn ModelClient,
        label: &str,
        request: &ModelRequest,
        cancel: &CancellationToken,
        on_delta: DeltaSink<'_>,
    ) -> Result<AssistantMessage, Outcome> {
        let attempts = self.policy.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut emitted = false;
            let result = {
                let mut tracking = |d: StreamDelta| {
                    emitted = true;
                    on_delta(d);
                };
                client.stream(request, cancel, &mut tracking).await
            };
            let error = match result {
                Ok(message) => return Ok(message),
                Err(e) => e,
            };
            if matches!(error, ProviderError::Aborted) || cancel.is_cancelled() {
                return Err(Outcome::Final(ProviderError::Aborted));
            }
            if emitted {
                tracing::warn!(model = %label, error = %error, "model failed after output was streamed; not retrying");
                return Err(Outcome::Final(error));
            }
            if !error.is_retryable() || attempt >= attempts {
                return Err(if error.allows_failover() { Outcome::NextModel(error) } else { Outcome::Final(error) });
            }
            let delay = match error.retry_after() {
                Some(wait) if wait > self.policy.max_retry_after => {
                    tracing::info!(model = %label, retry_after_s = wait.as_secs(), "server asks to wait too long; failing over instead");
                    return Err(Outcome::NextModel(error));
                }
                Some(wait) => wait,
                None => backoff(&self.policy, attempt),
            };
            tracing::info!(model = %label, attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying model");
            sleep_or_cancel(delay, cancel).await?;
        }
    }
}

/// How one model's attempts ended.
enum Outcome {
    /// Stop the whole chain with this error.
    Final(ProviderError),
    /// Try the next model.
    NextModel(ProviderError),
}

async fn sleep_or_cancel(delay: Duration, cancel: &CancellationToken) -> Result<(), Outcome> {
    tokio::select! {
        _ = cancel.cancelled() => Err(Outcome::Final(ProviderError::Aborted)),
        _ = tokio::time::sleep(delay) => Ok(()),
    }
}

/// Failures that say "this model is unusable for a while", not "this request was bad".
fn deserves_cooldown(e: &ProviderError) -> bool {
    match e {
        ProviderError::RateLimited { .. }
        | ProviderError::Auth { .. }
        | ProviderError::Timeout { .. }
        | ProviderError::Transport { .. } => true,
        ProviderError::Http { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}

impl ModelClient for FailoverClient {
    /// The primary's label; the answering model is in the returned message.
    fn label(&self) -> String {
        self.candidates.first().map(|c| c.label()).unwrap_or_default()
    }

    fn stream<'a>(
        &'a self,
        request: &'a ModelRequest,
        cancel: &'a CancellationToken,
        on_delta: DeltaSink<'a>,
    ) -> BoxFuture<'a, Result<AssistantMessage, ProviderError>> {
        Box::pin(self.run(request, cancel, on_delta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Content, StopReason, Usage};
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// A model that replays canned results and counts calls.
    struct Canned {
        label: String,
        results: Mutex<VecDeque<(bool, Result<(), ProviderError>)>>,
        calls: Mutex<u32>,
    }

    impl Canned {
        fn new(label: &str, results: Vec<(bool, Result<(), ProviderError>)>) -> Arc<Canned> {
            Arc::new(Canned { label: label.into(), results: Mutex::new(results.into()), calls: Mutex::new(0) })
        }

        fn calls(&self) -> u32 {
            *self.calls.lock().unwrap()
        }
    }

    impl ModelClient for Canned {
        fn label(&self) -> String {
            self.label.clone()
        }

        fn stream<'a>(
            &'a self,
            _request: &'a ModelRequest,
            _cancel: &'a CancellationToken,
            on_delta: DeltaSink<'a>,
        ) -> BoxFuture<'a, Result<AssistantMessage, ProviderError>> {
            *self.calls.lock().unwrap() += 1;
            let (emit, result) = self.results.lock().unwrap().pop_front().unwrap_or((false, Ok(())));
            if emit {
                on_delta(StreamDelta::Text("partial".into()));
            }
            let label = self.label.clone();
            Box::pin(async move {
                result.map(|()| AssistantMessage {
                    content: vec![Content::text("ok")],
                    api: "test".into(),
                    provider: label.clone(),
                    model: label,
                    usage: Usage::default(),
                    stop_reason: StopReason::Stop,
                    error_message: None,
                    timestamp: 0,
                })
            })
        }
    }

    fn policy() -> RetryConfig {
        RetryConfig { base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(2), ..RetryConfig::default() }
    }

    fn request() -> ModelRequest {
        ModelRequest::default()
    }

    fn http(status: u16) -> ProviderError {
        ProviderError::Http { provider: "p".into(), status, message: "x".into(), retry_after: None }
    }

    async fn run(chain: &FailoverClient) -> Result<AssistantMessage, ProviderError> {
        let mut sink = |_d: StreamDelta| {};
        chain.stream(&request(), &CancellationToken::new(), &mut sink).await
    }

    #[tokio::test]
    async fn retries_then_fails_over_then_cools_down() {
        let a = Canned::new("a/m", vec![(false, Err(http(500))), (false, Err(http(502))), (false, Err(http(503)))]);
        let b = Canned::new("b/m", vec![]);
        let chain = FailoverClient::new(vec![a.clone(), b.clone()], policy(), Arc::default());
        assert_eq!(run(&chain).await.unwrap().provider, "b/m");
        assert_eq!((a.calls(), b.calls()), (3, 1));
        // The primary is cooling down: the next run goes straight to the fallback.
        run(&chain).await.unwrap();
        assert_eq!((a.calls(), b.calls()), (3, 2));
    }

    #[tokio::test]
    async fn non_retryable_errors_fail_over_at_once_or_end_the_chain() {
        let auth = ProviderError::Auth { provider: "a".into(), status: 401, hint: "h".into() };
        let a = Canned::new("a/m", vec![(false, Err(auth))]);
        let b = Canned::new("b/m", vec![]);
        let chain = FailoverClient::new(vec![a.clone(), b.clone()], policy(), Arc::default());
        run(&chain).await.unwrap();
        assert_eq!((a.calls(), b.calls()), (1, 1));

        let ctx = ProviderError::ContextLength { provider: "a".into(), message: "long".into() };
        let a = Canned::new("a/m", vec![(false, Err(ctx))]);
        let b = Canned::new("b/m", vec![]);
        let chain = FailoverClient::new(vec![a.clone(), b.clone()], policy(), Arc::default());
        assert!(matches!(run(&chain).await, Err(ProviderError::ContextLength { .. })));
        assert_eq!((a.calls(), b.calls()), (1, 0));
    }

    #[tokio::test]
    async fn a_failure_after_streamed_output_is_final() {
        let a = Canned::new("a/m", vec![(true, Err(ProviderError::Truncated { provider: "a".into() }))]);
        let b = Canned::new("b/m", vec![]);
        let chain = FailoverClient::new(vec![a.clone(), b.clone()], policy(), Arc::default());
        assert!(matches!(run(&chain).await, Err(ProviderError::Truncated { .. })));
        assert_eq!((a.calls(), b.calls()), (1, 0));
    }

    #[tokio::test]
    async fn the_last_candidate_is_tried_even_when_cooling_down() {
        let a = Canned::new("a/m", vec![(false, Err(http(500))), (false, Err(http(500))), (false, Err(http(500)))]);
        let chain = FailoverClient::new(vec![a.clone()], policy(), Arc::default());
        assert!(matches!(run(&chain).await, Err(ProviderError::Http { status: 500, .. })));
        run(&chain).await.unwrap();
        assert_eq!(a.calls(), 4);
    }

    #[tokio::test]
    async fn long_retry_after_fails_over_instead_of_sleeping() {
        let limited = ProviderError::RateLimited { provider: "a".into(), retry_after: Some(Duration::from_secs(3600)) };
        let a = Canned::new("a/m", vec![(false, Err(limited))]);
        let b = Canned::new("b/m", vec![]);
        let chain = FailoverClient::new(vec![a.clone(), b.clone()], policy(), Arc::default());
        let started = std::time::Instant::now();
        run(&chain).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!((a.calls(), b.calls()), (1, 1));
    }
}
