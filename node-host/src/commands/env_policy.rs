//! Which environment overrides a `system.run` caller may set: an ALLOWLIST.
//!
//! The caller sends only overrides; the node merges them into its own environment. Almost any
//! variable can change what an allowlisted program runs (`GIT_EXTERNAL_DIFF`,
//! `GIT_PROXY_COMMAND`, `LESSOPEN`, `HOME` and `XDG_CONFIG_HOME` pointing at a planted config,
//! `LD_PRELOAD`, …), and no denylist keeps up with every program's variables, so only keys that
//! change presentation and locale are accepted. That set is OpenClaw's shell-wrapper set
//! (`TERM`, `LANG`, `LC_*`, `COLORTERM`, `NO_COLOR`, `FORCE_COLOR`, see OpenClaw's
//! `src/infra/host-env-security.ts`) plus a few more presentation keys for a direct argv.
//! `PATH` may only be prepended to, with absolute directories, and never for shell scripts.
//! Everything else is dropped and reported to the caller (`envDropped` in the result).
//!
//! The same allowlist decides which `env NAME=… cmd` / `NAME=… cmd` assignments the exec gate
//! treats as transparent (see `approvals::command`).

use std::collections::BTreeMap;

/// Presentation and locale: the only keys a shell wrapper (`sh -c …`) may receive (OpenClaw's set).
const SHELL_SAFE_KEYS: &[&str] = &["TERM", "LANG", "COLORTERM", "NO_COLOR", "FORCE_COLOR"];

/// More presentation keys, accepted for a direct argv (no shell reads them as code).
const DIRECT_SAFE_KEYS: &[&str] = &["CLICOLOR", "CLICOLOR_FORCE", "COLUMNS", "LINES", "LANGUAGE", "TZ"];

/// Why an override was dropped (reported in logs and to the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedKey {
    pub key: String,
    pub reason: &'static str,
}

/// The overrides that survive, those that were dropped, and the PATH the child gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvOverrides {
    /// Accepted overrides, `PATH` excluded (see `child_path`).
    pub keep: BTreeMap<String, String>,
    pub dropped: Vec<DroppedKey>,
    /// The PATH the child is given explicitly, also what the exec gate resolves with: an
    /// accepted override or the node's own PATH, without relative or empty entries.
    /// `None` when the node itself has no PATH.
    pub child_path: Option<String>,
    /// Entries of the node's own PATH that were left out of `child_path`.
    pub removed_own_entries: Vec<String>,
}

impl EnvOverrides {
    /// `envDropped` of the result (`[{key, reason}]`), in the order the keys were given.
    pub fn dropped_overrides(&self) -> Vec<pincer_protocol::node_commands::EnvOverrideDropped> {
        self.dropped
            .iter()
            .map(|d| pincer_protocol::node_commands::EnvOverrideDropped {
                key: d.key.clone(),
                reason: d.reason.to_string(),
                extra: Default::default(),
            })
            .collect()
    }
}

fn valid_name(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic()) && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn shell_safe(upper: &str) -> bool {
    SHELL_SAFE_KEYS.contains(&upper) || upper.starts_with("LC_")
}

/// Whether a variable only changes presentation or locale (never which code runs). This is
/// what a direct argv may receive, and what `env NAME=…` may set while staying transparent.
pub fn is_inert_key(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    valid_name(key) && (shell_safe(&upper) || DIRECT_SAFE_KEYS.contains(&upper.as_str()))
}

const PATH_SEP: char = if cfg!(windows) { ';' } else { ':' };

/// Filter `requested` overrides. `own_path` is the node's PATH; `shell_wrapper` is whether
/// argv runs a shell script (`sh -c`, `cmd /c`), which gets the strict presentation-only set.
pub fn sanitize(requested: &BTreeMap<String, String>, own_path: Option<&str>, shell_wrapper: bool) -> EnvOverrides {
    let mut out = EnvOverrides::default();
    let mut path_override = None;
    for (key, value) in requested {
        let upper = key.to_ascii_uppercase();
        let mut drop = |reason| out.dropped.push(DroppedKey { key: key.clone(), reason });
        if !valid_name(key) || value.contains('\0') {
            drop("not a valid environment variable");
        } else if upper == "PATH" {
            match accept_path(value, own_path) {
                Ok(()) if !shell_wrapper => path_override = Some(value.clone()),
                Ok(()) => drop("shell commands keep the node's PATH"),
                Err(reason) => drop(reason),
            }
        } else if shell_wrapper && !shell_safe(&upper) {
            drop("shell commands only accept TERM, LANG, LC_*, COLORTERM, NO_COLOR, FORCE_COLOR");
        } else if !is_inert_key(key) {
            drop("not on the system.run environment allowlist (presentation and locale keys only)");
        } else {
            out.keep.insert(key.clone(), value.clone());
        }
    }
    if let Some(chosen) = path_override.as_deref().or(own_path) {
        let (clean, removed) = crate::approvals::command::absolute_entries(std::ffi::OsStr::new(chosen));
        out.child_path = Some(clean.to_string_lossy().into_owned());
        if path_override.is_none() {
            out.removed_own_entries = removed;
        }
    }
    out
}

