//! Which paths hold secrets (OpenClaw's rules) and the redacted copies `config.get` returns.

use serde_json::{Map, Value};

use super::env::is_env_placeholder;
use super::parse::parse_json5_object;
use super::patch::join_path;
use super::REDACTED_SENTINEL;

pub(super) const SENSITIVE_WHITELIST_SUFFIXES: &[&str] = &[
    "maxtokens",
    "maxoutputtokens",
    "maxinputtokens",
    "maxcompletiontokens",
    "contexttokens",
    "totaltokens",
    "tokencount",
    "tokenlimit",
    "tokenbudget",
    "passwordfile",
];

/// OpenClaw's `isSensitiveConfigPath` (`src/config/sensitive-paths.ts`), on the whole dotted
/// path, case-insensitive: ends with `token`, or contains `password`, `secret`, `api[.]key`,
/// `encrypt[.]key`, `private[.]key` (`[.]` = any one character or none), or ends with
/// `serviceaccount`/`serviceaccountref`, or is under `*localservice.env.*`; except paths ending
/// in `maxTokens`, `contextTokens`, `passwordFile` and similar counters. A trailing `[]`
/// (array element) is ignored.
pub fn is_sensitive_config_path(path: &str) -> bool {
    let lower = path.strip_suffix("[]").unwrap_or(path).to_ascii_lowercase();
    if lower.contains("localservice.env.") {
        return true;
    }
    if SENSITIVE_WHITELIST_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        return false;
    }
    lower.ends_with("token")
        || lower.contains("password")
        || lower.contains("secret")
        || contains_with_gap(&lower, "api", "key")
        || contains_with_gap(&lower, "encrypt", "key")
        || contains_with_gap(&lower, "private", "key")
        || lower.ends_with("serviceaccount")
        || lower.ends_with("serviceaccountref")
}

/// `a.?b` as a regex: `a`, at most one character, then `b`.
pub(super) fn contains_with_gap(s: &str, a: &str, b: &str) -> bool {
    s.match_indices(a).any(|(i, _)| {
        let rest = &s[i + a.len()..];
        rest.starts_with(b) || rest.char_indices().nth(1).is_some_and(|(j, _)| rest[j..].starts_with(b))
    })
}

pub(super) fn is_whole_object_sensitive(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with("serviceaccount") || lower.ends_with("serviceaccountref")
}

/// Keys whose values are URLs that may embed credentials (`https://user:pass@host`,
/// `?token=...`). OpenClaw checks `*.baseUrl`, `*.httpUrl`, `*.cdpUrl`, `*.request.proxy.url`
/// and `mcp.servers.*.url`; Pincer checks every key ending in `url` (a superset).
pub(super) fn is_url_key(path: &str) -> bool {
    path.rsplit('.').next().is_some_and(|k| k.to_ascii_lowercase().ends_with("url"))
}

pub(super) const SENSITIVE_QUERY_NAMES: &[&str] = &[
    "token",
    "key",
    "api_key",
    "apikey",
    "secret",
    "access_token",
    "auth_token",
    "password",
    "pass",
    "passwd",
    "auth",
    "jwt",
    "session",
    "id_token",
    "code",
    "client_secret",
    "app_secret",
    "hook_token",
    "refresh_token",
    "signature",
    "x_amz_signature",
    "x_amz_security_token",
    "private_key",
    "credential",
    "authorization",
    "sig",
    "x_api_key",
    "x_access_token",
    "x_auth_token",
];

pub(super) fn url_has_credentials(s: &str) -> bool {
    // userinfo: scheme://user[:pass]@host
    if let Some(idx) = s.find("://") {
        let authority = s[idx + 3..].split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return true;
        }
    }
    // sensitive query / fragment parameters
    s.split(['?', '#', '&']).skip(1).any(|pair| {
        let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase().replace('-', "_");
        name.contains('%') || SENSITIVE_QUERY_NAMES.contains(&name.as_str()) || name.ends_with("_token")
    })
}

pub(super) fn is_concrete_secret(s: &str) -> bool {
    !s.trim().is_empty() && !is_env_placeholder(s)
}

