//! `nodes`: list and describe the connected nodes, and invoke a declared command on one.

use std::time::Duration;

use futures_util::future::BoxFuture;
use pincer_agent::provider::ToolSpec;
use pincer_agent::tool::{Tool, ToolContext, ToolOutput};
use pincer_protocol::nodes::commands;
use serde_json::{json, Value};

use super::{call_node, node_label, payload_to_output, pick_node, str_arg, NODE_CALL_TIMEOUT};
use crate::nodes::policy::{ADMIN_INVOKE_COMMANDS, INVOKE_BLOCKED};
use crate::services::node_routing::check_command;
use crate::state::SharedState;

/// The agent acts for whoever sent the message (operator.write), so it never gets what a direct
/// `node.invoke` reserves for admins, nor the approvals files.
fn agent_may_invoke(command: &str) -> bool {
    !INVOKE_BLOCKED.contains(&command) && !ADMIN_INVOKE_COMMANDS.contains(&command)
}

pub(super) struct NodesTool {
    pub(super) state: SharedState,
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
                        Some(n) => match crate::services::node_directory::describe(&self.state, &n.node_id) {
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
