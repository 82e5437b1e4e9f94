//! Turns timestamped frames into a constant-frame-rate MJPEG AVI (`screen.record`, `camera.clip`).
//!
//! Frame `k` of the output shows what was captured at or before `k / fps` seconds: when capture
//! is slower than `fps` (xcap needs 0.3–0.8 s per frame on Xvfb), the previous frame is repeated,
//! so playback keeps real time; extra frames within one slot are dropped. Frames are JPEG-encoded
//! as they arrive, so memory stays at the output size, which is capped at [`MAX_CLIP_BYTES`].

use std::time::Duration;

use image::DynamicImage;

use super::avi::AviWriter;
use super::imaging::{downscale, encode_jpeg};
use crate::error::CommandError;

/// Output cap (raw bytes; base64 adds a third). Recording stops early, and says so, when reached.
pub(crate) const MAX_CLIP_BYTES: usize = 48 * 1024 * 1024;

pub(crate) struct ClipEncoder {
    fps: u32,
    max_width: Option<u32>,
    quality: u8,
    max_bytes: usize,
    writer: Option<AviWriter>,
    last: Vec<u8>,
}

/// A finished clip.
pub(crate) struct Clip {
    pub(crate) avi: Vec<u8>,
    pub(crate) frames: usize,
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// True when [`MAX_CLIP_BYTES`] cut the recording short.
    pub(crate) truncated: bool,
}

impl Clip {
    pub(crate) fn duration_ms(&self, fps: u32) -> u64 {
        self.frames as u64 * 1000 / u64::from(fps.max(1))
    }

    /// The result shared by `screen.record` and `camera.clip`: `{format:"avi", base64,
    /// durationMs, fps, hasAudio:false, width, height}` plus `truncated:true` when cut short.
    pub(crate) fn to_result(&self, fps: u32) -> pincer_protocol::node_commands::ClipResult {
        use base64::Engine;
        pincer_protocol::node_commands::ClipResult {
            format: "avi".into(),
            base64: base64::engine::general_purpose::STANDARD.encode(&self.avi),
            duration_ms: self.duration_ms(fps),
            fps,
            has_audio: false,
            width: self.width,
            height: self.height,
            truncated: self.truncated.then_some(true),
            screen_index: None,
            device_id: None,
            extra: Default::default(),
        }
    }
}

impl ClipEncoder {
    pub(crate) fn new(fps: u32, max_width: Option<u32>, quality: u8) -> Self {
        ClipEncoder { fps: fps.max(1), max_width, quality, max_bytes: MAX_CLIP_BYTES, writer: None, last: Vec::new() }
    }

    #[cfg(test)]
    pub(crate) fn with_max_bytes(mut self, max: usize) -> Self {
        self.max_bytes = max;
        self
    }

    /// Total frames for `duration` at this frame rate (at least one).
    pub(crate) fn slots(&self, duration: Duration) -> usize {
        let n = (duration.as_micros() * u128::from(self.fps)).div_ceil(1_000_000);
        usize::try_from(n).unwrap_or(usize::MAX).max(1)
    }

    pub(crate) fn is_full(&self) -> bool {
        self.writer.as_ref().is_some_and(|w| w.len() >= self.max_bytes)
    }

    /// Adds a frame captured `at` after the start of the recording.
    pub(crate) fn push_at(&mut self, at: Duration, img: DynamicImage) -> Result<(), CommandError> {
        let slot = usize::try_from(at.as_micros() * u128::from(self.fps) / 1_000_000).unwrap_or(usize::MAX);
        let filled = self.writer.as_ref().map_or(0, AviWriter::frames);
        if self.writer.is_some() && slot < filled {
            return Ok(()); // this slot already has a frame
        }
        let img = match &self.writer {
            None => downscale(img, self.max_width),
            Some(w) => {
                let (ww, hh) = w.dimensions();
                if (img.width(), img.height()) == (ww, hh) {
                    img
                } else {
                    img.resize_exact(ww, hh, image::imageops::FilterType::Triangle)
                }
            }
        };
        let jpeg = encode_jpeg(&img, self.quality)?;
        if self.writer.is_none() {
            self.writer = Some(AviWriter::new(img.width(), img.height(), self.fps));
            self.last = jpeg.clone();
        }
        self.pad_to(slot);
        if !self.is_full() {
            if let Some(w) = self.writer.as_mut() {
                w.push_jpeg(&jpeg);
            }
        }
        self.last = jpeg;
        Ok(())
    }

