//! Gate-level tests: real files in a tempdir, fake executables on a private PATH, and a
//! scripted prompter that records what it was asked.
#![cfg(unix)]

use std::collections::VecDeque;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use pincer_protocol::approvals::{approvals_hash, ExecAsk, ExecDecision, ExecSecurity};
use serde_json::{json, Value};

use super::*;

const ALLOW_ONCE: Option<ExecDecision> = Some(ExecDecision::AllowOnce);
const ALLOW_ALWAYS: Option<ExecDecision> = Some(ExecDecision::AllowAlways);
const DENY: Option<ExecDecision> = Some(ExecDecision::Deny);

#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Option<ExecDecision>>>,
    asked: Mutex<Vec<ExecPrompt>>,
}

impl Prompter for Scripted {
    fn ask<'a>(&'a self, prompt: &'a ExecPrompt) -> Pin<Box<dyn Future<Output = Option<ExecDecision>> + Send + 'a>> {
        self.asked.lock().unwrap().push(prompt.clone());
        let answer = self.answers.lock().unwrap().pop_front().flatten();
        Box::pin(async move { answer })
    }
}

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    state: PathBuf,
    prompter: Arc<Scripted>,
    gate: ExecGate,
}

impl Env {
    fn new(file: Option<Value>, answers: &[Option<ExecDecision>]) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let bin = root.join("bin");
        std::fs::create_dir(&bin).unwrap();
        for name in ["ls", "rm", "rg", "echo", "cat", "sh", "wc"] {
            use std::os::unix::fs::PermissionsExt;
            let path = bin.join(name);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let state = root.join("state");
        let prompter = Arc::new(Scripted { answers: Mutex::new(answers.iter().copied().collect()), ..Default::default() });
        let gate = ExecGate::open(&state, prompter.clone()).unwrap();
        if let Some(file) = file {
            gate.set(file, None).unwrap();
        }
        Env { _dir: dir, root, bin, state, prompter, gate }
    }

    /// A policy file for `main` with these fields plus an allowlist of our fake binaries.
    fn with(policy: Value, allowed: &[&str], answers: &[Option<ExecDecision>]) -> Env {
        let env = Env::new(None, answers);
        let mut main = policy;
        main["allowlist"] = json!(allowed.iter().map(|b| json!({"pattern": env.bin(b)})).collect::<Vec<_>>());
        env.gate.set(json!({"version": 1, "agents": {"main": main}}), None).unwrap();
        env
    }

    fn bin(&self, name: &str) -> String {
        self.bin.join(name).display().to_string()
    }

    fn req(&self, argv: &[&str]) -> ExecRequest {
        ExecRequest {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: Some(self.root.clone()),
            session_key: Some("agent:main:main".into()),
            env_path: Some(self.bin.display().to_string()),
            ..Default::default()
        }
    }

    async fn check(&self, argv: &[&str]) -> GateOutcome {
        self.gate.check(&self.req(argv)).await
    }

    fn asked(&self) -> Vec<ExecPrompt> {
        self.prompter.asked.lock().unwrap().clone()
    }

    fn disk(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.gate.approvals_path()).unwrap()).unwrap()
    }

    fn audit_lines(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.gate.audit_path()).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

fn allowed(via: AllowedVia) -> GateOutcome {
    GateOutcome::Allowed { via }
}

fn denied(message: &str) -> GateOutcome {
    GateOutcome::Denied { message: message.to_string() }
}

const ALLOWLIST_OFF: fn() -> Value = || json!({"security": "allowlist", "ask": "off"});
const ALLOWLIST_ON_MISS: fn() -> Value = || json!({"security": "allowlist", "ask": "on-miss"});

#[tokio::test]
async fn builtin_defaults_ask_then_deny_when_nobody_answers() {
    let env = Env::new(None, &[None]);
    assert_eq!(env.check(&["ls"]).await, denied("SYSTEM_RUN_DENIED: approval required"));
    let asked = env.asked();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].security, asked[0].ask, asked[0].reason.clone()),
        (ExecSecurity::Allowlist, ExecAsk::OnMiss, PromptReason::AllowlistMiss)
    );
    assert_eq!(asked[0].resolved_paths, [env.bin.join("ls")]);
    assert_eq!(asked[0].agent_id, "main");
    assert_eq!(asked[0].session_key.as_deref(), Some("agent:main:main"));
    assert_eq!(asked[0].cwd.as_deref(), Some(env.root.as_path()));
    assert_eq!(asked[0].command_text, "ls");
    assert!(asked[0].allow_always);
    assert!(!env.gate.approvals_path().exists(), "deciding never creates the file");
}

