//! The gateway's JSON5 config file and `config.patch` (RFC 7386 merge patch, `baseHash`
//! compare-and-swap, redaction of what `config.get` / `config.patch` send back).
//!
//! Invariants: nothing panics (deep nesting included: the json5 parser recurses per level);
//! a loaded document written back as the pretty JSON a patch writes loads to the same
//! document; a patched config's `hash` is the SHA-256 of its `raw`, its `raw` loads back to
//! its document, and applying the same patch again changes nothing (RFC 7386 is idempotent);
//! a stale `baseHash` is always refused; no secret at a sensitive path survives redaction.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pincer_fuzz::{assert_json_eq, split_parts};
use pincer_gateway::config::{
    is_sensitive_config_path, merge_patch, parse_patch_param, sha256_hex, ConfigError, EnvLookup, GatewayConfig, REDACTED_SENTINEL,
};
use serde_json::{json, Value};

/// Deterministic environment: `${NAME}` is set when the name has an even length.
fn env() -> EnvLookup {
    Arc::new(|name: &str| (name.len() % 2 == 0).then(|| format!("env-secret-{name}")))
}

fn load(raw: &str) -> Option<GatewayConfig> {
    GatewayConfig::from_raw("/nonexistent/pincer-fuzz/openclaw.json", raw, env()).ok()
}

/// A whole-string `${NAME}` is a pointer to a secret, not one (mirrors the documented rule).
fn is_env_reference(s: &str) -> bool {
    let t = s.trim();
    t.strip_prefix("${").and_then(|r| r.strip_suffix('}')).is_some_and(|n| {
        n.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
            && n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// Every string at a sensitive path of `clear` is the sentinel at the same place in `redacted`.
fn check_redacted(clear: &Value, redacted: &Value, path: &str) {
    match (clear, redacted) {
        (Value::Object(c), Value::Object(r)) => {
            // A SecretRef (`{source, id}`) at a sensitive path keeps `source` and `provider`.
            let secret_ref = is_sensitive_config_path(path)
                && c.get("source").is_some_and(Value::is_string)
                && c.get("id").is_some_and(Value::is_string);
            for (k, v) in c {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                let Some(rv) = r.get(k) else { panic!("redaction dropped {p}") };
                let kept_in_secret_ref = secret_ref && matches!(k.as_str(), "source" | "provider");
                if let Value::String(s) = v {
                    if !kept_in_secret_ref && is_sensitive_config_path(&p) && !s.trim().is_empty() && !is_env_reference(s) {
                        assert_eq!(rv, &json!(REDACTED_SENTINEL), "secret at {p} not redacted");
                    }
                }
                if rv != &json!(REDACTED_SENTINEL) {
                    check_redacted(v, rv, &p);
                }
            }
        }
        (Value::Array(c), Value::Array(r)) => {
            let p = format!("{path}[]");
            for (v, rv) in c.iter().zip(r) {
                if let Value::String(s) = v {
                    if is_sensitive_config_path(&p) && !s.trim().is_empty() && !is_env_reference(s) {
                        assert_eq!(rv, &json!(REDACTED_SENTINEL), "secret in {p} not redacted");
                    }
                }
                if rv != &json!(REDACTED_SENTINEL) {
                    check_redacted(v, rv, &p);
                }
            }
        }
        _ => {}
    }
}

fn check_config(cfg: &GatewayConfig) {
    let snapshot = cfg.redacted_snapshot();
    check_redacted(cfg.resolved(), &snapshot["config"], "");
    check_redacted(cfg.document(), &snapshot["parsed"], "");
    // The raw text is only sent when every secret in it was replaced.
    if let Some(raw) = snapshot["raw"].as_str() {
        let reparsed = load(raw).unwrap_or_else(|| panic!("redacted raw does not load: {raw}"));
        check_redacted(cfg.document(), reparsed.document(), "");
    }
    let _ = cfg.view();
}

fn check_patch(cfg: &GatewayConfig, patch_text: &str) {
    let params = json!({"raw": patch_text});
    let Ok(patch) = parse_patch_param(&params) else { return };
    // A base hash that is not the current one is always refused, whatever the patch.
    let stale = format!("{}0", cfg.hash());
    assert!(matches!(cfg.apply_patch(&patch, Some(&stale)), Err(ConfigError::BaseHashMismatch { .. })), "stale baseHash accepted");
    let Ok(patched) = cfg.apply_patch(&patch, Some(cfg.hash())) else { return };
    assert_eq!(patched.hash(), sha256_hex(patched.raw().as_bytes()), "hash is not the hash of what would be written");
    if patched.hash() != cfg.hash() {
        let reloaded = load(patched.raw()).unwrap_or_else(|| panic!("patched config does not load back: {}", patched.raw()));
        assert_json_eq("patched document", patched.document(), reloaded.document());
    }
    // RFC 7386: patching twice is patching once.
    let twice = patched.apply_patch(&patch, Some(patched.hash())).unwrap_or_else(|e| panic!("second identical patch refused: {e}"));
    assert_json_eq("idempotent patch", patched.document(), twice.document());
    check_config(&patched);
    let _ = patched.patch_response(cfg);
    let _ = cfg.apply_patch_params(&json!({"raw": patch_text}));

    // The bare merge: every non-null leaf of an object patch is in the result, nulls are gone.
    let mut target = cfg.document().clone();
    merge_patch(&mut target, &patch);
    if let (Value::Object(p), Value::Object(t)) = (&patch, &target) {
        for (k, v) in p {
            match v {
                Value::Null => assert!(!t.contains_key(k), "null did not delete {k}"),
                Value::Object(_) => assert!(t.get(k).is_some_and(Value::is_object), "{k} not merged as an object"),
                other => assert_eq!(t.get(k), Some(other), "{k} not replaced"),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [config, patch] = split_parts(data, 2)[..] else { return };
    let Ok(config) = std::str::from_utf8(config) else { return };
    let Some(cfg) = load(config) else { return };
    check_config(&cfg);
    // What a patch writes is pretty JSON; it must load to the same document.
    if let Ok(pretty) = serde_json::to_string_pretty(cfg.document()) {
        if let Some(again) = load(&pretty) {
            assert_json_eq("document", cfg.document(), again.document());
        } else {
            panic!("document written as JSON does not load back: {pretty}");
        }
    }
    if let Ok(patch) = std::str::from_utf8(patch) {
        check_patch(&cfg, patch);
    }
});
