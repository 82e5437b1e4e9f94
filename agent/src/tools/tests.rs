//! Tests for the workspace file tools, driven through the [`Tool`] trait like the runner does.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::apply_patch::test_api;
use super::common::{line_diff, TextFile};
use super::read::{image_mime, IMAGE_MAX_BYTES, MAX_BYTES, MAX_LINES};
use super::workspace_tools;
use crate::model::Content;
use crate::tool::{Tool, ToolContext, ToolOutput};
use crate::workspace::Workspace;

struct Fixture {
    _dir: tempfile::TempDir,
    ws: Arc<Workspace>,
    read: Arc<dyn Tool>,
    write: Arc<dyn Tool>,
    edit: Arc<dyn Tool>,
    patch: Arc<dyn Tool>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(|ws| ws)
    }

    fn with(f: impl FnOnce(Workspace) -> Workspace) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let ws = Arc::new(f(Workspace::open(dir.path().join("ws")).unwrap()));
        let tools = workspace_tools(ws.clone());
        let by_name = |n: &str| tools.iter().find(|t| t.spec().name == n).unwrap().clone();
        Fixture { read: by_name("read"), write: by_name("write"), edit: by_name("edit"), patch: by_name("apply_patch"), ws, _dir: dir }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.ws.root().join(rel)
    }

    fn put(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    fn get(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }
}

async fn call(tool: &Arc<dyn Tool>, args: Value) -> ToolOutput {
    call_with(tool, args, &CancellationToken::new()).await
}

async fn call_with(tool: &Arc<dyn Tool>, args: Value, cancel: &CancellationToken) -> ToolOutput {
    let progress = |_: Value| {};
    tool.call(args, ToolContext { session_key: "s", run_id: "r", tool_call_id: "c", cancel, progress: &progress }).await
}

fn text(out: &ToolOutput) -> String {
    out.content.iter().filter_map(Content::as_text).collect::<Vec<_>>().join("")
}

fn ok(out: ToolOutput) -> ToolOutput {
    assert!(!out.is_error, "unexpected error: {}", text(&out));
    out
}

fn err(out: ToolOutput) -> String {
    assert!(out.is_error, "expected an error, got: {}", text(&out));
    text(&out)
}

// ----- specs and arguments -----

#[test]
fn tool_set_names_and_schemas_match_openclaw() {
    let f = Fixture::new();
    let tools = workspace_tools(f.ws.clone());
    let names: Vec<String> = tools.iter().map(|t| t.spec().name).collect();
    assert_eq!(names, ["read", "write", "edit", "apply_patch"]);
    let props = |t: &Arc<dyn Tool>| {
        let spec = t.spec();
        assert!(spec.description.len() > 100, "{} needs a useful description", spec.name);
        let mut keys: Vec<String> = spec.parameters["properties"].as_object().unwrap().keys().cloned().collect();
        keys.sort();
        (keys, spec.parameters["required"].clone())
    };
    assert_eq!(props(&f.read), (vec!["limit".into(), "offset".into(), "path".into()], json!(["path"])));
    assert_eq!(props(&f.write), (vec!["content".into(), "path".into()], json!(["path", "content"])));
    assert_eq!(props(&f.edit), (vec!["newText".into(), "oldText".into(), "path".into()], json!(["path", "oldText", "newText"])));
    assert_eq!(props(&f.patch), (vec!["input".into()], json!(["input"])));
}

#[tokio::test]
async fn bad_arguments_are_named() {
    let f = Fixture::new();
    let e = err(call(&f.read, json!({})).await);
    assert!(e.contains("missing required argument \"path\""), "{e}");
    let e = err(call(&f.read, json!({"path": 3})).await);
    assert!(e.contains("\"path\" must be a string, got a number"), "{e}");
    let e = err(call(&f.read, json!({"path": "a", "offset": -2})).await);
    assert!(e.contains("\"offset\" must be a whole number"), "{e}");
    let e = err(call(&f.read, json!({"path": "a", "limit": "lots"})).await);
    assert!(e.contains("\"limit\""), "{e}");
    let e = err(call(&f.read, json!({"path": "a", "limit": 0})).await);
    assert!(e.contains("at least 1"), "{e}");
    let e = err(call(&f.write, json!({"path": "a"})).await);
    assert!(e.contains("\"content\""), "{e}");
    let e = err(call(&f.edit, json!({"path": "a", "oldText": "x"})).await);
    assert!(e.contains("\"newText\""), "{e}");
    let e = err(call(&f.edit, json!({"path": "a", "oldText": "", "newText": "x"})).await);
    assert!(e.contains("\"oldText\" is empty"), "{e}");
    let e = err(call(&f.patch, json!({"input": ["x"]})).await);
    assert!(e.contains("\"input\" must be a string, got an array"), "{e}");
    let e = err(call(&f.patch, json!({"input": "  "})).await);
    assert!(e.contains("empty"), "{e}");
    let e = err(call(&f.read, json!("{not json")).await);
    assert!(e.contains("expected a JSON object"), "{e}");
    let e = err(call(&f.read, json!([1])).await);
    assert!(e.contains("got an array"), "{e}");
}

