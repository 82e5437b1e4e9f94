//! The agent's hands: tools that act through connected nodes (`nodes`, `exec`, `camera`,
//! `screen`, `notify`, `canvas`). Every call goes through the same command policy as an
//! operator's `node.invoke`; `exec` additionally goes through the node's exec approvals and,
//! when the node needs a decision, through the gateway's approval broker — the turn waits for
//! a person and the model is told the outcome.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use pincer_agent::model::Content;
use pincer_agent::provider::ToolSpec;
use pincer_agent::tool::{Tool, ToolContext, ToolOutput};
use pincer_protocol::approvals::ExecDecision;
use pincer_protocol::nodes::commands;
use pincer_protocol::ErrorShape;
use serde_json::{json, Map, Value};

use crate::approvals::Resolution;
use crate::methods::nodes::{check_command, invoke_node, invoke_system_run};
use crate::nodes::policy::{ADMIN_INVOKE_COMMANDS, INVOKE_BLOCKED};
use crate::nodes::system_run::Caller;
use crate::nodes::{InvokeOutcome, NodeSession};
use crate::state::SharedState;

/// Wait for one node command (a person answering an approval is waited for separately).
const NODE_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest `exec` the agent may ask for.
const MAX_EXEC_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(120);
/// Node denials that mean "a person must decide", as OpenClaw's node hosts word them.
const NEEDS_APPROVAL: &str = "SYSTEM_RUN_DENIED: approval required";

/// How the exec tool asks before running (`tools.exec.ask`, OpenClaw's key and values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecAsk {
    /// Never ask; the node's own policy decides.
    Off,
    /// Ask when the node's allowlist does not cover the command (default).
    OnMiss,
    /// Ask before every command.
    Always,
}

impl ExecAsk {
    pub fn from_config(doc: &Value) -> ExecAsk {
        match doc.pointer("/tools/exec/ask").and_then(Value::as_str) {
            Some("off") => ExecAsk::Off,
            Some("always") => ExecAsk::Always,
            _ => ExecAsk::OnMiss,
        }
    }
}

/// The node tools worth offering now: `nodes` always, the others when a connected node
/// declares a command they need.
pub fn node_tools(state: &SharedState, ask: ExecAsk) -> Vec<Arc<dyn Tool>> {
    let declared = |prefix: &str| state.nodes.all().iter().any(|n| n.commands.iter().any(|c| c.starts_with(prefix)));
    let mut tools: Vec<Arc<dyn Tool>> = vec![Arc::new(NodesTool { state: state.clone() })];
    if declared(commands::SYSTEM_RUN) {
        tools.push(Arc::new(ExecTool { state: state.clone(), ask }));
    }
    if declared("camera.") {
        tools.push(Arc::new(CameraTool { state: state.clone() }));
    }
    if declared("screen.") {
        tools.push(Arc::new(ScreenTool { state: state.clone() }));
    }
    if declared(commands::SYSTEM_NOTIFY) {
        tools.push(Arc::new(NotifyTool { state: state.clone() }));
    }
    if declared("canvas.") {
        tools.push(Arc::new(CanvasTool { state: state.clone() }));
    }
    tools
}

fn node_label(n: &NodeSession) -> String {
    let name = n.conn.client.display_name.clone().unwrap_or_default();
    if name.is_empty() {
        n.node_id.clone()
    } else {
        format!("{name} ({})", n.node_id)
    }
}

/// A one-line description per connected node, for the system prompt.
pub fn node_summaries(state: &SharedState) -> Vec<String> {
    state
        .nodes
        .all()
        .iter()
        .map(|n| format!("{} — {} — commands: {}", node_label(n), n.conn.client.platform, n.commands.join(", ")))
        .collect()
}

