//! `apply_patch {input}`: the Codex / OpenAI patch format OpenClaw's apply_patch accepts.
//!
//! ```text
//! *** Begin Patch
//! *** Add File: <path>        then every line of the new file prefixed with "+"
//! *** Delete File: <path>
//! *** Update File: <path>
//! *** Move to: <new path>     (optional, right after Update File)
//! @@ <optional line of the file that locates the hunk>
//!  context line
//! -removed line
//! +added line
//! *** End of File             (optional: the hunk is at the end of the file)
//! *** End Patch
//! ```
//!
//! Application is all-or-nothing: the whole patch is parsed, every path resolved through the
//! workspace, and every hunk matched in memory (later operations see earlier ones) before any
//! file is touched; then new contents are staged as temp files and renamed into place, and a
//! failure during that last step restores what was already changed. Hunk matching is tolerant
//! like OpenClaw's: exact, then ignoring trailing whitespace, then surrounding whitespace, then
//! typographic punctuation. A hunk that matches more than once is an error rather than a guess,
//! unless an `@@` line anchors it (then the first match after the anchor is meant).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::io::{self, Read as _};
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::common::{args_object, blocking_mutation, create_parent_dirs, req_string, stage_file, MutationLock, TextFile, ABORTED};
use crate::provider::ToolSpec;
use crate::tool::{Tool, ToolContext, ToolOutput};
use crate::workspace::{Workspace, WorkspaceError};

const BEGIN_PATCH: &str = "*** Begin Patch";
const END_PATCH: &str = "*** End Patch";
const ADD_FILE: &str = "*** Add File:";
const DELETE_FILE: &str = "*** Delete File:";
const UPDATE_FILE: &str = "*** Update File:";
const MOVE_TO: &str = "*** Move to:";
const END_OF_FILE: &str = "*** End of File";

/// Why a patch was not applied. Display texts go to the model.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("invalid patch (line {line}): {message}")]
    Parse { line: usize, message: String },
    #[error("{0}")]
    Path(#[from] WorkspaceError),
    #[error("{path}: {message}")]
    Apply { path: String, message: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("aborted: the run was cancelled")]
    Aborted,
}

fn parse_err(line: usize, message: impl Into<String>) -> PatchError {
    PatchError::Parse { line, message: message.into() }
}

fn apply_err(path: &str, message: impl Into<String>) -> PatchError {
    PatchError::Apply { path: path.to_string(), message: message.into() }
}

/// One file operation of a patch.
#[derive(Debug, Clone, PartialEq)]
enum FileOp {
    Add { path: String, contents: String },
    Delete { path: String },
    Update { path: String, move_to: Option<String>, chunks: Vec<Chunk> },
}

