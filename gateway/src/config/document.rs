//! [`GatewayConfig`]: the loaded document in its three forms (raw, authored, resolved), the
//! `config.get` snapshot, `config.patch` (merge, baseHash guard) and the durable save.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::env::substitute_env;
use super::error::{ConfigError, ConfigIssue};
use super::parse::{parse_json5_object, parse_patch_param};
use super::patch::{contains_key, diff_leaf_paths, is_hashless_path, is_known_path, merge_patch, restore_sentinels, value_at};
use super::redact::{redact_config_value, redact_raw};
use super::view::ConfigView;
use super::{process_env, EnvLookup};

/// The loaded config document. See the module docs.
#[derive(Clone)]
pub struct GatewayConfig {
    path: PathBuf,
    exists: bool,
    raw: String,
    hash: String,
    /// As written (JSON5 parsed, `${ENV}` kept). Always an object.
    authored: Value,
    /// `${ENV}` substituted. Always an object.
    resolved: Value,
    view: ConfigView,
    warnings: Vec<ConfigIssue>,
    legacy: Vec<ConfigIssue>,
    env: EnvLookup,
}

impl fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("path", &self.path)
            .field("exists", &self.exists)
            .field("hash", &self.hash)
            .field("view", &self.view)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl GatewayConfig {
    /// Load `path` (JSON5), substituting `${ENV}` from the process environment. A missing file
    /// is an empty config (`exists() == false`, all defaults).
    pub fn load(path: impl AsRef<Path>) -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::load_with_env(path, process_env())
    }

    /// [`GatewayConfig::load`] with an explicit environment. Later patches use the same one.
    pub fn load_with_env(path: impl AsRef<Path>, env: EnvLookup) -> Result<GatewayConfig, ConfigError> {
        let path = path.as_ref();
        match std::fs::read(path) {
            Ok(bytes) => GatewayConfig::from_bytes(path.to_path_buf(), &bytes, env),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                GatewayConfig::build(path.to_path_buf(), false, String::new(), sha256_hex(b""), Value::Object(Map::new()), env)
            }
            Err(e) => Err(ConfigError::Io { path: path.to_path_buf(), action: "read", source: e }),
        }
    }

    /// A config from text, as if `raw` had been read from `path` (which is not touched).
    pub fn from_raw(path: impl Into<PathBuf>, raw: &str, env: EnvLookup) -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::from_bytes(path.into(), raw.as_bytes(), env)
    }

    fn from_bytes(path: PathBuf, bytes: &[u8], env: EnvLookup) -> Result<GatewayConfig, ConfigError> {
        let hash = sha256_hex(bytes);
        let raw = String::from_utf8(bytes.to_vec()).map_err(|e| ConfigError::Parse {
            path: Some(path.clone()),
            line: None,
            column: None,
            message: format!("the file is not UTF-8 text (invalid byte at offset {}); save it as UTF-8", e.utf8_error().valid_up_to()),
        })?;
        let authored = parse_json5_object(&raw, Some(&path), true)?;
        GatewayConfig::build(path, true, raw, hash, authored, env)
    }

    /// Resolve `${ENV}`, validate, compute the view. Every constructor ends here.
    fn build(
        path: PathBuf,
        exists: bool,
        raw: String,
        hash: String,
        authored: Value,
        env: EnvLookup,
    ) -> Result<GatewayConfig, ConfigError> {
        if !authored.is_object() {
            return Err(ConfigError::invalid("<root>", "the config must be a JSON5 object ({ ... }) at the top level"));
        }
        let mut missing = Vec::new();
        let resolved = substitute_env(&authored, "", &env, &mut missing);

        let mut warnings = Vec::new();
        for m in missing {
            if is_known_path(&m.path) {
                return Err(ConfigError::invalid(
                    m.path.clone(),
                    format!(
                        "environment variable {} is not set or empty (referenced as ${{{}}}); set it, or write $${{{}}} for a literal",
                        m.var, m.var, m.var
                    ),
                ));
            }
            warnings.push(ConfigIssue {
                path: m.path,
                message: format!("Missing env var \"{}\" - feature using this value will be unavailable", m.var),
            });
        }

        let view = ConfigView::from_resolved(&resolved, &env)?;
        // The run queue's keys are checked here so a wrong value is refused like any other.
        crate::agent::queue_settings::QueueSettings::from_document(&resolved).map_err(|e| ConfigError::invalid(e.key, e.message))?;

        if contains_key(&authored, "$include") {
            warnings.push(ConfigIssue {
                path: "$include".to_string(),
                message: "$include is not supported by Pincer; settings in included files are ignored".to_string(),
            });
        }
        let mut legacy = Vec::new();
        for (old, new) in
            [("gateway.nodes.allowCommands", "gateway.nodes.commands.allow"), ("gateway.nodes.denyCommands", "gateway.nodes.commands.deny")]
        {
            if value_at(&authored, old).is_some() {
                legacy.push(ConfigIssue {
                    path: old.to_string(),
                    message: format!("{old} is the older spelling of {new}; both are read (union), prefer {new}"),
                });
            }
        }

        Ok(GatewayConfig { path, exists, raw, hash, authored, resolved, view, warnings, legacy, env })
    }

    /// Where the config lives (whether or not it exists).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file existed when loaded (true after a patch: the patched document is meant
    /// to be written with [`GatewayConfig::save_atomic`]).
    pub fn exists(&self) -> bool {
        self.exists
    }

    /// The file text (`""` when missing; the pretty JSON to be written after a patch).
    /// Contains secrets: never send it anywhere, use [`GatewayConfig::redacted_snapshot`].
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// SHA-256 (lower-case hex) of the raw file bytes; of `""` when the file is missing. This is
    /// `config.get`'s `hash` and `config.patch`'s `baseHash`.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The document as written (`${ENV}` references kept). Contains secrets.
    pub fn document(&self) -> &Value {
        &self.authored
    }

    /// The document with `${ENV}` substituted. Contains secrets.
    pub fn resolved(&self) -> &Value {
        &self.resolved
    }

    /// The typed values Pincer uses.
    pub fn view(&self) -> ConfigView {
        self.view.clone()
    }

    /// Non-fatal findings (missing env vars in keys Pincer ignores, `$include`).
    pub fn warnings(&self) -> &[ConfigIssue] {
        &self.warnings
    }

    /// Older key spellings in use.
    pub fn legacy_issues(&self) -> &[ConfigIssue] {
        &self.legacy
    }

    /// The resolved document with secrets replaced by [`REDACTED_SENTINEL`](super::REDACTED_SENTINEL) (the `config`
    /// field of `config.get` / `config.patch` results).
    pub fn redacted_config(&self) -> Value {
        redact_config_value(&self.resolved)
    }

    /// The `config.get` result, shaped like OpenClaw 2026.9's:
    /// `{path, includedPaths, includeProvenance, exists, raw, parsed, sourceConfig, resolved,
    /// valid, runtimeConfig, config, hash, issues, warnings, legacyIssues}`. Secrets are
    /// redacted everywhere; `raw` is `null` when the file is missing or when its text could not
    /// be provably redacted. `configRevisionHash`/`appliedConfigHash` are deliberately absent
    /// (the Control UI then uses `hash`, and an `appliedConfigHash` that never matches would
    /// make it show "needs apply").
    pub fn redacted_snapshot(&self) -> Value {
        let resolved = self.redacted_config();
        let parsed = redact_config_value(&self.authored);
        let raw = if self.exists { redact_raw(&self.raw, &self.authored).map(Value::String) } else { None };
        json!({
            "path": self.path.to_string_lossy(),
            "includedPaths": [],
            "includeProvenance": [],
            "exists": self.exists,
            "raw": raw.unwrap_or(Value::Null),
            "parsed": parsed,
            "sourceConfig": resolved.clone(),
            "resolved": resolved.clone(),
            "valid": true,
            "runtimeConfig": resolved.clone(),
            "config": resolved,
            "hash": self.hash,
            "issues": [],
            "warnings": self.warnings,
            "legacyIssues": self.legacy,
        })
    }

    /// Apply an RFC 7386 JSON merge patch (`null` deletes) to the authored document and
    /// validate the result. `base_hash`, when given, must equal [`GatewayConfig::hash`]
    /// (trimmed) or the patch is refused with [`ConfigError::BaseHashMismatch`].
    ///
    /// A string equal to [`REDACTED_SENTINEL`](super::REDACTED_SENTINEL) in the patch means "keep the stored value" (a
    /// client echoing a redacted `config.get`); with no stored value it is an error.
    ///
    /// The result is not written: call [`GatewayConfig::save_atomic`] on it. Its `raw()` is the
    /// pretty JSON that will be written and `hash()` that text's hash. A patch that changes
    /// nothing returns a copy of `self` (same hash: nothing to write).
    pub fn apply_patch(&self, patch: &Value, base_hash: Option<&str>) -> Result<GatewayConfig, ConfigError> {
        if let Some(h) = base_hash {
            if h.trim() != self.hash {
                return Err(ConfigError::BaseHashMismatch { current: self.hash.clone() });
            }
        }
        let merged = self.merged_document(patch)?;
        self.with_document(merged)
    }

    /// `config.patch` from its OpenClaw params `{raw, baseHash?, replacePaths?, sessionKey?,
    /// note?, restartDelayMs?, deliveryContext?}` (Pincer also accepts `patch` as an object
    /// instead of `raw`). Like OpenClaw: when the file exists a `baseHash` is required unless
    /// every changed path is under [`HASHLESS_PATCH_PATH_PREFIXES`](super::HASHLESS_PATCH_PATH_PREFIXES). `replacePaths` is
    /// accepted and ignored (arrays are always replaced whole, per RFC 7386).
    pub fn apply_patch_params(&self, params: &Value) -> Result<GatewayConfig, ConfigError> {
        let patch = parse_patch_param(params)?;
        let base_hash = params.get("baseHash").and_then(Value::as_str).map(str::trim).filter(|h| !h.is_empty());
        if base_hash.is_some() || !self.exists {
            return self.apply_patch(&patch, base_hash);
        }
        let merged = self.merged_document(&patch)?;
        let guarded: Vec<String> =
            diff_leaf_paths(Some(&self.authored), Some(&merged), "").into_iter().filter(|p| !is_hashless_path(p)).collect();
        if !guarded.is_empty() {
            return Err(ConfigError::BaseHashRequired { paths: guarded });
        }
        self.with_document(merged)
    }

    fn merged_document(&self, patch: &Value) -> Result<Value, ConfigError> {
        if !patch.is_object() {
            return Err(ConfigError::invalid("<root>", "config.patch raw must be an object"));
        }
        let restored = restore_sentinels(patch, Some(&self.authored), "")?;
        let mut merged = self.authored.clone();
        merge_patch(&mut merged, &restored);
        Ok(merged)
    }

    fn with_document(&self, doc: Value) -> Result<GatewayConfig, ConfigError> {
        if doc == self.authored {
            return Ok(self.clone());
        }
        let raw = to_pretty_json(&doc)?;
        let hash = sha256_hex(raw.as_bytes());
        GatewayConfig::build(self.path.clone(), true, raw, hash, doc, self.env.clone())
    }

    /// Leaf paths whose resolved value differs between `previous` and `self`
    /// (`["logging.level", "gateway.controlUi.allowedOrigins"]`); `config.patch`'s `changedPaths`.
    pub fn changed_paths(&self, previous: &GatewayConfig) -> Vec<String> {
        diff_leaf_paths(Some(&previous.resolved), Some(&self.resolved), "")
    }

    /// The `config.patch` result for `self` (the patched config) after `previous`, shaped like
    /// OpenClaw's: `{ok, path, hash, config, changedPaths}`, or `{ok, noop:true, changedPaths:[],
    /// path, config}` when nothing changed. (OpenClaw adds `restart` and `sentinel`, which
    /// belong to the caller.)
    pub fn patch_response(&self, previous: &GatewayConfig) -> Value {
        let path = self.path.to_string_lossy();
        if self.hash == previous.hash && self.authored == previous.authored {
            return json!({ "ok": true, "noop": true, "changedPaths": [], "path": path, "config": self.redacted_config() });
        }
        json!({
            "ok": true,
            "path": path,
            "hash": self.hash,
            "config": self.redacted_config(),
            "changedPaths": self.changed_paths(previous),
        })
    }

    /// Write `raw()` to `path()` atomically (see `pincer_statefile`: a unique 0600 temp file in
    /// the same directory, fsync, rename over the target, fsync the directory), under the
    /// file's lock. Creates the directory (0700) if needed. Comments of a hand-written JSON5
    /// file are lost once a patch has been applied (as with `openclaw config set`).
    pub fn save_atomic(&self) -> Result<(), ConfigError> {
        let file = pincer_statefile::lock(&self.path).map_err(|e| self.io_error(e))?;
        self.save_locked(&file)
    }

    /// [`GatewayConfig::save_atomic`] for a caller that already holds the file's lock (taken
    /// before it read the config it compared `baseHash` against: `config.patch`).
    pub fn save_locked(&self, file: &pincer_statefile::Locked) -> Result<(), ConfigError> {
        file.write(self.raw.as_bytes()).map_err(|e| self.io_error(e))
    }

    fn io_error(&self, e: pincer_statefile::StateFileError) -> ConfigError {
        let action = match &e {
            pincer_statefile::StateFileError::Io { action, .. } => action,
            pincer_statefile::StateFileError::AlreadyHeld { .. } => "lock",
        };
        ConfigError::Io { path: self.path.clone(), action, source: e.into_source() }
    }
}

pub(super) fn to_pretty_json(doc: &Value) -> Result<String, ConfigError> {
    let mut s = serde_json::to_string_pretty(doc).map_err(|e| ConfigError::invalid("<root>", e.to_string()))?;
    s.push('\n');
    Ok(s)
}

/// SHA-256, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
