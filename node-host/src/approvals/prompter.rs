//! Asking a person: the [`Prompter`] seam, a headless one and a terminal one.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use pincer_protocol::approvals::{ExecAsk, ExecDecision, ExecSecurity};
use tokio::sync::{mpsc, Mutex};

/// Why a person is being asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptReason {
    /// Some executable is not on the allowlist (or cannot be found).
    AllowlistMiss,
    /// The command has redirections, substitutions, … that no allowlist can vouch for.
    NotAllowlistable(String),
    /// Policy says `ask=always`.
    AskAlways,
}

impl std::fmt::Display for PromptReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PromptReason::AllowlistMiss => f.write_str("allowlist miss"),
            PromptReason::NotAllowlistable(why) => write!(f, "not allowlistable: {why}"),
            PromptReason::AskAlways => f.write_str("ask=always"),
        }
    }
}

/// Everything a person needs to decide about one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecPrompt {
    pub command_text: String,
    pub argv: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// The executables that would run, after unwrapping wrappers and shell scripts.
    pub resolved_paths: Vec<PathBuf>,
    pub agent_id: String,
    pub session_key: Option<String>,
    pub security: ExecSecurity,
    pub ask: ExecAsk,
    pub reason: PromptReason,
    /// Whether "always" would mean anything: false under `ask=always`, outside allowlist
    /// mode, or when the command cannot be persisted. An allow-always answer is then once.
    pub allow_always: bool,
}

pub trait Prompter: Send + Sync {
    /// Ask a person. None = nobody can answer (headless / timed out) → askFallback applies.
    fn ask<'a>(&'a self, prompt: &'a ExecPrompt) -> Pin<Box<dyn Future<Output = Option<ExecDecision>> + Send + 'a>>;
}

/// Nobody to ask (a headless binary without a terminal).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPrompter;

impl Prompter for NoPrompter {
    fn ask<'a>(&'a self, _prompt: &'a ExecPrompt) -> Pin<Box<dyn Future<Output = Option<ExecDecision>> + Send + 'a>> {
        Box::pin(async { None })
    }
}

/// How long the terminal waits for an answer before askFallback takes over.
pub const TERMINAL_PROMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Asks on the controlling terminal when stdin and stderr are both TTYs; otherwise `None`.
/// Prompts are serialised; an empty or unrecognised answer is repeated until the timeout,
/// and only an explicit answer allows.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalPrompter;

impl Prompter for TerminalPrompter {
    fn ask<'a>(&'a self, prompt: &'a ExecPrompt) -> Pin<Box<dyn Future<Output = Option<ExecDecision>> + Send + 'a>> {
        Box::pin(async move {
            if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
                return None;
            }
            let mut lines = stdin_lines()?.lock().await;
            // Lines typed before the question was shown must not answer it.
            while lines.try_recv().is_ok() {}
            say(&question(prompt));
            let deadline = tokio::time::Instant::now() + TERMINAL_PROMPT_TIMEOUT;
            loop {
                match tokio::time::timeout_at(deadline, lines.recv()).await {
                    Err(_) => {
                        say("\n(no answer in time)\n");
                        return None;
                    }
                    Ok(None) => return None,
                    Ok(Some(line)) => match parse_answer(&line, prompt.allow_always) {
                        Some(decision) => return Some(decision),
                        None => say(&choices(prompt.allow_always)),
                    },
                }
            }
        })
    }
}

/// stdin is read by one long-lived thread (a blocking read cannot be cancelled, so a
/// per-prompt reader would steal the next prompt's answer after a timeout).
fn stdin_lines() -> Option<&'static Mutex<mpsc::UnboundedReceiver<String>>> {
    static LINES: OnceLock<Option<Mutex<mpsc::UnboundedReceiver<String>>>> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let reader = move || {
                let mut line = String::new();
                loop {
                    line.clear();
                    match std::io::stdin().lock().read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if tx.send(line.trim().to_string()).is_err() => break,
                        Ok(_) => {}
                    }
                }
            };
            match std::thread::Builder::new().name("exec-approval-stdin".into()).spawn(reader) {
                Ok(_) => Some(Mutex::new(rx)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the terminal prompt reader");
                    None
                }
            }
        })
        .as_ref()
}