/// One `@@` hunk of an update.
#[derive(Debug, Clone, PartialEq)]
struct Chunk {
    /// The text after `@@ `: a line to find first, narrowing where `old` is searched.
    context: Option<String>,
    /// Context and removed lines: what must be found in the file.
    old: Vec<String>,
    /// What replaces it; context lines refer back into `old` so the file's own bytes are kept
    /// for them (a whitespace-tolerant match must not rewrite unchanged lines).
    new: Vec<NewLine>,
    /// `*** End of File`: the hunk belongs at the end of the file.
    eof: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum NewLine {
    Context(usize),
    Added(String),
}

pub struct ApplyPatchTool {
    ws: Arc<Workspace>,
    lock: MutationLock,
}

impl ApplyPatchTool {
    pub(crate) fn new(ws: Arc<Workspace>, lock: MutationLock) -> ApplyPatchTool {
        ApplyPatchTool { ws, lock }
    }
}

impl Tool for ApplyPatchTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "apply_patch".into(),
            description: "Apply a patch that adds, deletes, updates or renames one or more workspace files. \
The input starts with `*** Begin Patch` and ends with `*** End Patch`. Between them, one section per file:\n\
`*** Add File: <path>` followed by the new file's lines, each prefixed with `+`.\n\
`*** Delete File: <path>` (nothing follows).\n\
`*** Update File: <path>`, optionally followed by `*** Move to: <new path>`, then one or more hunks. A hunk starts \
with `@@` (optionally `@@ <a line of the file>` such as a function or heading to say where), followed by lines \
starting with a space (unchanged context; give about 3 lines before and after each change), `-` (remove) or \
`+` (add).\n\
Paths are relative to the workspace. The patch is all-or-nothing: if any part does not apply, no file is changed.\n\
Example:\n*** Begin Patch\n*** Update File: notes/todo.md\n@@ ## Shopping\n milk\n-eggs\n+eggs (a dozen)\n bread\n\
*** Add File: notes/ideas.md\n+# Ideas\n+- a garden\n*** End Patch"
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "input": {"type": "string", "description": "The full patch text, from *** Begin Patch to *** End Patch"}
                },
                "required": ["input"]
            }),
        }
    }

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let input = match args_object("apply_patch", args).and_then(|map| req_string("apply_patch", &map, &["input", "patch"])) {
                Ok(i) => i,
                Err(e) => return ToolOutput::error(e),
            };
            if input.trim().is_empty() {
                return ToolOutput::error("Invalid arguments for apply_patch: \"input\" is empty; provide the patch text.");
            }
            let Some(_guard) = self.lock.lock(ctx.cancel).await else {
                return ToolOutput::error(ABORTED);
            };
            let ws = self.ws.clone();
            let cancel = ctx.cancel.clone();
            blocking_mutation(ctx.cancel, move || match apply_patch(&ws, &input, &cancel) {
                Ok(out) => out,
                Err(e) => ToolOutput::error(format!("apply_patch failed, no files were changed: {e}")),
            })
            .await
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Lines of the patch proper: tolerates a surrounding heredoc (`<<'EOF'` … `EOF`) or Markdown
/// code fence, which models copy from shell-based examples.
fn strip_wrappers<'a>(lines: &'a [&'a str]) -> &'a [&'a str] {
    if lines.len() >= 2 {
        let first = lines[0].trim();
        let last = lines[lines.len() - 1].trim();
        let heredoc = first.starts_with("<<") || first.contains(" <<");
        if (heredoc && last.ends_with("EOF")) || (first.starts_with("```") && last == "```") {
            return &lines[1..lines.len() - 1];
        }
    }
    lines
}

fn parse_patch(input: &str) -> Result<Vec<FileOp>, PatchError> {
    let all: Vec<&str> = input.trim().lines().collect();
    let lines = strip_wrappers(&all);
    let Some(first) = lines.first() else {
        return Err(parse_err(1, "the patch is empty"));
    };
    if first.trim() != BEGIN_PATCH {
        return Err(parse_err(1, format!("the first line must be '{BEGIN_PATCH}'")));
    }
    if lines.len() < 2 || lines[lines.len() - 1].trim() != END_PATCH {
        return Err(parse_err(lines.len(), format!("the last line must be '{END_PATCH}'")));
    }
    let body = &lines[1..lines.len() - 1];
    // Body index i is patch line i + 2 (1-based, after the Begin line).
    let line_no = |i: usize| i + 2;
    let mut ops = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let t = body[i].trim();
        if t.is_empty() {
            i += 1;
            continue;
        }
        if let Some(p) = t.strip_prefix(ADD_FILE) {
            let path = header_path(p, line_no(i))?;
            i += 1;
            let mut contents = String::new();
            while i < body.len() && body[i].starts_with('+') {
                contents.push_str(&body[i][1..]);
                contents.push('\n');
                i += 1;
            }
            ops.push(FileOp::Add { path, contents });
        } else if let Some(p) = t.strip_prefix(DELETE_FILE) {
            ops.push(FileOp::Delete { path: header_path(p, line_no(i))? });
            i += 1;
        } else if let Some(p) = t.strip_prefix(UPDATE_FILE) {
            let path = header_path(p, line_no(i))?;
            i += 1;
            let mut move_to = None;
            if let Some(m) = body.get(i).and_then(|l| l.trim().strip_prefix(MOVE_TO)) {
                move_to = Some(header_path(m, line_no(i))?);
                i += 1;
            }
            let mut chunks = Vec::new();
            loop {
                while i < body.len() && body[i].trim().is_empty() {
                    i += 1;
                }
                if i >= body.len() || body[i].starts_with("***") {
                    break;
                }
                let (chunk, used) = parse_chunk(&body[i..], line_no(i), chunks.is_empty(), &path)?;
                chunks.push(chunk);
                i += used;
            }
            if chunks.is_empty() && move_to.is_none() {
                return Err(parse_err(line_no(i.saturating_sub(1)), format!("'{UPDATE_FILE} {path}' has no hunks")));
            }
            ops.push(FileOp::Update { path, move_to, chunks });
        } else {
            return Err(parse_err(
                line_no(i),
                format!("unexpected line '{}': expected '{ADD_FILE} <path>', '{DELETE_FILE} <path>' or '{UPDATE_FILE} <path>'", shorten(t)),
            ));
        }
    }
    if ops.is_empty() {
        return Err(parse_err(1, "the patch contains no file operations"));
    }
    Ok(ops)
}

