//! `read {path, offset?, limit?}`: text files (paged by line), images (so the model sees them),
//! and, as a convenience for models without a listing tool, directory listings.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::common::{args_object, blocking, format_size, opt_uint, req_string, ABORTED};
use crate::model::Content;
use crate::provider::ToolSpec;
use crate::tool::{Tool, ToolContext, ToolOutput};
use crate::workspace::{Workspace, WorkspaceError};

/// Output caps per call (pi-coding-agent's): whichever is hit first.
pub const MAX_LINES: usize = 2_000;
/// Below the tool loop's default cap on a tool result (50 000 characters), so a full page plus
/// its continuation note is never cut again in the middle by the loop.
pub const MAX_BYTES: usize = 40 * 1024;
/// Largest image sent as is: base64 of this stays under 5 MB, Anthropic's per-image limit (the
/// strictest of the big providers). PNG/JPEG above it are downscaled; GIF/WebP are refused.
pub const IMAGE_MAX_BYTES: usize = 3_750_000;
/// Long side of a downscaled image (providers downscale beyond ~2000 px anyway).
const IMAGE_MAX_DIMENSION: u32 = 2_000;
const LIST_MAX_ENTRIES: usize = 500;
/// How much of the file start is sniffed for image magic and NUL bytes.
const SNIFF_BYTES: usize = 8 * 1024;

pub struct ReadTool {
    ws: Arc<Workspace>,
}

impl ReadTool {
    pub fn new(ws: Arc<Workspace>) -> ReadTool {
        ReadTool { ws }
    }
}

impl Tool for ReadTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "read".into(),
            description: format!(
                "Read a file from the workspace. Text files come back as plain text; images (png, jpeg, gif, webp) \
                 are shown to you as images. Text output stops after {MAX_LINES} lines or {} KB, whichever comes first; \
                 a note at the end then tells you the `offset` to continue from. Use `offset` (1-based line number) and \
                 `limit` (number of lines) to read part of a long file. Reading a directory lists its entries. \
                 Paths are relative to the workspace.",
                MAX_BYTES / 1024
            ),
            parameters: json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Path of the file to read, relative to the workspace (absolute paths must be inside it)"},
                    "offset": {"type": "integer", "minimum": 1, "description": "Line number to start reading from (1-based)"},
                    "limit": {"type": "integer", "minimum": 1, "description": "Maximum number of lines to read"}
                },
                "required": ["path"]
            }),
        }
    }

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let parsed = args_object("read", args).and_then(|map| {
                Ok((req_string("read", &map, &["path", "file_path"])?, opt_uint("read", &map, "offset")?, opt_uint("read", &map, "limit")?))
            });
            let (path, offset, limit) = match parsed {
                Ok(p) => p,
                Err(e) => return ToolOutput::error(e),
            };
            if limit == Some(0) {
                return ToolOutput::error("Invalid arguments for read: \"limit\" must be at least 1.");
            }
            let ws = self.ws.clone();
            let cancel = ctx.cancel.clone();
            blocking(ctx.cancel, move || read_blocking(&ws, &path, offset, limit, &cancel)).await.unwrap_or_else(|e| e)
        })
    }
}

fn read_blocking(ws: &Workspace, user_path: &str, offset: Option<u64>, limit: Option<u64>, cancel: &CancellationToken) -> ToolOutput {
    let path = match ws.resolve(user_path) {
        Ok(p) => p,
        Err(e) => return ToolOutput::error(e.to_string()),
    };
    let shown = user_path.trim();
    // The handle that is read is the one that was checked (see Workspace::open_resolved).
    let (file, meta) = match ws.open_resolved(&path, user_path) {
        Ok(opened) => opened,
        Err(WorkspaceError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return ToolOutput::error(format!("File not found: {shown}"))
        }
        Err(WorkspaceError::Io { source, .. }) => return ToolOutput::error(format!("Cannot read {shown}: {source}")),
        Err(e) => return ToolOutput::error(e.to_string()),
    };
    if meta.is_dir() {
        return list_dir(&path, shown);
    }
    if !meta.is_file() {
        return ToolOutput::error(format!("Cannot read {shown}: not a regular file."));
    }
    match read_file(file, shown, meta.len(), offset, limit, cancel) {
        Ok(out) => out,
        Err(e) => ToolOutput::error(format!("Cannot read {shown}: {e}")),
    }
}