#[tokio::test]
async fn cascade_and_legacy_default_at_the_gate() {
    let env = Env::new(None, &[]);
    let ls = env.bin("ls");
    env.gate
        .set(json!({"version": 1, "defaults": {"ask": "off"}, "agents": {"default": {"allowlist": [{"pattern": ls}]}, "*": {"security": "allowlist"}}}), None)
        .unwrap();
    assert_eq!(env.check(&["ls"]).await, allowed(AllowedVia::Allowlist));
    let ops = ExecRequest { agent_id: Some("ops".into()), ..env.req(&["ls"]) };
    assert_eq!(env.gate.check(&ops).await, denied("SYSTEM_RUN_DENIED: allowlist miss"));
    assert!(env.asked().is_empty());
}

#[tokio::test]
async fn security_deny_wins_over_everything() {
    let env = Env::with(json!({"security": "deny", "ask": "always"}), &["ls"], &[ALLOW_ONCE]);
    assert_eq!(env.check(&["ls"]).await, denied("SYSTEM_RUN_DENIED: security=deny"));
    let approved = ExecRequest { approved_by_gateway: Some(ExecDecision::AllowAlways), ..env.req(&["ls"]) };
    assert_eq!(env.gate.check(&approved).await, denied("SYSTEM_RUN_DENIED: security=deny"));
    assert!(env.asked().is_empty());
}

#[tokio::test]
async fn full_security() {
    let env = Env::with(json!({"security": "full", "ask": "off"}), &[], &[]);
    assert_eq!(env.check(&["nosuch-binary", "x"]).await, allowed(AllowedVia::Full));
    assert_eq!(env.check(&["sh", "-c", "ls > out; $(id)"]).await, allowed(AllowedVia::Full));

    let env = Env::with(json!({"security": "full", "ask": "on-miss"}), &[], &[]);
    assert_eq!(env.check(&["rm", "-rf", "x"]).await, allowed(AllowedVia::Full));
    assert!(env.asked().is_empty());

    let env = Env::with(json!({"security": "full", "ask": "always"}), &[], &[ALLOW_ALWAYS]);
    assert_eq!(env.check(&["rm"]).await, allowed(AllowedVia::PromptOnce));
    assert_eq!(env.asked()[0].reason, PromptReason::AskAlways);
    assert!(!env.asked()[0].allow_always);
    assert!(env.disk()["agents"]["main"]["allowlist"].as_array().unwrap().is_empty(), "nothing persisted");
}

#[tokio::test]
async fn allowlist_with_ask_off() {
    let env = Env::with(ALLOWLIST_OFF(), &["ls"], &[]);
    assert_eq!(env.check(&["ls", "-la"]).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&[&env.bin("ls")]).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&["rm", "x"]).await, denied("SYSTEM_RUN_DENIED: allowlist miss"));
    assert!(env.asked().is_empty());
}

#[tokio::test]
async fn ask_always_prompts_even_when_allowlisted() {
    let env = Env::with(json!({"security": "allowlist", "ask": "always"}), &["ls"], &[DENY, ALLOW_ALWAYS]);
    assert_eq!(env.check(&["ls"]).await, denied("SYSTEM_RUN_DENIED: user denied"));
    let before = env.gate.snapshot().unwrap().hash;
    assert_eq!(env.check(&["rm"]).await, allowed(AllowedVia::PromptOnce), "allow-always is unavailable under ask=always");
    assert_eq!(env.gate.snapshot().unwrap().hash, before);
    let asked = env.asked();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0].reason, PromptReason::AskAlways);
    assert!(!asked[0].allow_always);
}