fn header_path(rest: &str, line: usize) -> Result<String, PatchError> {
    let p = rest.trim();
    if p.is_empty() {
        return Err(parse_err(line, "a file header is missing its path"));
    }
    Ok(p.to_string())
}

/// Parse one hunk starting at `lines[0]`; returns it and the number of lines used.
fn parse_chunk(lines: &[&str], line: usize, first_of_file: bool, path: &str) -> Result<(Chunk, usize), PatchError> {
    let mut idx = 0;
    let mut context = None;
    let head = lines[0];
    if head.trim_end() == "@@" {
        idx = 1;
    } else if let Some(c) = head.strip_prefix("@@ ") {
        context = header_context(c);
        idx = 1;
    } else if !first_of_file {
        return Err(parse_err(line, format!("expected a hunk header '@@' in the update of {path}, got '{}'", shorten(head))));
    }
    let mut chunk = Chunk { context, old: Vec::new(), new: Vec::new(), eof: false };
    let mut parsed = 0;
    // Blank lines right before the next header are layout, not context the file must have.
    let mut trailing_blank = 0;
    while idx < lines.len() {
        let l = lines[idx];
        if l.trim_end() == END_OF_FILE {
            if parsed == 0 {
                return Err(parse_err(line + idx, format!("a hunk in the update of {path} has no lines")));
            }
            chunk.eof = true;
            idx += 1;
            break;
        }
        if l.starts_with("@@") || l.starts_with("***") {
            break;
        }
        match l.as_bytes().first() {
            None => {
                chunk.new.push(NewLine::Context(chunk.old.len()));
                chunk.old.push(String::new());
                trailing_blank += 1;
            }
            Some(b' ') => {
                chunk.new.push(NewLine::Context(chunk.old.len()));
                chunk.old.push(l[1..].to_string());
                trailing_blank = 0;
            }
            Some(b'+') => {
                chunk.new.push(NewLine::Added(l[1..].to_string()));
                trailing_blank = 0;
            }
            Some(b'-') => {
                chunk.old.push(l[1..].to_string());
                trailing_blank = 0;
            }
            Some(_) => {
                return Err(parse_err(
                    line + idx,
                    format!(
                        "unexpected line '{}' in the update of {path}: every hunk line must start with ' ' (context), '-' (remove) or '+' (add)",
                        shorten(l)
                    ),
                ))
            }
        }
        parsed += 1;
        idx += 1;
    }
    if !chunk.eof && trailing_blank > 0 && trailing_blank < parsed {
        for _ in 0..trailing_blank {
            chunk.old.pop();
            chunk.new.pop();
        }
    }
    if parsed == 0 {
        return Err(parse_err(line, format!("a hunk in the update of {path} has no lines")));
    }
    Ok((chunk, idx))
}

