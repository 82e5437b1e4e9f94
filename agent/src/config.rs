//! Agent and LLM provider settings, read from the gateway's resolved config document (the whole
//! OpenClaw-style `openclaw.json` as JSON, `${VAR}` references already substituted).
//!
//! OpenClaw keys read here (everything else is ignored):
//!
//! - `agents.defaults.model`: `"provider/model"` (the primary) or `{primary, fallbacks: [...]}`.
//!   A bare name without `/` is looked up as an alias in `agents.defaults.models`
//!   (`{"provider/model": {alias}}`) and otherwise means the default provider (`anthropic`),
//!   as in OpenClaw.
//! - `agents.defaults.workspace` (`~` expanded; default `<state dir>/workspace`),
//!   `agents.defaults.timeoutSeconds` (600), `agents.defaults.compaction.{reserveTokens,
//!   keepRecentTokens}`.
//! - `models.providers.<id>.{api, baseUrl, apiKey, headers, models[{id, name, contextWindow,
//!   maxTokens, input, reasoning, api}]}`. `apiKey` is a string or a SecretRef
//!   `{source: "env", id: "VAR"}`.
//!
//! Pincer-only keys (OpenClaw would reject them, so they are opt-in):
//!
//! - `models.providers.<id>.allowPrivateNetwork` (bool, default false): allow a `baseUrl` on a
//!   private, link-local, unique-local or CGNAT address (a LAN vLLM box). Loopback is always
//!   allowed. Without it such URLs are refused, so a config edit cannot point the agent (and its
//!   API key) at cloud metadata endpoints or internal services.
//! - `models.providers.<id>.timeoutSeconds` (whole request, default `agents.defaults.timeoutSeconds`),
//!   `firstByteTimeoutSeconds` (connect until the first body byte, default 60) and
//!   `stallTimeoutSeconds` (longest silence between two chunks of a stream, default 60).
//!   Fractions are allowed.
//! - `agents.defaults.maxTurns` (tool loop iterations per run, default 40) and
//!   `agents.defaults.maxToolResultChars` (default 50 000).
//!
//! A provider referenced by a model (or whose well-known key variable such as `OPENAI_API_KEY` is
//! set) but not listed under `models.providers` gets its built-in defaults (OpenAI, Anthropic,
//! OpenRouter, Groq, xAI, Mistral, DeepSeek, Ollama), like OpenClaw's bundled catalog.
//!
//! API keys, when `apiKey` is absent: the OS keyring (service `pincer`, user `provider:<id>`,
//! skipped when `PINCER_NO_KEYRING` is set), then `<ID>_API_KEY`, then a well-known name
//! (`GEMINI_API_KEY` for `google`, …). Keys are held in [`SecretString`], whose `Debug` is
//! `<redacted>`; nothing in this module formats a key into a message.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Map, Value};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
pub const DEFAULT_MAX_TOOL_RESULT_CHARS: usize = 50_000;
pub const DEFAULT_MAX_TURNS: usize = 40;
pub const DEFAULT_CONTEXT_WINDOW: u64 = 128_000;
pub const DEFAULT_RESERVE_TOKENS: u64 = 16_384;
pub const DEFAULT_KEEP_RECENT_TOKENS: u64 = 20_000;
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The provider of a bare model name, as in OpenClaw.
pub const DEFAULT_PROVIDER: &str = "anthropic";
/// The OS keyring service provider keys are stored under (user `provider:<id>`).
pub const KEYRING_SERVICE: &str = "pincer";
/// Set (to anything) to skip the OS keyring when resolving provider keys (tests, CI, headless).
pub const NO_KEYRING_ENV: &str = "PINCER_NO_KEYRING";

/// A config value Pincer uses is wrong. Messages name the key and never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum AgentConfigError {
    #[error("{path}: expected {expected}")]
    Invalid { path: String, expected: &'static str },
    #[error("{path}: {message}")]
    Bad { path: String, message: String },
    #[error(
        "models.providers.{provider}.baseUrl points at a private network address ({host}); \
         set models.providers.{provider}.allowPrivateNetwork: true if that is intended"
    )]
    PrivateNetwork { provider: String, host: String },
    #[error("{path}: environment variable {var} is not set")]
    MissingSecret { path: String, var: String },
    #[error("OS keyring: {0}")]
    Keyring(#[from] keyring::Error),
}

/// A secret (an API key). `Debug` prints `<redacted>` and there is no `Display`, so it cannot
/// end up in logs or error messages by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> SecretString {
        SecretString(value.into())
    }

    /// The secret itself, for the one place that sends it (an HTTP header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a provider's API key came from; auth errors name it so the user knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `models.providers.<id>.apiKey` as a literal (or an already substituted `${VAR}`).
    Config,
    /// `models.providers.<id>.apiKey` as a SecretRef `{source: "env", id}`.
    ConfigEnv(String),
    /// The OS keyring.
    Keyring,
    /// An environment variable found by convention (`<ID>_API_KEY` or a well-known name).
    Env(String),
}

impl KeyOrigin {
    /// A human description for error hints ("key from env OPENAI_API_KEY").
    pub fn describe(&self, provider: &str) -> String {
        match self {
            KeyOrigin::Config => format!("key from models.providers.{provider}.apiKey"),
            KeyOrigin::ConfigEnv(var) => format!("key from env {var} (models.providers.{provider}.apiKey)"),
            KeyOrigin::Keyring => format!("key from the OS keyring ({KEYRING_SERVICE} / provider:{provider})"),
            KeyOrigin::Env(var) => format!("key from env {var}"),
        }
    }
}