#[tokio::test]
async fn on_miss_asks_only_on_a_miss() {
    let env = Env::with(ALLOWLIST_ON_MISS(), &["ls"], &[ALLOW_ONCE]);
    let before = env.gate.snapshot().unwrap().hash;
    assert_eq!(env.check(&["ls"]).await, allowed(AllowedVia::Allowlist));
    assert!(env.asked().is_empty());
    assert_eq!(env.check(&["rm", "x"]).await, allowed(AllowedVia::PromptOnce));
    assert_eq!(env.asked().len(), 1);
    assert_eq!(env.gate.snapshot().unwrap().hash, before, "allow-once persists nothing");
    // The script is used up: the next miss gets no answer and falls back to deny.
    assert_eq!(env.check(&["rm", "x"]).await, denied("SYSTEM_RUN_DENIED: approval required"));
}

#[tokio::test]
async fn gateway_approval_is_not_asked_again() {
    let env = Env::with(ALLOWLIST_ON_MISS(), &["ls"], &[]);
    let mut req = env.req(&["rm", "x"]);
    req.approved_by_gateway = Some(ExecDecision::AllowOnce);
    assert_eq!(env.gate.check(&req).await, allowed(AllowedVia::Gateway));
    req.approved_by_gateway = Some(ExecDecision::Deny);
    assert_eq!(env.gate.check(&req).await, denied("SYSTEM_RUN_DENIED: user denied"));
    assert!(env.asked().is_empty());

    req.approved_by_gateway = Some(ExecDecision::AllowAlways);
    assert_eq!(env.gate.check(&req).await, allowed(AllowedVia::Gateway));
    let list = env.disk()["agents"]["main"]["allowlist"].clone();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["pattern"], env.bin("rm"));
    assert_eq!(list[1]["source"], "allow-always");
    // Now allowlisted: no approval needed at all.
    req.approved_by_gateway = None;
    assert_eq!(env.gate.check(&req).await, allowed(AllowedVia::Allowlist));
}

#[tokio::test]
async fn gateway_approval_does_not_override_a_local_miss_with_ask_off() {
    let env = Env::with(ALLOWLIST_OFF(), &[], &[]);
    let req = ExecRequest { approved_by_gateway: Some(ExecDecision::AllowOnce), ..env.req(&["rm"]) };
    assert_eq!(env.gate.check(&req).await, denied("SYSTEM_RUN_DENIED: allowlist miss"));
}

#[tokio::test]
async fn ask_fallback_modes() {
    let env = Env::with(json!({"ask": "on-miss", "askFallback": "deny"}), &[], &[None]);
    assert_eq!(env.check(&["ls"]).await, denied("SYSTEM_RUN_DENIED: approval required"));

    let env = Env::with(json!({"ask": "on-miss", "askFallback": "full"}), &[], &[None]);
    assert_eq!(env.check(&["rm", "-rf", "x"]).await, allowed(AllowedVia::Fallback));

    // ask=always asks even for allowlisted commands; with nobody there, the allowlist decides.
    let env = Env::with(json!({"ask": "always", "askFallback": "allowlist"}), &["ls"], &[None, None]);
    assert_eq!(env.check(&["ls"]).await, allowed(AllowedVia::Fallback));
    assert_eq!(env.check(&["rm"]).await, denied("SYSTEM_RUN_DENIED: allowlist miss"));
    assert_eq!(env.asked().len(), 2);
}

#[tokio::test]
async fn allow_always_persists_the_resolved_inner_executables() {
    let env = Env::with(ALLOWLIST_ON_MISS(), &["ls"], &[ALLOW_ALWAYS]);
    let before = env.gate.snapshot().unwrap();
    let mut req = env.req(&["/bin/sh", "-lc", "ls && env LANG=C rm --token s3cret x"]);
    req.raw_command = Some("ls && env LANG=C rm --token s3cret x".into());
    assert_eq!(env.gate.check(&req).await, allowed(AllowedVia::PromptAlways));
    assert_eq!(env.asked()[0].resolved_paths, [env.bin.join("ls"), env.bin.join("rm")]);

    let bytes = std::fs::read(env.gate.approvals_path()).unwrap();
    let after = env.gate.snapshot().unwrap();
    assert_ne!(after.hash, before.hash);
    assert_eq!(after.hash, approvals_hash(Some(&bytes)));
    let list = env.disk()["agents"]["main"]["allowlist"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "ls was already allowlisted: {list:?}");
    let rm = &list[1];
    assert_eq!(rm["pattern"], env.bin("rm"));
    assert_eq!(rm["source"], "allow-always");
    assert_eq!(rm["lastResolvedPath"], env.bin("rm"));
    assert_eq!(rm["lastUsedCommand"], "ls && env LANG=C rm --token *** x");
    assert!(rm["lastUsedAt"].as_i64().unwrap() > 1_600_000_000_000);
    assert!(uuid::Uuid::parse_str(rm["id"].as_str().unwrap()).is_ok());

    assert_eq!(env.gate.check(&req).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.asked().len(), 1);
}

