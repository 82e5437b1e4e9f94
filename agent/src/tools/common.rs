//! Helpers shared by the file tools: lenient argument parsing with precise errors, running
//! blocking file I/O off the async runtime with cancellation, atomic writes, text decoding that
//! keeps BOM and line endings, and a small line diff for edit summaries.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::tool::ToolOutput;

/// Serialises the mutating tools of one tool set (see the module docs of [`crate::tools`]).
#[derive(Clone, Default)]
pub(crate) struct MutationLock(Arc<tokio::sync::Mutex<()>>);

impl MutationLock {
    /// The lock, or `None` if the run is cancelled while waiting for it.
    pub(crate) async fn lock(&self, cancel: &CancellationToken) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => None,
            guard = self.0.lock() => Some(guard),
        }
    }
}

pub(crate) const ABORTED: &str = "Aborted: the run was cancelled before the tool finished.";

/// The arguments as an object. Providers keep arguments that were not valid JSON as a string;
/// a string that *is* JSON (double-encoded by some models) is accepted.
pub(crate) fn args_object(tool: &str, args: Value) -> Result<Map<String, Value>, String> {
    match args {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(map)) => Ok(map),
            _ => {
                Err(format!("Invalid arguments for {tool}: expected a JSON object with named fields, got text that is not a JSON object."))
            }
        },
        other => Err(format!("Invalid arguments for {tool}: expected a JSON object with named fields, got {}.", type_name(&other))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A required string field; `names[0]` is the documented name, the rest are accepted aliases
/// (Claude-style `file_path`, `old_string`, … that models trained on other agents send).
pub(crate) fn req_string(tool: &str, map: &Map<String, Value>, names: &[&str]) -> Result<String, String> {
    let primary = names.first().copied().unwrap_or("?");
    match names.iter().find_map(|n| map.get(*n)) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Err(format!("Invalid arguments for {tool}: missing required argument \"{primary}\" (a string).")),
        Some(other) => Err(format!("Invalid arguments for {tool}: \"{primary}\" must be a string, got {}.", type_name(other))),
    }
}

/// An optional non-negative integer; integral floats and numeric strings are accepted because
/// small models send `"10"` and `10.0`.
pub(crate) fn opt_uint(tool: &str, map: &Map<String, Value>, name: &str) -> Result<Option<u64>, String> {
    let bad = |what: String| Err(format!("Invalid arguments for {tool}: \"{name}\" must be a whole number ≥ 0, got {what}."));
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Ok(Some(u))
            } else if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64) {
                Ok(Some(f as u64))
            } else {
                bad(n.to_string())
            }
        }
        Some(Value::String(s)) => match s.trim().parse::<u64>() {
            Ok(u) => Ok(Some(u)),
            Err(_) => bad(format!("\"{s}\"")),
        },
        Some(other) => bad(type_name(other).to_string()),
    }
}

/// Run read-only blocking file work on the blocking pool; stops waiting (and reports the abort)
/// as soon as `cancel` fires, since abandoning a read changes nothing.
pub(crate) async fn blocking<T, F>(cancel: &CancellationToken, f: F) -> Result<T, ToolOutput>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    if cancel.is_cancelled() {
        return Err(ToolOutput::error(ABORTED));
    }
    let job = tokio::task::spawn_blocking(f);
    tokio::select! {
        biased;
        joined = job => joined.map_err(join_failed),
        _ = cancel.cancelled() => Err(ToolOutput::error(ABORTED)),
    }
}

/// Run mutating blocking file work to completion. Racing it against `cancel` could report
/// "aborted" for a write that then lands anyway; instead the work checks the token itself up to
/// its commit point, and once committing it finishes (these operations take milliseconds).
pub(crate) async fn blocking_mutation<F>(cancel: &CancellationToken, f: F) -> ToolOutput
where
    F: FnOnce() -> ToolOutput + Send + 'static,
{
    if cancel.is_cancelled() {
        return ToolOutput::error(ABORTED);
    }
    tokio::task::spawn_blocking(f).await.unwrap_or_else(join_failed)
}

fn join_failed(e: tokio::task::JoinError) -> ToolOutput {
    tracing::error!(error = %e, "file tool task failed");
    ToolOutput::error("Internal error: the file operation failed unexpectedly.")
}