fn say(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Control characters in a command could repaint the terminal and hide what is approved.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn choices(allow_always: bool) -> String {
    let always = if allow_always { ", [a]lways" } else { "" };
    format!("Allow [o]nce{always}, or [d]eny? ")
}

pub(crate) fn question(p: &ExecPrompt) -> String {
    let mut q = format!("\nExec approval needed ({}) for agent {}", p.reason, printable(&p.agent_id));
    if let Some(session) = &p.session_key {
        q.push_str(&format!(" in session {}", printable(session)));
    }
    q.push_str(&format!("\n  command: {}\n  argv:    {}\n", printable(&p.command_text), printable(&format!("{:?}", p.argv))));
    if let Some(cwd) = &p.cwd {
        q.push_str(&format!("  cwd:     {}\n", printable(&cwd.display().to_string())));
    }
    let paths: Vec<String> = p.resolved_paths.iter().map(|r| printable(&r.display().to_string())).collect();
    let paths = if paths.is_empty() { "(not found)".to_string() } else { paths.join(", ") };
    q.push_str(&format!("  runs:    {paths}\n  policy:  security={:?} ask={:?}\n", p.security, p.ask));
    q.push_str(&choices(p.allow_always));
    q
}

fn parse_answer(line: &str, allow_always: bool) -> Option<ExecDecision> {
    match line.trim().to_ascii_lowercase().as_str() {
        "o" | "once" | "y" | "yes" => Some(ExecDecision::AllowOnce),
        "a" | "always" if allow_always => Some(ExecDecision::AllowAlways),
        "d" | "deny" | "n" | "no" => Some(ExecDecision::Deny),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt() -> ExecPrompt {
        ExecPrompt {
            command_text: "rm -rf x\u{1b}[2K".into(),
            argv: vec!["rm".into(), "-rf".into(), "x".into()],
            cwd: Some(PathBuf::from("/tmp")),
            resolved_paths: vec![PathBuf::from("/usr/bin/rm")],
            agent_id: "main".into(),
            session_key: Some("agent:main:main".into()),
            security: ExecSecurity::Allowlist,
            ask: ExecAsk::OnMiss,
            reason: PromptReason::AllowlistMiss,
            allow_always: true,
        }
    }

    #[test]
    fn answers() {
        assert_eq!(parse_answer(" O ", true), Some(ExecDecision::AllowOnce));
        assert_eq!(parse_answer("always", true), Some(ExecDecision::AllowAlways));
        assert_eq!(parse_answer("a", false), None);
        assert_eq!(parse_answer("n", false), Some(ExecDecision::Deny));
        assert_eq!(parse_answer("", true), None);
        assert_eq!(parse_answer("sure", true), None);
    }

    #[test]
    fn question_shows_what_matters_and_no_control_chars() {
        let q = question(&prompt());
        for needle in ["allowlist miss", "agent main", "agent:main:main", "/usr/bin/rm", "cwd:     /tmp", "[a]lways", "rm -rf x\\u{1b}[2K"]
        {
            assert!(q.contains(needle), "{needle} missing in {q}");
        }
        assert!(!q.contains('\u{1b}'));
        let q = question(&ExecPrompt { allow_always: false, ..prompt() });
        assert!(!q.contains("[a]lways"));
    }

    #[tokio::test]
    async fn headless_prompters_return_none() {
        assert_eq!(NoPrompter.ask(&prompt()).await, None);
        if !std::io::stdin().is_terminal() {
            assert_eq!(TerminalPrompter.ask(&prompt()).await, None);
        }
    }
}