#[tokio::test]
async fn allow_always_with_an_existing_exact_entry_only_touches_it() {
    let env = Env::with(ALLOWLIST_ON_MISS(), &["ls"], &[ALLOW_ALWAYS]);
    assert_eq!(env.check(&["sh", "-c", "ls; rm x"]).await, allowed(AllowedVia::PromptAlways));
    let list = env.disk()["agents"]["main"]["allowlist"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["pattern"], env.bin("ls"));
    assert!(list[0].get("lastUsedAt").is_some());
    assert!(list[0].get("source").is_none());
}

#[tokio::test]
async fn nothing_is_persisted_for_redirections_or_substitutions() {
    for script in ["ls > out", "ls $(rm x)", "cat `ls`", "rm <(ls)", "ls 2>&1"] {
        let env = Env::with(ALLOWLIST_ON_MISS(), &["ls", "rm", "cat"], &[ALLOW_ALWAYS]);
        let before = env.gate.snapshot().unwrap().hash;
        assert_eq!(env.check(&["sh", "-c", script]).await, allowed(AllowedVia::PromptOnce), "{script}");
        let asked = env.asked();
        assert!(matches!(asked[0].reason, PromptReason::NotAllowlistable(_)), "{script}: {:?}", asked[0].reason);
        assert!(!asked[0].allow_always);
        assert_eq!(env.gate.snapshot().unwrap().hash, before, "{script}");
    }
}

#[tokio::test]
async fn allow_always_for_the_wildcard_agent_is_not_persisted() {
    let env = Env::with(ALLOWLIST_ON_MISS(), &[], &[ALLOW_ALWAYS]);
    let before = env.gate.snapshot().unwrap().hash;
    let req = ExecRequest { agent_id: Some("*".into()), ..env.req(&["rm"]) };
    assert_eq!(env.gate.check(&req).await, allowed(AllowedVia::PromptOnce));
    assert_eq!(env.gate.snapshot().unwrap().hash, before);
}

#[tokio::test]
async fn chains_and_pipes_need_every_segment() {
    let env = Env::with(ALLOWLIST_OFF(), &["ls", "rg"], &[]);
    let miss = denied("SYSTEM_RUN_DENIED: allowlist miss");
    assert_eq!(env.check(&["sh", "-c", "ls && rm x"]).await, miss);
    assert_eq!(env.check(&["bash", "-lc", "ls; rm x"]).await, miss);
    assert_eq!(env.check(&["sh", "-c", "ls || rm x"]).await, miss);
    assert_eq!(env.check(&["sh", "-c", "ls & rm x"]).await, miss);
    assert_eq!(env.check(&["sh", "-c", "ls\nrm x"]).await, miss);
    assert_eq!(env.check(&["sh", "-c", "ls | rm"]).await, miss);
    assert_eq!(env.check(&["sh", "-c", "ls -la | rg foo && ls"]).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&["zsh", "-c", "ls 'a && rm x'"]).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&["dash", "-c", "sh -c 'ls | rg x'"]).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&["dash", "-c", "sh -c 'ls | rm x'"]).await, miss);
}