/// The locating line of `@@ <text>`; unified-diff ranges (`@@ -3,7 +3,8 @@`) locate nothing.
fn header_context(c: &str) -> Option<String> {
    let c = c.trim();
    let c = c.strip_suffix("@@").map(str::trim_end).unwrap_or(c);
    let is_range = c.starts_with('-')
        && c.split_whitespace()
            .take(2)
            .all(|part| part.trim_start_matches(['-', '+']).split(',').all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())));
    if c.is_empty() || is_range {
        None
    } else {
        Some(c.to_string())
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Matching

#[derive(Debug, PartialEq, Eq)]
enum Seek {
    Found(usize),
    Missing,
    Ambiguous { count: usize, first: usize },
}

/// Map typographic dashes, quotes and spaces to ASCII (models "smarten" text they re-type).
fn normalize_punctuation(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '\u{2018}'..='\u{201B}' => '\'',
            '\u{201C}'..='\u{201F}' => '"',
            '\u{00A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => ' ',
            other => other,
        })
        .collect()
}

fn normalized(level: u8, s: &str) -> Cow<'_, str> {
    match level {
        0 => Cow::Borrowed(s),
        1 => Cow::Borrowed(s.trim_end()),
        2 => Cow::Borrowed(s.trim()),
        _ => Cow::Owned(normalize_punctuation(s.trim())),
    }
}

/// Find `pattern` in `lines` at or after `start`, trying stricter comparisons first; the first
/// level with any match decides. With `eof`, the end of the file is tried before the rest.
fn seek(lines: &[&str], pattern: &[&str], start: usize, eof: bool) -> Seek {
    if pattern.is_empty() {
        return Seek::Found(start);
    }
    if pattern.len() > lines.len() {
        return Seek::Missing;
    }
    let max_start = lines.len() - pattern.len();
    if eof && max_start >= start {
        for level in 0..4 {
            if matches_at(lines, pattern, max_start, level) {
                return Seek::Found(max_start);
            }
        }
    }
    if start > max_start {
        return Seek::Missing;
    }
    for level in 0..4 {
        let mut first = None;
        let mut count = 0;
        for i in start..=max_start {
            if matches_at(lines, pattern, i, level) {
                first.get_or_insert(i);
                count += 1;
            }
        }
        if let Some(i) = first {
            return if count == 1 { Seek::Found(i) } else { Seek::Ambiguous { count, first: i } };
        }
    }
    Seek::Missing
}

fn matches_at(lines: &[&str], pattern: &[&str], at: usize, level: u8) -> bool {
    pattern.iter().enumerate().all(|(k, p)| normalized(level, lines[at + k]) == normalized(level, p))
}

