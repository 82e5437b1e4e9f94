//! Which environment overrides a `system.run` caller may set.
//!
//! The caller sends only overrides; the node merges them into its own environment. Keys that
//! change how a loader, interpreter or shell starts (`LD_PRELOAD`, `DYLD_*`, `NODE_OPTIONS`,
//! `PYTHONPATH`, `BASH_ENV`, ...) would let an approved command run something else, so they are
//! dropped. `PATH` may only be prepended to, so an allowlisted name cannot resolve elsewhere.

use std::collections::BTreeMap;

/// Prefixes of keys that are never accepted.
const DANGEROUS_PREFIXES: &[&str] = &["LD_", "DYLD_", "PYTHON", "PERL", "RUBY", "NODE_", "BASH_FUNC_", "GIT_CONFIG", "NPM_CONFIG_"];

/// Exact keys that are never accepted.
const DANGEROUS_KEYS: &[&str] = &[
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
    "ZDOTDIR",
    "GCONV_PATH",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "RES_OPTIONS",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "GIT_EXEC_PATH",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "PROMPT_COMMAND",
    "OPENSSL_CONF",
    "SSLKEYLOGFILE",
];

/// The only keys a shell wrapper (`sh -c …`) may receive: presentation, never behaviour.
const SHELL_SAFE_KEYS: &[&str] = &["TERM", "LANG", "COLORTERM", "NO_COLOR", "FORCE_COLOR"];

/// Why an override was dropped (reported in logs and the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedKey {
    pub key: String,
    pub reason: &'static str,
}

/// The overrides that survive, and those that were dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvOverrides {
    pub keep: BTreeMap<String, String>,
    pub dropped: Vec<DroppedKey>,
}

fn valid_name(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic()) && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn is_dangerous(upper: &str) -> bool {
    DANGEROUS_KEYS.contains(&upper) || DANGEROUS_PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// Filter `requested` overrides. `own_path` is the node's PATH; `shell_wrapper` is whether
/// argv runs a shell script (`sh -c`, `cmd /c`), which gets the strict presentation-only set.
pub fn sanitize(requested: &BTreeMap<String, String>, own_path: Option<&str>, shell_wrapper: bool) -> EnvOverrides {
    let mut out = EnvOverrides::default();
    for (key, value) in requested {
        let upper = key.to_ascii_uppercase();
        let mut drop = |reason| out.dropped.push(DroppedKey { key: key.clone(), reason });
        if !valid_name(key) || value.contains('\0') {
            drop("not a valid environment variable");
        } else if upper == "PATH" {
            match accept_path(value, own_path) {
                true if !shell_wrapper => {
                    out.keep.insert(key.clone(), value.clone());
                }
                true => drop("shell commands keep the node's PATH"),
                false => drop("PATH may only prepend to the node's own PATH"),
            }
        } else if is_dangerous(&upper) {
            drop("changes how programs start");
        } else if shell_wrapper && !(SHELL_SAFE_KEYS.contains(&upper.as_str()) || upper.starts_with("LC_")) {
            drop("shell commands only accept TERM, LANG, LC_*, COLORTERM, NO_COLOR, FORCE_COLOR");
        } else {
            out.keep.insert(key.clone(), value.clone());
        }
    }
    out
}

/// A PATH override is a prepend: it ends with the node's own PATH (or equals it).
fn accept_path(value: &str, own_path: Option<&str>) -> bool {
    let Some(own) = own_path.filter(|p| !p.is_empty()) else { return false };
    let sep = if cfg!(windows) { ';' } else { ':' };
    value == own || value.strip_suffix(own).is_some_and(|head| head.ends_with(sep) && head.len() > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn loader_and_interpreter_keys_are_dropped() {
        let out = sanitize(
            &env(&[
                ("LD_PRELOAD", "/tmp/x.so"),
                ("DYLD_INSERT_LIBRARIES", "x"),
                ("NODE_OPTIONS", "--require x"),
                ("PYTHONPATH", "/x"),
                ("BASH_ENV", "/x"),
                ("FOO", "bar"),
            ]),
            Some("/usr/bin"),
            false,
        );
        assert_eq!(out.keep, env(&[("FOO", "bar")]));
        assert_eq!(out.dropped.len(), 5);
        // Case does not help: env names are case-sensitive, but loaders on some OSes are not.
        assert!(sanitize(&env(&[("ld_preload", "x")]), None, false).keep.is_empty());
    }

    #[test]
    fn path_is_accepted_only_as_a_prepend() {
        let own = "/usr/local/bin:/usr/bin";
        assert!(sanitize(&env(&[("PATH", "/opt/tool/bin:/usr/local/bin:/usr/bin")]), Some(own), false).keep.contains_key("PATH"));
        assert!(sanitize(&env(&[("PATH", own)]), Some(own), false).keep.contains_key("PATH"));
        let replaced = sanitize(&env(&[("PATH", "/tmp/evil")]), Some(own), false);
        assert!(replaced.keep.is_empty());
        assert_eq!(replaced.dropped[0].reason, "PATH may only prepend to the node's own PATH");
        // Appending after the node's PATH is not a prepend.
        assert!(sanitize(&env(&[("PATH", "/usr/local/bin:/usr/bin:/tmp/evil")]), Some(own), false).keep.is_empty());
    }

    #[test]
    fn shell_wrappers_get_presentation_keys_only() {
        let out = sanitize(&env(&[("TERM", "xterm"), ("LC_ALL", "C"), ("NO_COLOR", "1"), ("FOO", "bar")]), Some("/usr/bin"), true);
        assert_eq!(out.keep, env(&[("LC_ALL", "C"), ("NO_COLOR", "1"), ("TERM", "xterm")]));
        assert_eq!(out.dropped.len(), 1);
    }

    #[test]
    fn malformed_names_and_nul_values_are_dropped() {
        let out = sanitize(&env(&[("A=B", "x"), ("1X", "y"), ("OK", "a\0b"), ("", "z")]), None, false);
        assert!(out.keep.is_empty());
        assert_eq!(out.dropped.len(), 4);
    }
}