/// A resolved API key and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub secret: SecretString,
    pub origin: KeyOrigin,
}

/// The wire API a provider speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Api {
    /// `openai-completions`: `POST {baseUrl}/chat/completions`. OpenClaw's `openai-responses`
    /// maps here too: every server that offers the Responses API also offers chat completions.
    OpenAiCompletions,
    /// `anthropic-messages`: `POST {baseUrl}/v1/messages`.
    AnthropicMessages,
    /// An API OpenClaw knows but Pincer does not speak (yet); kept so the config still loads and
    /// using such a model gives a clear error.
    Unsupported(String),
}

impl Api {
    pub fn parse(s: &str) -> Api {
        match s {
            "openai-completions" | "openai-responses" => Api::OpenAiCompletions,
            "anthropic-messages" => Api::AnthropicMessages,
            other => Api::Unsupported(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Api::OpenAiCompletions => "openai-completions",
            Api::AnthropicMessages => "anthropic-messages",
            Api::Unsupported(s) => s,
        }
    }
}

/// One model of a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub id: String,
    pub name: String,
    pub context_window: u64,
    pub max_tokens: Option<u32>,
    /// Input modalities: `"text"`, `"image"`.
    pub input: Vec<String>,
    pub reasoning: bool,
    /// A per-model API override (OpenClaw allows one).
    pub api: Option<Api>,
}

impl ModelConfig {
    /// The settings of a model the provider does not list: default window, and images allowed
    /// (the user picked the model explicitly, and the big hosted models all take images).
    pub fn unlisted(id: &str) -> ModelConfig {
        ModelConfig {
            id: id.to_string(),
            name: id.to_string(),
            context_window: DEFAULT_CONTEXT_WINDOW,
            max_tokens: None,
            input: vec!["text".into(), "image".into()],
            reasoning: false,
            api: None,
        }
    }

    pub fn accepts_images(&self) -> bool {
        self.input.iter().any(|i| i == "image")
    }
}

/// One LLM provider endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub id: String,
    pub api: Api,
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    /// Extra request headers (OpenRouter's `HTTP-Referer`, proxies' own auth, …).
    pub headers: BTreeMap<String, String>,
    pub models: Vec<ModelConfig>,
    pub allow_private_network: bool,
    /// The whole request, from connect to the last byte.
    pub request_timeout: Duration,
    /// Connect until the first byte of the response body.
    pub first_byte_timeout: Duration,
    /// The longest silence allowed between two chunks of a streaming response.
    pub stall_timeout: Duration,
}

impl ProviderConfig {
    /// The listed model with this id, or defaults for an unlisted one.
    pub fn model(&self, id: &str) -> ModelConfig {
        self.models.iter().find(|m| m.id == id).cloned().unwrap_or_else(|| ModelConfig::unlisted(id))
    }

    /// Whether `baseUrl` is on this machine (such providers need no API key).
    pub fn is_loopback(&self) -> bool {
        reqwest::Url::parse(&self.base_url).ok().and_then(|u| u.host_str().map(is_loopback_host)).unwrap_or(false)
    }
}

/// `provider/model`. The model id may itself contain `/` (`openrouter/meta-llama/llama-3-8b`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelRef {
    pub provider: String,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid model reference {0:?}: expected \"provider/model\"")]
pub struct InvalidModelRef(pub String);

impl ModelRef {
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> ModelRef {
        ModelRef { provider: provider.into(), model: model.into() }
    }

    /// Parse `provider/model`, splitting at the first `/`.
    pub fn parse(s: &str) -> Result<ModelRef, InvalidModelRef> {
        let s = s.trim();
        match s.split_once('/') {
            Some((p, m)) if !p.trim().is_empty() && !m.trim().is_empty() => Ok(ModelRef::new(p.trim(), m.trim())),
            _ => Err(InvalidModelRef(s.to_string())),
        }
    }
}

impl FromStr for ModelRef {
    type Err = InvalidModelRef;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelRef::parse(s)
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

/// When and how much to compact the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionConfig {
    /// Tokens kept free for the next response. The default (16 384) is further capped at 20 % of
    /// the model's window by [`CompactionConfig::reserve_for`]; a configured value is honoured up
    /// to half the window.
    pub reserve_tokens: u64,
    /// Recent tokens kept verbatim when older messages are summarised.
    pub keep_recent_tokens: u64,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig { reserve_tokens: DEFAULT_RESERVE_TOKENS, keep_recent_tokens: DEFAULT_KEEP_RECENT_TOKENS }
    }
}

impl CompactionConfig {
    /// The reserve for a model with `context_window` tokens.
    pub fn reserve_for(&self, context_window: u64) -> u64 {
        if self.reserve_tokens == DEFAULT_RESERVE_TOKENS {
            self.reserve_tokens.min(context_window / 5)
        } else {
            self.reserve_tokens.min(context_window / 2)
        }
    }
}

/// Retries and failover (code defaults; tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts per model, the first included.
    pub attempts: u32,
    /// Backoff before the 2nd attempt; doubles per attempt, plus up to 25 % jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A server-requested `Retry-After` longer than this fails over instead of sleeping.
    pub max_retry_after: Duration,
    /// How long a model that failed (rate limit, auth, 5xx, timeout) is skipped by later runs;
    /// doubles per consecutive failure up to `max_cooldown`.
    pub cooldown: Duration,
    pub max_cooldown: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            cooldown: Duration::from_secs(60),
            max_cooldown: Duration::from_secs(600),
        }
    }
}

