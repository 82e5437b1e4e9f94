//! `screen`: a screenshot or a screen recording on a node.

use std::time::Duration;

use futures_util::future::BoxFuture;
use pincer_agent::provider::ToolSpec;
use pincer_agent::tool::{Tool, ToolContext, ToolOutput};
use serde_json::{json, Value};

use super::{action_command, forward};
use crate::state::SharedState;

pub(super) struct ScreenTool {
    pub(super) state: SharedState,
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
