//! [`NativeCameras`] over nokhwa. Camera handles are not `Send`: each capture opens the device
//! inside one blocking task and closes it when done.

use std::time::{Duration, Instant};

use image::DynamicImage;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{ApiBackend, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType};
use nokhwa::{Buffer, Camera};
use tokio_util::sync::CancellationToken;

use super::{no_camera, CameraBackend, CameraDevice, FrameSink, NativeCameras};
use crate::capabilities::{cancelled, imaging, BoxFuture};
use crate::error::{codes, CommandError};

/// Frames thrown away after opening, so auto-exposure can settle.
const WARMUP_FRAMES: u32 = 3;

impl CameraBackend for NativeCameras {
    fn devices(&self) -> Result<Vec<CameraDevice>, CommandError> {
        #[cfg(target_os = "macos")]
        if !nokhwa::nokhwa_check() {
            nokhwa::nokhwa_initialize(|granted| tracing::info!(granted, "camera access"));
        }
        let cams = nokhwa::query(ApiBackend::Auto)
            .map_err(|e| CommandError::new(codes::CAMERA_UNAVAILABLE, format!("cannot enumerate cameras: {e}")))?;
        Ok(cams
            .into_iter()
            .map(|c| CameraDevice {
                id: c.index().as_string(),
                name: c.human_name(),
                position: "unspecified".to_string(),
                device_type: "external".to_string(),
            })
            .collect())
    }

    fn capture_frame<'a>(&'a self, device_id: &'a str, delay: Duration, cancel: &'a CancellationToken) -> BoxFuture<'a, DynamicImage> {
        let (id, cancel) = (device_id.to_string(), cancel.clone());
        Box::pin(async move {
            spawn(move || {
                let mut cam = open(&id)?;
                let started = Instant::now();
                let mut seen = 0;
                loop {
                    if cancel.is_cancelled() {
                        return Err(cancelled());
                    }
                    let buf = cam.frame().map_err(|e| frame_err(&id, &e))?;
                    seen += 1;
                    if seen > WARMUP_FRAMES && started.elapsed() >= delay {
                        return decode(&buf);
                    }
                }
            })
            .await
        })
    }

    fn capture_clip<'a>(
        &'a self,
        device_id: &'a str,
        duration: Duration,
        sink: FrameSink,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, ()> {
        let (id, cancel) = (device_id.to_string(), cancel.clone());
        Box::pin(async move {
            spawn(move || {
                let mut cam = open(&id)?;
                for _ in 0..WARMUP_FRAMES {
                    cam.frame().map_err(|e| frame_err(&id, &e))?;
                }
                let start = Instant::now();
                while start.elapsed() < duration {
                    if cancel.is_cancelled() {
                        return Err(cancelled());
                    }
                    let buf = cam.frame().map_err(|e| frame_err(&id, &e))?;
                    let at = start.elapsed();
                    if sink.blocking_send((at, decode(&buf)?)).is_err() {
                        break; // encoder full or gone
                    }
                }
                Ok(())
            })
            .await
        })
    }
}

async fn spawn<T: Send + 'static>(f: impl FnOnce() -> Result<T, CommandError> + Send + 'static) -> Result<T, CommandError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| CommandError::new(codes::CAMERA_UNAVAILABLE, format!("camera task crashed: {e}")))?
}

fn open(id: &str) -> Result<Camera, CommandError> {
    let index = match id.parse::<u32>() {
        Ok(n) => CameraIndex::Index(n),
        Err(_) => CameraIndex::String(id.to_string()),
    };
    let format = RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestResolution);
    let mut cam = Camera::new(index, format).map_err(|e| {
        tracing::debug!(error = %e, id, "camera open failed");
        if nokhwa::query(ApiBackend::Auto).map(|c| c.is_empty()).unwrap_or(true) {
            no_camera()
        } else {
            open_err(id, &e)
        }
    })?;
    cam.open_stream().map_err(|e| open_err(id, &e))?;
    Ok(cam)
}

fn open_err(id: &str, e: &nokhwa::NokhwaError) -> CommandError {
    let msg = e.to_string();
    if msg.to_ascii_lowercase().contains("permission") || msg.contains("denied") {
        CommandError::new(
            codes::CAMERA_PERMISSION_REQUIRED,
            format!("camera {id}: {msg} (grant camera access: macOS Privacy → Camera; Linux: be in group `video`)"),
        )
    } else {
        CommandError::new(codes::CAMERA_UNAVAILABLE, format!("could not open camera {id}: {msg}"))
    }
}

fn frame_err(id: &str, e: &nokhwa::NokhwaError) -> CommandError {
    CommandError::new(codes::CAMERA_UNAVAILABLE, format!("camera {id} stopped delivering frames: {e}"))
}

/// MJPEG frames are decoded with `image` (nokhwa's own MJPEG path needs mozjpeg); the rest by nokhwa.
fn decode(buf: &Buffer) -> Result<DynamicImage, CommandError> {
    if buf.source_frame_format() == FrameFormat::MJPEG {
        return imaging::decode_jpeg(buf.buffer());
    }
    buf.decode_image::<RgbFormat>()
        .map(DynamicImage::ImageRgb8)
        .map_err(|e| CommandError::new(codes::CAMERA_UNAVAILABLE, format!("could not decode a camera frame: {e}")))
}