    /// Repeats the last frame until `frames` frames exist (or the size cap is reached).
    fn pad_to(&mut self, frames: usize) {
        let Some(w) = self.writer.as_mut() else { return };
        while w.frames() < frames && w.len() < self.max_bytes {
            w.push_jpeg(&self.last);
        }
    }

    /// Pads to `duration` and closes the file; `None` when no frame was ever captured.
    pub(crate) fn finish(mut self, duration: Duration) -> Option<Clip> {
        let slots = self.slots(duration);
        self.pad_to(slots);
        let truncated = self.is_full();
        let w = self.writer?;
        let (width, height) = w.dimensions();
        let frames = w.frames();
        Some(Clip { avi: w.finish(), frames, width, height, truncated: truncated && frames < slots })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::avi::tests::parse_avi;
    use crate::capabilities::imaging::test_image;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn slow_capture_repeats_frames_to_keep_real_time() {
        // 5 fps for 1 s = 5 slots; frames arrive at 0 ms and 650 ms only.
        let mut c = ClipEncoder::new(5, Some(32), 80);
        c.push_at(MS(0), test_image(64, 48)).unwrap();
        c.push_at(MS(650), test_image(64, 48)).unwrap();
        let clip = c.finish(MS(1000)).unwrap();
        assert_eq!(clip.frames, 5);
        assert_eq!((clip.width, clip.height), (32, 24));
        assert_eq!(clip.duration_ms(5), 1000);
        assert!(!clip.truncated);
        let avi = parse_avi(&clip.avi);
        assert_eq!((avi.total_frames, avi.fps, avi.width, avi.height), (5, 5, 32, 24));
    }

    #[test]
    fn fast_capture_drops_extra_frames_in_a_slot() {
        let mut c = ClipEncoder::new(2, None, 50);
        for ms in [0, 10, 20, 30, 510, 520] {
            c.push_at(MS(ms), test_image(16, 16)).unwrap();
        }
        let clip = c.finish(MS(1000)).unwrap();
        assert_eq!(clip.frames, 2);
    }

    #[test]
    fn later_frames_of_another_size_are_resized() {
        let mut c = ClipEncoder::new(10, None, 50);
        c.push_at(MS(0), test_image(40, 30)).unwrap();
        c.push_at(MS(100), test_image(80, 20)).unwrap();
        let clip = c.finish(MS(200)).unwrap();
        let avi = parse_avi(&clip.avi);
        for f in &avi.frames {
            let img = crate::capabilities::imaging::decode_jpeg(f).unwrap();
            assert_eq!((img.width(), img.height()), (40, 30));
        }
    }

    #[test]
    fn size_cap_truncates_and_says_so() {
        let one = encode_jpeg(&test_image(64, 64), 90).unwrap().len();
        let mut c = ClipEncoder::new(10, None, 90).with_max_bytes(one * 3);
        c.push_at(MS(0), test_image(64, 64)).unwrap();
        let clip = c.finish(MS(10_000)).unwrap();
        assert!(clip.truncated);
        assert!(clip.frames >= 2 && clip.frames < 100, "{}", clip.frames);
        assert_eq!(parse_avi(&clip.avi).total_frames as usize, clip.frames);
    }

    #[test]
    fn no_frames_no_clip() {
        assert!(ClipEncoder::new(5, None, 50).finish(MS(1000)).is_none());
    }
}