/// Write `bytes` next to `path` in a fresh temporary file (same directory, so the later rename
/// is atomic), with the permissions of the file it will replace. Returns the temp path.
pub(crate) fn stage_file(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let dir = path.parent().ok_or_else(|| io::Error::other("the path has no parent directory"))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Bounded so the temp name stays under NAME_MAX even for long file names.
    let short: String = name.chars().take(80).collect();
    let tmp = dir.join(format!(".{short}.pincer-tmp-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        if let Ok(meta) = fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(bytes)?;
        f.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Replace `path` with `bytes` atomically: readers see the old or the new file, never a mix,
/// and a crash leaves at most a stray temp file. Replacing (rather than writing through) also
/// means a hard link to a file outside the workspace is detached, not written through.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = stage_file(path, bytes)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// `create_dir_all(parent of path)`, returning the directories it created (outermost first) so
/// a failed multi-file operation can remove them again.
pub(crate) fn create_parent_dirs(path: &Path) -> io::Result<Vec<PathBuf>> {
    let Some(parent) = path.parent() else {
        return Ok(Vec::new());
    };
    let mut missing = Vec::new();
    let mut cur = parent;
    while fs::symlink_metadata(cur).is_err() {
        missing.push(cur.to_path_buf());
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    fs::create_dir_all(parent)?;
    missing.reverse();
    Ok(missing)
}

/// A text file decoded for editing: UTF-8 without BOM and with `\n` line endings; encoding
/// restores both so edits do not churn a Windows file's line endings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextFile {
    pub bom: bool,
    pub crlf: bool,
    pub text: String,
}

impl TextFile {
    /// `None` if the bytes are not UTF-8 (binary or another encoding).
    pub(crate) fn decode(bytes: &[u8]) -> Option<TextFile> {
        let s = std::str::from_utf8(bytes).ok()?;
        let (bom, s) = match s.strip_prefix('\u{feff}') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        // The first line ending decides, as editors do.
        let crlf = s.find('\n').is_some_and(|i| i > 0 && s.as_bytes()[i - 1] == b'\r');
        Some(TextFile { bom, crlf, text: s.replace("\r\n", "\n") })
    }

    pub(crate) fn encode(&self, text: &str) -> Vec<u8> {
        let body = if self.crlf { text.replace('\n', "\r\n") } else { text.to_string() };
        let mut out = String::with_capacity(body.len() + 3);
        if self.bom {
            out.push('\u{feff}');
        }
        out.push_str(&body);
        out.into_bytes()
    }
}

/// Normalise model-sent text to `\n` line endings (it is compared with decoded files).
pub(crate) fn to_lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

/// A compact diff of a single contiguous change, for tool details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineDiff {
    pub diff: String,
    /// 1-based line of the first change in the new text.
    pub first_changed_line: usize,
    pub added: usize,
    pub removed: usize,
}

const DIFF_CONTEXT: usize = 3;
const DIFF_MAX_SIDE_LINES: usize = 40;

/// Diff `old` → `new` by trimming the common leading and trailing lines; exact for the single
/// replacement an edit makes, and a fair summary otherwise. Lines are `" n text"`, `"-n text"`
/// (old numbering), `"+n text"` (new numbering).
pub(crate) fn line_diff(old: &str, new: &str) -> LineDiff {
    let a: Vec<&str> = old.split('\n').collect();
    let b: Vec<&str> = new.split('\n').collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let max_suffix = a.len().min(b.len()) - prefix;
    let suffix = a.iter().rev().zip(b.iter().rev()).take(max_suffix).take_while(|(x, y)| x == y).count();
    let removed = &a[prefix..a.len() - suffix];
    let added = &b[prefix..b.len() - suffix];
    let width = a.len().max(b.len()).to_string().len();
    let mut lines = Vec::new();
    if prefix > DIFF_CONTEXT {
        lines.push(format!(" {:>width$} ...", ""));
    }
    for (i, text) in a.iter().enumerate().take(prefix).skip(prefix.saturating_sub(DIFF_CONTEXT)) {
        lines.push(format!(" {:>width$} {text}", i + 1));
    }
    push_side(&mut lines, '-', removed, prefix, width);
    push_side(&mut lines, '+', added, prefix, width);
    let after_new = b.len() - suffix;
    let shown_after = suffix.min(DIFF_CONTEXT);
    for (i, text) in b.iter().enumerate().skip(after_new).take(shown_after) {
        lines.push(format!(" {:>width$} {text}", i + 1));
    }
    if suffix > DIFF_CONTEXT {
        lines.push(format!(" {:>width$} ...", ""));
    }
    LineDiff { diff: lines.join("\n"), first_changed_line: prefix + 1, added: added.len(), removed: removed.len() }
}

fn push_side(lines: &mut Vec<String>, sign: char, side: &[&str], start: usize, width: usize) {
    for (i, text) in side.iter().enumerate().take(DIFF_MAX_SIDE_LINES) {
        lines.push(format!("{sign}{:>width$} {text}", start + i + 1));
    }
    if side.len() > DIFF_MAX_SIDE_LINES {
        lines.push(format!("{sign}{:>width$} … {} more lines", "", side.len() - DIFF_MAX_SIDE_LINES));
    }
}

/// Human-readable byte size: `812 B`, `3.4 KB`, `2.0 MB`.
pub(crate) fn format_size(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}
