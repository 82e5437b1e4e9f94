//! `${ENV}` substitution in string values (`$${NAME}` for a literal).

use serde_json::Value;

use super::patch::join_path;
use super::EnvLookup;

pub(super) struct MissingEnv {
    pub(super) path: String,
    pub(super) var: String,
}

pub(super) fn substitute_env(v: &Value, path: &str, env: &EnvLookup, missing: &mut Vec<MissingEnv>) -> Value {
    match v {
        Value::String(s) => Value::String(substitute_str(s, path, env, missing)),
        Value::Array(items) => {
            Value::Array(items.iter().enumerate().map(|(i, item)| substitute_env(item, &format!("{path}[{i}]"), env, missing)).collect())
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, item)| (k.clone(), substitute_env(item, &join_path(path, k), env, missing))).collect())
        }
        other => other.clone(),
    }
}

pub(super) enum EnvToken<'a> {
    Escaped(&'a str, usize),
    Substitution(&'a str, usize),
}

pub(super) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// OpenClaw's `parseEnvTokenAt`: `$${NAME}` (escaped) or `${NAME}` at byte `i` (a `$`).
/// Returns the name and the byte index of the closing `}`.
pub(super) fn env_token_at(s: &str, i: usize) -> Option<EnvToken<'_>> {
    let rest = &s[i..];
    let named = |start: usize| {
        let end = start + s[start..].find('}')?;
        let name = &s[start..end];
        is_env_name(name).then_some((name, end))
    };
    if rest.starts_with("$${") {
        if let Some((name, end)) = named(i + 3) {
            return Some(EnvToken::Escaped(name, end));
        }
    }
    if rest.starts_with("${") {
        if let Some((name, end)) = named(i + 2) {
            return Some(EnvToken::Substitution(name, end));
        }
    }
    None
}

pub(super) fn substitute_str(s: &str, path: &str, env: &EnvLookup, missing: &mut Vec<MissingEnv>) -> String {
    if !s.contains('$') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let Some(off) = s[i..].find('$') else {
            out.push_str(&s[i..]);
            break;
        };
        out.push_str(&s[i..i + off]);
        i += off;
        match env_token_at(s, i) {
            Some(EnvToken::Escaped(name, end)) => {
                out.push_str("${");
                out.push_str(name);
                out.push('}');
                i = end + 1;
            }
            Some(EnvToken::Substitution(name, end)) => {
                match env(name).filter(|v| !v.is_empty()) {
                    Some(value) => out.push_str(&value),
                    None => {
                        missing.push(MissingEnv { path: path.to_string(), var: name.to_string() });
                        out.push_str(&s[i..=end]);
                    }
                }
                i = end + 1;
            }
            None => {
                out.push('$');
                i += 1;
            }
        }
    }
    out
}

/// A whole-string `${NAME}` reference (valid name). Such a value is a pointer to a secret, not
/// a secret (OpenClaw does not redact it either). Unlike OpenClaw, `${not valid}` — which is
/// never substituted and so *is* the literal secret — does not count.
pub(super) fn is_env_placeholder(s: &str) -> bool {
    let t = s.trim();
    t.strip_prefix("${").and_then(|r| r.strip_suffix('}')).is_some_and(is_env_name)
}