/// Apply the hunks of an update to `text` (LF line endings). Keeps whether the file ended with
/// a newline (an empty file gets one).
fn apply_chunks(text: &str, chunks: &[Chunk], shown: &str) -> Result<String, PatchError> {
    let ends_with_newline = text.is_empty() || text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<&str> = if text.is_empty() { Vec::new() } else { body.split('\n').collect() };
    let mut replacements: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let mut pos = 0;
    for chunk in chunks {
        if let Some(ctx) = &chunk.context {
            match seek(&lines, &[ctx.as_str()], pos, false) {
                Seek::Found(i) => pos = i + 1,
                Seek::Missing => {
                    return Err(apply_err(shown, format!("could not find the line '@@ {}' (searched from line {})", shorten(ctx), pos + 1)))
                }
                Seek::Ambiguous { count, .. } => {
                    return Err(apply_err(
                        shown,
                        format!("the line '@@ {}' occurs {count} times; use a more specific @@ line", shorten(ctx)),
                    ))
                }
            }
        }
        if chunk.old.is_empty() {
            // Pure insertion: after the @@ line when there is one, else at the end of the file.
            let at = if chunk.context.is_some() && !chunk.eof { pos } else { lines.len() };
            let added = chunk
                .new
                .iter()
                .map(|l| match l {
                    NewLine::Added(s) => s.clone(),
                    NewLine::Context(_) => String::new(),
                })
                .collect();
            replacements.push((at, 0, added));
            pos = at;
            continue;
        }
        let mut pattern: Vec<&str> = chunk.old.iter().map(String::as_str).collect();
        let mut found = seek(&lines, &pattern, pos, chunk.eof);
        // A trailing blank context line often stands for the file's final newline.
        if found == Seek::Missing && pattern.last() == Some(&"") {
            pattern.pop();
            found = seek(&lines, &pattern, pos, chunk.eof);
        }
        let at = match found {
            Seek::Found(i) => i,
            // After an @@ anchor the nearest match is the one meant (as in Codex); without one,
            // guessing could silently edit the wrong place.
            Seek::Ambiguous { first, .. } if chunk.context.is_some() => first,
            Seek::Missing => {
                return Err(apply_err(
                    shown,
                    format!(
                        "could not find these lines (they must match the file; read it again and copy them exactly):\n{}",
                        excerpt_lines(&chunk.old)
                    ),
                ))
            }
            Seek::Ambiguous { count, .. } => {
                return Err(apply_err(
                    shown,
                    format!(
                        "these lines occur {count} times; add more context lines or an @@ line to say which one:\n{}",
                        excerpt_lines(&chunk.old)
                    ),
                ))
            }
        };
        let mut replacement = Vec::with_capacity(chunk.new.len());
        for (j, l) in chunk.new.iter().enumerate() {
            match l {
                // The file's own text for unchanged lines, not the patch's re-typed copy.
                NewLine::Context(k) if *k < pattern.len() => replacement.push(lines[at + k].to_string()),
                // The blank line dropped from the pattern above: it goes too when it ends the
                // hunk (else the hunk would add a blank line nobody wrote), kept otherwise.
                NewLine::Context(k) => {
                    if j + 1 != chunk.new.len() {
                        replacement.push(chunk.old.get(*k).cloned().unwrap_or_default());
                    }
                }
                NewLine::Added(s) => replacement.push(s.clone()),
            }
        }
        replacements.push((at, pattern.len(), replacement));
        pos = at + pattern.len();
    }
    let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    for (start, len, rep) in replacements.into_iter().rev() {
        out.splice(start..start + len, rep);
    }
    let mut result = out.join("\n");
    if ends_with_newline && !out.is_empty() {
        result.push('\n');
    }
    Ok(result)
}

fn excerpt_lines(lines: &[String]) -> String {
    let mut out: Vec<String> = lines.iter().take(12).map(|l| shorten(l)).collect();
    if lines.len() > 12 {
        out.push(format!("… ({} more lines)", lines.len() - 12));
    }
    out.join("\n")
}

// ---------------------------------------------------------------------------------------------
// Planning and committing

#[derive(Debug, Default)]
struct Summary {
    added: Vec<String>,
    modified: Vec<String>,
    deleted: Vec<String>,
}

fn record(list: &mut Vec<String>, path: &str) {
    if !list.iter().any(|p| p == path) {
        list.push(path.to_string());
    }
}

/// The in-memory result of a patch: the final state of every touched path, and what was on disk
/// before (for "did it change" and for rollback).
#[derive(Default)]
struct Plan {
    order: Vec<PathBuf>,
    state: HashMap<PathBuf, Option<Vec<u8>>>,
    original: HashMap<PathBuf, Option<Vec<u8>>>,
}

impl Plan {
    /// The current content of `path` as the patch sees it so far (`None` = absent).
    fn current(&mut self, ws: &Workspace, path: &PathBuf, shown: &str) -> Result<Option<Vec<u8>>, PatchError> {
        if let Some(s) = self.state.get(path) {
            return Ok(s.clone());
        }
        if let Some(o) = self.original.get(path) {
            return Ok(o.clone());
        }
        let on_disk = match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => return Err(PatchError::Io { path: shown.into(), source }),
            Ok(m) if m.is_dir() => return Err(apply_err(shown, "is a directory")),
            Ok(m) if m.file_type().is_symlink() => {
                // Resolved paths only end in a symlink via resolve_entry (deletes).
                return Err(apply_err(shown, "is a symbolic link; apply_patch only deletes regular files"));
            }
            Ok(_) => {
                // Read the handle that was checked (identity, single name), not the path again.
                let (mut file, _) = ws.open_resolved(path, shown)?;
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).map_err(|source| PatchError::Io { path: shown.into(), source })?;
                Some(bytes)
            }
        };
        self.original.insert(path.clone(), on_disk.clone());
        Ok(on_disk)
    }

    fn set(&mut self, path: PathBuf, value: Option<Vec<u8>>) {
        if !self.state.contains_key(&path) {
            self.order.push(path.clone());
        }
        self.state.insert(path, value);
    }
}