#[tokio::test]
async fn lenient_argument_forms() {
    let f = Fixture::new();
    f.put("a.txt", "1\n2\n3\n");
    // Double-encoded JSON, a numeric string, an integral float, Claude-style names.
    let out = ok(call(&f.read, Value::String(r#"{"path":"a.txt","offset":"2","limit":1.0}"#.into())).await);
    assert!(text(&out).starts_with("2\n"), "{}", text(&out));
    ok(call(&f.read, json!({"file_path": "a.txt"})).await);
    ok(call(&f.edit, json!({"file_path": "a.txt", "old_string": "2\n", "new_string": "two\n"})).await);
    assert_eq!(f.get("a.txt"), "1\ntwo\n3\n");
}

// ----- read -----

#[tokio::test]
async fn read_whole_file_and_pages() {
    let f = Fixture::new();
    f.put("notes/a.md", "alpha\r\nbeta\r\ngamma\r\ndelta\r\n");
    let out = ok(call(&f.read, json!({"path": "notes/a.md"})).await);
    assert_eq!(text(&out), "alpha\nbeta\ngamma\ndelta");
    assert_eq!(out.details.as_ref().unwrap()["totalLines"], 4);
    let out = ok(call(&f.read, json!({"path": "notes/a.md", "offset": 2, "limit": 2})).await);
    assert_eq!(text(&out), "beta\ngamma\n\n[1 more lines in the file. Use offset=4 to continue.]");
    let out = ok(call(&f.read, json!({"path": "notes/a.md", "offset": 4})).await);
    assert_eq!(text(&out), "delta");
    let e = err(call(&f.read, json!({"path": "notes/a.md", "offset": 5})).await);
    assert!(e.contains("Offset 5 is beyond the end") && e.contains("4 lines"), "{e}");
    // offset 0 is read as the first line.
    assert_eq!(
        text(&ok(call(&f.read, json!({"path": "notes/a.md", "offset": 0, "limit": 1})).await)),
        "alpha\n\n[3 more lines in the file. Use offset=2 to continue.]"
    );
    // No trailing newline: the last line still counts.
    f.put("b.txt", "x\ny");
    assert_eq!(text(&ok(call(&f.read, json!({"path": "b.txt"})).await)), "x\ny");
    f.put("empty.txt", "");
    assert!(text(&ok(call(&f.read, json!({"path": "empty.txt"})).await)).contains("is empty"));
    let e = err(call(&f.read, json!({"path": "nope.txt"})).await);
    assert!(e.contains("File not found: nope.txt"), "{e}");
}

#[tokio::test]
async fn read_truncates_by_lines_and_bytes() {
    let f = Fixture::new();
    let many: String = (1..=3000).map(|i| format!("line {i}\n")).collect();
    f.put("many.txt", &many);
    let out = ok(call(&f.read, json!({"path": "many.txt"})).await);
    let t = text(&out);
    assert!(t.starts_with("line 1\n"));
    assert!(
        t.contains(&format!("line {MAX_LINES}\n\n[Showing lines 1-{MAX_LINES} of 3000. Use offset={} to continue.]", MAX_LINES + 1)),
        "{}",
        &t[t.len() - 200..]
    );
    assert_eq!(out.details.as_ref().unwrap()["truncatedBy"], "lines");
    let t = text(&ok(call(&f.read, json!({"path": "many.txt", "offset": 2001})).await));
    assert!(t.starts_with("line 2001\n") && t.ends_with("line 3000"));

    let wide: String = (0..200).map(|i| format!("{i:04}{}\n", "w".repeat(996))).collect(); // 1 KB lines
    f.put("wide.txt", &wide);
    let out = ok(call(&f.read, json!({"path": "wide.txt"})).await);
    let t = text(&out);
    let body = t.split("\n\n[").next().unwrap();
    assert!(body.len() <= MAX_BYTES);
    assert!(t.contains("[Showing lines 1-40 of 200 (40 KB limit). Use offset=41 to continue.]"), "{}", &t[t.len() - 120..]);

    f.put("long-line.txt", format!("{}\nnext\n", "é".repeat(40_000)));
    let t = text(&ok(call(&f.read, json!({"path": "long-line.txt"})).await));
    assert!(
        t.contains(
            "[Line 1 is 78.1 KB, longer than the 40 KB limit; showing only its beginning. Use offset=2 to continue with the next line.]"
        ),
        "{}",
        &t[t.len() - 200..]
    );
}

#[tokio::test]
async fn read_images_and_binaries() {
    let f = Fixture::new();
    let png = tiny_png();
    f.put("pics/dot.data", &png); // the extension does not matter, the magic bytes do
    let out = ok(call(&f.read, json!({"path": "pics/dot.data"})).await);
    assert_eq!(out.content.len(), 2);
    assert_eq!(text(&out), "Read image file [image/png]");
    let Content::Image { data, mime_type } = &out.content[1] else { panic!("no image part") };
    assert_eq!(mime_type, "image/png");
    use base64::Engine as _;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(data).unwrap(), png);

    f.put("blob.bin", [0u8, 1, 2, 3, 0, 5]);
    let e = err(call(&f.read, json!({"path": "blob.bin"})).await);
    assert!(e.contains("binary"), "{e}");

    f.put("latin1.txt", b"caf\xe9\n");
    let t = text(&ok(call(&f.read, json!({"path": "latin1.txt"})).await));
    assert!(t.starts_with("caf\u{fffd}") && t.contains("not valid UTF-8"), "{t}");

    assert_eq!(image_mime(b"GIF89a...."), Some("image/gif"));
    assert_eq!(image_mime(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
    assert_eq!(image_mime(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
    assert_eq!(image_mime(b"RIFF\0\0\0\0WAVE"), None);
}

#[tokio::test]
async fn read_downscales_large_images() {
    let f = Fixture::new();
    // Noise does not compress: a ~4 MB PNG, over the per-image limit.
    let (w, h) = (1200u32, 1100u32);
    let mut seed = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        let mut px = [0u8; 3];
        for c in &mut px {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            *c = seed as u8;
        }
        image::Rgb(px)
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    assert!(png.len() > IMAGE_MAX_BYTES, "{}", png.len());
    f.put("big.png", &png);
    let out = ok(call(&f.read, json!({"path": "big.png"})).await);
    let Content::Image { data, mime_type } = &out.content[1] else { panic!() };
    assert_eq!(mime_type, "image/jpeg");
    assert!(data.len() * 3 / 4 <= IMAGE_MAX_BYTES);
    assert!(text(&out).contains("downscaled"), "{}", text(&out));
    assert_eq!(out.details.unwrap()["downscaled"], true);
}

fn tiny_png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(2, 2, image::Rgb([255, 0, 0]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    png
}

#[tokio::test]
async fn read_lists_directories() {
    let f = Fixture::new();
    f.put("dir/b.txt", "b");
    f.put("dir/a/x.txt", "x");
    let t = text(&ok(call(&f.read, json!({"path": "dir"})).await));
    assert_eq!(t, "dir is a directory with 2 entries:\na/\nb.txt");
    fs::create_dir_all(f.path("void")).unwrap();
    assert_eq!(text(&ok(call(&f.read, json!({"path": "void"})).await)), "void is an empty directory.");
}

#[tokio::test]
async fn read_is_confined() {
    let f = Fixture::new();
    let e = err(call(&f.read, json!({"path": "../outside.txt"})).await);
    assert!(e.contains("outside the workspace"), "{e}");
    let e = err(call(&f.read, json!({"path": "/etc/hostname"})).await);
    assert!(e.contains("outside the workspace"), "{e}");
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_out_of_the_workspace_are_refused_for_every_tool() {
    use std::os::unix::fs::symlink;
    let f = Fixture::new();
    let outside = f._dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret.txt"), "top secret\n").unwrap();
    symlink(&outside, f.path("link")).unwrap();
    let e = err(call(&f.read, json!({"path": "link/secret.txt"})).await);
    assert!(e.contains("symbolic link") && !e.contains("top secret"), "{e}");
    err(call(&f.write, json!({"path": "link/new.txt", "content": "x"})).await);
    err(call(&f.write, json!({"path": "link/sub/new.txt", "content": "x"})).await);
    err(call(&f.edit, json!({"path": "link/secret.txt", "oldText": "top", "newText": "no"})).await);
    let patch = "*** Begin Patch\n*** Add File: link/p.txt\n+x\n*** End Patch";
    err(call(&f.patch, json!({"input": patch})).await);
    let patch = "*** Begin Patch\n*** Delete File: link/secret.txt\n*** End Patch";
    err(call(&f.patch, json!({"input": patch})).await);
    assert_eq!(fs::read_to_string(outside.join("secret.txt")).unwrap(), "top secret\n");
    assert!(!outside.join("new.txt").exists() && !outside.join("sub").exists() && !outside.join("p.txt").exists());
}

#[tokio::test]
async fn protected_files_are_refused() {
    let f = Fixture::with(|ws| {
        let root = ws.root().to_path_buf();
        ws.with_protected([root.join("openclaw.json"), root.join("exec-approvals.json")])
    });
    f.put("openclaw.json", "{\"token\": \"s3cret\"}");
    let e = err(call(&f.read, json!({"path": "openclaw.json"})).await);
    assert!(e.contains("protected") && !e.contains("s3cret"), "{e}");
    err(call(&f.write, json!({"path": "exec-approvals.json", "content": "{}"})).await);
    err(call(&f.edit, json!({"path": "openclaw.json", "oldText": "s3cret", "newText": "x"})).await);
    let patch =
        "*** Begin Patch\n*** Add File: ok.txt\n+fine\n*** Update File: openclaw.json\n@@\n-{\"token\": \"s3cret\"}\n+{}\n*** End Patch";
    let e = err(call(&f.patch, json!({"input": patch})).await);
    assert!(e.contains("protected"), "{e}");
    assert!(!f.path("ok.txt").exists(), "nothing is written when any path is refused");
    assert!(!f.path("exec-approvals.json").exists());
    assert_eq!(f.get("openclaw.json"), "{\"token\": \"s3cret\"}");
}

/// The gateway's config lives outside the workspace; a hard link to it inside the workspace is
/// the same file under a workspace name. Every tool must refuse it by identity, and the config
/// must stay as it was (on 7f29638 read returned the token and edit rewrote the config).
#[cfg(unix)]
#[tokio::test]
async fn hard_link_to_the_config_is_refused_for_every_tool() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("state").join("pincer.json");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    fs::write(&config, "{\"gateway\": {\"auth\": {\"token\": \"s3cret\"}}}").unwrap();
    let f = Fixture::with(|ws| ws.with_protected([config.clone()]));
    fs::hard_link(&config, f.path("notes.json")).unwrap();
    let e = err(call(&f.read, json!({"path": "notes.json"})).await);
    assert!(e.starts_with("refused `notes.json`: it is a protected Pincer file"), "{e}");
    assert!(!e.contains("s3cret"), "{e}");
    let e = err(call(&f.write, json!({"path": "notes.json", "content": "{}"})).await);
    assert!(e.contains("protected"), "{e}");
    let e = err(call(&f.edit, json!({"path": "notes.json", "oldText": "s3cret", "newText": "x"})).await);
    assert!(e.contains("protected") && !e.contains("s3cret"), "{e}");
    let patch = "*** Begin Patch\n*** Update File: notes.json\n@@\n-x\n+y\n*** End Patch";
    assert!(err(call(&f.patch, json!({"input": patch})).await).contains("protected"));
    let patch = "*** Begin Patch\n*** Delete File: notes.json\n*** End Patch";
    assert!(err(call(&f.patch, json!({"input": patch})).await).contains("protected"));
    assert_eq!(fs::read_to_string(&config).unwrap(), "{\"gateway\": {\"auth\": {\"token\": \"s3cret\"}}}");
    assert_eq!(fs::read_to_string(f.path("notes.json")).unwrap(), fs::read_to_string(&config).unwrap(), "the link is still there");
}

/// A hard link to any file outside the workspace (here an SSH key nobody listed) is refused:
/// a file with more than one name may be anything, so reads and writes need a single name.
#[cfg(unix)]
#[tokio::test]
async fn hard_link_to_an_outside_file_is_refused() {
    let f = Fixture::new();
    let outside = f._dir.path().join("id_ed25519");
    fs::write(&outside, "PRIVATE KEY\n").unwrap();
    fs::hard_link(&outside, f.path("key.txt")).unwrap();
    let e = err(call(&f.read, json!({"path": "key.txt"})).await);
    assert_eq!(
        e,
        "refused `key.txt`: it is a hard link (one file with 2 names). Its other name may be outside the workspace or a \
         protected Pincer file, so the file tools only use files with a single name; replace it with a copy"
    );
    let e = err(call(&f.write, json!({"path": "key.txt", "content": "overwritten"})).await);
    assert!(e.contains("hard link"), "{e}");
    let e = err(call(&f.edit, json!({"path": "key.txt", "oldText": "PRIVATE", "newText": "PUBLIC"})).await);
    assert!(e.contains("hard link") && !e.contains("PRIVATE"), "{e}");
    let patch = "*** Begin Patch\n*** Update File: key.txt\n@@\n-PRIVATE KEY\n+x\n*** End Patch";
    assert!(err(call(&f.patch, json!({"input": patch})).await).contains("hard link"));
    assert_eq!(fs::read_to_string(&outside).unwrap(), "PRIVATE KEY\n");
    // The bootstrap files go through the same check before they reach the model.
    fs::remove_file(f.path("USER.md")).unwrap();
    fs::hard_link(&outside, f.path("USER.md")).unwrap();
    let prompt = f.ws.system_prompt(&crate::workspace::PromptContext::default());
    assert!(!prompt.contains("PRIVATE KEY"));
    assert!(prompt.contains("## USER.md\n(not loaded: refused `USER.md`: it is a hard link"), "{prompt}");
    // Once the extra name is gone, the file is an ordinary workspace file again.
    fs::remove_file(&outside).unwrap();
    fs::remove_file(f.path("USER.md")).unwrap();
    assert!(text(&ok(call(&f.read, json!({"path": "key.txt"})).await)).starts_with("PRIVATE KEY"));
}

/// The file read is the file checked: a regular file swapped for a symlink after the check is
/// not followed (O_NOFOLLOW on the checked path).
#[cfg(unix)]
#[test]
fn open_resolved_does_not_follow_a_swapped_in_symlink() {
    let f = Fixture::new();
    f.put("a.txt", "mine");
    let real = f.ws.resolve("a.txt").unwrap();
    let outside = f._dir.path().join("secret");
    fs::write(&outside, "secret").unwrap();
    fs::remove_file(&real).unwrap();
    std::os::unix::fs::symlink(&outside, &real).unwrap();
    let e = f.ws.open_resolved(&real, "a.txt").unwrap_err();
    assert!(matches!(e, crate::workspace::WorkspaceError::ChangedWhileOpening { .. }), "{e}");
    // And a hard link swapped in after the check is caught on the opened handle.
    fs::remove_file(&real).unwrap();
    fs::hard_link(&outside, &real).unwrap();
    let e = f.ws.open_resolved(&real, "a.txt").unwrap_err();
    assert!(matches!(e, crate::workspace::WorkspaceError::HardLink { links: 2, .. }), "{e}");
}

/// The write side of a swap between check and write: whatever the target became (a hard link
/// or a symlink to an outside file), the write replaces the directory entry with a new file and
/// never writes through it, so the outside file keeps its content.
#[cfg(unix)]
#[test]
fn writes_replace_a_swapped_in_link_instead_of_writing_through_it() {
    let f = Fixture::new();
    let outside = f._dir.path().join("outside.txt");
    fs::write(&outside, "outside").unwrap();
    fs::hard_link(&outside, f.path("hard.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, f.path("soft.txt")).unwrap();
    for name in ["hard.txt", "soft.txt"] {
        super::common::atomic_write(&f.path(name), b"new").unwrap();
        assert_eq!(fs::read_to_string(&outside).unwrap(), "outside", "{name}");
        let meta = fs::symlink_metadata(f.path(name)).unwrap();
        assert!(meta.is_file() && std::os::unix::fs::MetadataExt::nlink(&meta) == 1, "{name} is a new single-name file");
        assert_eq!(f.get(name), "new");
    }
}

// ----- write -----

#[tokio::test]
async fn write_creates_dirs_and_replaces_atomically() {
    let f = Fixture::new();
    let out = ok(call(&f.write, json!({"path": "deep/er/new.md", "content": "héllo\n"})).await);
    assert_eq!(text(&out), "Successfully wrote 7 bytes to deep/er/new.md.");
    assert_eq!(out.details.unwrap()["created"], true);
    assert_eq!(f.get("deep/er/new.md"), "héllo\n");
    let out = ok(call(&f.write, json!({"path": "deep/er/new.md", "content": ""})).await);
    assert_eq!(out.details.unwrap()["created"], false);
    assert_eq!(f.get("deep/er/new.md"), "");
    let leftovers: Vec<_> = fs::read_dir(f.path("deep/er")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temp files left: {leftovers:?}");
    fs::create_dir_all(f.path("adir")).unwrap();
    let e = err(call(&f.write, json!({"path": "adir", "content": "x"})).await);
    assert!(e.contains("is a directory"), "{e}");
    f.put("file", "x");
    let e = err(call(&f.write, json!({"path": "file/child.txt", "content": "x"})).await);
    assert!(e.contains("file/child.txt"), "{e}");
}

#[cfg(unix)]
#[tokio::test]
async fn write_keeps_the_mode_of_the_file_it_replaces() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    f.put("run.sh", "#!/bin/sh\n");
    fs::set_permissions(f.path("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    ok(call(&f.write, json!({"path": "run.sh", "content": "#!/bin/sh\necho hi\n"})).await);
    assert_eq!(fs::metadata(f.path("run.sh")).unwrap().permissions().mode() & 0o777, 0o755);
}

#[tokio::test]
async fn cancelled_runs_write_nothing() {
    let f = Fixture::new();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let e = err(call_with(&f.write, json!({"path": "x.txt", "content": "x"}), &cancel).await);
    assert!(e.contains("Aborted"), "{e}");
    let patch = "*** Begin Patch\n*** Add File: y.txt\n+y\n*** End Patch";
    err(call_with(&f.patch, json!({"input": patch}), &cancel).await);
    f.put("z.txt", "a");
    err(call_with(&f.edit, json!({"path": "z.txt", "oldText": "a", "newText": "b"}), &cancel).await);
    err(call_with(&f.read, json!({"path": "z.txt"}), &cancel).await);
    assert!(!f.path("x.txt").exists() && !f.path("y.txt").exists());
    assert_eq!(f.get("z.txt"), "a");
}

// ----- edit -----

#[tokio::test]
async fn edit_replaces_a_unique_match_and_reports_a_diff() {
    let f = Fixture::new();
    f.put("doc.md", "# Title\n\nintro\n\n## Shopping\n- milk\n- eggs\n- bread\n\n## End\n");
    let out = ok(call(&f.edit, json!({"path": "doc.md", "oldText": "- eggs\n", "newText": "- eggs (a dozen)\n- $1 & $& literal\n"})).await);
    assert_eq!(f.get("doc.md"), "# Title\n\nintro\n\n## Shopping\n- milk\n- eggs (a dozen)\n- $1 & $& literal\n- bread\n\n## End\n");
    assert_eq!(text(&out), "Successfully replaced text in doc.md (line 7: -1 +2 lines).");
    let d = out.details.unwrap();
    assert_eq!(d["firstChangedLine"], 7);
    let diff = d["diff"].as_str().unwrap();
    assert!(diff.contains("- 7 - eggs\n+ 7 - eggs (a dozen)\n+ 8 - $1 & $& literal"), "{diff}");
    assert!(diff.contains("  6 - milk") && diff.contains("  9 - bread"), "{diff}");
}

#[tokio::test]
async fn edit_errors_explain_what_to_do() {
    let f = Fixture::new();
    f.put("code.py", "def a():\n    return 1\n\ndef b():\n    return 1\n");
    let e = err(call(&f.edit, json!({"path": "code.py", "oldText": "return 1", "newText": "return 2"})).await);
    assert!(e.contains("Found 2 occurrences") && e.contains("lines 2, 5"), "{e}");
    let e = err(call(&f.edit, json!({"path": "code.py", "oldText": "def b():\n  return 1", "newText": "x"})).await);
    assert!(e.contains("Could not find oldText") && e.contains("starts at line 4"), "{e}");
    let e = err(call(&f.edit, json!({"path": "code.py", "oldText": "zzz", "newText": "x"})).await);
    assert!(e.contains("Could not find oldText") && !e.contains("starts at line"), "{e}");
    let e = err(call(&f.edit, json!({"path": "code.py", "oldText": "def a", "newText": "def a"})).await);
    assert!(e.contains("identical"), "{e}");
    let e = err(call(&f.edit, json!({"path": "missing.py", "oldText": "a", "newText": "b"})).await);
    assert!(e.contains("File not found") && e.contains("write"), "{e}");
    f.put("bin.dat", [0xffu8, 0xfe, 0x00]);
    let e = err(call(&f.edit, json!({"path": "bin.dat", "oldText": "a", "newText": "b"})).await);
    assert!(e.contains("not a UTF-8 text file"), "{e}");
    assert_eq!(f.get("code.py"), "def a():\n    return 1\n\ndef b():\n    return 1\n");
}

#[tokio::test]
async fn edit_keeps_crlf_and_bom() {
    let f = Fixture::new();
    f.put("win.txt", "\u{feff}one\r\ntwo\r\nthree\r\n");
    ok(call(&f.edit, json!({"path": "win.txt", "oldText": "two\nthree", "newText": "2\n3"})).await);
    assert_eq!(f.get("win.txt"), "\u{feff}one\r\n2\r\n3\r\n");
}

#[tokio::test]
async fn concurrent_edits_of_one_file_both_apply() {
    let f = Fixture::new();
    let body: String = (0..200).map(|i| format!("item {i}\n")).collect();
    f.put("list.txt", &body);
    let calls = (0..20).map(|i| {
        call(&f.edit, json!({"path": "list.txt", "oldText": format!("item {}\n", i * 10), "newText": format!("ITEM {}\n", i * 10)}))
    });
    for out in futures_util::future::join_all(calls).await {
        ok(out);
    }
    let after = f.get("list.txt");
    for i in 0..20 {
        assert!(after.contains(&format!("ITEM {}\n", i * 10)), "edit {i} was lost");
    }
}

// ----- apply_patch -----

#[tokio::test]
async fn patch_adds_updates_moves_and_deletes() {
    let f = Fixture::new();
    f.put("src/app.py", "import os\n\ndef greet():\n    print(\"Hi\")\n\ndef main():\n    greet()\n");
    f.put("old.txt", "bye\n");
    f.put("rename-me.txt", "a\nb\n");
    let patch = "\
*** Begin Patch
*** Add File: docs/hello.txt
+Hello world
+
+second paragraph
*** Update File: src/app.py
@@ def greet():
-    print(\"Hi\")
+    print(\"Hello, world!\")
@@ def main():
     greet()
+    return 0
*** Update File: rename-me.txt
*** Move to: moved/renamed.txt
@@
 a
-b
+B
*** Delete File: old.txt
*** End Patch";
    let out = ok(call(&f.patch, json!({"input": patch})).await);
    assert_eq!(text(&out), "Success. Updated the following files:\nA docs/hello.txt\nM src/app.py\nM moved/renamed.txt\nD old.txt");
    assert_eq!(
        out.details.unwrap()["summary"],
        json!({"added": ["docs/hello.txt"], "modified": ["src/app.py", "moved/renamed.txt"], "deleted": ["old.txt"]})
    );
    assert_eq!(f.get("docs/hello.txt"), "Hello world\n\nsecond paragraph\n");
    assert_eq!(f.get("src/app.py"), "import os\n\ndef greet():\n    print(\"Hello, world!\")\n\ndef main():\n    greet()\n    return 0\n");
    assert_eq!(f.get("moved/renamed.txt"), "a\nB\n");
    assert!(!f.path("rename-me.txt").exists());
    assert!(!f.path("old.txt").exists());
}

#[tokio::test]
async fn patch_is_all_or_nothing() {
    let f = Fixture::new();
    f.put("a.txt", "one\ntwo\n");
    f.put("b.txt", "three\nfour\n");
    let patch = "\
*** Begin Patch
*** Update File: a.txt
@@
-one
+ONE
*** Add File: new/c.txt
+c
*** Delete File: b.txt
*** Update File: b.txt
@@
-nope
+x
*** End Patch";
    let e = err(call(&f.patch, json!({"input": patch})).await);
    assert!(e.contains("no files were changed"), "{e}");
    assert!(e.contains("b.txt: cannot update: file not found"), "later ops see earlier ones: {e}");
    assert_eq!(f.get("a.txt"), "one\ntwo\n");
    assert_eq!(f.get("b.txt"), "three\nfour\n");
    assert!(!f.path("new").exists());

    let patch = "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+ONE\n*** Update File: b.txt\n@@\n-nope\n+x\n*** End Patch";
    let e = err(call(&f.patch, json!({"input": patch})).await);
    assert!(e.contains("b.txt: could not find these lines") && e.contains("nope"), "{e}");
    assert_eq!(f.get("a.txt"), "one\ntwo\n");
}

#[cfg(unix)]
#[tokio::test]
async fn patch_rolls_back_when_a_commit_step_fails() {
    use std::os::unix::fs::PermissionsExt;
    // Root ignores directory permissions, so the failure cannot be provoked that way.
    if fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap_or(1) == 0 {
        return;
    }
    let f = Fixture::new();
    f.put("a.txt", "one\n");
    f.put("locked/b.txt", "two\n");
    fs::set_permissions(f.path("locked"), fs::Permissions::from_mode(0o555)).unwrap();
    let patch = "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+ONE\n*** Delete File: locked/b.txt\n*** End Patch";
    let e = err(call(&f.patch, json!({"input": patch})).await);
    fs::set_permissions(f.path("locked"), fs::Permissions::from_mode(0o755)).unwrap();
    assert!(e.contains("locked/b.txt"), "{e}");
    assert_eq!(f.get("a.txt"), "one\n", "the already renamed file was restored");
    assert_eq!(f.get("locked/b.txt"), "two\n");
}

#[test]
fn commit_rolls_back_written_files_when_a_later_step_fails() {
    let f = Fixture::new();
    f.put("a.txt", "one\n");
    fs::create_dir_all(f.path("dir/inner")).unwrap();
    let (a, fresh, dir) = (f.path("a.txt"), f.path("new/sub/fresh.txt"), f.path("dir"));
    // Deleting a directory with remove_file fails for every user, root included.
    let changes = vec![(a.clone(), Some(b"ONE\n".to_vec())), (fresh.clone(), Some(b"x".to_vec())), (dir.clone(), None)];
    let original = vec![(a.clone(), Some(b"one\n".to_vec())), (fresh.clone(), None), (dir.clone(), Some(Vec::new()))];
    let e = test_api::commit(&changes, &original).unwrap_err();
    assert!(e.contains("dir"), "{e}");
    assert_eq!(f.get("a.txt"), "one\n", "the renamed file was restored");
    assert!(!fresh.exists() && !f.path("new").exists(), "created files and directories were removed");
    assert!(dir.join("inner").is_dir());
    let names: Vec<_> = fs::read_dir(f.ws.root()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.contains("pincer-tmp")), "temp files cleaned up: {names:?}");
}

#[tokio::test]
async fn patch_refuses_conflicts() {
    let f = Fixture::new();
    f.put("exists.txt", "x\n");
    f.put("other.txt", "y\n");
    let e = err(call(&f.patch, json!({"input": "*** Begin Patch\n*** Add File: exists.txt\n+z\n*** End Patch"})).await);
    assert!(e.contains("already exists"), "{e}");
    let e = err(call(&f.patch, json!({"input": "*** Begin Patch\n*** Delete File: ghost.txt\n*** End Patch"})).await);
    assert!(e.contains("ghost.txt: cannot delete: file not found"), "{e}");
    let e = err(call(
        &f.patch,
        json!({"input": "*** Begin Patch\n*** Update File: exists.txt\n*** Move to: other.txt\n@@\n-x\n+z\n*** End Patch"}),
    )
    .await);
    assert!(e.contains("other.txt: cannot move there"), "{e}");
    let e = err(call(&f.patch, json!({"input": "*** Begin Patch\n*** Add File: ../escape.txt\n+z\n*** End Patch"})).await);
    assert!(e.contains("outside the workspace"), "{e}");
    fs::create_dir_all(f.path("somedir")).unwrap();
    let e = err(call(&f.patch, json!({"input": "*** Begin Patch\n*** Delete File: somedir\n*** End Patch"})).await);
    assert!(e.contains("is a directory"), "{e}");
    // Delete then re-add in one patch is fine.
    ok(call(&f.patch, json!({"input": "*** Begin Patch\n*** Delete File: exists.txt\n*** Add File: exists.txt\n+new\n*** End Patch"}))
        .await);
    assert_eq!(f.get("exists.txt"), "new\n");
}

#[tokio::test]
async fn patch_wrappers_crlf_and_noop() {
    let f = Fixture::new();
    f.put("w.txt", "\u{feff}a\r\nb\r\nc\r\n");
    let patch = "<<'EOF'\r\n*** Begin Patch\r\n*** Update File: w.txt\r\n@@\r\n a\r\n-b\r\n+B\r\n c\r\n*** End Patch\r\nEOF\r\n";
    ok(call(&f.patch, json!({"input": patch})).await);
    assert_eq!(f.get("w.txt"), "\u{feff}a\r\nB\r\nc\r\n");
    let fenced = "```\n*** Begin Patch\n*** Update File: w.txt\n@@\n-B\n+b2\n*** End Patch\n```";
    ok(call(&f.patch, json!({"input": fenced})).await);
    assert_eq!(f.get("w.txt"), "\u{feff}a\r\nb2\r\nc\r\n");
    let noop = "*** Begin Patch\n*** Update File: w.txt\n@@\n-b2\n+b2\n*** End Patch";
    let t = text(&ok(call(&f.patch, json!({"input": noop})).await));
    assert!(t.starts_with("No changes made to w.txt"), "{t}");
}

#[tokio::test]
async fn patch_paths_may_be_absolute_inside_the_workspace() {
    let f = Fixture::new();
    let abs = f.path("abs.txt");
    let patch = format!("*** Begin Patch\n*** Add File: {}\n+x\n*** End Patch", abs.display());
    ok(call(&f.patch, json!({"input": patch})).await);
    assert_eq!(fs::read_to_string(&abs).unwrap(), "x\n");
}

#[test]
fn patch_parser_errors() {
    assert!(test_api::parse_error("").unwrap().contains("empty"));
    assert!(test_api::parse_error("*** Update File: a\n*** End Patch").unwrap().contains("first line must be '*** Begin Patch'"));
    assert!(test_api::parse_error("*** Begin Patch\n*** Add File: a\n+x").unwrap().contains("last line must be '*** End Patch'"));
    let e = test_api::parse_error("*** Begin Patch\n*** Frobnicate: a\n*** End Patch").unwrap();
    assert!(e.contains("line 2") && e.contains("unexpected line '*** Frobnicate: a'"), "{e}");
    let e = test_api::parse_error("*** Begin Patch\n*** Update File: a\n@@\n x\n\tbad\n*** End Patch").unwrap();
    assert!(e.contains("line 5") && e.contains("must start with ' '"), "{e}");
    let e = test_api::parse_error("*** Begin Patch\n*** Update File: a\n*** End Patch").unwrap();
    assert!(e.contains("has no hunks"), "{e}");
    let e = test_api::parse_error("*** Begin Patch\n*** Add File:\n+x\n*** End Patch").unwrap();
    assert!(e.contains("missing its path"), "{e}");
    let e = test_api::parse_error("*** Begin Patch\n*** Update File: a\n@@\n-x\n*** End of File\n-y\n*** End Patch").unwrap();
    assert!(e.contains("expected a hunk header"), "{e}");
    assert!(test_api::parse_error("*** Begin Patch\n*** End Patch").unwrap().contains("no file operations"));
    assert_eq!(test_api::parse_ok("*** Begin Patch\n\n*** Add File: a\n*** Delete File: b\n\n*** End Patch\n"), 2);
}

#[test]
fn patch_hunk_matching() {
    let file = "fn a() {\n    one();\n}\n\nfn b() {\n    one();\n}\n";
    // Ambiguous without a locating line, unique with one.
    let e = test_api::apply_to_text(file, "@@\n-    one();\n+    two();").unwrap_err();
    assert!(e.contains("occur 2 times"), "{e}");
    let out = test_api::apply_to_text(file, "@@ fn b() {\n-    one();\n+    two();").unwrap();
    assert_eq!(out, "fn a() {\n    one();\n}\n\nfn b() {\n    two();\n}\n");
    // Whitespace-tolerant match keeps the file's own context lines; after an @@ anchor the
    // first match wins (the anchor is the disambiguation).
    let out = test_api::apply_to_text(file, "@@ fn a() {\n  one();  \n+    added();\n }").unwrap();
    assert_eq!(out, "fn a() {\n    one();\n    added();\n}\n\nfn b() {\n    one();\n}\n");
    // Typographic punctuation in the patch still matches.
    let out = test_api::apply_to_text("say \"hi\" - ok\n", "@@\n-say \u{201c}hi\u{201d} \u{2013} ok\n+say hello").unwrap();
    assert_eq!(out, "say hello\n");
    // End of file: pure insertion appends; an anchored hunk matches the last occurrence.
    let out = test_api::apply_to_text("x\ny\nx\n", "@@\n+z").unwrap();
    assert_eq!(out, "x\ny\nx\nz\n");
    let out = test_api::apply_to_text("x\ny\nx\n", "@@\n-x\n+X\n*** End of File").unwrap();
    assert_eq!(out, "x\ny\nX\n");
    // Insertion right after the locating line.
    let out = test_api::apply_to_text("# A\n# B\n", "@@ # A\n+inserted").unwrap();
    assert_eq!(out, "# A\ninserted\n# B\n");
    // A missing final newline stays missing.
    let out = test_api::apply_to_text("a\nb", "@@\n-b\n+c").unwrap();
    assert_eq!(out, "a\nc");
    // Blank lines before the next header are not required context.
    let out = test_api::apply_to_text("a\nb\n", "@@\n-a\n+A\n\n").unwrap();
    assert_eq!(out, "A\nb\n");
    // An interior blank line is context the file must have.
    let out = test_api::apply_to_text("a\n\nb\n", "@@\n a\n\n-b\n+B").unwrap();
    assert_eq!(out, "a\n\nB\n");
    // Hunks apply in order, each searched after the previous one; an unanchored hunk that
    // matches twice is refused (OpenClaw's rule) instead of guessing.
    let out = test_api::apply_to_text("a\nk\nv\nb\nk\nv\n", "@@\n a\n k\n-v\n+1\n@@\n b\n k\n-v\n+2").unwrap();
    assert_eq!(out, "a\nk\n1\nb\nk\n2\n");
    let e = test_api::apply_to_text("k\nv\nk\nv\n", "@@\n k\n-v\n+1").unwrap_err();
    assert!(e.contains("occur 2 times"), "{e}");
    let e = test_api::apply_to_text("a\nb\n", "@@\n-b\n+B\n@@\n-a\n+A").unwrap_err();
    assert!(e.contains("could not find these lines"), "hunks out of order: {e}");
    let e = test_api::apply_to_text("a\n", "@@ missing line\n-a\n+b").unwrap_err();
    assert!(e.contains("could not find the line '@@ missing line'"), "{e}");
    // An empty file gets content and a final newline.
    assert_eq!(test_api::apply_to_text("", "@@\n+first").unwrap(), "first\n");
}

#[test]
fn unified_diff_range_headers_locate_nothing() {
    assert_eq!(test_api::header_context("-3,7 +3,8 @@"), None);
    assert_eq!(test_api::header_context("-1 +1 @@"), None);
    assert_eq!(test_api::header_context("  "), None);
    assert_eq!(test_api::header_context("def main(): @@"), Some("def main():".into()));
    assert_eq!(test_api::header_context("- item"), Some("- item".into()));
    let out = test_api::apply_to_text("a\nb\n", "@@ -1,2 +1,2 @@\n a\n-b\n+c").unwrap();
    assert_eq!(out, "a\nc\n");
}

// ----- helpers -----

#[test]
fn text_file_round_trip() {
    let f = TextFile::decode(b"a\r\nb\r\n").unwrap();
    assert!(f.crlf && !f.bom);
    assert_eq!(f.text, "a\nb\n");
    assert_eq!(f.encode("x\ny\n"), b"x\r\ny\r\n");
    let f = TextFile::decode("\u{feff}z\n".as_bytes()).unwrap();
    assert!(f.bom && !f.crlf);
    assert_eq!(f.encode(&f.text), "\u{feff}z\n".as_bytes());
    assert!(TextFile::decode(&[0xff, 0xfe]).is_none());
}

#[test]
fn line_diff_shapes() {
    let d = line_diff("a\nb\nc\n", "a\nB\nc\n");
    assert_eq!(d.diff, " 1 a\n-2 b\n+2 B\n 3 c\n 4 ");
    assert_eq!((d.first_changed_line, d.added, d.removed), (2, 1, 1));
    let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
    let new = old.replace("10\n", "");
    let d = line_diff(&old, &new);
    assert_eq!(d.diff, "    ...\n  7 7\n  8 8\n  9 9\n-10 10\n 10 11\n 11 12\n 12 13\n    ...");
    assert_eq!((d.added, d.removed), (0, 1));
}

#[test]
fn fixture_paths_are_inside() {
    let f = Fixture::new();
    assert!(f.path("x").starts_with(f.ws.root()));
    assert!(Path::new(f.ws.root()).is_dir());
}