fn read_file(
    mut file: File,
    shown: &str,
    size: u64,
    offset: Option<u64>,
    limit: Option<u64>,
    cancel: &CancellationToken,
) -> io::Result<ToolOutput> {
    let mut head = vec![0u8; SNIFF_BYTES];
    let n = read_up_to(&mut file, &mut head)?;
    head.truncate(n);
    if let Some(mime) = image_mime(&head) {
        return read_image(file, shown, mime, size);
    }
    if head.contains(&0) {
        return Ok(ToolOutput::error(format!(
            "{shown} looks like a binary file ({}); read only shows text files and images (png, jpeg, gif, webp).",
            format_size(size)
        )));
    }
    file.rewind()?;
    read_text(file, shown, offset, limit, cancel)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// MIME type from magic bytes (the extension may lie or be missing).
pub(crate) fn image_mime(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn read_image(mut file: File, shown: &str, mime: &'static str, size: u64) -> io::Result<ToolOutput> {
    // Decoding a huge file only to shrink it is pointless; beyond this it is not a photo.
    const DECODE_LIMIT: u64 = 64 * 1024 * 1024;
    if size > DECODE_LIMIT {
        return Ok(ToolOutput::error(format!("{shown} is a {} image; that is too large to show.", format_size(size))));
    }
    file.rewind()?;
    let mut bytes = Vec::with_capacity(size as usize);
    file.read_to_end(&mut bytes)?;
    let (data, mime_out, note) = if bytes.len() <= IMAGE_MAX_BYTES {
        (bytes, mime, None)
    } else {
        match downscale(&bytes, mime) {
            Ok((small, w, h)) => {
                let note = format!(
                    "The original ({}) was downscaled to {w}×{h} JPEG ({}) to fit the model's image limit.",
                    format_size(bytes.len() as u64),
                    format_size(small.len() as u64)
                );
                (small, "image/jpeg", Some(note))
            }
            Err(why) => {
                return Ok(ToolOutput::error(format!(
                    "{shown} is a {} {mime} image, larger than the {} the model accepts, and it could not be downscaled: {why}",
                    format_size(bytes.len() as u64),
                    format_size(IMAGE_MAX_BYTES as u64)
                )))
            }
        }
    };
    let mut text = format!("Read image file [{mime_out}]");
    if let Some(note) = &note {
        text.push('\n');
        text.push_str(note);
    }
    let details = json!({"path": shown, "mimeType": mime_out, "bytes": data.len(), "downscaled": note.is_some()});
    Ok(ToolOutput {
        content: vec![
            Content::text(text),
            Content::Image { data: base64::engine::general_purpose::STANDARD.encode(&data), mime_type: mime_out.into() },
        ],
        is_error: false,
        details: Some(details),
    })
}

/// Shrink a PNG/JPEG to fit [`IMAGE_MAX_BYTES`]: long side ≤ 2000 px, JPEG; smaller and lower
/// quality if that is still too big.
fn downscale(bytes: &[u8], mime: &str) -> Result<(Vec<u8>, u32, u32), String> {
    let format = match mime {
        "image/png" => image::ImageFormat::Png,
        "image/jpeg" => image::ImageFormat::Jpeg,
        _ => return Err("only PNG and JPEG images can be downscaled".into()),
    };
    let img = image::load_from_memory_with_format(bytes, format).map_err(|e| e.to_string())?;
    for (max_dim, quality) in [(IMAGE_MAX_DIMENSION, 85u8), (1_400, 75), (1_000, 70)] {
        let scaled = if img.width() > max_dim || img.height() > max_dim {
            img.resize(max_dim, max_dim, image::imageops::FilterType::Triangle)
        } else {
            img.clone()
        };
        // JPEG has no alpha; transparent areas become black, acceptable for the model's view.
        let rgb = scaled.to_rgb8();
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(&rgb).map_err(|e| e.to_string())?;
        if out.len() <= IMAGE_MAX_BYTES {
            return Ok((out, rgb.width(), rgb.height()));
        }
    }
    Err("still too large after downscaling".into())
}

fn read_text(file: File, shown: &str, offset: Option<u64>, limit: Option<u64>, cancel: &CancellationToken) -> io::Result<ToolOutput> {
    let start = offset.unwrap_or(1).max(1);
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut out = String::new();
    let mut line_no: u64 = 0;
    let mut shown_lines: u64 = 0;
    let mut truncated_by: Option<&'static str> = None;
    let mut first_line_cut: Option<usize> = None;
    let mut lossy = false;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        // Counting the remaining lines of a huge log can take a while; stay abortable.
        if line_no.is_multiple_of(4096) && cancel.is_cancelled() {
            return Ok(ToolOutput::error(ABORTED));
        }
        let done = truncated_by.is_some() || limit.is_some_and(|l| shown_lines >= l);
        if line_no < start || done {
            continue;
        }
        if shown_lines as usize >= MAX_LINES {
            truncated_by = Some("lines");
            continue;
        }
        let mut bytes: &[u8] = &buf;
        bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let text = String::from_utf8_lossy(bytes);
        lossy |= matches!(text, std::borrow::Cow::Owned(_));
        let needed = text.len() + usize::from(shown_lines > 0);
        if out.len() + needed > MAX_BYTES {
            if shown_lines == 0 {
                // A single line longer than the cap: show its start rather than nothing.
                out.push_str(cut_at_char_boundary(&text, MAX_BYTES));
                first_line_cut = Some(text.len());
                shown_lines = 1;
            }
            truncated_by = Some("bytes");
            continue;
        }
        if shown_lines > 0 {
            out.push('\n');
        }
        out.push_str(&text);
        shown_lines += 1;
    }
    let total = line_no;
    if total == 0 {
        if offset.is_some_and(|o| o > 1) {
            return Ok(ToolOutput::error(format!("Offset {start} is beyond the end of {shown}: the file is empty.")));
        }
        return Ok(
            ToolOutput::text(format!("[{shown} is empty.]")).with_details(json!({"path": shown, "totalLines": 0, "truncated": false}))
        );
    }
    if start > total {
        return Ok(ToolOutput::error(format!("Offset {start} is beyond the end of {shown} ({total} lines in total).")));
    }
    let end = start + shown_lines - 1;
    let next = end + 1;
    if let Some(len) = first_line_cut {
        out.push_str(&format!(
            "\n\n[Line {start} is {}, longer than the {} KB limit; showing only its beginning.{}]",
            format_size(len as u64),
            MAX_BYTES / 1024,
            if next <= total { format!(" Use offset={next} to continue with the next line.") } else { String::new() }
        ));
    } else if let Some(by) = truncated_by {
        let why = if by == "bytes" { format!(" ({} KB limit)", MAX_BYTES / 1024) } else { String::new() };
        out.push_str(&format!("\n\n[Showing lines {start}-{end} of {total}{why}. Use offset={next} to continue.]"));
    } else if end < total {
        out.push_str(&format!("\n\n[{} more lines in the file. Use offset={next} to continue.]", total - end));
    }
    if lossy {
        out.push_str("\n\n[Note: the file is not valid UTF-8; undecodable bytes are shown as \u{fffd}.]");
    }
    let details = json!({
        "path": shown,
        "startLine": start,
        "endLine": end,
        "totalLines": total,
        "truncated": truncated_by.is_some(),
        "truncatedBy": truncated_by,
    });
    Ok(ToolOutput::text(out).with_details(details))
}

fn cut_at_char_boundary(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn list_dir(path: &Path, shown: &str) -> ToolOutput {
    let entries = match fs::read_dir(path) {
        Ok(e) => e,
        Err(e) => return ToolOutput::error(format!("Cannot list {shown}: {e}")),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            // Follows symlinks on purpose: a link to a directory is used like one.
            if e.path().is_dir() {
                format!("{name}/")
            } else {
                name
            }
        })
        .collect();
    names.sort();
    let total = names.len();
    let mut text = format!("{shown} is a directory with {total} entries:\n");
    for name in names.iter().take(LIST_MAX_ENTRIES) {
        text.push_str(name);
        text.push('\n');
    }
    if total > LIST_MAX_ENTRIES {
        text.push_str(&format!("[… {} more entries not shown]\n", total - LIST_MAX_ENTRIES));
    }
    if total == 0 {
        text = format!("{shown} is an empty directory.");
    }
    ToolOutput::text(text.trim_end().to_string()).with_details(json!({"path": shown, "directory": true, "entries": total}))
}
