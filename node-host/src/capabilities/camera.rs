//! `camera.list`, `camera.snap` and `camera.clip` over a [`CameraBackend`]; [`NativeCameras`] is
//! the real one (nokhwa: V4L2 on Linux, AVFoundation on macOS, Media Foundation on Windows).
//!
//! No camera is not an error for `camera.list` (`{devices:[]}`); `snap`/`clip` answer
//! `CAMERA_UNAVAILABLE` "no camera found". Images are never invented. `camera.clip` records
//! Motion-JPEG in an AVI container (`format:"avi"`, no audio): there is no video encoder here, so
//! a request for `mp4` is answered with AVI too.

use std::time::Duration;

use base64::Engine as _;
use image::DynamicImage;
pub use pincer_protocol::node_commands::CameraDevice;
use pincer_protocol::node_commands::{CameraListResult, ClipResult, ImageResult};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::clip::{Clip, ClipEncoder};
use super::imaging::{self, Format};
use super::{or_cancelled, params, BoxFuture};
use crate::commands::{to_result, InvokeContext};
use crate::error::{codes, CommandError};

const LIST: &str = "camera.list";
const SNAP: &str = "camera.snap";
const CLIP: &str = "camera.clip";
/// Photos are recompressed until their base64 is below 5 MB (as OpenClaw does).
const MAX_SNAP_BYTES: usize = 5 * 1024 * 1024 / 4 * 3;
const MAX_CLIP_MS: u64 = 60_000;

/// Frames of a clip: (time since the clip started, frame). Bounded; a closed channel means stop.
pub type FrameSink = mpsc::Sender<(Duration, DynamicImage)>;

/// Where camera frames come from. Methods must return promptly once `cancel` fires.
pub trait CameraBackend: Send + Sync {
    /// The cameras present right now (empty when there are none).
    fn devices(&self) -> Result<Vec<CameraDevice>, CommandError>;
    /// One frame from `device_id`, taken `delay` after the stream started (lets exposure settle).
    fn capture_frame<'a>(&'a self, device_id: &'a str, delay: Duration, cancel: &'a CancellationToken) -> BoxFuture<'a, DynamicImage>;
    /// Streams frames from `device_id` into `sink` for `duration` (or until `sink` closes).
    fn capture_clip<'a>(
        &'a self,
        device_id: &'a str,
        duration: Duration,
        sink: FrameSink,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, ()>;
}

/// True when at least one camera is present.
pub fn available(backend: &dyn CameraBackend) -> bool {
    backend.devices().map(|d| !d.is_empty()).unwrap_or(false)
}

/// `{}` → `{devices:[{id, name, position, deviceType}]}`.
pub async fn list(backend: &dyn CameraBackend, params: Value, _ctx: &InvokeContext) -> Result<Value, CommandError> {
    let _: Empty = params::parse(LIST, params)?;
    let devices = backend.devices().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "camera enumeration failed; reporting no cameras");
        Vec::new()
    });
    to_result(LIST, &CameraListResult { devices, extra: Default::default() })
}

