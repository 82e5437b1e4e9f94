//! LLM provider clients built from [`AgentConfig`]: the two wire formats ([`openai`],
//! [`anthropic`]), the shared HTTP/SSE layer with its timeouts ([`http`]), the SSRF guard
//! ([`netguard`]), and retries/failover ([`failover`], [`retry`]).
//!
//! The tool loop takes [`failover_chain`]; [`client_for`] gives one bare model (no retries).
//! Both take the [`ProviderRuntime`] (pools, cooldowns) beside the config rather than inside
//! it, so the settings in [`crate::config`] do not depend on the clients built from them.

pub mod anthropic;
pub mod failover;
pub mod history;
pub mod http;
pub mod netguard;
pub mod openai;
pub mod retry;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::config::{AgentConfig, Api, ModelRef, ProviderConfig};
use crate::provider::{ModelClient, ProviderError};

pub use failover::FailoverClient;
pub use retry::Cooldowns;

/// State shared by all clients built from one [`AgentConfig`]: one `reqwest` client (connection
/// pool, TLS sessions) per provider, and the model cooldowns. Keep one per loaded config: a
/// config reload starts a new one (new pools for changed timeouts, cooldowns forgotten).
#[derive(Default)]
pub struct ProviderRuntime {
    http: Mutex<HashMap<String, reqwest::Client>>,
    pub cooldowns: Arc<Cooldowns>,
}

impl fmt::Debug for ProviderRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRuntime").finish_non_exhaustive()
    }
}

impl ProviderRuntime {
    fn http_client(&self, provider: &ProviderConfig) -> Result<reqwest::Client, ProviderError> {
        let mut clients = self.http.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(&provider.id) {
            return Ok(client.clone());
        }
        let client = http::build_client(provider)?;
        clients.insert(provider.id.clone(), client.clone());
        Ok(client)
    }
}

/// A client for one model, without retries or failover.
pub fn client_for(cfg: &AgentConfig, runtime: &ProviderRuntime, model: &ModelRef) -> Result<Arc<dyn ModelClient>, ProviderError> {
    let provider = cfg.providers.get(&model.provider).ok_or_else(|| ProviderError::Config {
        message: format!(
            "unknown provider {:?} in model {model}: add models.providers.{} (with api and baseUrl)",
            model.provider, model.provider
        ),
    })?;
    let model_config = provider.model(&model.model);
    let api = model_config.api.clone().unwrap_or_else(|| provider.api.clone());
    let http = runtime.http_client(provider)?;
    Ok(match api {
        Api::OpenAiCompletions => Arc::new(openai::OpenAiClient::new(provider, model_config, http)?),
        Api::AnthropicMessages => Arc::new(anthropic::AnthropicClient::new(provider, model_config, http)?),
        Api::Unsupported(name) => {
            return Err(ProviderError::Config {
                message: format!(
                    "model {model}: api {name:?} is not supported by Pincer (use \"openai-completions\" or \"anthropic-messages\")"
                ),
            })
        }
    })
}

/// The models a run tries, in order: `override_model` (a session's model choice) or the
/// configured primary, then the configured fallbacks (duplicates removed).
pub fn chain_models(cfg: &AgentConfig, override_model: Option<&ModelRef>) -> Result<Vec<ModelRef>, ProviderError> {
    let first = override_model
        .or(cfg.primary.as_ref())
        .ok_or_else(|| ProviderError::Config { message: "no model configured: set agents.defaults.model to \"provider/model\"".into() })?;
    let mut chain = vec![first.clone()];
    for fallback in &cfg.fallbacks {
        if !chain.contains(fallback) {
            chain.push(fallback.clone());
        }
    }
    Ok(chain)
}

/// The client a run uses: retries and failover over [`chain_models`]. A first model that cannot
/// be built is an error (a misconfiguration should surface, not hide behind a fallback); fallbacks
/// that cannot be built are skipped with a warning.
pub fn failover_chain(
    cfg: &AgentConfig,
    runtime: &ProviderRuntime,
    override_model: Option<&ModelRef>,
) -> Result<Arc<dyn ModelClient>, ProviderError> {
    let models = chain_models(cfg, override_model)?;
    let mut candidates = Vec::with_capacity(models.len());
    for (i, model) in models.iter().enumerate() {
        match client_for(cfg, runtime, model) {
            Ok(client) => candidates.push(client),
            Err(e) if i == 0 => return Err(e),
            Err(e) => tracing::warn!(model = %model, error = %e, "skipping a fallback model that cannot be used"),
        }
    }
    Ok(Arc::new(FailoverClient::new(candidates, cfg.retry, runtime.cooldowns.clone())))
}

/// Tool call arguments as streamed: empty means no arguments; text that is not valid JSON is kept
/// as a string so the tool loop can report the parse error to the model.
pub fn parse_arguments(raw: &str) -> Value {
    if raw.trim().is_empty() {
        return Value::Object(Default::default());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// How a compaction summary is presented to a model (as a user turn).
pub(crate) fn summary_text(summary: &str) -> String {
    format!("The earlier part of this conversation was compacted into this summary:\n<summary>\n{summary}\n</summary>")
}
