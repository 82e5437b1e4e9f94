//! `system.run` and `system.run.prepare`: run an argv (never an implicit shell) under the
//! node's exec-approval gate, with a timeout that kills the whole process tree and a shared
//! 200,000-byte output cap.
//!
//! What the gate checks is exactly what runs: the gate resolves every program with the PATH
//! the child gets (only absolute entries; see `env_policy`), and the node spawns the argv the
//! gate planned, whose program words are those resolved absolute paths.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use command_group::{AsyncCommandGroup, AsyncGroupChild};
use pincer_protocol::approvals::ExecDecision;
use pincer_protocol::node_commands::{ExecEvent, SystemRunParams, SystemRunPlan, SystemRunPrepareResult, SystemRunResult};
use serde_json::{Map, Value};

use super::env_policy;
use super::output::{capture, to_text, OutputBudget, OUTPUT_CAP_BYTES};
use super::process_tree;
use super::{parse_params, to_result, InvokeContext};
use crate::approvals::{ExecGate, ExecRequest, GateOutcome, GatePlan};
use crate::error::CommandError;
use crate::events::NodeEvents;

/// After the main process exits, how long to wait for grandchildren still holding its pipes.
const PIPE_DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The validated form of a run request, shared by `system.run` and `system.run.prepare`.
#[derive(Debug, Clone)]
struct Plan {
    argv: Vec<String>,
    cwd: Option<PathBuf>,
    command_text: String,
    agent_id: String,
    session_key: Option<String>,
}

/// The shell script of a shell-wrapper argv (`sh -c SCRIPT`, `bash -lc SCRIPT`, `cmd /c …`),
/// recognised exactly as the exec-approval gate recognises it.
pub fn shell_script(argv: &[String]) -> Option<&str> {
    crate::approvals::command::shell_script(argv).map(|(script, _)| script)
}

/// How argv is shown to a person: the script of a shell wrapper, else the quoted words.
fn command_text(argv: &[String]) -> String {
    match shell_script(argv) {
        Some(script) => script.to_string(),
        None => argv.iter().map(|a| quote_word(a)).collect::<Vec<_>>().join(" "),
    }
}

fn quote_word(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `rawCommand` is display text; it must describe the same command as argv, or an approval
/// shown for one thing would run another.
fn raw_command_matches(raw: &str, argv: &[String]) -> bool {
    let raw = raw.trim();
    raw == command_text(argv).trim() || raw == argv.join(" ") || shell_script(argv).is_some_and(|s| s.trim() == raw)
}

fn validate(params: &SystemRunParams) -> Result<Plan, CommandError> {
    if params.command.is_empty() || params.command[0].trim().is_empty() {
        return Err(CommandError::invalid_request("command must be a non-empty argv array"));
    }
    if params.command.iter().any(|a| a.contains('\0')) {
        return Err(CommandError::invalid_request("command arguments must not contain NUL bytes"));
    }
    if let Some(raw) = &params.raw_command {
        if raw.contains('\0') || !raw_command_matches(raw, &params.command) {
            return Err(CommandError::invalid_request("rawCommand does not match command"));
        }
    }
    let cwd = match params.cwd.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) if c.contains('\0') => return Err(CommandError::invalid_request("cwd must not contain NUL bytes")),
        Some(c) => {
            let path = PathBuf::from(c);
            match path.canonicalize() {
                Ok(p) if p.is_dir() => Some(p),
                Ok(_) => return Err(CommandError::invalid_request(format!("working directory is not a directory: {c}"))),
                Err(_) => return Err(CommandError::invalid_request(format!("working directory not found: {c}"))),
            }
        }
    };
    Ok(Plan {
        argv: params.command.clone(),
        cwd,
        command_text: params.raw_command.clone().unwrap_or_else(|| command_text(&params.command)),
        agent_id: params.agent_id.clone().filter(|a| !a.is_empty()).unwrap_or_else(|| "main".into()),
        session_key: params.session_key.clone(),
    })
}

/// `system.run.prepare`: the canonical plan, without running anything.
pub async fn prepare(params: Value, _ctx: InvokeContext) -> Result<Value, CommandError> {
    let params: SystemRunParams = parse_params("system.run.prepare", params)?;
    let plan = validate(&params)?;
    let cwd = plan.cwd.as_ref().map(|p| p.to_string_lossy().into_owned());
    let prepared = SystemRunPrepareResult {
        cmd_text: plan.command_text.clone(),
        plan: SystemRunPlan {
            argv: plan.argv,
            cwd,
            command_preview: plan.command_text.chars().take(200).collect(),
            command_text: plan.command_text,
            agent_id: plan.agent_id,
            session_key: plan.session_key,
            extra: Map::new(),
        },
        extra: Map::new(),
    };
    to_result("system.run.prepare", &prepared)
}

