//! The effective policy for one agent, and allowlist matching.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use pincer_protocol::approvals::{AllowlistEntry, ExecApprovalsFile, ExecAsk, ExecPolicyFields, ExecSecurity};

/// Pincer's node denies by default: nothing runs unless allowlisted or approved by a person.
pub const BUILTIN_SECURITY: ExecSecurity = ExecSecurity::Allowlist;
pub const BUILTIN_ASK: ExecAsk = ExecAsk::OnMiss;
pub const BUILTIN_ASK_FALLBACK: ExecSecurity = ExecSecurity::Deny;

pub const DEFAULT_AGENT: &str = "main";
/// Older files keyed the main agent's policy as `agents.default`.
const LEGACY_DEFAULT_AGENT: &str = "default";
const WILDCARD_AGENT: &str = "*";

#[derive(Debug, Clone, PartialEq)]
pub struct EffectivePolicy {
    pub security: ExecSecurity,
    pub ask: ExecAsk,
    pub ask_fallback: ExecSecurity,
    pub allowlist: Vec<AllowlistEntry>,
}

impl EffectivePolicy {
    pub fn resolve(file: &ExecApprovalsFile, agent_id: &str) -> EffectivePolicy {
        let agents = file.agents.as_ref();
        let get = |key: &str| agents.and_then(|a| a.get(key));
        let mut layers: Vec<&ExecPolicyFields> = Vec::new();
        layers.extend(get(agent_id));
        if agent_id == DEFAULT_AGENT {
            layers.extend(get(LEGACY_DEFAULT_AGENT));
        }
        layers.extend(get(WILDCARD_AGENT));
        // `defaults` only supplies scalars; its allowlist (if any) is not an agent grant.
        let scalar_layers = layers.iter().copied().chain(file.defaults.as_ref());
        EffectivePolicy {
            security: scalar_layers.clone().find_map(|f| f.security).unwrap_or(BUILTIN_SECURITY),
            ask: scalar_layers.clone().find_map(|f| f.ask).unwrap_or(BUILTIN_ASK),
            ask_fallback: scalar_layers.clone().find_map(|f| f.ask_fallback).unwrap_or(BUILTIN_ASK_FALLBACK),
            allowlist: layers.iter().flat_map(|f| f.allowlist.iter().flatten().cloned()).collect(),
        }
    }

    /// Whether every resolved path matches some allowlist pattern.
    pub fn allows_all(&self, paths: &[&Path]) -> bool {
        let matchers: Vec<GlobMatcher> = self.allowlist.iter().filter_map(|e| compile_pattern(&e.pattern)).collect();
        !paths.is_empty() && paths.iter().all(|p| matches_any(&matchers, p))
    }

    pub fn allows(&self, path: &Path) -> bool {
        self.allows_all(&[path])
    }
}

fn matches_any(matchers: &[GlobMatcher], path: &Path) -> bool {
    matchers.iter().any(|m| m.is_match(path))
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")).map(PathBuf::from).filter(|p| !p.as_os_str().is_empty())
}

/// Expand a leading `~`; `None` when there is no home directory to expand it to.
fn expand_tilde(pattern: &str) -> Option<String> {
    match pattern.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let home = home_dir()?;
            Some(format!("{}{rest}", home.to_string_lossy().trim_end_matches('/')))
        }
        _ => Some(pattern.to_string()),
    }
}

/// A case-insensitive glob where `*` stays inside one directory (use `**` to cross).
/// Basename-only patterns (`rg`) are ignored: a name says nothing about which binary runs.
pub fn compile_pattern(pattern: &str) -> Option<GlobMatcher> {
    let expanded = expand_tilde(pattern.trim())?;
    if !expanded.contains('/') && !expanded.contains('\\') {
        return None;
    }
    match GlobBuilder::new(&expanded).case_insensitive(true).literal_separator(true).build() {
        Ok(glob) => Some(glob.compile_matcher()),
        Err(e) => {
            tracing::warn!(pattern, error = %e, "ignoring invalid exec allowlist pattern");
            None
        }
    }
}