/// Everything the agent runtime needs from the config document.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub providers: BTreeMap<String, ProviderConfig>,
    pub primary: Option<ModelRef>,
    pub fallbacks: Vec<ModelRef>,
    /// `agents.defaults.models` aliases (`opus` → `anthropic/claude-opus-4-6`).
    pub aliases: BTreeMap<String, ModelRef>,
    pub workspace: PathBuf,
    /// A whole run (`agents.defaults.timeoutSeconds`).
    pub timeout: Duration,
    pub max_tool_result_chars: usize,
    /// Tool loop iterations per run.
    pub max_turns: usize,
    pub compaction: CompactionConfig,
    pub retry: RetryConfig,
}

/// The message, for callers that hand it on as text (a wire error's `message`).
impl From<AgentConfigError> for String {
    fn from(e: AgentConfigError) -> String {
        e.to_string()
    }
}

/// Where provider keys are looked up when the config has none. Injectable so tests never touch
/// the real OS keyring.
pub trait KeyringLookup {
    /// The stored key for a provider; `Err` is a keyring failure (logged, then env vars are tried).
    fn provider_key(&self, provider_id: &str) -> Result<Option<String>, keyring::Error>;
}

/// The OS keyring (Keychain, Credential Manager, Secret Service).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsKeyring;

impl KeyringLookup for OsKeyring {
    fn provider_key(&self, provider_id: &str) -> Result<Option<String>, keyring::Error> {
        let entry = keyring::Entry::new(KEYRING_SERVICE, &keyring_user(provider_id))?;
        match entry.get_password() {
            Ok(key) => Ok(Some(key)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// No keyring at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKeyring;

impl KeyringLookup for NoKeyring {
    fn provider_key(&self, _provider_id: &str) -> Result<Option<String>, keyring::Error> {
        Ok(None)
    }
}

fn keyring_user(provider_id: &str) -> String {
    format!("provider:{provider_id}")
}

/// Store a provider's API key in the OS keyring (for `pincer models auth`-style CLI commands).
pub fn store_api_key_in_keyring(provider_id: &str, key: &str) -> Result<(), AgentConfigError> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, &keyring_user(provider_id))?;
    Ok(entry.set_password(key)?)
}

/// Remove a provider's API key from the OS keyring (absent is fine).
pub fn delete_api_key_from_keyring(provider_id: &str) -> Result<(), AgentConfigError> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, &keyring_user(provider_id))?;
    match entry.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(AgentConfigError::Keyring(e)),
    }
}

/// Built-in providers usable without a `models.providers` entry: (id, api, baseUrl).
const BUILTIN_PROVIDERS: &[(&str, &str, &str)] = &[
    ("openai", "openai-completions", "https://api.openai.com/v1"),
    ("anthropic", "anthropic-messages", "https://api.anthropic.com"),
    ("openrouter", "openai-completions", "https://openrouter.ai/api/v1"),
    ("groq", "openai-completions", "https://api.groq.com/openai/v1"),
    ("xai", "openai-completions", "https://api.x.ai/v1"),
    ("mistral", "openai-completions", "https://api.mistral.ai/v1"),
    ("deepseek", "openai-completions", "https://api.deepseek.com/v1"),
    ("ollama", "openai-completions", "http://127.0.0.1:11434/v1"),
];

fn builtin(id: &str) -> Option<(Api, &'static str)> {
    BUILTIN_PROVIDERS.iter().find(|(p, _, _)| *p == id).map(|(_, api, url)| (Api::parse(api), *url))
}

/// Conventional key variables whose name is not simply `<ID>_API_KEY`.
const WELL_KNOWN_KEY_VARS: &[(&str, &str)] = &[
    ("google", "GEMINI_API_KEY"),
    ("gemini", "GEMINI_API_KEY"),
    ("x-ai", "XAI_API_KEY"),
    ("z-ai", "ZAI_API_KEY"),
    ("zai", "Z_AI_API_KEY"),
    ("moonshotai", "MOONSHOT_API_KEY"),
    ("kimi", "MOONSHOT_API_KEY"),
];

/// `<ID>_API_KEY` with the id upper-cased and `-`/`.` turned into `_`.
pub fn conventional_key_var(provider_id: &str) -> String {
    let id: String = provider_id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("{id}_API_KEY")
}