fn apply_patch(ws: &Workspace, input: &str, cancel: &CancellationToken) -> Result<ToolOutput, PatchError> {
    let ops = parse_patch(input)?;
    let mut plan = Plan::default();
    let mut summary = Summary::default();
    let mut unchanged: Vec<String> = Vec::new();
    for op in &ops {
        if cancel.is_cancelled() {
            return Err(PatchError::Aborted);
        }
        match op {
            FileOp::Add { path, contents } => {
                let real = ws.resolve(path)?;
                if plan.current(ws, &real, path)?.is_some() {
                    return Err(apply_err(
                        path,
                        format!("already exists; use '{UPDATE_FILE} {path}' to change it (or delete it earlier in this patch)"),
                    ));
                }
                plan.set(real, Some(contents.clone().into_bytes()));
                record(&mut summary.added, path);
            }
            FileOp::Delete { path } => {
                let real = ws.resolve_entry(path)?;
                if plan.current(ws, &real, path)?.is_none() {
                    return Err(apply_err(path, "cannot delete: file not found"));
                }
                plan.set(real, None);
                record(&mut summary.deleted, path);
            }
            FileOp::Update { path, move_to, chunks } => {
                let real = ws.resolve(path)?;
                let Some(bytes) = plan.current(ws, &real, path)? else {
                    return Err(apply_err(path, format!("cannot update: file not found (use '{ADD_FILE} {path}' to create it)")));
                };
                let file = TextFile::decode(&bytes).ok_or_else(|| apply_err(path, "cannot update: not a UTF-8 text file"))?;
                let text = apply_chunks(&file.text, chunks, path)?;
                let new_bytes = file.encode(&text);
                match move_to {
                    Some(dest) => {
                        let real_dest = ws.resolve(dest)?;
                        if real_dest == real {
                            plan.set(real, Some(new_bytes));
                            record(&mut summary.modified, path);
                        } else {
                            if plan.current(ws, &real_dest, dest)?.is_some() {
                                return Err(apply_err(dest, "cannot move there: the file already exists"));
                            }
                            plan.set(real_dest, Some(new_bytes));
                            plan.set(real, None);
                            record(&mut summary.modified, dest);
                        }
                    }
                    None if new_bytes == bytes => record(&mut unchanged, path),
                    None => {
                        plan.set(real, Some(new_bytes));
                        record(&mut summary.modified, path);
                    }
                }
            }
        }
    }
    let changes: Vec<(PathBuf, Option<Vec<u8>>)> = plan
        .order
        .iter()
        .filter_map(|p| {
            let new = plan.state.get(p)?;
            let old = plan.original.get(p).cloned().flatten();
            (new.as_ref() != old.as_ref()).then(|| (p.clone(), new.clone()))
        })
        .collect();
    if changes.is_empty() {
        let what = if unchanged.is_empty() { "the patch".to_string() } else { unchanged.join(", ") };
        return Ok(ToolOutput::text(format!("No changes made to {what}: the result is identical to the current content."))
            .with_details(json!({"summary": {"added": [], "modified": [], "deleted": []}})));
    }
    commit(&changes, &plan.original, cancel)?;
    tracing::debug!(files = changes.len(), "apply_patch changed files");
    let mut text = String::from("Success. Updated the following files:");
    for p in &summary.added {
        text.push_str(&format!("\nA {p}"));
    }
    for p in &summary.modified {
        text.push_str(&format!("\nM {p}"));
    }
    for p in &summary.deleted {
        text.push_str(&format!("\nD {p}"));
    }
    Ok(ToolOutput::text(text).with_details(json!({
        "summary": {"added": summary.added, "modified": summary.modified, "deleted": summary.deleted}
    })))
}

