//! `canvas`: show, navigate, evaluate and snapshot a node's canvas.

use futures_util::future::BoxFuture;
use pincer_agent::provider::ToolSpec;
use pincer_agent::tool::{Tool, ToolContext, ToolOutput};
use serde_json::{json, Value};

use super::{action_command, forward, NODE_CALL_TIMEOUT};
use crate::state::SharedState;

pub(super) struct CanvasTool {
    pub(super) state: SharedState,
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