/// Pick the node for `command`: the one the model named (id, display name, or id prefix), or
/// the only/first connected node that may run it.
fn pick_node(state: &SharedState, requested: Option<&str>, command: &str) -> Result<Arc<NodeSession>, String> {
    let mut nodes = state.nodes.all();
    nodes.sort_by_key(|n| n.connected_at_ms);
    if nodes.is_empty() {
        return Err("No node is connected, so nothing can run on a device. Start `pincer-node run` (or the Pincer app) and pair it.".into());
    }
    let usable = |n: &Arc<NodeSession>| check_command(state, n, command).map_err(|e| e.message);
    if let Some(wanted) = requested.map(str::trim).filter(|s| !s.is_empty()) {
        let lower = wanted.to_lowercase();
        let found = nodes.iter().find(|n| n.node_id == wanted).or_else(|| {
            nodes
                .iter()
                .find(|n| n.conn.client.display_name.as_deref().is_some_and(|d| d.to_lowercase() == lower) || n.node_id.starts_with(wanted))
        });
        let Some(node) = found else {
            let names: Vec<String> = nodes.iter().map(|n| node_label(n)).collect();
            return Err(format!("No connected node matches \"{wanted}\". Connected nodes: {}.", names.join("; ")));
        };
        usable(node).map_err(|why| format!("Node {} cannot run {command}: {why}", node_label(node)))?;
        return Ok(node.clone());
    }
    let mut reasons = Vec::new();
    for node in &nodes {
        match usable(node) {
            Ok(()) => return Ok(node.clone()),
            Err(why) => reasons.push(format!("{}: {why}", node_label(node))),
        }
    }
    Err(format!("No connected node may run {command}. {}", reasons.join("; ")))
}

async fn call_node(
    state: &SharedState,
    node: &NodeSession,
    command: &str,
    params: &Value,
    timeout: Duration,
    ctx: &ToolContext<'_>,
) -> Result<Value, CallError> {
    let key = format!("{}:{}:{}", ctx.run_id, ctx.tool_call_id, uuid::Uuid::new_v4());
    let (node_id, key, session_key) = (node.node_id.as_str(), Some(key.as_str()), Some(ctx.session_key));
    // system.run goes through the approval gate as the agent: it may carry only the approvals
    // the agent itself opened.
    let call = async {
        if command == commands::SYSTEM_RUN {
            invoke_system_run(state, Some(&Caller::agent()), node_id, Some(params), Some(timeout), key, session_key).await
        } else {
            invoke_node(state, node_id, command, Some(params), Some(timeout), key, session_key).await
        }
    };
    let outcome = tokio::select! {
        outcome = call => outcome,
        _ = ctx.cancel.cancelled() => {
            return Err(CallError { message: format!("{command} was cancelled (the run was aborted)"), outcome_unknown: true })
        }
    };
    match outcome {
        Ok(InvokeOutcome::Ok(payload)) => Ok(payload.unwrap_or(Value::Null)),
        Ok(InvokeOutcome::NodeError { code, message }) => Err(CallError {
            message: if code.is_empty() || message.starts_with(&code) { message } else { format!("{code}: {message}") },
            outcome_unknown: false,
        }),
        Err(shape) => Err(describe_error(&shape)),
    }
}

