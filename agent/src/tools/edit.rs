//! `edit {path, oldText, newText}`: replace one exact, unique piece of text.

use std::io::{self, Read as _};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::common::{args_object, atomic_write, blocking_mutation, line_diff, req_string, to_lf, MutationLock, TextFile, ABORTED};
use crate::provider::ToolSpec;
use crate::tool::{Tool, ToolContext, ToolOutput};
use crate::workspace::{Workspace, WorkspaceError};

/// How many match positions a "multiple matches" error lists.
const LIST_MATCHES: usize = 5;

pub struct EditTool {
    ws: Arc<Workspace>,
    lock: MutationLock,
}

impl EditTool {
    pub(crate) fn new(ws: Arc<Workspace>, lock: MutationLock) -> EditTool {
        EditTool { ws, lock }
    }
}

impl Tool for EditTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "edit".into(),
            description: "Edit a file in the workspace by replacing an exact piece of text with new text. \
                          `oldText` must match the file exactly, including spaces, indentation and line breaks, \
                          and must occur exactly once: include a few surrounding lines to make it unique. Read \
                          the file first and copy the text from it. For several changes call edit several times \
                          or use apply_patch; to replace a whole file use write. Paths are relative to the workspace."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Path of the file to edit, relative to the workspace"},
                    "oldText": {"type": "string", "description": "Exact text to find (must match exactly and be unique in the file)"},
                    "newText": {"type": "string", "description": "Text to put in its place (may be empty to delete)"}
                },
                "required": ["path", "oldText", "newText"]
            }),
        }
    }

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let parsed = args_object("edit", args).and_then(|map| {
                Ok((
                    req_string("edit", &map, &["path", "file_path"])?,
                    req_string("edit", &map, &["oldText", "old_string", "old_text"])?,
                    req_string("edit", &map, &["newText", "new_string", "new_text"])?,
                ))
            });
            let (path, old_text, new_text) = match parsed {
                Ok(p) => p,
                Err(e) => return ToolOutput::error(e),
            };
            if old_text.is_empty() {
                return ToolOutput::error(
                    "Invalid arguments for edit: \"oldText\" is empty. Give the exact text to replace; to create or replace a whole file use write.",
                );
            }
            let Some(_guard) = self.lock.lock(ctx.cancel).await else {
                return ToolOutput::error(ABORTED);
            };
            let ws = self.ws.clone();
            let cancel = ctx.cancel.clone();
            blocking_mutation(ctx.cancel, move || edit_blocking(&ws, &path, &old_text, &new_text, &cancel)).await
        })
    }
}

fn edit_blocking(ws: &Workspace, user_path: &str, old_text: &str, new_text: &str, cancel: &CancellationToken) -> ToolOutput {
    let path = match ws.resolve(user_path) {
        Ok(p) => p,
        Err(e) => return ToolOutput::error(e.to_string()),
    };
    let shown = user_path.trim();
    let bytes = match ws.open_resolved(&path, user_path) {
        Ok((_, meta)) if meta.is_dir() => return ToolOutput::error(format!("Cannot edit {shown}: it is a directory.")),
        Ok((mut file, _)) => {
            let mut bytes = Vec::new();
            if let Err(e) = file.read_to_end(&mut bytes) {
                return ToolOutput::error(format!("Cannot read {shown}: {e}"));
            }
            bytes
        }
        Err(WorkspaceError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return ToolOutput::error(format!("File not found: {shown}. To create a new file use write."))
        }
        Err(WorkspaceError::Io { source, .. }) => return ToolOutput::error(format!("Cannot read {shown}: {source}")),
        Err(e) => return ToolOutput::error(e.to_string()),
    };
    let Some(file) = TextFile::decode(&bytes) else {
        return ToolOutput::error(format!("Cannot edit {shown}: it is not a UTF-8 text file."));
    };
    let content = &file.text;
    let old = to_lf(old_text);
    let new = to_lf(new_text);
    let positions: Vec<usize> = content.match_indices(old.as_str()).map(|(i, _)| i).collect();
    match positions.len() {
        0 => return ToolOutput::error(no_match_message(shown, content, &old)),
        1 => {}
        n => {
            let lines: Vec<String> = positions.iter().take(LIST_MATCHES).map(|&i| (line_of(content, i)).to_string()).collect();
            return ToolOutput::error(format!(
                "Found {n} occurrences of oldText in {shown} (at lines {}{}). The text must be unique: include more surrounding lines in oldText.",
                lines.join(", "),
                if n > LIST_MATCHES { ", …" } else { "" }
            ));
        }
    }
    let at = positions[0];
    let updated = format!("{}{}{}", &content[..at], new, &content[at + old.len()..]);
    if updated == *content {
        return ToolOutput::error(format!("No changes made to {shown}: oldText and newText are identical."));
    }
    if cancel.is_cancelled() {
        return ToolOutput::error(ABORTED);
    }
    if let Err(e) = atomic_write(&path, &file.encode(&updated)) {
        return ToolOutput::error(format!("Cannot write {shown}: {e}"));
    }
    let diff = line_diff(content, &updated);
    tracing::debug!(path = %path.display(), "edit tool changed a file");
    ToolOutput::text(format!(
        "Successfully replaced text in {shown} (line {}: -{} +{} lines).",
        diff.first_changed_line, diff.removed, diff.added
    ))
    .with_details(json!({
        "path": shown,
        "diff": diff.diff,
        "firstChangedLine": diff.first_changed_line,
        "linesAdded": diff.added,
        "linesRemoved": diff.removed,
    }))
}

fn line_of(content: &str, byte: usize) -> usize {
    content[..byte].matches('\n').count() + 1
}

/// Explain a failed match, pointing at a near miss that differs only in whitespace (the usual
/// mistake: re-typed indentation or trailing spaces) so the model can copy the real text.
fn no_match_message(shown: &str, content: &str, old: &str) -> String {
    let base = format!(
        "Could not find oldText in {shown}. It must match the file exactly, including whitespace and line breaks; read the file and copy the text from it."
    );
    let wanted: Vec<&str> = old.split('\n').map(str::trim).collect();
    // Leading/trailing blank lines in oldText are ignored for the hint.
    let wanted: Vec<&str> = {
        let start = wanted.iter().position(|l| !l.is_empty()).unwrap_or(wanted.len());
        let end = wanted.iter().rposition(|l| !l.is_empty()).map_or(start, |e| e + 1);
        wanted[start..end].to_vec()
    };
    if wanted.is_empty() {
        return base;
    }
    let lines: Vec<&str> = content.split('\n').map(str::trim).collect();
    let hit = lines.windows(wanted.len()).position(|w| w == wanted.as_slice());
    match hit {
        Some(i) => format!("{base} A passage that differs only in whitespace/indentation starts at line {}; use its exact text.", i + 1),
        None => base,
    }
}