/// A PATH override is a prepend of absolute directories: it ends with the node's own PATH (or
/// equals it), and what it adds in front has no empty or relative entry.
fn accept_path(value: &str, own_path: Option<&str>) -> Result<(), &'static str> {
    let Some(own) = own_path.filter(|p| !p.is_empty()) else { return Err("the node has no PATH to prepend to") };
    if value == own {
        return Ok(());
    }
    let Some(head) = value.strip_suffix(own).and_then(|h| h.strip_suffix(PATH_SEP)) else {
        return Err("PATH may only prepend to the node's own PATH");
    };
    let all_absolute = std::env::split_paths(head).all(|p| p.is_absolute());
    if !all_absolute || head.split(PATH_SEP).any(str::is_empty) {
        return Err("PATH entries must be absolute directories");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn dropped_keys(out: &EnvOverrides) -> Vec<&str> {
        out.dropped.iter().map(|d| d.key.as_str()).collect()
    }

    #[test]
    fn only_presentation_and_locale_keys_pass() {
        let out = sanitize(
            &env(&[
                ("GIT_EXTERNAL_DIFF", "sh -c id"),
                ("GIT_PROXY_COMMAND", "/tmp/p"),
                ("HOME", "/tmp/h"),
                ("XDG_CONFIG_HOME", "/tmp/x"),
                ("LESSOPEN", "|/tmp/l %s"),
                ("LD_PRELOAD", "/tmp/x.so"),
                ("NODE_OPTIONS", "--require x"),
                ("FOO", "bar"),
                ("TERM", "xterm"),
                ("LC_ALL", "C"),
                ("TZ", "UTC"),
                ("NO_COLOR", "1"),
            ]),
            Some("/usr/bin"),
            false,
        );
        assert_eq!(out.keep, env(&[("LC_ALL", "C"), ("NO_COLOR", "1"), ("TERM", "xterm"), ("TZ", "UTC")]));
        assert_eq!(
            dropped_keys(&out),
            ["FOO", "GIT_EXTERNAL_DIFF", "GIT_PROXY_COMMAND", "HOME", "LD_PRELOAD", "LESSOPEN", "NODE_OPTIONS", "XDG_CONFIG_HOME"]
        );
        assert!(out.dropped.iter().all(|d| d.reason == "not on the system.run environment allowlist (presentation and locale keys only)"));
        assert_eq!(
            serde_json::to_value(&out.dropped_overrides()[0]).unwrap(),
            serde_json::json!({"key": "FOO", "reason": out.dropped[0].reason})
        );
    }

    #[test]
    fn inert_keys_are_the_allowlist() {
        for key in ["TERM", "LANG", "LC_CTYPE", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "TZ", "COLUMNS", "lc_all"] {
            assert!(is_inert_key(key), "{key}");
        }
        for key in ["PATH", "HOME", "GIT_EXTERNAL_DIFF", "BASH_ENV", "ENV", "PAGER", "LESSOPEN", "", "1X", "A-B"] {
            assert!(!is_inert_key(key), "{key}");
        }
    }

    #[test]
    fn path_is_accepted_only_as_a_prepend_of_absolute_directories() {
        let own = "/usr/local/bin:/usr/bin";
        let ok = sanitize(&env(&[("PATH", "/opt/tool/bin:/usr/local/bin:/usr/bin")]), Some(own), false);
        assert_eq!(ok.child_path.as_deref(), Some("/opt/tool/bin:/usr/local/bin:/usr/bin"));
        assert!(ok.dropped.is_empty() && ok.keep.is_empty(), "PATH travels as child_path");
        assert_eq!(sanitize(&env(&[("PATH", own)]), Some(own), false).child_path.as_deref(), Some(own));
        let replaced = sanitize(&env(&[("PATH", "/tmp/evil")]), Some(own), false);
        assert_eq!(replaced.dropped[0].reason, "PATH may only prepend to the node's own PATH");
        assert_eq!(replaced.child_path.as_deref(), Some(own), "the node's PATH is kept");
        // Appending after the node's PATH is not a prepend.
        assert!(!sanitize(&env(&[("PATH", "/usr/local/bin:/usr/bin:/tmp/evil")]), Some(own), false).dropped.is_empty());
        // The probe: `.` (or an empty entry, or a relative one) in front.
        for hijack in
            [".:/usr/local/bin:/usr/bin", ":/usr/local/bin:/usr/bin", "bin:/usr/local/bin:/usr/bin", "/opt::/usr/local/bin:/usr/bin"]
        {
            let out = sanitize(&env(&[("PATH", hijack)]), Some(own), false);
            assert_eq!(out.dropped[0].reason, "PATH entries must be absolute directories", "{hijack}");
            assert_eq!(out.child_path.as_deref(), Some(own), "{hijack}");
        }
    }

    #[test]
    fn the_nodes_own_relative_path_entries_never_reach_the_child() {
        let out = sanitize(&BTreeMap::new(), Some(".:/usr/bin::bin:/bin"), false);
        assert_eq!(out.child_path.as_deref(), Some("/usr/bin:/bin"));
        assert_eq!(out.removed_own_entries, [".", "", "bin"]);
        assert_eq!(sanitize(&BTreeMap::new(), None, false).child_path, None);
    }

    #[test]
    fn shell_wrappers_get_openclaws_presentation_keys_only() {
        let out = sanitize(
            &env(&[("TERM", "xterm"), ("LC_ALL", "C"), ("NO_COLOR", "1"), ("TZ", "UTC"), ("FOO", "bar"), ("PATH", "/opt:/usr/bin")]),
            Some("/usr/bin"),
            true,
        );
        assert_eq!(out.keep, env(&[("LC_ALL", "C"), ("NO_COLOR", "1"), ("TERM", "xterm")]));
        assert_eq!(dropped_keys(&out), ["FOO", "PATH", "TZ"]);
        assert_eq!(out.child_path.as_deref(), Some("/usr/bin"));
    }

    #[test]
    fn malformed_names_and_nul_values_are_dropped() {
        let out = sanitize(&env(&[("A=B", "x"), ("1X", "y"), ("TERM", "a\0b"), ("", "z")]), None, false);
        assert!(out.keep.is_empty());
        assert_eq!(out.dropped.len(), 4);
    }
}
