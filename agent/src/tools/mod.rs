//! The workspace file tools, named and shaped like OpenClaw's coding tools (pi-coding-agent):
//! `read {path, offset?, limit?}`, `write {path, content}`, `edit {path, oldText, newText}` and
//! `apply_patch {input}`.
//!
//! Every path goes through [`Workspace::resolve`], so the tools cannot leave the workspace or
//! touch the gateway's protected files. Mutating tools share one lock per tool set: the runner
//! may execute several tool calls of one response concurrently, and two edits of the same file
//! must not interleave their read-modify-write.

use std::sync::Arc;

use crate::tool::Tool;
use crate::workspace::Workspace;

mod apply_patch;
mod common;
mod edit;
mod read;
mod write;

#[cfg(test)]
mod tests;

pub use apply_patch::ApplyPatchTool;
pub use edit::EditTool;
pub use read::ReadTool;
pub use write::WriteTool;

/// The file tools for `ws`: read, write, edit, apply_patch.
pub fn workspace_tools(ws: Arc<Workspace>) -> Vec<Arc<dyn Tool>> {
    let lock = common::MutationLock::default();
    vec![
        Arc::new(ReadTool::new(ws.clone())),
        Arc::new(WriteTool::new(ws.clone(), lock.clone())),
        Arc::new(EditTool::new(ws.clone(), lock.clone())),
        Arc::new(ApplyPatchTool::new(ws, lock)),
    ]
}
