//! `write {path, content}`: create or replace a whole file, atomically.

use std::fs;
use std::io;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::common::{args_object, atomic_write, blocking_mutation, create_parent_dirs, req_string, MutationLock, ABORTED};
use crate::provider::ToolSpec;
use crate::tool::{Tool, ToolContext, ToolOutput};
use crate::workspace::Workspace;

pub struct WriteTool {
    ws: Arc<Workspace>,
    lock: MutationLock,
}

impl WriteTool {
    pub(crate) fn new(ws: Arc<Workspace>, lock: MutationLock) -> WriteTool {
        WriteTool { ws, lock }
    }
}

impl Tool for WriteTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "write".into(),
            description: "Write a file in the workspace: creates it, or replaces its whole content if it exists. \
                          Missing parent directories are created. To change part of an existing file, use `edit` \
                          instead so the rest stays untouched. Paths are relative to the workspace."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Path of the file to write, relative to the workspace"},
                    "content": {"type": "string", "description": "The complete new content of the file"}
                },
                "required": ["path", "content"]
            }),
        }
    }

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let parsed = args_object("write", args)
                .and_then(|map| Ok((req_string("write", &map, &["path", "file_path"])?, req_string("write", &map, &["content"])?)));
            let (path, content) = match parsed {
                Ok(p) => p,
                Err(e) => return ToolOutput::error(e),
            };
            let Some(_guard) = self.lock.lock(ctx.cancel).await else {
                return ToolOutput::error(ABORTED);
            };
            let ws = self.ws.clone();
            let cancel = ctx.cancel.clone();
            blocking_mutation(ctx.cancel, move || write_blocking(&ws, &path, &content, &cancel)).await
        })
    }
}

fn write_blocking(ws: &Workspace, user_path: &str, content: &str, cancel: &CancellationToken) -> ToolOutput {
    let path = match ws.resolve(user_path) {
        Ok(p) => p,
        Err(e) => return ToolOutput::error(e.to_string()),
    };
    let shown = user_path.trim();
    let existed = match fs::metadata(&path) {
        Ok(m) if m.is_dir() => return ToolOutput::error(format!("Cannot write {shown}: it is a directory.")),
        Ok(m) if !m.is_file() => return ToolOutput::error(format!("Cannot write {shown}: not a regular file.")),
        Ok(_) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return ToolOutput::error(format!("Cannot write {shown}: {e}")),
    };
    // Last point where stopping leaves nothing behind.
    if cancel.is_cancelled() {
        return ToolOutput::error(ABORTED);
    }
    if let Err(e) = create_parent_dirs(&path) {
        return ToolOutput::error(format!("Cannot create the directories for {shown}: {e}"));
    }
    if let Err(e) = atomic_write(&path, content.as_bytes()) {
        return ToolOutput::error(format!("Cannot write {shown}: {e}"));
    }
    tracing::debug!(path = %path.display(), bytes = content.len(), "write tool wrote a file");
    ToolOutput::text(format!("Successfully wrote {} bytes to {shown}.", content.len()))
        .with_details(json!({"path": shown, "bytes": content.len(), "created": !existed}))
}