impl AgentConfig {
    /// Read the agent settings from the resolved config document, using the OS keyring for
    /// provider keys the document does not hold (unless `PINCER_NO_KEYRING` is set in `env`).
    pub fn from_document(doc: &Value, state_dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<AgentConfig, AgentConfigError> {
        if env(NO_KEYRING_ENV).is_some() {
            Self::from_document_with(doc, state_dir, env, &NoKeyring)
        } else {
            Self::from_document_with(doc, state_dir, env, &OsKeyring)
        }
    }

    /// [`AgentConfig::from_document`] with an explicit keyring.
    pub fn from_document_with(
        doc: &Value,
        state_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        keyring: &dyn KeyringLookup,
    ) -> Result<AgentConfig, AgentConfigError> {
        let root = Node::root(doc)?;
        let defaults = root.child("agents")?.child("defaults")?;

        let timeout = defaults.seconds("timeoutSeconds")?.unwrap_or(DEFAULT_TIMEOUT);
        let workspace = match defaults.str("workspace")? {
            Some(w) if !w.trim().is_empty() => expand_home(w.trim(), env),
            _ => state_dir.join("workspace"),
        };
        let compaction_node = defaults.child("compaction")?;
        let compaction = CompactionConfig {
            reserve_tokens: compaction_node.u64("reserveTokens")?.unwrap_or(DEFAULT_RESERVE_TOKENS),
            keep_recent_tokens: compaction_node.u64("keepRecentTokens")?.unwrap_or(DEFAULT_KEEP_RECENT_TOKENS),
        };
        let max_turns = defaults.u64("maxTurns")?.map(|n| n as usize).unwrap_or(DEFAULT_MAX_TURNS);
        let max_tool_result_chars = defaults.u64("maxToolResultChars")?.map(|n| n as usize).unwrap_or(DEFAULT_MAX_TOOL_RESULT_CHARS);

        let aliases = parse_aliases(&defaults)?;
        let (primary, fallbacks) = parse_model_selection(&defaults, &aliases)?;

        let mut providers = BTreeMap::new();
        let provider_nodes = root.child("models")?.child("providers")?;
        if let Some(map) = provider_nodes.object() {
            for id in map.keys() {
                let node = provider_nodes.child(id)?;
                let provider = parse_provider(id, &node, timeout, env, keyring)?;
                providers.insert(id.clone(), provider);
            }
        }
        // Built-ins: the referenced ones, and the ones whose conventional key variable is set
        // (so a session can switch to them without config edits).
        let referenced: Vec<&str> = primary.iter().chain(fallbacks.iter()).chain(aliases.values()).map(|r| r.provider.as_str()).collect();
        for (id, _, _) in BUILTIN_PROVIDERS {
            if providers.contains_key(*id) {
                continue;
            }
            if referenced.contains(id) || env(&conventional_key_var(id)).is_some() {
                let node = Node::absent(format!("models.providers.{id}"));
                providers.insert(id.to_string(), parse_provider(id, &node, timeout, env, keyring)?);
            }
        }

        Ok(AgentConfig {
            providers,
            primary,
            fallbacks,
            aliases,
            workspace,
            timeout,
            max_tool_result_chars,
            max_turns,
            compaction,
            retry: RetryConfig::default(),
        })
    }

    /// Resolve a user-supplied model name: `provider/model`, an alias, or a bare model id of the
    /// default provider.
    pub fn resolve_model_ref(&self, s: &str) -> Result<ModelRef, InvalidModelRef> {
        resolve_ref(s, &self.aliases)
    }

    /// The settings of a model (defaults when its provider does not list it).
    pub fn model_config(&self, model: &ModelRef) -> ModelConfig {
        match self.providers.get(&model.provider) {
            Some(p) => p.model(&model.model),
            None => ModelConfig::unlisted(&model.model),
        }
    }
}

fn resolve_ref(s: &str, aliases: &BTreeMap<String, ModelRef>) -> Result<ModelRef, InvalidModelRef> {
    let s = s.trim();
    if let Some(r) = aliases.get(s) {
        return Ok(r.clone());
    }
    if s.contains('/') {
        return ModelRef::parse(s);
    }
    if s.is_empty() {
        return Err(InvalidModelRef(s.to_string()));
    }
    Ok(ModelRef::new(DEFAULT_PROVIDER, s))
}

fn parse_aliases(defaults: &Node<'_>) -> Result<BTreeMap<String, ModelRef>, AgentConfigError> {
    let mut aliases = BTreeMap::new();
    let models = defaults.child("models")?;
    if let Some(map) = models.object() {
        for key in map.keys() {
            let entry = models.child(key)?;
            let Some(alias) = entry.str("alias")? else { continue };
            let target = ModelRef::parse(key).map_err(|e| models.bad(key, e.to_string()))?;
            aliases.insert(alias.trim().to_string(), target);
        }
    }
    Ok(aliases)
}

fn parse_model_selection(
    defaults: &Node<'_>,
    aliases: &BTreeMap<String, ModelRef>,
) -> Result<(Option<ModelRef>, Vec<ModelRef>), AgentConfigError> {
    let resolve = |path: String, s: &str| resolve_ref(s, aliases).map_err(|e| AgentConfigError::Bad { path, message: e.to_string() });
    let path = defaults.path_of("model");
    match defaults.get("model") {
        None | Some(Value::Null) => Ok((None, Vec::new())),
        Some(Value::String(s)) => Ok((Some(resolve(path, s)?), Vec::new())),
        Some(Value::Object(_)) => {
            let node = defaults.child("model")?;
            let primary = match node.str("primary")? {
                Some(s) => Some(resolve(node.path_of("primary"), s)?),
                None => None,
            };
            let mut fallbacks = Vec::new();
            match node.get("fallbacks") {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        let item_path = format!("{}[{i}]", node.path_of("fallbacks"));
                        let s = item
                            .as_str()
                            .ok_or(AgentConfigError::Invalid { path: item_path.clone(), expected: "a \"provider/model\" string" })?;
                        let r = resolve(item_path, s)?;
                        if Some(&r) != primary.as_ref() && !fallbacks.contains(&r) {
                            fallbacks.push(r);
                        }
                    }
                }
                Some(_) => return Err(node.invalid("fallbacks", "an array of \"provider/model\" strings")),
            }
            Ok((primary, fallbacks))
        }
        Some(_) => Err(AgentConfigError::Invalid { path, expected: "a \"provider/model\" string or {primary, fallbacks}" }),
    }
}