/// Stage every new content as a temp file, then rename them into place and delete what goes;
/// undo everything done so far if a step fails.
fn commit(
    changes: &[(PathBuf, Option<Vec<u8>>)],
    original: &HashMap<PathBuf, Option<Vec<u8>>>,
    cancel: &CancellationToken,
) -> Result<(), PatchError> {
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let io_err = |p: &PathBuf, source| PatchError::Io { path: p.display().to_string(), source };
    let cleanup = |staged: &[(PathBuf, PathBuf)], dirs: &[PathBuf]| {
        for (_, tmp) in staged {
            let _ = fs::remove_file(tmp);
        }
        // Innermost first; remove_dir only removes directories that are still empty.
        for d in dirs.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    };
    for (path, content) in changes {
        let Some(bytes) = content else { continue };
        let step = create_parent_dirs(path).and_then(|dirs| {
            created_dirs.extend(dirs);
            stage_file(path, bytes)
        });
        match step {
            Ok(tmp) => staged.push((path.clone(), tmp)),
            Err(e) => {
                cleanup(&staged, &created_dirs);
                return Err(io_err(path, e));
            }
        }
    }
    if cancel.is_cancelled() {
        cleanup(&staged, &created_dirs);
        return Err(PatchError::Aborted);
    }
    let mut done: Vec<&PathBuf> = Vec::new();
    let mut failure = None;
    for (i, (path, tmp)) in staged.iter().enumerate() {
        if let Err(e) = fs::rename(tmp, path) {
            cleanup(&staged[i..], &[]);
            failure = Some(io_err(path, e));
            break;
        }
        done.push(path);
    }
    if failure.is_none() {
        for (path, content) in changes {
            if content.is_some() {
                continue;
            }
            match fs::remove_file(path) {
                Ok(()) => done.push(path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => done.push(path),
                Err(e) => {
                    failure = Some(io_err(path, e));
                    break;
                }
            }
        }
    }
    let Some(err) = failure else { return Ok(()) };
    let mut not_restored = Vec::new();
    for path in done.iter().rev() {
        let restored = match original.get(*path).cloned().flatten() {
            Some(bytes) => super::common::atomic_write(path, &bytes),
            None => fs::remove_file(path),
        };
        if let Err(e) = restored {
            tracing::error!(path = %path.display(), error = %e, "apply_patch could not roll back a file");
            not_restored.push(path.display().to_string());
        }
    }
    cleanup(&[], &created_dirs);
    if not_restored.is_empty() {
        Err(err)
    } else {
        Err(PatchError::Apply {
            path: not_restored.join(", "),
            message: format!("could not be restored after a failure ({err}); check these files"),
        })
    }
}

#[cfg(test)]
pub(super) mod test_api {
    //! Parser/matcher internals for the unit tests in `tools/tests.rs`.
    pub(crate) fn parse_ok(input: &str) -> usize {
        super::parse_patch(input).map(|ops| ops.len()).unwrap_or(0)
    }

    pub(crate) fn parse_error(input: &str) -> Option<String> {
        super::parse_patch(input).err().map(|e| e.to_string())
    }

    pub(crate) fn apply_to_text(text: &str, patch_body: &str) -> Result<String, String> {
        let ops =
            super::parse_patch(&format!("*** Begin Patch\n*** Update File: f\n{patch_body}\n*** End Patch")).map_err(|e| e.to_string())?;
        match &ops[0] {
            super::FileOp::Update { chunks, .. } => super::apply_chunks(text, chunks, "f").map_err(|e| e.to_string()),
            _ => Err("not an update".into()),
        }
    }

    pub(crate) fn header_context(c: &str) -> Option<String> {
        super::header_context(c)
    }

    /// Drive the commit step directly, to exercise rollback with a step that fails even as root.
    pub(crate) fn commit(
        changes: &[(std::path::PathBuf, Option<Vec<u8>>)],
        original: &[(std::path::PathBuf, Option<Vec<u8>>)],
    ) -> Result<(), String> {
        let original = original.iter().cloned().collect();
        super::commit(changes, &original, &tokio_util::sync::CancellationToken::new()).map_err(|e| e.to_string())
    }
}
