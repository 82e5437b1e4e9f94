//! `exec`: run a shell command on a node, through its exec approvals and, when the node
//! needs a decision, the gateway's approval flow (the turn waits for a person).

use std::time::Duration;

use futures_util::future::BoxFuture;
use pincer_agent::model::Content;
use pincer_agent::provider::ToolSpec;
use pincer_agent::tool::{Tool, ToolContext, ToolOutput};
use pincer_protocol::approvals::ExecDecision;
use pincer_protocol::nodes::commands;
use serde_json::{json, Value};

use super::{call_node, node_label, pick_node, str_arg, ExecAsk, NODE_CALL_TIMEOUT};
use crate::approvals::Resolution;
use crate::nodes::NodeSession;
use crate::state::SharedState;

/// Longest `exec` the agent may ask for.
const MAX_EXEC_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(120);
/// Node denials that mean "a person must decide", as OpenClaw's node hosts word them.
const NEEDS_APPROVAL: &str = "SYSTEM_RUN_DENIED: approval required";

pub(super) struct ExecTool {
    pub(super) state: SharedState,
    pub(super) ask: ExecAsk,
}

/// The argv that runs a shell string on a node's platform.
fn shell_argv(platform: &str, command: &str) -> Vec<String> {
    if platform.to_ascii_lowercase().starts_with("win") {
        vec!["cmd.exe".into(), "/d".into(), "/s".into(), "/c".into(), command.into()]
    } else {
        vec!["/bin/sh".into(), "-lc".into(), command.into()]
    }
}

impl ExecTool {
    /// Ask a person about `plan`; returns the approval id and its resolution.
    async fn ask_person(
        &self,
        node: &NodeSession,
        command: &str,
        plan: &Value,
        env: Option<&Value>,
        ctx: &ToolContext<'_>,
    ) -> Result<(String, Resolution), String> {
        let mut request = json!({
            "command": command,
            "host": "node",
            "nodeId": node.node_id,
            "systemRunPlan": plan,
            "cwd": plan.get("cwd"),
            "agentId": "main",
            "sessionKey": ctx.session_key,
            "runId": ctx.run_id,
        });
        // The approval binds the env overrides too: they are part of what runs.
        if let Some(env) = env {
            request["env"] = env.clone();
        }
        let progress = ctx.progress;
        let opened = |summary: &Value| {
            progress(json!({"status": "waiting-for-approval", "approvalId": summary["id"], "command": command,
                            "nodeId": node.node_id, "expiresAtMs": summary["expiresAtMs"]}));
        };
        crate::services::approval_flow::ask_person(&self.state, request, "agent", ctx.cancel, opened).await.map_err(|e| e.message)
    }
}

impl Tool for ExecTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "exec".into(),
            description: "Run a shell command on a connected device (node) and get its exit code, stdout and stderr. \
                A person may have to approve the command first; if they deny it, do not retry it — tell them \
                what you wanted to do instead."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "Shell command line (sh on Linux/macOS, cmd.exe on Windows)"},
                    "node": {"type": "string", "description": "Node id or display name; default: the first node that can run commands"},
                    "cwd": {"type": "string", "description": "Working directory on the node"},
                    "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 1800},
                    "env": {"type": "object", "additionalProperties": {"type": "string"}}
                },
                "required": ["command"]
            }),
        }
    }

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let Some(command) = args.get("command").and_then(Value::as_str).filter(|c| !c.trim().is_empty()) else {
                return ToolOutput::error("`command` is required: the shell command line to run.");
            };
            let node = match pick_node(&self.state, str_arg(&args, "node"), commands::SYSTEM_RUN) {
                Ok(n) => n,
                Err(e) => return ToolOutput::error(e),
            };
            let timeout = args
                .get("timeoutSeconds")
                .and_then(Value::as_u64)
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_EXEC_TIMEOUT)
                .min(MAX_EXEC_TIMEOUT);
            let mut params = json!({
                "command": shell_argv(&node.conn.client.platform, command),
                "rawCommand": command,
                "agentId": "main",
                "sessionKey": ctx.session_key,
                "runId": ctx.run_id,
                "timeoutMs": timeout.as_millis() as u64,
            });
            if let Some(cwd) = str_arg(&args, "cwd") {
                params["cwd"] = json!(cwd);
            }
            if let Some(env) = args.get("env").filter(|e| e.is_object()) {
                params["env"] = env.clone();
            }
            let wait = timeout + Duration::from_secs(10);

            // The plan binds an approval to exactly what will run (canonical argv and cwd).
            let plan = if node.commands.iter().any(|c| c == commands::SYSTEM_RUN_PREPARE) {
                match call_node(&self.state, &node, commands::SYSTEM_RUN_PREPARE, &params, NODE_CALL_TIMEOUT, &ctx).await {
                    Ok(prepared) => prepared.get("plan").cloned().unwrap_or(Value::Null),
                    Err(e) => return ToolOutput::error(format!("The node refused the command before running it: {e}")),
                }
            } else {
                json!({"argv": params["command"], "commandText": command, "cwd": params.get("cwd"), "agentId": params["agentId"],
                       "sessionKey": params["sessionKey"]})
            };
            let env = params.get("env").cloned();

            let mut decision = None;
            if self.ask == ExecAsk::Always {
                decision = Some(match self.ask_person(&node, command, &plan, env.as_ref(), &ctx).await {
                    Ok(d) => d,
                    Err(e) => return ToolOutput::error(format!("Could not ask for approval: {e}")),
                });
            }
            loop {
                if let Some((approval_id, resolution)) = &decision {
                    if resolution.effective == ExecDecision::Deny {
                        return not_approved(command, resolution);
                    }
                    params = approved_run(&plan, env.as_ref(), timeout, approval_id);
                }
                match call_node(&self.state, &node, commands::SYSTEM_RUN, &params, wait, &ctx).await {
                    Ok(result) => return exec_output(command, &node, result),
                    Err(e) if e.message.contains(NEEDS_APPROVAL) && decision.is_none() && self.ask != ExecAsk::Off => {
                        decision = Some(match self.ask_person(&node, command, &plan, env.as_ref(), &ctx).await {
                            Ok(d) => d,
                            Err(e) => return ToolOutput::error(format!("Could not ask for approval: {e}")),
                        });
                    }
                    Err(e) if e.outcome_unknown => {
                        return ToolOutput::error(format!(
                        "`{command}` was sent to {} but no result came back: {e}. Check whether it took effect before running it again.",
                        node_label(&node)
                    ))
                    }
                    Err(e) => return ToolOutput::error(format!("`{command}` did not run on {}: {e}", node_label(&node))),
                }
            }
        })
    }
}

