//! JSON5 text to a document (with the nesting guard and messages that never quote the text),
//! and `config.patch`'s params.

use std::path::Path;

use serde_json::{Map, Value};

use super::error::ConfigError;
use super::MAX_NESTING_DEPTH;

/// Parse JSON5 text that must hold an object. `allow_empty`: blank text is `{}`.
pub(super) fn parse_json5_object(text: &str, path: Option<&Path>, allow_empty: bool) -> Result<Value, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parse_err = |line, column, message: String| ConfigError::Parse { path: path.map(Path::to_path_buf), line, column, message };
    if text.trim().is_empty() {
        if allow_empty {
            return Ok(Value::Object(Map::new()));
        }
        return Err(parse_err(None, None, "the text is empty; expected a JSON5 object such as { gateway: { port: 18789 } }".into()));
    }
    if let Some((line, column)) = nesting_too_deep(text, MAX_NESTING_DEPTH) {
        return Err(parse_err(Some(line), Some(column), format!("objects/arrays are nested more than {MAX_NESTING_DEPTH} levels deep")));
    }
    let value: Value = json5::from_str(text).map_err(|e| {
        let json5::Error::Message { msg, location } = e;
        let (line, column) = location.map_or((None, None), |l| (Some(l.line), Some(l.column)));
        parse_err(line, column, friendly_json5_message(&msg))
    })?;
    if !value.is_object() {
        return Err(ConfigError::invalid("<root>", "the config must be a JSON5 object ({ ... }) at the top level"));
    }
    Ok(value)
}

/// Turn pest's multi-line report (which quotes the source line, possibly a secret) into one
/// line that says what was expected and how to fix it.
pub(super) fn friendly_json5_message(msg: &str) -> String {
    let expected = msg.lines().find_map(|l| l.trim_start().strip_prefix("= ").map(str::trim));
    let hint = "check for a missing ',' between entries, a missing ':' after a key, or an unclosed quote or bracket (JSON5 allows // and /* */ comments, trailing commas, unquoted keys and 'single-quoted' strings)";
    match expected {
        Some(e) if e.contains("char_literal") => {
            format!("unterminated string (a closing quote is missing, or the string runs over a line break); {hint}")
        }
        Some(e) => format!("{e}; {hint}"),
        None => {
            let first = msg.lines().next().unwrap_or("syntax error").trim();
            format!("{first}; {hint}")
        }
    }
}

/// Position (1-based line, column) where `{`/`[` nesting first exceeds `max`, ignoring strings
/// and comments.
pub(super) fn nesting_too_deep(text: &str, max: usize) -> Option<(usize, usize)> {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Code,
        Str(char),
        Escape(char),
        Line,
        Block,
        BlockStar,
    }
    let (mut state, mut depth, mut line, mut col) = (S::Code, 0usize, 1usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            col = 0;
        } else {
            col += 1;
        }
        state = match state {
            S::Code => match c {
                '"' | '\'' => S::Str(c),
                '/' if chars.peek() == Some(&'/') => S::Line,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    col += 1;
                    S::Block
                }
                '{' | '[' => {
                    depth += 1;
                    if depth > max {
                        return Some((line, col));
                    }
                    S::Code
                }
                '}' | ']' => {
                    depth = depth.saturating_sub(1);
                    S::Code
                }
                _ => S::Code,
            },
            S::Str(q) if c == '\\' => S::Escape(q),
            S::Str(q) if c == q => S::Code,
            S::Str(q) => S::Str(q),
            S::Escape(q) => S::Str(q),
            // JSON5 ends a `//` comment at any line terminator, not only LF: a comment the
            // scanner thought still open would hide real brackets from the depth count.
            S::Line if is_json5_line_terminator(c) => S::Code,
            S::Line => S::Line,
            S::Block | S::BlockStar if c == '*' => S::BlockStar,
            S::BlockStar if c == '/' => S::Code,
            S::Block | S::BlockStar => S::Block,
        };
    }
    None
}

/// JSON5's LineTerminator (ECMAScript 5.1, 7.3): LF, CR, LINE SEPARATOR, PARAGRAPH SEPARATOR.
pub(super) fn is_json5_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// The patch carried by `config.patch` params: `raw` (a JSON5 string holding an object, as
/// OpenClaw sends it) or, as a Pincer extension, `patch` (an object).
pub fn parse_patch_param(params: &Value) -> Result<Value, ConfigError> {
    match (params.get("raw"), params.get("patch")) {
        (Some(Value::String(raw)), _) => {
            if raw.trim().is_empty() {
                return Err(ConfigError::invalid("raw", "invalid config.patch params: raw must be a non-empty JSON5 string"));
            }
            match parse_json5_object(raw, None, false) {
                Err(ConfigError::Invalid { .. }) => Err(ConfigError::invalid("raw", "config.patch raw must be an object")),
                other => other,
            }
        }
        (Some(_), _) => Err(ConfigError::invalid("raw", "invalid config.patch params: raw (string) required")),
        (None, Some(p @ Value::Object(_))) => Ok(p.clone()),
        (None, Some(_)) => Err(ConfigError::invalid("patch", "invalid config.patch params: patch must be an object")),
        (None, None) => Err(ConfigError::invalid("raw", "invalid config.patch params: raw (string) required")),
    }
}
