//! `exec-audit.jsonl`: one line per decision, append-only, secrets redacted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

pub const FILE_NAME: &str = "exec-audit.jsonl";
const REDACTED: &str = "***";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub ts: i64,
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// How it was decided: `allowlist`, `full`, `prompt-once`, `prompt-always`, `gateway`,
    /// `fallback`, or for denials the rule that denied.
    pub via: &'static str,
    pub argv: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_command: Option<String>,
    pub cwd: Option<String>,
    pub agent_id: String,
    pub session_key: Option<String>,
    pub resolved_paths: Vec<String>,
    pub reason: String,
}

pub struct AuditLog {
    path: PathBuf,
    /// One writer at a time so lines never interleave.
    lock: Mutex<()>,
}

impl AuditLog {
    pub fn new(state_dir: &Path) -> AuditLog {
        AuditLog { path: state_dir.join(FILE_NAME), lock: Mutex::new(()) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append a record (redacting argv and command text). Failures are logged, not fatal:
    /// the decision itself was already made on policy alone.
    pub fn append(&self, mut record: AuditRecord) {
        record.argv = redact_argv(&record.argv);
        record.raw_command = record.raw_command.as_deref().map(redact_text);
        let mut line = match serde_json::to_string(&record) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode exec audit record");
                return;
            }
        };
        line.push('\n');
        let _guard = self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(e) = self.write_line(line.as_bytes()) {
            tracing::error!(path = %self.path.display(), error = %e, "cannot append exec audit record");
        }
    }

    fn write_line(&self, line: &[u8]) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path)?;
        file.write_all(line)?;
        file.sync_data()
    }
}

fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["token", "password", "passwd", "secret", "key"].iter().any(|s| lower.contains(s))
}

/// `--api-key` / `-token` style flags (not `--` alone, not negative numbers).
fn secret_flag(word: &str) -> bool {
    let name = word.trim_start_matches('-');
    word.starts_with('-') && !name.is_empty() && !name.contains('=') && is_secret_name(name)
}

/// Redact one word on its own: `--token=x`, `API_KEY=x`, URL userinfo.
fn redact_word(word: &str) -> String {
    if let Some((name, _)) = word.split_once('=') {
        let bare = name.trim_start_matches('-');
        let looks_like_name = !bare.is_empty() && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if looks_like_name && is_secret_name(bare) {
            return format!("{name}={REDACTED}");
        }
    }
    redact_urls(word)
}

/// `scheme://user:pw@host` → `scheme://***@host`, anywhere in the text.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end =
            tail.find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"' || c == '\'').unwrap_or(tail.len());
        match tail[..authority_end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str(REDACTED);
                rest = &tail[userinfo_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

pub fn redact_argv(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut hide_next = false;
    for word in argv {
        if hide_next {
            out.push(REDACTED.to_string());
            hide_next = false;
            continue;
        }
        hide_next = secret_flag(word) || word.eq_ignore_ascii_case("bearer");
        // A script argument (`sh -c "…"`) carries its own flags and assignments.
        out.push(if word.contains(char::is_whitespace) { redact_text(word) } else { redact_word(word) });
    }
    out
}

/// Redact free command text word by word, keeping its spacing; a quoted secret value is
/// hidden up to its closing quote.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut hide_next = false;
    let mut rest = text;
    while !rest.is_empty() {
        let space_len = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..space_len]);
        rest = &rest[space_len..];
        if rest.is_empty() {
            break;
        }
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'');
        let word_len = match quote {
            Some(q) if hide_next => rest[1..].find(q).map(|i| i + 2).unwrap_or(rest.len()),
            _ => rest.find(char::is_whitespace).unwrap_or(rest.len()),
        };
        let word = &rest[..word_len];
        if hide_next {
            out.push_str(REDACTED);
            hide_next = false;
        } else {
            let bare = word.trim_matches(|c| c == '"' || c == '\'');
            hide_next = secret_flag(bare) || bare.eq_ignore_ascii_case("bearer");
            out.push_str(&redact_word(word));
        }
        rest = &rest[word_len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn redacts_secret_flag_values() {
        assert_eq!(
            redact_argv(&words(&[
                "cli",
                "--token",
                "abc",
                "--api-key=xyz",
                "-p",
                "8080",
                "--password",
                "pw",
                "--keyfile",
                "v",
                "--keep",
                "v"
            ])),
            words(&["cli", "--token", "***", "--api-key=***", "-p", "8080", "--password", "***", "--keyfile", "***", "--keep", "v"])
        );
        assert_eq!(redact_argv(&words(&["x", "--client-secret"])), words(&["x", "--client-secret"]));
        assert_eq!(redact_argv(&words(&["curl", "-H", "Authorization: Bearer t0k"])), words(&["curl", "-H", "Authorization: Bearer ***"]));
    }

    #[test]
    fn redacts_secret_assignments_only() {
        assert_eq!(
            redact_argv(&words(&[
                "env",
                "GITHUB_TOKEN=ghp_1",
                "OPENAI_API_KEY=sk-1",
                "DB_PASSWORD=p",
                "AWS_SECRET_ACCESS_KEY=s",
                "HOME=/h",
                "ls"
            ])),
            words(&["env", "GITHUB_TOKEN=***", "OPENAI_API_KEY=***", "DB_PASSWORD=***", "AWS_SECRET_ACCESS_KEY=***", "HOME=/h", "ls"])
        );
        assert_eq!(redact_word("a=b=c"), "a=b=c");
    }

    #[test]
    fn redacts_url_userinfo() {
        assert_eq!(redact_word("https://user:pw@example.com/x"), "https://***@example.com/x");
        assert_eq!(redact_word("git+ssh://tok@h:22/r"), "git+ssh://***@h:22/r");
        assert_eq!(redact_word("https://example.com/a@b"), "https://example.com/a@b");
        assert_eq!(redact_text("a https://u:p@h b http://x@y"), "a https://***@h b http://***@y");
    }

    #[test]
    fn redacts_inside_scripts_and_raw_text() {
        assert_eq!(
            redact_argv(&words(&["/bin/sh", "-lc", "deploy --token s3cr3t && curl https://a:b@h"])),
            words(&["/bin/sh", "-lc", "deploy --token *** && curl https://***@h"])
        );
        assert_eq!(redact_text("run --password \"two words\" now"), "run --password *** now");
        assert_eq!(redact_text("  API_KEY=1  ls "), "  API_KEY=***  ls ");
        assert_eq!(redact_text("x --secret"), "x --secret");
    }

    #[test]
    fn appends_lines_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path());
        let record = |reason: &str| AuditRecord {
            ts: 1,
            decision: "deny",
            via: "security=deny",
            argv: words(&["x", "--token", "t"]),
            raw_command: Some("x --token t".into()),
            cwd: None,
            agent_id: "main".into(),
            session_key: None,
            resolved_paths: vec![],
            reason: reason.into(),
        };
        log.append(record("one"));
        log.append(record("two"));
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["reason"], "two");
        assert_eq!(lines[0]["argv"], serde_json::json!(["x", "--token", "***"]));
        assert_eq!(lines[0]["rawCommand"], "x --token ***");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(log.path()).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