/// `v` with every secret replaced by [`REDACTED_SENTINEL`] (OpenClaw's path heuristics; see
/// [`is_sensitive_config_path`]). Whole-string `${ENV}` references are not secrets and stay.
/// A SecretRef object (`{source, id}`) at a sensitive path keeps `source`/`provider`, only
/// `id` is redacted.
pub fn redact_config_value(v: &Value) -> Value {
    redact_collect(v, "", &mut Vec::new())
}

pub(super) fn redact_collect(v: &Value, path: &str, found: &mut Vec<String>) -> Value {
    match v {
        Value::Array(items) => {
            let apath = format!("{path}[]");
            let sensitive = is_sensitive_config_path(&apath);
            Value::Array(
                items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) if sensitive && is_concrete_secret(s) => {
                            found.push(s.clone());
                            Value::String(REDACTED_SENTINEL.to_string())
                        }
                        other => redact_collect(other, &apath, found),
                    })
                    .collect(),
            )
        }
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, child) in map {
                let cpath = join_path(path, k);
                let sensitive = is_sensitive_config_path(&cpath);
                let redacted = match child {
                    Value::String(s) if sensitive && is_concrete_secret(s) => {
                        found.push(s.clone());
                        Value::String(REDACTED_SENTINEL.to_string())
                    }
                    Value::String(s) if is_url_key(&cpath) && url_has_credentials(s) => {
                        found.push(s.clone());
                        Value::String(REDACTED_SENTINEL.to_string())
                    }
                    Value::Object(_) if sensitive && is_whole_object_sensitive(&cpath) => {
                        collect_strings(child, found);
                        Value::String(REDACTED_SENTINEL.to_string())
                    }
                    Value::Object(obj)
                        if sensitive && obj.get("source").is_some_and(Value::is_string) && obj.get("id").is_some_and(Value::is_string) =>
                    {
                        redact_secret_ref(obj, &cpath, found)
                    }
                    other => redact_collect(other, &cpath, found),
                };
                out.insert(k.clone(), redacted);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// A SecretRef at a sensitive path: `source` and `provider` say where the secret lives and
/// stay; `id` is redacted; any other member is redacted like any value under `path` (a
/// SecretRef is no reason to let `{source, id, value: "hunter2"}` through).
pub(super) fn redact_secret_ref(obj: &Map<String, Value>, path: &str, found: &mut Vec<String>) -> Value {
    let mut out = Map::with_capacity(obj.len());
    for (k, v) in obj {
        let redacted = match (k.as_str(), v) {
            ("source" | "provider", Value::String(_)) => v.clone(),
            ("id", Value::String(id)) if is_concrete_secret(id) => {
                found.push(id.clone());
                Value::String(REDACTED_SENTINEL.to_string())
            }
            ("id", _) => v.clone(),
            // The generic rules, applied to this one member.
            _ => {
                let single = Value::Object(Map::from_iter([(k.clone(), v.clone())]));
                redact_collect(&single, path, found).get(k).cloned().unwrap_or(Value::Null)
            }
        };
        out.insert(k.clone(), redacted);
    }
    Value::Object(out)
}

pub(super) fn collect_strings(v: &Value, found: &mut Vec<String>) {
    match v {
        Value::String(s) if is_concrete_secret(s) => found.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|c| collect_strings(c, found)),
        Value::Object(m) => m.values().for_each(|c| collect_strings(c, found)),
        _ => {}
    }
}

/// The raw text with every secret occurrence replaced by the sentinel, or `None` when that
/// cannot be shown to be complete: the redacted text must parse to exactly the structurally
/// redacted document (catches secrets written with escapes, secrets that are substrings of
/// other text, ...), and no secret may remain anywhere in it (comments included).
pub(super) fn redact_raw(raw: &str, authored: &Value) -> Option<String> {
    let mut secrets = Vec::new();
    let expected = redact_collect(authored, "", &mut secrets);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let mut text = raw.to_string();
    for s in &secrets {
        text = text.replace(s.as_str(), REDACTED_SENTINEL);
    }
    if secrets.iter().any(|s| text.contains(s.as_str())) {
        return None;
    }
    match parse_json5_object(&text, None, true) {
        Ok(reparsed) if reparsed == expected => Some(text),
        _ => None,
    }
}