/// Why a pattern would be refused by `system.execApprovals.set`.
pub fn pattern_error(pattern: &str) -> Option<String> {
    if pattern.trim().is_empty() {
        return Some("pattern must not be empty".to_string());
    }
    GlobBuilder::new(pattern.trim()).build().err().map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(v: serde_json::Value) -> ExecApprovalsFile {
        serde_json::from_value(v).unwrap()
    }

    fn patterns(p: &EffectivePolicy) -> Vec<&str> {
        p.allowlist.iter().map(|e| e.pattern.as_str()).collect()
    }

    #[test]
    fn builtin_defaults_deny_by_default() {
        let p = EffectivePolicy::resolve(&ExecApprovalsFile::default(), "main");
        assert_eq!((p.security, p.ask, p.ask_fallback), (ExecSecurity::Allowlist, ExecAsk::OnMiss, ExecSecurity::Deny));
        assert!(p.allowlist.is_empty());
    }

    #[test]
    fn scalars_cascade_agent_then_star_then_defaults() {
        let f = file(json!({"version": 1,
            "defaults": {"security": "full", "ask": "always", "askFallback": "full"},
            "agents": {"*": {"ask": "off", "askFallback": "allowlist"}, "ops": {"askFallback": "deny"}}}));
        let ops = EffectivePolicy::resolve(&f, "ops");
        assert_eq!((ops.security, ops.ask, ops.ask_fallback), (ExecSecurity::Full, ExecAsk::Off, ExecSecurity::Deny));
        let other = EffectivePolicy::resolve(&f, "other");
        assert_eq!((other.security, other.ask, other.ask_fallback), (ExecSecurity::Full, ExecAsk::Off, ExecSecurity::Allowlist));
    }

    #[test]
    fn legacy_default_agent_means_main() {
        let f = file(json!({"version": 1, "agents": {
            "default": {"security": "deny", "ask": "always", "allowlist": [{"pattern": "/bin/a"}]},
            "main": {"ask": "off", "allowlist": [{"pattern": "/bin/b"}]},
            "*": {"allowlist": [{"pattern": "/bin/c"}]}}}));
        let main = EffectivePolicy::resolve(&f, "main");
        assert_eq!((main.security, main.ask), (ExecSecurity::Deny, ExecAsk::Off));
        assert_eq!(patterns(&main), ["/bin/b", "/bin/a", "/bin/c"]);
        let ops = EffectivePolicy::resolve(&f, "ops");
        assert_eq!(ops.security, ExecSecurity::Allowlist);
        assert_eq!(patterns(&ops), ["/bin/c"]);
    }

    #[test]
    fn defaults_allowlist_is_not_a_grant() {
        let f = file(json!({"version": 1, "defaults": {"allowlist": [{"pattern": "/bin/*"}]}}));
        assert!(EffectivePolicy::resolve(&f, "main").allowlist.is_empty());
    }

    fn policy(patterns: &[&str]) -> EffectivePolicy {
        let list = patterns.iter().map(|p| json!({"pattern": p})).collect::<Vec<_>>();
        EffectivePolicy::resolve(&file(json!({"version": 1, "agents": {"main": {"allowlist": list}}})), "main")
    }

    #[test]
    fn patterns_are_case_insensitive_globs_on_paths() {
        let p = policy(&["/usr/bin/L?", "/opt/*/bin/rg", "/srv/**"]);
        assert!(p.allows(Path::new("/usr/bin/ls")));
        assert!(p.allows(Path::new("/USR/BIN/LS")));
        assert!(!p.allows(Path::new("/usr/bin/lsx")));
        assert!(p.allows(Path::new("/opt/homebrew/bin/rg")));
        assert!(!p.allows(Path::new("/opt/a/b/bin/rg")), "* does not cross directories");
        assert!(p.allows(Path::new("/srv/a/b/c")));
        assert!(!p.allows(Path::new("/usr/bin/rg")));
    }

    #[test]
    fn basename_only_and_invalid_patterns_never_match() {
        let p = policy(&["ls", "*", "rg*", "/usr/bin/[", ""]);
        assert!(!p.allows(Path::new("/usr/bin/ls")));
        assert!(!p.allows(Path::new("ls")));
        assert!(!p.allows(Path::new("/usr/bin/rg")));
        assert!(!p.allows_all(&[]));
    }

    #[test]
    fn tilde_expands_to_home() {
        let Some(home) = home_dir() else { return };
        let p = policy(&["~/bin/*"]);
        assert!(p.allows(&home.join("bin").join("tool")));
        assert!(!p.allows(Path::new("/root-other/bin/tool")));
        assert!(expand_tilde("~other/x").is_some_and(|s| s == "~other/x"));
    }

    #[test]
    fn set_validation_of_patterns() {
        assert_eq!(pattern_error("/usr/bin/*"), None);
        assert!(pattern_error("  ").is_some());
        assert!(pattern_error("/usr/bin/[").is_some());
    }
}