/// Why a node call failed.
struct CallError {
    message: String,
    /// The node had the command when the call ended without its answer (it disconnected, did
    /// not answer in time, or the run was aborted), so it may have run.
    outcome_unknown: bool,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn describe_error(shape: &ErrorShape) -> CallError {
    let dispatched = shape.details.as_ref().and_then(|d| d.get("nodeCommandDispatched")).and_then(Value::as_bool) == Some(true);
    let message = if dispatched {
        format!("{} (the node had already received the command, so it may have run; its outcome is unknown)", shape.message)
    } else {
        shape.message.clone()
    };
    CallError { message, outcome_unknown: dispatched }
}

fn str_arg<'a>(args: &'a Value, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// Move `base64` media out of a payload: images become image content the model can see,
/// other media (videos) are summarised; the remaining JSON is returned as text.
fn payload_to_output(payload: Value, what: &str) -> ToolOutput {
    let mut content = Vec::new();
    let mut payload = payload;
    let mut extract = |obj: &mut Map<String, Value>| {
        if let Some(Value::String(data)) = obj.get("base64").cloned() {
            let format = obj.get("format").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
            let mime = match format.as_str() {
                "png" => Some("image/png"),
                "jpg" | "jpeg" => Some("image/jpeg"),
                "webp" => Some("image/webp"),
                _ => None,
            };
            let bytes = data.len() / 4 * 3;
            match mime {
                Some(mime) => {
                    content.push(Content::Image { data, mime_type: mime.to_string() });
                    obj.insert("base64".into(), json!(format!("<{bytes} bytes of {format}, attached as an image>")));
                }
                None => {
                    obj.insert("base64".into(), json!(format!("<{bytes} bytes of {format} media, not shown to the model>")));
                }
            }
        }
    };
    match &mut payload {
        Value::Object(obj) => extract(obj),
        Value::Array(items) => {
            for item in items {
                if let Value::Object(obj) = item {
                    extract(obj);
                }
            }
        }
        _ => {}
    }
    let text = format!("{what}: {}", serde_json::to_string(&payload).unwrap_or_default());
    let mut out = vec![Content::text(text)];
    out.extend(content);
    ToolOutput { content: out, is_error: false, details: Some(payload) }
}

// ---- nodes ------------------------------------------------------------------------------

/// The agent acts for whoever sent the message (operator.write), so it never gets what a direct
/// `node.invoke` reserves for admins, nor the approvals files.
fn agent_may_invoke(command: &str) -> bool {
    !INVOKE_BLOCKED.contains(&command) && !ADMIN_INVOKE_COMMANDS.contains(&command)
}

struct NodesTool {
    state: SharedState,
}

impl Tool for NodesTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "nodes".into(),
            description: "Devices (nodes) connected to this gateway. action=list shows each node with the commands it offers; \
                action=describe gives one node's details; action=invoke runs one node command with JSON params \
                (e.g. location.get, system.which, camera.list). Use the exec tool for shell commands."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": ["list", "describe", "invoke"]},
                    "node": {"type": "string", "description": "Node id or display name (describe/invoke; optional when only one node fits)"},
                    "command": {"type": "string", "description": "Node command for invoke, e.g. location.get"},
                    "params": {"type": "object", "description": "Command params for invoke"},
                    "timeoutMs": {"type": "integer", "minimum": 1, "maximum": 600000}
                },
                "required": ["action"]
            }),
        }
    }

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            match str_arg(&args, "action") {
                Some("list") => {
                    let nodes: Vec<Value> = self
                        .state
                        .nodes
                        .all()
                        .iter()
                        .map(|n| {
                            // What the agent may invoke: the policy's verdict, minus what `invoke`
                            // refuses anyway (exec approvals are a person's business).
                            let usable: Vec<&String> =
                                n.commands.iter().filter(|c| agent_may_invoke(c) && check_command(&self.state, n, c).is_ok()).collect();
                            json!({"nodeId": n.node_id, "displayName": n.conn.client.display_name, "platform": n.conn.client.platform,
                                   "commands": usable})
                        })
                        .collect();
                    if nodes.is_empty() {
                        return ToolOutput::text("No nodes are connected.");
                    }
                    ToolOutput::text(serde_json::to_string_pretty(&nodes).unwrap_or_default())
                }
                Some("describe") => {
                    let Some(wanted) = str_arg(&args, "node") else {
                        return ToolOutput::error("describe needs `node` (a node id or display name).");
                    };
                    let found = self.state.nodes.all().into_iter().find(|n| {
                        n.node_id == wanted || n.conn.client.display_name.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(wanted))
                    });
                    match found {
                        Some(n) => match crate::methods::nodes::describe(&self.state, json!({"nodeId": n.node_id})) {
                            Ok(v) => ToolOutput::text(serde_json::to_string_pretty(&v).unwrap_or_default()),
                            Err(e) => ToolOutput::error(e.message),
                        },
                        None => ToolOutput::error(format!("No connected node matches \"{wanted}\". Use action=list.")),
                    }
                }
                Some("invoke") => {
                    let Some(command) = str_arg(&args, "command") else {
                        return ToolOutput::error("invoke needs `command`, e.g. \"location.get\".");
                    };
                    if ADMIN_INVOKE_COMMANDS.contains(&command) {
                        return ToolOutput::error(format!(
                            "{command} needs an operator with operator.admin; it is not available to the agent."
                        ));
                    }
                    if INVOKE_BLOCKED.contains(&command) {
                        return ToolOutput::error(format!(
                            "{command} is not available to the agent: exec approvals are changed by a person, not by the agent."
                        ));
                    }
                    if command == commands::SYSTEM_RUN {
                        return ToolOutput::error("Use the exec tool to run shell commands (it handles approvals).");
                    }
                    let node = match pick_node(&self.state, str_arg(&args, "node"), command) {
                        Ok(n) => n,
                        Err(e) => return ToolOutput::error(e),
                    };
                    let params = args.get("params").cloned().unwrap_or_else(|| json!({}));
                    if !params.is_object() {
                        return ToolOutput::error("`params` must be a JSON object.");
                    }
                    let timeout = args.get("timeoutMs").and_then(Value::as_u64).map(Duration::from_millis).unwrap_or(NODE_CALL_TIMEOUT);
                    match call_node(&self.state, &node, command, &params, timeout, &ctx).await {
                        Ok(payload) => payload_to_output(payload, &format!("{command} on {}", node_label(&node))),
                        Err(e) => ToolOutput::error(format!("{command} on {} failed: {e}", node_label(&node))),
                    }
                }
                Some(other) => ToolOutput::error(format!("Unknown action \"{other}\"; use list, describe or invoke.")),
                None => ToolOutput::error("`action` is required: list, describe or invoke."),
            }
        })
    }
}

