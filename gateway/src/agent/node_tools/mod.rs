//! The agent's hands: tools that act through connected nodes (`nodes`, `exec`, `camera`,
//! `screen`, `notify`, `canvas`). Every call goes through the same command policy as an
//! operator's `node.invoke`; `exec` additionally goes through the node's exec approvals and,
//! when the node needs a decision, through the gateway's approval broker — the turn waits for
//! a person and the model is told the outcome.

mod camera;
mod canvas;
mod exec;
mod nodes;
mod notify;
mod screen;

use std::sync::Arc;
use std::time::Duration;

use pincer_agent::model::Content;
use pincer_agent::tool::{Tool, ToolContext, ToolOutput};
use pincer_protocol::nodes::commands;
use pincer_protocol::ErrorShape;
use serde_json::{json, Map, Value};

use crate::nodes::system_run::RunRequester;
use crate::nodes::{InvokeOutcome, NodeSession};
use crate::services::node_routing::{check_command, invoke_node, invoke_system_run};
use crate::state::SharedState;

/// Wait for one node command (a person answering an approval is waited for separately).
const NODE_CALL_TIMEOUT: Duration = Duration::from_secs(60);

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
    let mut tools: Vec<Arc<dyn Tool>> = vec![Arc::new(nodes::NodesTool { state: state.clone() })];
    if declared(commands::SYSTEM_RUN) {
        tools.push(Arc::new(exec::ExecTool { state: state.clone(), ask }));
    }
    if declared("camera.") {
        tools.push(Arc::new(camera::CameraTool { state: state.clone() }));
    }
    if declared("screen.") {
        tools.push(Arc::new(screen::ScreenTool { state: state.clone() }));
    }
    if declared(commands::SYSTEM_NOTIFY) {
        tools.push(Arc::new(notify::NotifyTool { state: state.clone() }));
    }
    if declared("canvas.") {
        tools.push(Arc::new(canvas::CanvasTool { state: state.clone() }));
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
            invoke_system_run(state, Some(&RunRequester::agent()), node_id, Some(params), Some(timeout), key, session_key).await
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

// ---- shared by the tools -------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;

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
