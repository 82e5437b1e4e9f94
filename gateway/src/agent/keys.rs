//! Session keys: `agent:<agentId>:<rest>`, with OpenClaw's aliases.

use pincer_protocol::ErrorShape;

/// The only agent Pincer runs today (`agents.list` is not implemented).
pub const DEFAULT_AGENT_ID: &str = "main";
pub const MAIN_KEY: &str = "main";
pub const MAIN_SESSION_KEY: &str = "agent:main:main";
/// OpenClaw's cap on session key length.
pub const MAX_SESSION_KEY_CHARS: usize = 512;

/// The canonical form of a session key: `main` → `agent:main:main`; a bare key `k` →
/// `agent:main:k`; `agent:<id>:<rest>` kept (agent id lower-cased). Keys for other agents are
/// refused with an error that says so, rather than silently creating a session nobody runs.
pub fn canonical_session_key(raw: &str) -> Result<String, ErrorShape> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(ErrorShape::invalid_request("sessionKey must not be empty (use \"main\" for the main session)"));
    }
    if key.chars().count() > MAX_SESSION_KEY_CHARS {
        return Err(ErrorShape::invalid_request(format!("sessionKey is longer than {MAX_SESSION_KEY_CHARS} characters")));
    }
    if key.chars().any(char::is_control) {
        return Err(ErrorShape::invalid_request("sessionKey must not contain control characters"));
    }
    if key.eq_ignore_ascii_case(MAIN_KEY) {
        return Ok(MAIN_SESSION_KEY.to_string());
    }
    let has_prefix = key.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("agent:"));
    let Some(rest) = key.get(6..).filter(|_| has_prefix) else {
        return Ok(format!("agent:{DEFAULT_AGENT_ID}:{key}"));
    };
    let (agent_id, tail) = rest.split_once(':').unwrap_or((rest, ""));
    let agent_id = agent_id.to_ascii_lowercase();
    if tail.is_empty() {
        return Err(ErrorShape::invalid_request(format!(
            "sessionKey \"{key}\" is incomplete: expected agent:<agentId>:<name>, e.g. agent:main:main"
        )));
    }
    if agent_id != DEFAULT_AGENT_ID {
        return Err(ErrorShape::invalid_request(format!(
            "unknown agent \"{agent_id}\" in sessionKey \"{key}\": this gateway runs only the agent \"{DEFAULT_AGENT_ID}\""
        )));
    }
    Ok(format!("agent:{agent_id}:{tail}"))
}

/// The agent id of a canonical key.
pub fn agent_id_of(key: &str) -> &str {
    key.strip_prefix("agent:").and_then(|r| r.split(':').next()).unwrap_or(DEFAULT_AGENT_ID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_canonicalised_like_openclaw() {
        assert_eq!(canonical_session_key("main").unwrap(), "agent:main:main");
        assert_eq!(canonical_session_key(" MAIN ").unwrap(), "agent:main:main");
        assert_eq!(canonical_session_key("agent:main:main").unwrap(), "agent:main:main");
        assert_eq!(canonical_session_key("Agent:MAIN:x").unwrap(), "agent:main:x");
        assert_eq!(canonical_session_key("agent:Main:work").unwrap(), "agent:main:work");
        assert_eq!(canonical_session_key("node-abc").unwrap(), "agent:main:node-abc");
        let refused = |raw: &str| canonical_session_key(raw).unwrap_err();
        assert_eq!(refused(""), ErrorShape::invalid_request("sessionKey must not be empty (use \"main\" for the main session)"));
        assert_eq!(
            refused("agent:main"),
            ErrorShape::invalid_request("sessionKey \"agent:main\" is incomplete: expected agent:<agentId>:<name>, e.g. agent:main:main")
        );
        let other = canonical_session_key("agent:ops:main").unwrap_err();
        assert!(other.message.contains("unknown agent \"ops\""), "{}", other.message);
        assert_eq!(refused(&"k".repeat(513)), ErrorShape::invalid_request("sessionKey is longer than 512 characters"));
        assert_eq!(refused("a\u{7}b"), ErrorShape::invalid_request("sessionKey must not contain control characters"));
        assert_eq!(agent_id_of("agent:main:x"), "main");
    }
}