// ---- exec -------------------------------------------------------------------------------

struct ExecTool {
    state: SharedState,
    ask: ExecAsk,
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
        crate::methods::approvals::ask_person(&self.state, request, "agent", ctx.cancel, opened).await.map_err(|e| e.message)
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

// ---- camera / screen / notify / canvas ----------------------------------------------------

/// A tool that maps `action` to one node command and passes the other arguments as params.
async fn forward(state: &SharedState, args: &Value, command: &str, ctx: &ToolContext<'_>, timeout: Duration) -> ToolOutput {
    let node = match pick_node(state, str_arg(args, "node"), command) {
        Ok(n) => n,
        Err(e) => return ToolOutput::error(e),
    };
    let mut params = args.clone();
    if let Some(obj) = params.as_object_mut() {
        obj.remove("action");
        obj.remove("node");
    }
    match call_node(state, &node, command, &params, timeout, ctx).await {
        Ok(payload) => payload_to_output(payload, &format!("{command} on {}", node_label(&node))),
        Err(e) => ToolOutput::error(format!("{command} on {} failed: {e}", node_label(&node))),
    }
}

fn action_command(args: &Value, table: &[(&str, &str)]) -> Result<String, ToolOutput> {
    let names: Vec<&str> = table.iter().map(|(a, _)| *a).collect();
    match str_arg(args, "action") {
        Some(a) => table
            .iter()
            .find(|(name, _)| *name == a)
            .map(|(_, c)| c.to_string())
            .ok_or_else(|| ToolOutput::error(format!("Unknown action \"{a}\"; use one of: {}.", names.join(", ")))),
        None => Err(ToolOutput::error(format!("`action` is required: one of {}.", names.join(", ")))),
    }
}

struct CameraTool {
    state: SharedState,
}

const CAMERA_ACTIONS: &[(&str, &str)] = &[("list", "camera.list"), ("snap", "camera.snap"), ("clip", "camera.clip")];

impl Tool for CameraTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "camera".into(),
            description: "A node's camera: action=list (cameras), snap (a photo you will see), clip (a short video, not shown to you)."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": ["list", "snap", "clip"]},
                    "node": {"type": "string"},
                    "facing": {"type": "string", "enum": ["front", "back"]},
                    "deviceId": {"type": "string"},
                    "maxWidth": {"type": "integer", "minimum": 64, "maximum": 4096},
                    "durationMs": {"type": "integer", "minimum": 100, "maximum": 60000}
                },
                "required": ["action"]
            }),
        }
    }

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            match action_command(&args, CAMERA_ACTIONS) {
                Ok(command) => forward(&self.state, &args, &command, &ctx, Duration::from_secs(90)).await,
                Err(e) => e,
            }
        })
    }
}

struct ScreenTool {
    state: SharedState,
}