/// The `system.run` command.
#[derive(Clone)]
pub struct SystemRun {
    pub gate: Arc<ExecGate>,
    pub events: NodeEvents,
}

impl SystemRun {
    pub async fn run(&self, params: Value, ctx: InvokeContext) -> Result<Value, CommandError> {
        let params: SystemRunParams = parse_params("system.run", params)?;
        let plan = validate(&params)?;
        let session_key = plan.session_key.clone().or_else(|| ctx.session_key.clone());
        let run_id = params.run_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let own_path = std::env::var("PATH").ok();
        let env = env_policy::sanitize(&params.env.clone().unwrap_or_default(), own_path.as_deref(), shell_script(&plan.argv).is_some());
        for dropped in &env.dropped {
            tracing::warn!(key = %dropped.key, reason = dropped.reason, "system.run: environment override dropped");
        }
        if !env.removed_own_entries.is_empty() {
            tracing::warn!(removed = ?env.removed_own_entries, "system.run: relative or empty entries of the node's PATH are not passed on");
        }
        let approved_by_gateway = match (params.approved, params.approval_decision.as_deref()) {
            (Some(true), Some(d)) => ExecDecision::parse(d).or(Some(ExecDecision::AllowOnce)),
            (Some(true), None) => Some(ExecDecision::AllowOnce),
            _ => None,
        };
        let request = ExecRequest {
            argv: plan.argv.clone(),
            raw_command: Some(plan.command_text.clone()),
            cwd: plan.cwd.clone(),
            agent_id: Some(plan.agent_id.clone()),
            session_key: session_key.clone(),
            approved_by_gateway,
            env_path: env.child_path.clone(),
        };
        let GatePlan { outcome, exec_argv } = self.gate.check_plan(&request).await;
        let exec_event = ExecEvent {
            session_key: session_key.clone(),
            run_id: run_id.clone(),
            host: "node".into(),
            command: plan.command_text.clone(),
            reason: None,
            exit_code: None,
            timed_out: None,
            success: None,
            output: None,
            extra: Map::new(),
        };
        if let GateOutcome::Denied { message } = outcome {
            self.send_exec_event("exec.denied", ExecEvent { reason: Some(message.clone()), ..exec_event });
            return Err(CommandError::unavailable(message));
        }
        let timeout = match params.timeout_ms {
            Some(ms) if ms > 0 => Some(Duration::from_millis(ms as u64)),
            _ => None,
        };
        self.send_exec_event("exec.started", exec_event.clone());
        let mut child_env = env.keep.clone();
        if let Some(path) = &env.child_path {
            child_env.insert("PATH".into(), path.clone());
        }
        let mut result = match exec_argv {
            Some(argv) => execute(&argv, plan.cwd.as_deref(), &child_env, timeout, &ctx).await,
            None => not_started(format!("command not found: {}", plan.argv[0])),
        };
        if !env.dropped.is_empty() {
            // Extra result field: OpenClaw's clients read the fields they know and ignore the rest.
            result.env_dropped = Some(env.dropped_overrides());
        }
        let finished = ExecEvent {
            exit_code: Some(result.exit_code),
            timed_out: Some(result.timed_out),
            success: Some(result.success),
            output: Some(result.stdout.chars().take(2_000).collect()),
            ..exec_event
        };
        self.send_exec_event("exec.finished", finished);
        if ctx.cancel.is_cancelled() && !result.timed_out {
            return Err(CommandError::new(crate::codes::CANCELLED, "system.run was cancelled; the process tree was killed"));
        }
        to_result("system.run", &result)
    }

    fn send_exec_event(&self, event: &str, payload: ExecEvent) {
        match serde_json::to_value(&payload) {
            Ok(payload) => self.events.send(event, payload),
            Err(e) => tracing::warn!(event, error = %e, "exec event does not serialize"),
        }
    }
}

fn not_started(message: String) -> SystemRunResult {
    SystemRunResult { error: Some(message), truncated: Some(false), duration_ms: Some(0), ..SystemRunResult::default() }
}