#[tokio::test]
async fn an_allowlisted_shell_does_not_vouch_for_its_script() {
    let env = Env::with(ALLOWLIST_OFF(), &["sh", "ls"], &[]);
    let miss = denied("SYSTEM_RUN_DENIED: allowlist miss");
    assert_eq!(env.check(&["sh", "-ec", "rm x"]).await, miss);
    assert_eq!(env.check(&["sh", "-o", "errexit", "-c", "rm x"]).await, miss);
    assert_eq!(env.check(&["sh", "-c", "--", "rm x"]).await, miss);
    assert_eq!(env.check(&["sh", "-xc", "ls"]).await, allowed(AllowedVia::Allowlist));
    // Without -c the shell runs a script file: then the shell itself is what is checked.
    assert_eq!(env.check(&["sh", "script.sh"]).await, allowed(AllowedVia::Allowlist));
}

#[tokio::test]
async fn quoted_separators_are_one_segment() {
    let env = Env::with(ALLOWLIST_OFF(), &["echo"], &[]);
    assert_eq!(env.check(&["sh", "-c", r#"echo "a && b""#]).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&["sh", "-c", r"echo a \&\& rm"]).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&["sh", "-c", r#"echo "a" && rm"#]).await, denied("SYSTEM_RUN_DENIED: allowlist miss"));
}

#[tokio::test]
async fn redirections_and_substitutions_are_never_allowlisted() {
    let env = Env::new(None, &[]);
    let everything = format!("{}/*", env.bin.display());
    env.gate.set(json!({"version": 1, "agents": {"main": {"ask": "off", "allowlist": [{"pattern": everything}]}}}), None).unwrap();
    assert_eq!(env.check(&["sh", "-c", "ls"]).await, allowed(AllowedVia::Allowlist));
    for script in ["ls > x", "ls >> x", "cat < x", "ls 2> x", "ls &> x", "echo $(ls)", "echo `ls`", "cat <(ls)", "echo 'x", "(ls)"] {
        assert_eq!(env.check(&["sh", "-c", script]).await, denied("SYSTEM_RUN_DENIED: allowlist miss"), "{script}");
    }
    // Outside a shell the same characters are plain arguments.
    assert_eq!(env.check(&["echo", ">", "$(x)"]).await, allowed(AllowedVia::Allowlist));
    // Environment that changes which code runs is opaque too.
    assert_eq!(env.check(&["env", "PATH=/tmp", "ls"]).await, denied("SYSTEM_RUN_DENIED: allowlist miss"));
    assert_eq!(env.check(&["sh", "-c", "LD_PRELOAD=/tmp/x.so ls"]).await, denied("SYSTEM_RUN_DENIED: allowlist miss"));
}

#[tokio::test]
async fn wrappers_resolve_to_the_inner_binary() {
    let env = Env::with(ALLOWLIST_ON_MISS(), &["ls"], &[None]);
    let ls = env.bin("ls");
    assert_eq!(env.check(&["env", "LANG=C", "nice", "-n", "5", &ls]).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&["timeout", "-k", "1", "10s", "nohup", "stdbuf", "-oL", "ls"]).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&["sh", "-c", "LC_ALL=C nice ls -la"]).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&["env", "LANG=C", "rm"]).await, denied("SYSTEM_RUN_DENIED: approval required"));
    assert_eq!(env.asked()[0].resolved_paths, [env.bin.join("rm")]);
}

#[tokio::test]
async fn patterns_match_case_insensitively_and_ignore_basenames() {
    let env = Env::new(None, &[]);
    let upper = env.bin("ls").to_uppercase();
    env.gate
        .set(json!({"version": 1, "agents": {"main": {"ask": "off", "allowlist": [{"pattern": upper}, {"pattern": "rm"}, {"pattern": "r*"}]}}}), None)
        .unwrap();
    assert_eq!(env.check(&["ls"]).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&["rm"]).await, denied("SYSTEM_RUN_DENIED: allowlist miss"));
    assert_eq!(env.check(&["rg"]).await, denied("SYSTEM_RUN_DENIED: allowlist miss"));
}