fn parse_provider(
    id: &str,
    node: &Node<'_>,
    agent_timeout: Duration,
    env: &dyn Fn(&str) -> Option<String>,
    keyring: &dyn KeyringLookup,
) -> Result<ProviderConfig, AgentConfigError> {
    if node.value.is_some() && node.object().is_none() {
        return Err(AgentConfigError::Invalid { path: node.path.clone(), expected: "an object" });
    }
    let builtin = builtin(id);
    let api = match node.str("api")? {
        Some(s) => Api::parse(s.trim()),
        None => builtin.as_ref().map(|(api, _)| api.clone()).unwrap_or(Api::OpenAiCompletions),
    };
    let base_url = match node.str("baseUrl")? {
        Some(s) if !s.trim().is_empty() => s.trim().trim_end_matches('/').to_string(),
        _ => match &builtin {
            Some((_, url)) => url.to_string(),
            None => return Err(node.bad("baseUrl", "required for a provider that is not built in".into())),
        },
    };
    let allow_private_network = node.bool("allowPrivateNetwork")?.unwrap_or(false);
    check_base_url(id, &base_url, allow_private_network)?;

    let mut headers = BTreeMap::new();
    let header_node = node.child("headers")?;
    if let Some(map) = header_node.object() {
        for (name, value) in map {
            let value = value.as_str().ok_or_else(|| header_node.invalid(name, "a string"))?;
            headers.insert(name.clone(), value.to_string());
        }
    }

    let mut models = Vec::new();
    match node.get("models") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let m = Node { value: Some(item), path: format!("{}[{i}]", node.path_of("models")) };
                models.push(parse_model(&m)?);
            }
        }
        Some(_) => return Err(node.invalid("models", "an array")),
    }

    let provider = ProviderConfig {
        id: id.to_string(),
        api,
        api_key: None,
        headers,
        models,
        allow_private_network,
        request_timeout: node.seconds("timeoutSeconds")?.unwrap_or(agent_timeout),
        first_byte_timeout: node.seconds("firstByteTimeoutSeconds")?.unwrap_or(DEFAULT_FIRST_BYTE_TIMEOUT),
        stall_timeout: node.seconds("stallTimeoutSeconds")?.unwrap_or(DEFAULT_STALL_TIMEOUT),
        base_url,
    };
    let api_key = resolve_api_key(id, node, &provider, env, keyring)?;
    Ok(ProviderConfig { api_key, ..provider })
}

fn parse_model(node: &Node<'_>) -> Result<ModelConfig, AgentConfigError> {
    if node.object().is_none() {
        return Err(AgentConfigError::Invalid { path: node.path.clone(), expected: "an object" });
    }
    let id = match node.str("id")? {
        Some(id) if !id.trim().is_empty() => id.trim().to_string(),
        _ => return Err(node.bad("id", "required".into())),
    };
    let input = match node.get("input") {
        None | Some(Value::Null) => vec!["text".to_string()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| node.invalid("input", "an array of strings"))?,
        Some(_) => return Err(node.invalid("input", "an array of strings")),
    };
    let max_tokens = match node.u64("maxTokens")? {
        Some(n) => Some(u32::try_from(n).map_err(|_| node.invalid("maxTokens", "a token count below 2^32"))?),
        None => None,
    };
    Ok(ModelConfig {
        name: node.str("name")?.map(str::to_string).unwrap_or_else(|| id.clone()),
        context_window: node.u64("contextWindow")?.unwrap_or(DEFAULT_CONTEXT_WINDOW),
        max_tokens,
        input,
        reasoning: node.bool("reasoning")?.unwrap_or(false),
        api: node.str("api")?.map(|s| Api::parse(s.trim())),
        id,
    })
}

