//! `notify`: a desktop notification on a node.

use futures_util::future::BoxFuture;
use pincer_agent::provider::ToolSpec;
use pincer_agent::tool::{Tool, ToolContext, ToolOutput};
use pincer_protocol::nodes::commands;
use serde_json::{json, Value};

use super::{forward, str_arg, NODE_CALL_TIMEOUT};
use crate::state::SharedState;

pub(super) struct NotifyTool {
    pub(super) state: SharedState,
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
