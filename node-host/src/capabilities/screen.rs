//! `screen.snapshot` and `screen.record` via `xcap` (X11, Wayland, macOS, Windows).
//!
//! `screen.record` produces Motion-JPEG in an AVI container (`format:"avi"`): this node has no
//! video encoder. A request for `mp4` is answered with AVI too (the result's `format` says so);
//! any other format is `INVALID_REQUEST`. Audio is never recorded (`hasAudio:false`).

use std::time::{Duration, Instant};

use base64::Engine as _;
use image::DynamicImage;
use pincer_protocol::node_commands::{ClipResult, ImageResult};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::clip::ClipEncoder;
use super::imaging::{self, Format};
use super::{cancelled, params, run_blocking};
use crate::commands::{to_result, InvokeContext};
use crate::error::{codes, CommandError};

const SNAPSHOT: &str = "screen.snapshot";
const RECORD: &str = "screen.record";
const MAX_RECORD_MS: u64 = 60_000;
/// Recording frames are scaled to this width unless `maxWidth` says otherwise (keeps clips small).
const RECORD_DEFAULT_MAX_WIDTH: u32 = 1280;

/// True when at least one display can be captured right now (one monitor query, no capture).
pub fn available() -> bool {
    match native::monitor_count() {
        Ok(n) => n > 0,
        Err(e) => {
            tracing::debug!(error = %e, "no screen to capture");
            false
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotParams {
    format: Option<String>,
    max_width: Option<f64>,
    quality: Option<f64>,
    screen_index: Option<i64>,
}

#[derive(Debug, PartialEq)]
struct Snapshot {
    format: Format,
    max_width: Option<u32>,
    quality: u8,
    screen_index: usize,
}

fn snapshot_params(params: Value) -> Result<Snapshot, CommandError> {
    let p: SnapshotParams = params::parse(SNAPSHOT, params)?;
    Ok(Snapshot {
        format: Format::parse(SNAPSHOT, p.format.as_deref(), Format::Png)?,
        max_width: params::max_width(SNAPSHOT, p.max_width)?,
        quality: params::jpeg_quality(SNAPSHOT, p.quality, 90)?,
        screen_index: screen_index(SNAPSHOT, p.screen_index)?,
    })
}

fn screen_index(command: &str, i: Option<i64>) -> Result<usize, CommandError> {
    match i {
        None => Ok(0),
        Some(i) => usize::try_from(i).map_err(|_| CommandError::invalid_request(format!("{command}: screenIndex must be >= 0, got {i}"))),
    }
}

/// `{format?: png|jpeg, maxWidth?, quality?, screenIndex?}` → `{format, base64, width, height}`.
pub async fn snapshot(params: Value, ctx: &InvokeContext) -> Result<Value, CommandError> {
    let p = snapshot_params(params)?;
    let (bytes, width, height) = run_blocking(ctx, SNAPSHOT, move |_cancel| {
        let img = imaging::downscale(native::capture(p.screen_index)?, p.max_width);
        let bytes = match p.format {
            Format::Png => imaging::encode_png(&img)?,
            Format::Jpeg => imaging::encode_jpeg(&img, p.quality)?,
        };
        Ok((bytes, img.width(), img.height()))
    })
    .await?;
    let image = ImageResult {
        format: match p.format {
            Format::Png => "png",
            Format::Jpeg => "jpeg",
        }
        .into(),
        base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        width,
        height,
        extra: Default::default(),
    };
    to_result(SNAPSHOT, &image)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordParams {
    screen_index: Option<i64>,
    duration_ms: Option<f64>,
    fps: Option<f64>,
    format: Option<String>,
    include_audio: Option<bool>,
    max_width: Option<f64>,
    quality: Option<f64>,
}

#[derive(Debug, PartialEq)]
struct Record {
    screen_index: usize,
    duration: Duration,
    fps: u32,
    max_width: Option<u32>,
    quality: u8,
}

/// Accepts `avi` and `mp4` (answered as AVI), rejects anything else.
pub(crate) fn video_format(command: &str, f: Option<&str>) -> Result<(), CommandError> {
    match f.map(str::to_ascii_lowercase).as_deref() {
        None | Some("avi" | "mjpeg" | "mp4") => Ok(()),
        Some(other) => Err(CommandError::invalid_request(format!(
            "{command}: format must be avi or mp4 (mp4 is answered as MJPEG AVI), got {other:?}"
        ))),
    }
}

fn record_params(params: Value) -> Result<Record, CommandError> {
    let p: RecordParams = params::parse(RECORD, params)?;
    video_format(RECORD, p.format.as_deref())?;
    if p.include_audio == Some(true) {
        tracing::debug!("screen.record: includeAudio requested, but audio capture is not supported");
    }
    let fps = match p.fps {
        None => 5,
        Some(f) if f.is_finite() => f.round().clamp(1.0, 30.0) as u32,
        Some(f) => return Err(CommandError::invalid_request(format!("{RECORD}: fps must be a number, got {f}"))),
    };
    let ms = params::duration_ms(RECORD, "durationMs", p.duration_ms, 10_000, MAX_RECORD_MS)?;
    if ms == 0 {
        return Err(CommandError::invalid_request(format!("{RECORD}: durationMs must be > 0")));
    }
    Ok(Record {
        screen_index: screen_index(RECORD, p.screen_index)?,
        duration: Duration::from_millis(ms),
        fps,
        max_width: Some(params::max_width(RECORD, p.max_width)?.unwrap_or(RECORD_DEFAULT_MAX_WIDTH)),
        quality: params::jpeg_quality(RECORD, p.quality, 60)?,
    })
}

/// `{screenIndex?, durationMs? (10000, ≤60000), fps? (5, 1..30), format?, includeAudio?}` →
/// `{format:"avi", base64, durationMs, fps, screenIndex, hasAudio:false}` (+ `truncated:true` when
/// the 48 MB cap cut it short). Cancelling answers `CANCELLED` and discards the frames.
pub async fn record(params: Value, ctx: &InvokeContext) -> Result<Value, CommandError> {
    let p = record_params(params)?;
    let (screen_index, fps) = (p.screen_index, p.fps);
    let clip = run_blocking(ctx, RECORD, move |cancel| record_blocking(&p, &cancel)).await?;
    let out = ClipResult { screen_index: Some(screen_index as u64), ..clip.to_result(fps) };
    to_result(RECORD, &out)
}

fn record_blocking(p: &Record, cancel: &CancellationToken) -> Result<super::clip::Clip, CommandError> {
    let mut enc = ClipEncoder::new(p.fps, p.max_width, p.quality);
    let frame = Duration::from_secs(1) / p.fps;
    let start = Instant::now();
    let mut next = Duration::ZERO;
    while next < p.duration && !enc.is_full() {
        sleep_until(start + next, cancel)?;
        let at = start.elapsed();
        if at >= p.duration {
            break;
        }
        enc.push_at(at, native::capture(p.screen_index)?)?;
        // The next capture is due at the next slot boundary after now.
        let done = start.elapsed();
        next = frame * (u32::try_from(done.as_micros() / frame.as_micros().max(1)).unwrap_or(u32::MAX) + 1);
    }
    if cancel.is_cancelled() {
        return Err(cancelled());
    }
    enc.finish(p.duration).ok_or_else(|| CommandError::new(codes::SCREEN_UNAVAILABLE, "no frame could be captured"))
}

/// Sleeps in short slices so a cancel is noticed within ~50 ms.
fn sleep_until(deadline: Instant, cancel: &CancellationToken) -> Result<(), CommandError> {
    loop {
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}

fn no_display(detail: &str) -> CommandError {
    let hint = if cfg!(target_os = "macos") {
        "grant Pincer Screen Recording permission (System Settings → Privacy & Security → Screen Recording) and restart it"
    } else if cfg!(target_os = "windows") {
        "run the node inside an interactive desktop session"
    } else {
        "run inside a graphical session: set DISPLAY (X11, e.g. Xvfb) or WAYLAND_DISPLAY (with xdg-desktop-portal)"
    };
    CommandError::new(codes::SCREEN_UNAVAILABLE, format!("no display to capture ({detail}); {hint}"))
}

#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
mod native {
    use super::*;

    pub(super) fn monitor_count() -> Result<usize, CommandError> {
        xcap::Monitor::all().map(|m| m.len()).map_err(|e| no_display(&e.to_string()))
    }

    /// How often a capture is tried when the X server refuses the connection.
    const CONNECT_ATTEMPTS: u32 = 3;
    const CONNECT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

    /// Captures monitor `index` (xcap's order; 0 is the first it reports).
    ///
    /// xcap opens a fresh X connection for every step of a capture. An X server with no other
    /// client (a bare Xvfb started without `-noreset`) resets each time the last one closes,
    /// and a connection attempted during that reset is refused; so a refused connection is
    /// tried again a couple of times before the command fails.
    pub(super) fn capture(index: usize) -> Result<DynamicImage, CommandError> {
        let mut attempt = 1;
        loop {
            match capture_once(index) {
                Err(CaptureError::Connection(e)) if attempt < CONNECT_ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "display refused the connection; trying again");
                    attempt += 1;
                    std::thread::sleep(CONNECT_RETRY_DELAY);
                }
                Err(CaptureError::Connection(e)) => {
                    return Err(CommandError::new(codes::SCREEN_UNAVAILABLE, format!("screen capture failed: {e}")))
                }
                Err(CaptureError::Command(e)) => return Err(e),
                Ok(img) => return Ok(img),
            }
        }
    }

    enum CaptureError {
        /// The display server could not be reached (possibly for a moment).
        Connection(xcap::XCapError),
        Command(CommandError),
    }

    fn is_connection_error(e: &xcap::XCapError) -> bool {
        #[cfg(target_os = "linux")]
        {
            matches!(e, xcap::XCapError::XcbConnError(_))
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = e;
            false
        }
    }

    fn capture_once(index: usize) -> Result<DynamicImage, CaptureError> {
        let classify = |e: xcap::XCapError, to_command: fn(String) -> CommandError| {
            if is_connection_error(&e) {
                CaptureError::Connection(e)
            } else {
                CaptureError::Command(to_command(e.to_string()))
            }
        };
        let monitors = xcap::Monitor::all().map_err(|e| classify(e, |m| no_display(&m)))?;
        if monitors.is_empty() {
            return Err(CaptureError::Command(no_display("no monitor found")));
        }
        let count = monitors.len();
        let monitor = monitors.into_iter().nth(index).ok_or_else(|| {
            CaptureError::Command(CommandError::invalid_request(format!(
                "screenIndex {index} out of range: this machine has {count} screen{} (0..{})",
                if count == 1 { "" } else { "s" },
                count - 1
            )))
        })?;
        let img = monitor
            .capture_image()
            .map_err(|e| classify(e, |m| CommandError::new(codes::SCREEN_UNAVAILABLE, format!("screen capture failed: {m}"))))?;
        Ok(DynamicImage::ImageRgba8(img))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
mod native {
    use super::*;

    pub(super) fn monitor_count() -> Result<usize, CommandError> {
        Err(no_display("screen capture is not implemented on this OS"))
    }

    pub(super) fn capture(_index: usize) -> Result<DynamicImage, CommandError> {
        Err(no_display("screen capture is not implemented on this OS"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::avi::tests::parse_avi;
    use serde_json::json;

    fn has_display() -> bool {
        std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()) || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty())
    }

    fn decode(v: &Value) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(v["base64"].as_str().unwrap()).unwrap()
    }

    #[test]
    fn snapshot_params_defaults_and_validation() {
        let p = snapshot_params(Value::Null).unwrap();
        assert_eq!(p, Snapshot { format: Format::Png, max_width: None, quality: 90, screen_index: 0 });
        let p = snapshot_params(json!({"format":"jpeg","maxWidth":640,"quality":0.5,"screenIndex":1})).unwrap();
        assert_eq!(p, Snapshot { format: Format::Jpeg, max_width: Some(640), quality: 50, screen_index: 1 });
        for bad in [json!({"screenIndex":-1}), json!({"format":"bmp"}), json!({"maxWidth":0}), json!({"quality":500})] {
            assert_eq!(snapshot_params(bad.clone()).unwrap_err().code, "INVALID_REQUEST", "{bad}");
        }
    }

    #[test]
    fn record_params_clamp() {
        let p = record_params(json!({})).unwrap();
        assert_eq!((p.duration, p.fps, p.screen_index), (Duration::from_secs(10), 5, 0));
        assert_eq!(p.max_width, Some(RECORD_DEFAULT_MAX_WIDTH));
        let p = record_params(json!({"durationMs": 600000, "fps": 100, "format": "mp4", "includeAudio": true})).unwrap();
        assert_eq!((p.duration, p.fps), (Duration::from_secs(60), 30));
        assert_eq!(record_params(json!({"fps": 0})).unwrap().fps, 1);
        for bad in [json!({"durationMs": -5}), json!({"durationMs": 0}), json!({"format": "webm"}), json!({"screenIndex": -2})] {
            assert_eq!(record_params(bad.clone()).unwrap_err().code, "INVALID_REQUEST", "{bad}");
        }
    }

    /// With a display: a real capture. Without: SCREEN_UNAVAILABLE with guidance.
    #[tokio::test]
    async fn snapshot_real_or_unavailable() {
        let ctx = InvokeContext::detached();
        let res = snapshot(json!({"format":"jpeg","maxWidth":320,"quality":0.7}), &ctx).await;
        if has_display() {
            let v = res.unwrap();
            assert!(available());
            assert_eq!(v["format"], "jpeg");
            assert_eq!(v["width"], 320);
            let img = imaging::decode_jpeg(&decode(&v)).unwrap();
            assert_eq!((img.width(), u64::from(img.height())), (320, v["height"].as_u64().unwrap()));
            let v = snapshot(Value::Null, &ctx).await.unwrap();
            assert_eq!(v["format"], "png");
            assert_eq!(&decode(&v)[..4], b"\x89PNG");
            let e = snapshot(json!({"screenIndex": 99}), &ctx).await.unwrap_err();
            assert_eq!(e.code, "INVALID_REQUEST");
            assert!(e.message.contains("has 1 screen") || e.message.contains("screens"), "{}", e.message);
        } else {
            let e = res.unwrap_err();
            assert!(!available());
            assert_eq!(e.code, "SCREEN_UNAVAILABLE");
            assert!(e.message.contains("DISPLAY") || e.message.contains("Screen Recording"), "{}", e.message);
        }
    }

    #[tokio::test]
    async fn record_real_or_unavailable() {
        let ctx = InvokeContext::detached();
        let res = record(json!({"durationMs": 1000, "fps": 4, "maxWidth": 160}), &ctx).await;
        if has_display() {
            let v = res.unwrap();
            assert_eq!((v["format"].as_str(), v["fps"].as_u64(), v["hasAudio"].as_bool()), (Some("avi"), Some(4), Some(false)));
            assert_eq!(v["durationMs"], 1000);
            let avi = parse_avi(&decode(&v));
            assert_eq!((avi.total_frames, avi.width, avi.fps), (4, 160, 4));
            imaging::decode_jpeg(&avi.frames[0]).unwrap();
        } else {
            assert_eq!(res.unwrap_err().code, "SCREEN_UNAVAILABLE");
        }
    }

    #[tokio::test]
    async fn record_cancel_is_prompt() {
        let ctx = InvokeContext::detached();
        let cancel = ctx.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel();
        });
        let t0 = Instant::now();
        let res = record(json!({"durationMs": 20000}), &ctx).await;
        let code = res.unwrap_err().code;
        if has_display() {
            assert_eq!(code, "CANCELLED");
            assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        } else {
            assert_eq!(code, "SCREEN_UNAVAILABLE");
        }
    }
}