/// Spawn `argv` (its program words already absolute), capture, wait: the
/// `{exitCode, timedOut, success, stdout, stderr, error, truncated}` result.
async fn execute(
    argv: &[String],
    cwd: Option<&std::path::Path>,
    env: &BTreeMap<String, String>,
    timeout: Option<Duration>,
    ctx: &InvokeContext,
) -> SystemRunResult {
    let Some(program) = argv.first() else { return not_started("command must be a non-empty argv array".into()) };
    let started = Instant::now();
    let tag = uuid::Uuid::new_v4().to_string();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&argv[1..])
        .envs(env)
        .env(process_tree::RUN_TAG_VAR, &tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let mut child: AsyncGroupChild = match cmd.group_spawn() {
        Ok(c) => c,
        Err(e) => {
            let message = match e.kind() {
                std::io::ErrorKind::NotFound => format!("command not found: {program}"),
                std::io::ErrorKind::PermissionDenied => format!("permission denied: {program}"),
                _ => format!("cannot start {program}: {e}"),
            };
            return not_started(message);
        }
    };
    let budget = OutputBudget::new(OUTPUT_CAP_BYTES);
    let stdout = child.inner().stdout.take().map(|s| tokio::spawn(capture(s, budget.clone())));
    let stderr = child.inner().stderr.take().map(|s| tokio::spawn(capture(s, budget.clone())));

    let deadline = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let mut timed_out = false;
    let status = tokio::select! {
        status = child.wait() => status.ok(),
        _ = deadline => { timed_out = true; kill_tree(&mut child, &tag).await }
        _ = ctx.cancel.cancelled() => kill_tree(&mut child, &tag).await,
    };
    let collect = |task: Option<tokio::task::JoinHandle<Vec<u8>>>| async move {
        match task {
            Some(t) => tokio::time::timeout(PIPE_DRAIN_GRACE, t).await.ok().and_then(Result::ok).unwrap_or_default(),
            None => Vec::new(),
        }
    };
    let (out, err) = tokio::join!(collect(stdout), collect(stderr));
    let exit_code = status.and_then(|s| s.code());
    let error = if timed_out {
        Some(format!("timed out after {} ms; the process tree was killed", timeout.map(|t| t.as_millis()).unwrap_or(0)))
    } else if ctx.cancel.is_cancelled() {
        Some("cancelled; the process tree was killed".to_string())
    } else {
        status_error(status)
    };
    SystemRunResult {
        exit_code,
        timed_out,
        success: exit_code == Some(0) && !timed_out,
        stdout: to_text(&out),
        stderr: to_text(&err),
        error,
        truncated: Some(budget.truncated()),
        duration_ms: Some(started.elapsed().as_millis() as u64),
        env_dropped: None,
        extra: Map::new(),
    }
}

/// Kill the run's process group, and the processes that left it (see `process_tree`).
async fn kill_tree(child: &mut AsyncGroupChild, tag: &str) -> Option<std::process::ExitStatus> {
    if let Some(root) = child.id() {
        let tag = tag.to_string();
        match tokio::task::spawn_blocking(move || process_tree::kill_run(root, &tag)).await {
            Ok(n) => tracing::debug!(processes = n, "system.run: run's processes killed"),
            Err(e) => tracing::warn!(error = %e, "system.run: process tree walk failed"),
        }
    }
    if let Err(e) = child.kill().await {
        tracing::warn!(error = %e, "could not kill the process group");
    }
    child.wait().await.ok()
}

#[cfg(unix)]
fn status_error(status: Option<std::process::ExitStatus>) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    status.and_then(|s| s.signal()).map(|sig| format!("terminated by signal {sig}"))
}