#[tokio::test]
async fn unresolvable_binaries_are_a_miss() {
    let env = Env::new(None, &[ALLOW_ALWAYS]);
    let everything = format!("{}/**", env.root.display());
    env.gate.set(json!({"version": 1, "agents": {"main": {"allowlist": [{"pattern": everything}]}}}), None).unwrap();
    let before = env.gate.snapshot().unwrap().hash;
    assert_eq!(env.check(&["nosuch"]).await, allowed(AllowedVia::PromptOnce));
    let asked = env.asked();
    assert_eq!(asked[0].reason, PromptReason::AllowlistMiss);
    assert!(asked[0].resolved_paths.is_empty());
    assert!(!asked[0].allow_always, "nothing to persist");
    assert_eq!(env.gate.snapshot().unwrap().hash, before);
    // Existing but not executable, or a directory: still not a binary.
    std::fs::write(env.root.join("bin").join("plain"), "x").unwrap();
    let req = ExecRequest { approved_by_gateway: Some(ExecDecision::Deny), ..env.req(&["plain"]) };
    assert_eq!(env.gate.check(&req).await, denied("SYSTEM_RUN_DENIED: user denied"));
    let lines = env.audit_lines();
    assert_eq!(lines.last().unwrap()["resolvedPaths"], json!([]));
}

#[tokio::test]
async fn dot_dot_cannot_escape_a_directory_glob() {
    let env = Env::new(None, &[]);
    std::fs::create_dir(env.root.join("outside")).unwrap();
    std::fs::copy(env.bin.join("ls"), env.root.join("outside").join("evil")).unwrap();
    let pattern = format!("{}/**", env.bin.display());
    env.gate.set(json!({"version": 1, "agents": {"main": {"ask": "off", "allowlist": [{"pattern": pattern}]}}}), None).unwrap();
    let sneaky = format!("{}/../outside/evil", env.bin.display());
    assert_eq!(env.check(&[&sneaky]).await, denied("SYSTEM_RUN_DENIED: allowlist miss"));
    assert_eq!(env.check(&["./bin/ls"]).await, allowed(AllowedVia::Allowlist), "relative paths resolve against cwd");
}

#[tokio::test]
async fn audit_log_records_every_decision_redacted() {
    let env = Env::with(ALLOWLIST_ON_MISS(), &["ls"], &[DENY]);
    let mut req = env.req(&["ls", "--api-key", "k1", "https://u:pw@example.com/x", "GITHUB_TOKEN=ghp"]);
    req.raw_command = Some("ls --api-key k1 https://u:pw@example.com/x GITHUB_TOKEN=ghp".into());
    req.agent_id = Some("main".into());
    assert_eq!(env.gate.check(&req).await, allowed(AllowedVia::Allowlist));
    assert_eq!(env.check(&["rm", "--password=p"]).await, denied("SYSTEM_RUN_DENIED: user denied"));

    let lines = env.audit_lines();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["decision"], "allow");
    assert_eq!(first["via"], "allowlist");
    assert_eq!(first["argv"], json!(["ls", "--api-key", "***", "https://***@example.com/x", "GITHUB_TOKEN=***"]));
    assert_eq!(first["rawCommand"], "ls --api-key *** https://***@example.com/x GITHUB_TOKEN=***");
    assert_eq!(first["cwd"], env.root.display().to_string());
    assert_eq!(first["agentId"], "main");
    assert_eq!(first["sessionKey"], "agent:main:main");
    assert_eq!(first["resolvedPaths"], json!([env.bin("ls")]));
    assert_eq!(first["reason"], "allowlisted");
    assert!(first["ts"].as_i64().unwrap() > 1_600_000_000_000);
    let second = &lines[1];
    assert_eq!((second["decision"].as_str(), second["via"].as_str()), (Some("deny"), Some("prompt")));
    assert_eq!(second["argv"], json!(["rm", "--password=***"]));
    assert_eq!(second["reason"], "prompt answered deny");
    let raw = std::fs::read_to_string(env.gate.audit_path()).unwrap();
    for secret in ["k1", "u:pw", "ghp", "=p\""] {
        assert!(!raw.contains(secret), "{secret} leaked: {raw}");
    }
}

#[tokio::test]
async fn corrupt_file_denies_everything_until_fixed() {
    let env = Env::new(None, &[ALLOW_ONCE]);
    std::fs::create_dir_all(&env.state).unwrap();
    std::fs::write(env.gate.approvals_path(), "{\"version\": 1, \"defaults\": {\"security\": \"bogus\"}}").unwrap();
    let GateOutcome::Denied { message } = env.check(&["ls"]).await else { panic!("allowed with a corrupt file") };
    assert!(message.starts_with("SYSTEM_RUN_DENIED: exec approvals unavailable"), "{message}");
    assert!(env.asked().is_empty());
    assert_eq!(env.audit_lines()[0]["via"], "error");
}