fn resolve_api_key(
    id: &str,
    node: &Node<'_>,
    provider: &ProviderConfig,
    env: &dyn Fn(&str) -> Option<String>,
    keyring: &dyn KeyringLookup,
) -> Result<Option<ApiKey>, AgentConfigError> {
    let non_empty = |s: String| if s.trim().is_empty() { None } else { Some(s.trim().to_string()) };
    match node.get("apiKey") {
        Some(Value::String(s)) => {
            if let Some(key) = non_empty(s.clone()) {
                return Ok(Some(ApiKey { secret: SecretString::new(key), origin: KeyOrigin::Config }));
            }
        }
        Some(Value::Object(_)) => {
            let r = node.child("apiKey")?;
            let source = r.str("source")?.unwrap_or("env");
            let var = match r.str("id")? {
                Some(v) if !v.trim().is_empty() => v.trim().to_string(),
                _ => return Err(r.bad("id", "a SecretRef needs the variable name in id".into())),
            };
            if source != "env" {
                return Err(r.bad("source", format!("SecretRef source {source:?} is not supported by Pincer (use \"env\")")));
            }
            return match env(&var).and_then(non_empty) {
                Some(key) => Ok(Some(ApiKey { secret: SecretString::new(key), origin: KeyOrigin::ConfigEnv(var) })),
                None => Err(AgentConfigError::MissingSecret { path: node.path_of("apiKey"), var }),
            };
        }
        None | Some(Value::Null) => {}
        Some(_) => return Err(node.invalid("apiKey", "a string or a SecretRef {source: \"env\", id}")),
    }
    // Local servers (Ollama, llama.cpp) usually take no key: don't probe the keyring (a D-Bus
    // round trip, maybe an unlock prompt) for them. Env vars still apply (a local LiteLLM).
    let from_keyring = if provider.is_loopback() { Ok(None) } else { keyring.provider_key(id) };
    match from_keyring {
        Ok(Some(key)) => {
            if let Some(key) = non_empty(key) {
                return Ok(Some(ApiKey { secret: SecretString::new(key), origin: KeyOrigin::Keyring }));
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(provider = id, error = %e, "OS keyring lookup failed; trying environment variables"),
    }
    let conventional = conventional_key_var(id);
    let well_known = WELL_KNOWN_KEY_VARS.iter().filter(|(p, _)| *p == id).map(|(_, v)| v.to_string());
    for var in std::iter::once(conventional).chain(well_known) {
        if let Some(key) = env(&var).and_then(non_empty) {
            return Ok(Some(ApiKey { secret: SecretString::new(key), origin: KeyOrigin::Env(var) }));
        }
    }
    Ok(None)
}

/// Whether a URL host is this machine by name or loopback address.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") || bare.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    bare.parse::<IpAddr>().map(|ip| crate::providers::netguard::classify(ip).is_loopback()).unwrap_or(false)
}

/// Parse-time SSRF check: scheme, and literal private addresses. Names are checked again on
/// every connection (see `providers::netguard`), since DNS can change after parsing.
fn check_base_url(id: &str, base_url: &str, allow_private: bool) -> Result<(), AgentConfigError> {
    let path = format!("models.providers.{id}.baseUrl");
    let url =
        reqwest::Url::parse(base_url).map_err(|e| AgentConfigError::Bad { path: path.clone(), message: format!("not a URL: {e}") })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(AgentConfigError::Bad { path, message: format!("scheme {:?} is not http or https", url.scheme()) });
    }
    let Some(host) = url.host_str() else {
        return Err(AgentConfigError::Bad { path, message: "the URL has no host".into() });
    };
    if allow_private {
        return Ok(());
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        if crate::providers::netguard::classify(ip).is_refused_by_default() {
            return Err(AgentConfigError::PrivateNetwork { provider: id.to_string(), host: bare.to_string() });
        }
    }
    Ok(())
}

fn expand_home(path: &str, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let home = || env("HOME").or_else(|| env("USERPROFILE")).map(PathBuf::from);
    if path == "~" {
        if let Some(h) = home() {
            return h;
        }
    } else if let Some(rest) = path.strip_prefix("~/").or_else(|| path.strip_prefix("~\\")) {
        if let Some(h) = home() {
            return h.join(rest);
        }
    }
    PathBuf::from(path)
}

/// A position in the document, for typed reads whose errors name the key.
struct Node<'a> {
    value: Option<&'a Value>,
    path: String,
}

impl<'a> Node<'a> {
    fn root(doc: &'a Value) -> Result<Node<'a>, AgentConfigError> {
        match doc {
            Value::Object(_) => Ok(Node { value: Some(doc), path: String::new() }),
            Value::Null => Ok(Node { value: None, path: String::new() }),
            _ => Err(AgentConfigError::Invalid { path: "(config root)".into(), expected: "an object" }),
        }
    }

    fn absent(path: String) -> Node<'a> {
        Node { value: None, path }
    }