#[cfg(not(unix))]
fn status_error(_status: Option<std::process::ExitStatus>) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `execute`'s result as the JSON `system.run` answers.
    async fn execute_json(
        argv: &[String],
        cwd: Option<&std::path::Path>,
        env: &BTreeMap<String, String>,
        timeout: Option<Duration>,
        ctx: &InvokeContext,
    ) -> Value {
        serde_json::to_value(execute(argv, cwd, env, timeout, ctx).await).unwrap()
    }

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shell_wrappers_are_recognised() {
        assert_eq!(shell_script(&argv(&["/bin/sh", "-lc", "ls | wc"])), Some("ls | wc"));
        assert_eq!(shell_script(&argv(&["bash", "-c", "echo hi"])), Some("echo hi"));
        assert_eq!(shell_script(&argv(&["cmd.exe", "/d", "/s", "/c", "dir"])), Some("dir"));
        assert_eq!(shell_script(&argv(&["/bin/sh", "script.sh"])), None);
        assert_eq!(shell_script(&argv(&["ls", "-c"])), None);
    }

    #[test]
    fn raw_command_must_describe_argv() {
        assert!(raw_command_matches("echo hi there", &argv(&["echo", "hi", "there"])));
        assert!(raw_command_matches("echo 'a b'", &argv(&["echo", "a b"])));
        assert!(raw_command_matches("ls | wc", &argv(&["/bin/sh", "-lc", "ls | wc"])));
        assert!(!raw_command_matches("echo hi", &argv(&["rm", "-rf", "/"])));
    }

    fn params(v: Value) -> SystemRunParams {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn validation_rejects_bad_requests_with_clear_messages() {
        let err = validate(&params(json!({"command": []}))).unwrap_err();
        assert_eq!(err.message, "command must be a non-empty argv array");
        let err = validate(&params(json!({"command": ["ec\u{0}ho"]}))).unwrap_err();
        assert_eq!(err.message, "command arguments must not contain NUL bytes");
        let err = validate(&params(json!({"command": ["ls"], "cwd": "/definitely/not/here"}))).unwrap_err();
        assert_eq!(err.message, "working directory not found: /definitely/not/here");
        let err = validate(&params(json!({"command": ["ls"], "rawCommand": "rm -rf /"}))).unwrap_err();
        assert_eq!(err.message, "rawCommand does not match command");
        assert_eq!(err.code, "INVALID_REQUEST");
    }

    #[tokio::test]
    async fn prepare_returns_the_canonical_plan() {
        let dir = tempfile::tempdir().unwrap();
        let out =
            prepare(json!({"command": ["echo", "a b"], "cwd": dir.path(), "sessionKey": "agent:main:main"}), InvokeContext::detached())
                .await
                .unwrap();
        let cwd = dir.path().canonicalize().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            out,
            json!({"cmdText": "echo 'a b'", "plan": {"argv": ["echo", "a b"], "cwd": cwd, "commandText": "echo 'a b'",
                   "commandPreview": "echo 'a b'", "agentId": "main", "sessionKey": "agent:main:main"}})
        );
    }

    #[tokio::test]
    async fn runs_argv_and_reports_exit_code_and_output() {
        let out =
            execute_json(&argv(&["sh", "-c", "echo out; echo err >&2; exit 3"]), None, &BTreeMap::new(), None, &InvokeContext::detached())
                .await;
        assert_eq!(out["exitCode"], 3);
        assert_eq!(out["success"], false);
        assert_eq!(out["stdout"], "out\n");
        assert_eq!(out["stderr"], "err\n");
        assert_eq!(out["timedOut"], false);
        assert_eq!(out["truncated"], false);
        assert_eq!(out["error"], Value::Null);
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_tree() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        // The grandchild would create the marker after 2 s if it outlived the kill.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let out = execute_json(
            &argv(&["sh", "-c", &script]),
            None,
            &BTreeMap::new(),
            Some(Duration::from_millis(300)),
            &InvokeContext::detached(),
        )
        .await;
        assert_eq!(out["timedOut"], true);
        assert_eq!(out["success"], false);
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert!(!marker.exists(), "a grandchild outlived the timeout kill");
    }

    /// The probe: a `setsid` grandchild leaves the process group that the group kill targets.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn timeout_kills_a_grandchild_that_left_the_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let script = format!("setsid sh -c 'sleep 2; touch {}' & sleep 30", marker.display());
        let out = execute_json(
            &argv(&["sh", "-c", &script]),
            None,
            &BTreeMap::new(),
            Some(Duration::from_millis(500)),
            &InvokeContext::detached(),
        )
        .await;
        assert_eq!(out["timedOut"], true);
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert!(!marker.exists(), "a setsid grandchild outlived the timeout kill");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn cancel_kills_a_grandchild_that_left_the_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let script = format!("setsid sh -c 'sleep 2; touch {}' & sleep 30", marker.display());
        let ctx = InvokeContext::detached();
        let cancel = ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            cancel.cancel();
        });
        let out = execute_json(&argv(&["sh", "-c", &script]), None, &BTreeMap::new(), None, &ctx).await;
        assert_eq!(out["error"], "cancelled; the process tree was killed");
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert!(!marker.exists(), "a setsid grandchild outlived the cancel");
    }

    #[tokio::test]
    async fn output_is_capped_and_flagged() {
        let out = execute_json(
            &argv(&["sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' a"]),
            None,
            &BTreeMap::new(),
            None,
            &InvokeContext::detached(),
        )
        .await;
        assert_eq!(out["stdout"].as_str().unwrap().len(), OUTPUT_CAP_BYTES);
        assert_eq!(out["truncated"], true);
        assert_eq!(out["success"], true);
    }

    #[tokio::test]
    async fn a_missing_binary_is_reported_not_panicked() {
        let out = execute_json(&argv(&["/no/such/binary-pincer"]), None, &BTreeMap::new(), None, &InvokeContext::detached()).await;
        assert_eq!(out["success"], false);
        assert_eq!(out["exitCode"], Value::Null);
        assert_eq!(out["error"], "command not found: /no/such/binary-pincer");
    }

    #[tokio::test]
    async fn environment_overrides_reach_the_child() {
        let env: BTreeMap<String, String> = [("PINCER_T".to_string(), "v1".to_string())].into();
        let out = execute_json(&argv(&["sh", "-c", "printf %s \"$PINCER_T\""]), None, &env, None, &InvokeContext::detached()).await;
        assert_eq!(out["stdout"], "v1");
    }
}