#[tokio::test]
async fn never_panics_on_odd_requests() {
    let env = Env::with(ALLOWLIST_ON_MISS(), &["ls"], &[]);
    let deep = "sh -c '".repeat(20);
    let odd: Vec<Vec<&str>> = vec![
        vec![],
        vec![""],
        vec!["\0"],
        vec!["ls\0x"],
        vec!["sh", "-c"],
        vec!["sh", "-c", ""],
        vec!["sh", "-c", &deep],
        vec!["env"],
        vec!["nice", "-n"],
        vec!["timeout"],
        vec!["cmd.exe", "/c"],
        vec!["/", "x"],
        vec!["..", "x"],
        vec!["é\u{202e}"],
    ];
    for argv in odd {
        let outcome = env.check(&argv).await;
        assert!(!outcome.is_allowed(), "{argv:?} → {outcome:?}");
    }
    let nested = ["env"; 50].to_vec();
    assert!(!env.check(&nested).await.is_allowed());
    let weird = ExecRequest {
        cwd: Some(PathBuf::from("/no/such/dir")),
        env_path: Some(String::new()),
        agent_id: Some("  ".into()),
        ..env.req(&["ls"])
    };
    assert_eq!(env.gate.check(&weird).await, denied("SYSTEM_RUN_DENIED: approval required"));
}

#[test]
fn error_codes_and_outcome_mapping() {
    assert_eq!(ApprovalsError::HashMismatch.to_command_error().code, "INVALID_REQUEST");
    assert!(ApprovalsError::HashMismatch.to_command_error().message.contains("baseHash"));
    assert!(ApprovalsError::BaseHashRequired.to_string().contains("baseHash"));
    assert_eq!(ApprovalsError::InvalidFile(InvalidApprovalsFile::NotAnObject).code(), "INVALID_REQUEST");
    let io = ApprovalsError::io("read", Path::new("/x"), std::io::Error::other("boom"));
    assert_eq!(CommandError::from(io).code, "UNAVAILABLE");
    let err = denied("SYSTEM_RUN_DENIED: user denied").into_result().unwrap_err();
    assert_eq!((err.code.as_str(), err.message.as_str()), ("UNAVAILABLE", "SYSTEM_RUN_DENIED: user denied"));
    assert_eq!(allowed(AllowedVia::Gateway).into_result(), Ok(AllowedVia::Gateway));
}

#[test]
fn open_rejects_a_file_as_state_dir_and_is_lazy() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    assert!(matches!(ExecGate::open(&file, Arc::new(NoPrompter)), Err(ApprovalsError::Io { .. })));
    let gate = ExecGate::open(&dir.path().join("later"), Arc::new(NoPrompter)).unwrap();
    assert!(!dir.path().join("later").exists());
    assert_eq!(gate.approvals_path(), dir.path().join("later").join("exec-approvals.json"));
    assert_eq!(gate.audit_path(), dir.path().join("later").join("exec-audit.jsonl"));
}

#[test]
fn set_through_the_gate_rejects_stale_hash_and_bad_files() {
    let env = Env::new(Some(json!({"version": 1})), &[]);
    let snap = env.gate.snapshot().unwrap();
    assert!(snap.exists);
    let err = env.gate.set(json!({"version": 1, "defaults": {"ask": "off"}}), Some("0000")).unwrap_err();
    assert!(err.to_command_error().message.contains("baseHash"));
    let err = env.gate.set(json!({"version": 1, "defaults": {"ask": "nope"}}), Some(&snap.hash)).unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert_eq!(env.gate.snapshot().unwrap(), snap, "nothing written");
    let serialized = serde_json::to_value(&snap).unwrap();
    assert!(serialized.get("baseHash").is_none());
    assert_eq!(serialized.as_object().unwrap().keys().collect::<Vec<_>>(), ["path", "exists", "hash", "file"]);
}