/// The `system.run` params of an approved run: exactly the plan the person approved, naming
/// the approval as `runId`. The approval gate takes the decision from the broker's record.
fn approved_run(plan: &Value, env: Option<&Value>, timeout: Duration, approval_id: &str) -> Value {
    let mut params = json!({
        "command": plan["argv"],
        "rawCommand": plan.get("commandText").or_else(|| plan.get("rawCommand")),
        "timeoutMs": timeout.as_millis() as u64,
        "runId": approval_id,
        "approved": true,
    });
    for key in ["cwd", "agentId", "sessionKey"] {
        if let Some(v) = plan.get(key).filter(|v| !v.is_null()) {
            params[key] = v.clone();
        }
    }
    if let Some(env) = env {
        params["env"] = env.clone();
    }
    params
}

/// What the model is told when an approval ended in deny: who decided, so it does not tell the
/// person they refused something they were never shown.
fn not_approved(command: &str, resolution: &Resolution) -> ToolOutput {
    let reason = resolution.terminal_reason.unwrap_or("denied");
    let text = match resolution.terminal_reason {
        None => format!("The user denied running `{command}`. It was not run. Do not retry it; ask the user what they want instead."),
        Some("no-approval-route") => format!(
            "`{command}` needs a person's approval, but no approval client (Control UI or Pincer app) is connected to ask, so it was not run. \
             Do not retry it; tell the user it needs their approval and that an approval client must be open to give it."
        ),
        Some("expired") => format!(
            "Nobody approved `{command}` before the approval request expired, so it was not run. Do not retry it; ask the user what they want instead."
        ),
        Some(other) => format!("`{command}` was not approved ({other}), so it was not run. Do not retry it; ask the user what they want instead."),
    };
    ToolOutput::error(text).with_details(json!({"status": "denied", "reason": reason, "command": command}))
}

fn exec_output(command: &str, node: &NodeSession, result: Value) -> ToolOutput {
    let exit = result.get("exitCode").cloned().unwrap_or(Value::Null);
    let timed_out = result.get("timedOut").and_then(Value::as_bool).unwrap_or(false);
    let stdout = result.get("stdout").and_then(Value::as_str).unwrap_or("");
    let stderr = result.get("stderr").and_then(Value::as_str).unwrap_or("");
    let mut text = format!("$ {command}\n(node {}; exit code {exit}{})\n", node_label(node), if timed_out { "; timed out" } else { "" });
    if !stdout.is_empty() {
        text.push_str("stdout:\n");
        text.push_str(stdout);
        if !stdout.ends_with('\n') {
            text.push('\n');
        }
    }
    if !stderr.is_empty() {
        text.push_str("stderr:\n");
        text.push_str(stderr);
    }
    let failed = timed_out || result.get("success").and_then(Value::as_bool) == Some(false);
    ToolOutput {
        content: vec![Content::text(text)],
        is_error: failed,
        details: Some(json!({"exitCode": exit, "timedOut": timed_out, "nodeId": node.node_id})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_strings_are_wrapped_for_the_node_platform() {
        assert_eq!(shell_argv("linux", "ls -l | wc"), ["/bin/sh", "-lc", "ls -l | wc"]);
        assert_eq!(shell_argv("macos", "echo hi"), ["/bin/sh", "-lc", "echo hi"]);
        assert_eq!(shell_argv("windows", "dir"), ["cmd.exe", "/d", "/s", "/c", "dir"]);
    }
}
