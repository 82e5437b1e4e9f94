//! `camera`: list cameras, take a photo or a clip on a node.

use std::time::Duration;

use futures_util::future::BoxFuture;
use pincer_agent::provider::ToolSpec;
use pincer_agent::tool::{Tool, ToolContext, ToolOutput};
use serde_json::{json, Value};

use super::{action_command, forward};
use crate::state::SharedState;

pub(super) struct CameraTool {
    pub(super) state: SharedState,
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