/// Case 10: "Always Allow" through a wrapper stores the inner executables the plan resolved,
/// never the wrapper or the shell (an allowlisted shell is `security=full`).
#[tokio::test]
async fn allow_always_through_wrappers_stores_only_the_inner_executables() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["sh", "-lc", "ls | wc -l"], &["ls", "wc"]),
        (&["bash", "-lc", "ls | wc -l"], &["ls", "wc"]),
        (&["env", "LANG=C", "ls"], &["ls"]),
        (&["time", "ls"], &["ls"]),
        (&["nice", "-n", "5", "ls"], &["ls"]),
        (&["xargs", "-r", "rm"], &["rm"]),
        (&["timeout", "5", "nohup", "stdbuf", "-oL", "wc"], &["wc"]),
        (&["sh", "-c", "time ls && xargs rm"], &["ls", "rm"]),
    ];
    for (argv, stored) in cases {
        let env = Env::with(ALLOWLIST_ON_MISS(), &[], &[ALLOW_ALWAYS]);
        assert_eq!(env.check(argv).await, allowed(AllowedVia::PromptAlways), "{argv:?}");
        let list = env.disk()["agents"]["main"]["allowlist"].as_array().unwrap().clone();
        let patterns: Vec<&str> = list.iter().map(|e| e["pattern"].as_str().unwrap()).collect();
        let expected: Vec<String> = stored.iter().map(|b| env.bin(b)).collect();
        assert_eq!(patterns, expected, "{argv:?}");
        assert!(!patterns.iter().any(|p| p.ends_with("/sh") || p.ends_with("/bash")), "{argv:?}");
    }
}

#[tokio::test]
async fn a_shell_running_a_file_is_never_stored_by_allow_always() {
    let env = Env::with(ALLOWLIST_ON_MISS(), &[], &[ALLOW_ALWAYS]);
    let before = env.gate.snapshot().unwrap().hash;
    assert_eq!(env.check(&["sh", "script.sh"]).await, allowed(AllowedVia::PromptOnce));
    assert!(!env.asked()[0].allow_always, "Always Allow is not offered for a shell");
    assert_eq!(env.gate.snapshot().unwrap().hash, before);
}

/// Case 2 at the gate: the plan it returns spawns the absolute path it checked.
#[tokio::test]
async fn the_gate_plans_the_absolute_path_it_checked() {
    let env = Env::with(ALLOWLIST_OFF(), &["ls"], &[]);
    // A fake `ls` in the working directory, and `.` first in PATH.
    std::fs::copy(env.bin.join("ls"), env.root.join("ls")).unwrap();
    let mut req = env.req(&["ls", "-la"]);
    req.env_path = Some(format!(".:{}", env.bin.display()));
    let plan = env.gate.check_plan(&req).await;
    assert_eq!(plan.outcome, allowed(AllowedVia::Allowlist));
    assert_eq!(plan.exec_argv, Some(vec![env.bin("ls"), "-la".to_string()]));
    assert_eq!(env.audit_lines().last().unwrap()["resolvedPaths"], json!([env.bin("ls")]));
}

#[tokio::test]
async fn adding_a_shell_or_command_runner_to_an_allowlist_warns() {
    let env = Env::new(None, &[]);
    let file = json!({"version": 1, "agents": {"main": {"allowlist": [{"pattern": "/usr/bin/ls"}, {"pattern": "/bin/sh"}, {"pattern": "/usr/bin/git"}]}}});
    let (snapshot, warnings) = env.gate.set_with_warnings(file.clone(), None).unwrap();
    assert_eq!(
        warnings,
        [
            "/bin/sh: a shell runs any command; allowlisting it is the same as security=full",
            "/usr/bin/git: runs commands (-c alias.x='!cmd', core.pager, hooks, GIT_* variables); allowlisting it lets a caller run other programs",
        ]
    );
    // Only what a set adds is warned about.
    let mut more = file;
    more["agents"]["main"]["allowlist"].as_array_mut().unwrap().push(json!({"pattern": "/usr/bin/python3"}));
    let (_, warnings) = env.gate.set_with_warnings(more, Some(&snapshot.hash)).unwrap();
    assert_eq!(warnings, ["/usr/bin/python3: runs inline code (-c); allowlisting it lets a caller run other programs"]);
}