const SCREEN_ACTIONS: &[(&str, &str)] = &[("snapshot", "screen.snapshot"), ("record", "screen.record")];

impl Tool for ScreenTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "screen".into(),
            description: "A node's screen: action=snapshot (a screenshot you will see), record (a short recording, not shown to you)."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": ["snapshot", "record"]},
                    "node": {"type": "string"},
                    "screenIndex": {"type": "integer", "minimum": 0},
                    "maxWidth": {"type": "integer", "minimum": 64, "maximum": 4096},
                    "durationMs": {"type": "integer", "minimum": 100, "maximum": 60000}
                },
                "required": ["action"]
            }),
        }
    }

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            match action_command(&args, SCREEN_ACTIONS) {
                Ok(command) => forward(&self.state, &args, &command, &ctx, Duration::from_secs(90)).await,
                Err(e) => e,
            }
        })
    }
}

struct NotifyTool {
    state: SharedState,
}

impl Tool for NotifyTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "notify".into(),
            description: "Show a desktop notification on a node (the person's computer).".into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "title": {"type": "string", "maxLength": 256},
                    "body": {"type": "string", "maxLength": 4096},
                    "node": {"type": "string"},
                    "priority": {"type": "string", "enum": ["passive", "active", "timeSensitive"]}
                },
                "required": ["title"]
            }),
        }
    }

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            if str_arg(&args, "title").is_none() && str_arg(&args, "body").is_none() {
                return ToolOutput::error("A notification needs a `title` or a `body`.");
            }
            forward(&self.state, &args, commands::SYSTEM_NOTIFY, &ctx, NODE_CALL_TIMEOUT).await
        })
    }
}

struct CanvasTool {
    state: SharedState,
}

const CANVAS_ACTIONS: &[(&str, &str)] = &[
    ("present", "canvas.present"),
    ("hide", "canvas.hide"),
    ("navigate", "canvas.navigate"),
    ("eval", "canvas.eval"),
    ("snapshot", "canvas.snapshot"),
    ("a2ui_push", "canvas.a2ui.pushJSONL"),
    ("a2ui_reset", "canvas.a2ui.reset"),
];

impl Tool for CanvasTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "canvas".into(),
            description: "A node's canvas window: present/hide it, navigate to a URL, eval JavaScript in it, snapshot it \
                (an image you will see), or push A2UI JSONL (a2ui_push with `jsonl`) / reset it."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": ["present", "hide", "navigate", "eval", "snapshot", "a2ui_push", "a2ui_reset"]},
                    "node": {"type": "string"},
                    "url": {"type": "string"},
                    "javaScript": {"type": "string"},
                    "jsonl": {"type": "string", "description": "A2UI v0.8 messages, one JSON object per line"}
                },
                "required": ["action"]
            }),
        }
    }

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            match action_command(&args, CANVAS_ACTIONS) {
                Ok(command) => forward(&self.state, &args, &command, &ctx, NODE_CALL_TIMEOUT).await,
                Err(e) => e,
            }
        })
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

    #[test]
    fn images_in_payloads_go_to_the_model_as_images_and_videos_do_not() {
        let out = payload_to_output(json!({"format": "jpg", "base64": "AAAA", "width": 2}), "camera.snap");
        assert_eq!(out.content.len(), 2);
        assert_eq!(out.content[1], Content::Image { data: "AAAA".into(), mime_type: "image/jpeg".into() });
        assert!(out.content[0].as_text().unwrap().contains("attached as an image"));
        let video = payload_to_output(json!({"format": "avi", "base64": "AAAA"}), "screen.record");
        assert_eq!(video.content.len(), 1);
        assert!(!video.content[0].as_text().unwrap().contains("AAAA"));
    }

    #[test]
    fn exec_ask_reads_openclaws_key() {
        assert_eq!(ExecAsk::from_config(&json!({})), ExecAsk::OnMiss);
        assert_eq!(ExecAsk::from_config(&json!({"tools": {"exec": {"ask": "always"}}})), ExecAsk::Always);
        assert_eq!(ExecAsk::from_config(&json!({"tools": {"exec": {"ask": "off"}}})), ExecAsk::Off);
    }
}