    fn object(&self) -> Option<&'a Map<String, Value>> {
        self.value.and_then(Value::as_object)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.object().and_then(|m| m.get(key))
    }

    fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn invalid(&self, key: &str, expected: &'static str) -> AgentConfigError {
        AgentConfigError::Invalid { path: self.path_of(key), expected }
    }

    fn bad(&self, key: &str, message: String) -> AgentConfigError {
        AgentConfigError::Bad { path: self.path_of(key), message }
    }

    /// A child object; absent or null gives an absent node, anything else is an error.
    fn child(&self, key: &str) -> Result<Node<'a>, AgentConfigError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(Node::absent(self.path_of(key))),
            Some(v @ Value::Object(_)) => Ok(Node { value: Some(v), path: self.path_of(key) }),
            Some(_) => Err(self.invalid(key, "an object")),
        }
    }

    fn str(&self, key: &str) -> Result<Option<&'a str>, AgentConfigError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(key, "a string")),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, AgentConfigError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(key, "true or false")),
        }
    }

    fn u64(&self, key: &str) -> Result<Option<u64>, AgentConfigError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| self.invalid(key, "a non-negative integer")),
        }
    }

    /// Seconds as a positive number (fractions allowed).
    fn seconds(&self, key: &str) -> Result<Option<Duration>, AgentConfigError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(s) if s > 0.0 && s.is_finite() && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
                _ => Err(self.invalid(key, "a positive number of seconds")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn parse(doc: Value, vars: &[(&str, &str)]) -> Result<AgentConfig, AgentConfigError> {
        AgentConfig::from_document_with(&doc, Path::new("/state"), &env_of(vars), &NoKeyring)
    }

    struct FakeKeyring(&'static str);

    impl KeyringLookup for FakeKeyring {
        fn provider_key(&self, provider_id: &str) -> Result<Option<String>, keyring::Error> {
            Ok((provider_id == "openai").then(|| self.0.to_string()))
        }
    }

    #[test]
    fn model_refs_split_at_the_first_slash() {
        let r = ModelRef::parse("openrouter/meta-llama/llama-3-8b").unwrap();
        assert_eq!(r, ModelRef::new("openrouter", "meta-llama/llama-3-8b"));
        assert_eq!(r.to_string(), "openrouter/meta-llama/llama-3-8b");
        for bad in ["nomodel", "/x", "x/", " / "] {
            assert!(matches!(ModelRef::parse(bad), Err(InvalidModelRef(text)) if text == bad.trim()), "{bad:?}");
        }
    }

    #[test]
    fn defaults_without_any_agent_config() {
        let cfg = parse(json!({}), &[]).unwrap();
        assert!(cfg.providers.is_empty());
        assert_eq!(cfg.primary, None);
        assert_eq!(cfg.workspace, PathBuf::from("/state/workspace"));
        assert_eq!(cfg.timeout, Duration::from_secs(600));
        assert_eq!(cfg.max_tool_result_chars, 50_000);
        assert_eq!(cfg.max_turns, 40);
        assert_eq!(cfg.compaction, CompactionConfig { reserve_tokens: 16_384, keep_recent_tokens: 20_000 });
        assert_eq!(cfg.compaction.reserve_for(200_000), 16_384);
        assert_eq!(cfg.compaction.reserve_for(32_000), 6_400);
        let custom = CompactionConfig { reserve_tokens: 30_000, keep_recent_tokens: 1 };
        assert_eq!(custom.reserve_for(128_000), 30_000);
        assert_eq!(custom.reserve_for(40_000), 20_000);
    }

    #[test]
    fn model_as_string_or_object() {
        let cfg = parse(json!({"agents": {"defaults": {"model": "openai/gpt-4o"}}}), &[]).unwrap();
        assert_eq!(cfg.primary, Some(ModelRef::new("openai", "gpt-4o")));
        assert!(cfg.fallbacks.is_empty());
        // Referenced built-ins are present without a models.providers entry.
        assert_eq!(cfg.providers["openai"].base_url, "https://api.openai.com/v1");

        let cfg = parse(
            json!({"agents": {"defaults": {
                "model": {"primary": "anthropic/claude-sonnet-4-5",
                          "fallbacks": ["openrouter/meta-llama/llama-3-8b", "fast", "anthropic/claude-sonnet-4-5"]},
                "models": {"openai/gpt-4o-mini": {"alias": "fast"}}}}}),
            &[],
        )
        .unwrap();
        assert_eq!(cfg.primary, Some(ModelRef::new("anthropic", "claude-sonnet-4-5")));
        assert_eq!(cfg.fallbacks, vec![ModelRef::new("openrouter", "meta-llama/llama-3-8b"), ModelRef::new("openai", "gpt-4o-mini")]);
        assert_eq!(cfg.providers["anthropic"].api, Api::AnthropicMessages);
        assert_eq!(cfg.resolve_model_ref("fast").unwrap(), ModelRef::new("openai", "gpt-4o-mini"));
        assert_eq!(cfg.resolve_model_ref("claude-opus-4-6").unwrap(), ModelRef::new("anthropic", "claude-opus-4-6"));

        let err = parse(json!({"agents": {"defaults": {"model": 5}}}), &[]).unwrap_err();
        assert!(err.to_string().starts_with("agents.defaults.model: expected"), "{err}");
        let err = parse(json!({"agents": {"defaults": {"model": {"fallbacks": [1]}}}}), &[]).unwrap_err();
        assert!(err.to_string().contains("agents.defaults.model.fallbacks[0]"), "{err}");
    }

    #[test]
    fn provider_keys_and_defaults() {
        let cfg = parse(
            json!({
                "agents": {"defaults": {"workspace": "~/ws", "timeoutSeconds": 30,
                    "compaction": {"reserveTokens": 1000, "keepRecentTokens": 2000}, "maxTurns": 7}},
                "models": {"providers": {"local": {
                    "api": "openai-completions", "baseUrl": "http://127.0.0.1:8080/v1/", "apiKey": "sk-literal",
                    "headers": {"X-Title": "pincer"}, "unknownKey": true, "stallTimeoutSeconds": 0.5,
                    "models": [
                        {"id": "m1", "name": "Model One", "contextWindow": 32000, "maxTokens": 1024,
                         "input": ["text", "image"], "reasoning": true, "cost": {"input": 1}},
                        {"id": "m2"}
                    ]}}}
            }),
            &[("HOME", "/home/u")],
        )
        .unwrap();
        assert_eq!(cfg.workspace, PathBuf::from("/home/u/ws"));
        assert_eq!(cfg.timeout, Duration::from_secs(30));
        assert_eq!(cfg.max_turns, 7);
        assert_eq!(cfg.compaction.keep_recent_tokens, 2000);
        let p = &cfg.providers["local"];
        assert_eq!(p.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(p.api_key.as_ref().map(|k| k.secret.expose()), Some("sk-literal"));
        assert_eq!(p.api_key.as_ref().map(|k| &k.origin), Some(&KeyOrigin::Config));
        assert_eq!(p.headers["X-Title"], "pincer");
        assert_eq!(p.request_timeout, Duration::from_secs(30));
        assert_eq!(p.first_byte_timeout, DEFAULT_FIRST_BYTE_TIMEOUT);
        assert_eq!(p.stall_timeout, Duration::from_millis(500));
        assert_eq!(p.models[0].context_window, 32_000);
        assert_eq!(p.models[0].max_tokens, Some(1024));
        assert!(p.models[0].accepts_images() && p.models[0].reasoning);
        assert_eq!(p.models[1], ModelConfig { input: vec!["text".into()], ..ModelConfig::unlisted("m2") });
        assert_eq!(p.model("other").context_window, DEFAULT_CONTEXT_WINDOW);
        assert!(format!("{p:?}").contains("<redacted>") && !format!("{p:?}").contains("sk-literal"));
    }

    #[test]
    fn secret_refs_keyring_and_env_fallbacks() {
        let doc = json!({"models": {"providers": {
            "a": {"baseUrl": "https://a.example/v1", "apiKey": {"source": "env", "provider": "default", "id": "A_KEY"}},
            "my-proxy": {"baseUrl": "https://p.example/v1"},
            "google": {"baseUrl": "https://g.example/v1"},
            "openai": {}
        }}});
        let cfg = parse(doc.clone(), &[("A_KEY", "ka"), ("MY_PROXY_API_KEY", "kp"), ("GEMINI_API_KEY", "kg")]).unwrap();
        let key = |id: &str| cfg.providers[id].api_key.clone();
        assert_eq!(key("a").map(|k| (k.secret.expose().to_string(), k.origin)), Some(("ka".into(), KeyOrigin::ConfigEnv("A_KEY".into()))));
        assert_eq!(key("my-proxy").map(|k| k.origin), Some(KeyOrigin::Env("MY_PROXY_API_KEY".into())));
        assert_eq!(key("google").map(|k| k.origin), Some(KeyOrigin::Env("GEMINI_API_KEY".into())));
        assert_eq!(key("openai"), None);

        // The keyring wins over the environment.
        let cfg = AgentConfig::from_document_with(
            &doc,
            Path::new("/s"),
            &env_of(&[("A_KEY", "ka"), ("OPENAI_API_KEY", "from-env")]),
            &FakeKeyring("from-keyring"),
        )
        .unwrap();
        let k = cfg.providers["openai"].api_key.clone().unwrap();
        assert_eq!((k.secret.expose(), k.origin), ("from-keyring", KeyOrigin::Keyring));

        let err = parse(doc, &[]).unwrap_err();
        assert_eq!(err.to_string(), "models.providers.a.apiKey: environment variable A_KEY is not set");
        let err = parse(json!({"models": {"providers": {"x": {"baseUrl": "https://x", "apiKey": {"source": "file", "id": "/k"}}}}}), &[])
            .unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
    }

    #[test]
    fn builtins_appear_when_their_key_is_in_the_environment() {
        let cfg = parse(json!({}), &[("OPENROUTER_API_KEY", "k")]).unwrap();
        assert_eq!(cfg.providers.keys().collect::<Vec<_>>(), vec!["openrouter"]);
        assert_eq!(cfg.providers["openrouter"].base_url, "https://openrouter.ai/api/v1");
    }

    #[test]
    fn private_network_base_urls_need_the_opt_in() {
        for url in ["http://10.0.0.1/v1", "http://192.168.1.5:8000", "http://169.254.169.254", "http://[fd00::1]/v1", "http://100.64.0.1"] {
            let doc = json!({"models": {"providers": {"lan": {"baseUrl": url}}}});
            let err = parse(doc, &[]).unwrap_err();
            assert!(matches!(err, AgentConfigError::PrivateNetwork { .. }), "{url}: {err}");
            assert!(err.to_string().contains("models.providers.lan.allowPrivateNetwork"), "{err}");
            let doc = json!({"models": {"providers": {"lan": {"baseUrl": url, "allowPrivateNetwork": true}}}});
            assert!(parse(doc, &[]).unwrap().providers["lan"].allow_private_network);
        }
        for url in ["http://127.0.0.1:1/v1", "http://localhost:11434/v1", "http://[::1]:8/v1", "https://api.example.com"] {
            let doc = json!({"models": {"providers": {"ok": {"baseUrl": url}}}});
            parse(doc, &[]).unwrap();
        }
        let err = parse(json!({"models": {"providers": {"f": {"baseUrl": "file:///etc/passwd"}}}}), &[]).unwrap_err();
        assert!(err.to_string().contains("not http or https"), "{err}");
        let err = parse(json!({"models": {"providers": {"custom": {"api": "openai-completions"}}}}), &[]).unwrap_err();
        assert_eq!(err.to_string(), "models.providers.custom.baseUrl: required for a provider that is not built in");
    }

    #[test]
    fn loopback_providers_skip_the_keyring() {
        let cfg = AgentConfig::from_document_with(
            &json!({"models": {"providers": {"openai": {"baseUrl": "http://127.0.0.1:9/v1"}}}}),
            Path::new("/s"),
            &env_of(&[("OPENAI_API_KEY", "k")]),
            &FakeKeyring("kr"),
        )
        .unwrap();
        assert_eq!(cfg.providers["openai"].api_key.clone().map(|k| k.origin), Some(KeyOrigin::Env("OPENAI_API_KEY".into())));
    }

    #[test]
    fn unsupported_apis_still_load() {
        let cfg = parse(json!({"models": {"providers": {"g": {"baseUrl": "https://g", "api": "google-generative-ai"}}}}), &[]).unwrap();
        assert_eq!(cfg.providers["g"].api, Api::Unsupported("google-generative-ai".into()));
        assert_eq!(conventional_key_var("my-proxy.v2"), "MY_PROXY_V2_API_KEY");
    }
}