#[derive(Debug, Default, Deserialize)]
struct Empty {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Facing {
    Front,
    Back,
}

impl Facing {
    fn as_str(self) -> &'static str {
        match self {
            Facing::Front => "front",
            Facing::Back => "back",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapParams {
    facing: Option<Facing>,
    max_width: Option<f64>,
    quality: Option<f64>,
    format: Option<String>,
    delay_ms: Option<f64>,
    device_id: Option<String>,
}

#[derive(Debug, PartialEq)]
struct Snap {
    facing: Option<Facing>,
    max_width: u32,
    quality: u8,
    delay: Duration,
    device_id: Option<String>,
}

fn snap_params(params: Value) -> Result<Snap, CommandError> {
    let p: SnapParams = params::parse(SNAP, params)?;
    if Format::parse(SNAP, p.format.as_deref(), Format::Jpeg)? != Format::Jpeg {
        return Err(CommandError::invalid_request(format!("{SNAP}: format must be jpg")));
    }
    Ok(Snap {
        facing: p.facing,
        max_width: params::max_width(SNAP, p.max_width)?.unwrap_or(1600),
        quality: params::jpeg_quality(SNAP, p.quality, 90)?,
        delay: Duration::from_millis(params::duration_ms(SNAP, "delayMs", p.delay_ms, 0, 10_000)?),
        device_id: p.device_id,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClipParams {
    facing: Option<Facing>,
    duration_ms: Option<f64>,
    include_audio: Option<bool>,
    format: Option<String>,
    device_id: Option<String>,
    fps: Option<f64>,
    max_width: Option<f64>,
    quality: Option<f64>,
}

#[derive(Debug, PartialEq)]
struct ClipReq {
    facing: Option<Facing>,
    duration: Duration,
    device_id: Option<String>,
    fps: u32,
    max_width: u32,
    quality: u8,
}

fn clip_params(params: Value) -> Result<ClipReq, CommandError> {
    let p: ClipParams = params::parse(CLIP, params)?;
    super::screen::video_format(CLIP, p.format.as_deref())?;
    if p.include_audio.unwrap_or(true) {
        tracing::debug!("camera.clip: audio is not recorded (hasAudio:false)");
    }
    let ms = params::duration_ms(CLIP, "durationMs", p.duration_ms, 3000, MAX_CLIP_MS)?;
    if ms == 0 {
        return Err(CommandError::invalid_request(format!("{CLIP}: durationMs must be > 0")));
    }
    let fps = match p.fps {
        None => 10,
        Some(f) if f.is_finite() => f.round().clamp(1.0, 30.0) as u32,
        Some(f) => return Err(CommandError::invalid_request(format!("{CLIP}: fps must be a number, got {f}"))),
    };
    Ok(ClipReq {
        facing: p.facing,
        duration: Duration::from_millis(ms),
        device_id: p.device_id,
        fps,
        max_width: params::max_width(CLIP, p.max_width)?.unwrap_or(1280),
        quality: params::jpeg_quality(CLIP, p.quality, 70)?,
    })
}

fn no_camera() -> CommandError {
    CommandError::new(codes::CAMERA_UNAVAILABLE, "no camera found")
}

/// `deviceId` wins; else the first camera facing `facing`; else the first camera.
fn pick(backend: &dyn CameraBackend, device_id: Option<&str>, facing: Option<Facing>) -> Result<CameraDevice, CommandError> {
    let devices = backend.devices()?;
    if devices.is_empty() {
        return Err(no_camera());
    }
    if let Some(id) = device_id {
        return devices.iter().find(|d| d.id == id).cloned().ok_or_else(|| {
            let known: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
            CommandError::invalid_request(format!("unknown deviceId {id:?}; cameras: {}", known.join(", ")))
        });
    }
    let by_facing = facing.and_then(|f| devices.iter().find(|d| d.position == f.as_str()));
    Ok(by_facing.unwrap_or(&devices[0]).clone())
}

/// `{facing?, maxWidth? (1600), quality? (0.9), format?: jpg, delayMs? (0, ≤10000), deviceId?}` →
/// `{format:"jpg", base64, width, height}` (recompressed until base64 < 5 MB).
pub async fn snap(backend: &dyn CameraBackend, params: Value, ctx: &InvokeContext) -> Result<Value, CommandError> {
    let p = snap_params(params)?;
    let device = pick(backend, p.device_id.as_deref(), p.facing)?;
    let frame = or_cancelled(ctx, backend.capture_frame(&device.id, p.delay, &ctx.cancel)).await?;
    let (max_width, quality) = (p.max_width, p.quality);
    let (bytes, width, height) = super::run_blocking(ctx, SNAP, move |_| {
        imaging::encode_jpeg_under(imaging::downscale(frame, Some(max_width)), quality, MAX_SNAP_BYTES)
    })
    .await?;
    let image = ImageResult {
        format: "jpg".into(),
        base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        width,
        height,
        extra: Default::default(),
    };
    to_result(SNAP, &image)
}

/// `{facing?, durationMs? (3000, ≤60000), includeAudio?, format?, deviceId?, fps? (10, 1..30), maxWidth? (1280)}`
/// → `{format:"avi", base64, durationMs, hasAudio:false, fps, width, height}`.
pub async fn clip(backend: &dyn CameraBackend, params: Value, ctx: &InvokeContext) -> Result<Value, CommandError> {
    let p = clip_params(params)?;
    let device = pick(backend, p.device_id.as_deref(), p.facing)?;
    let (tx, mut rx) = mpsc::channel::<(Duration, DynamicImage)>(4);
    let (fps, max_width, quality, duration) = (p.fps, p.max_width, p.quality, p.duration);
    // Encode on the blocking pool as frames arrive; dropping `rx` when full stops the capture.
    let encoder = tokio::task::spawn_blocking(move || -> Result<Option<Clip>, CommandError> {
        let mut enc = ClipEncoder::new(fps, Some(max_width), quality);
        while let Some((at, frame)) = rx.blocking_recv() {
            enc.push_at(at, frame)?;
            if enc.is_full() {
                break;
            }
        }
        Ok(enc.finish(duration))
    });
    let capture = backend.capture_clip(&device.id, duration, tx, &ctx.cancel);
    let clip = or_cancelled(ctx, async move {
        capture.await?;
        encoder.await.map_err(|e| CommandError::unavailable(format!("clip encoder crashed: {e}")))?
    })
    .await?
    .ok_or_else(|| CommandError::new(codes::CAMERA_UNAVAILABLE, "the camera delivered no frame"))?;
    let out = ClipResult { device_id: Some(device.id), ..clip.to_result(fps) };
    to_result(CLIP, &out)
}

/// The OS cameras, through nokhwa. Stateless: each capture opens and closes the device.
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeCameras;

#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
mod native;

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
impl CameraBackend for NativeCameras {
    fn devices(&self) -> Result<Vec<CameraDevice>, CommandError> {
        Ok(Vec::new())
    }
    fn capture_frame<'a>(&'a self, _: &'a str, _: Duration, _: &'a CancellationToken) -> BoxFuture<'a, DynamicImage> {
        Box::pin(async { Err(no_camera()) })
    }
    fn capture_clip<'a>(&'a self, _: &'a str, _: Duration, _: FrameSink, _: &'a CancellationToken) -> BoxFuture<'a, ()> {
        Box::pin(async { Err(no_camera()) })
    }
}

#[cfg(test)]
mod tests;
