//! PNG/JPEG encoding and aspect-preserving downscaling of captured frames.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat};

use crate::error::CommandError;

/// Output image format of `screen.snapshot` / `camera.snap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Png,
    Jpeg,
}

impl Format {
    /// `png`, `jpeg` or `jpg` (any case).
    pub(crate) fn parse(command: &str, s: Option<&str>, default: Format) -> Result<Format, CommandError> {
        match s.map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("png") => Ok(Format::Png),
            Some("jpeg" | "jpg") => Ok(Format::Jpeg),
            Some(other) => Err(CommandError::invalid_request(format!("{command}: format must be png or jpeg, got {other:?}"))),
        }
    }
}

/// Scales `img` down (never up) to at most `max_width` pixels wide, keeping the aspect ratio.
pub(crate) fn downscale(img: DynamicImage, max_width: Option<u32>) -> DynamicImage {
    match max_width {
        Some(max) if img.width() > max && max > 0 => {
            let h = ((u64::from(img.height()) * u64::from(max)) / u64::from(img.width().max(1))).max(1);
            let h = u32::try_from(h).unwrap_or(u32::MAX);
            img.resize_exact(max, h, FilterType::Triangle)
        }
        _ => img,
    }
}

pub(crate) fn encode_png(img: &DynamicImage) -> Result<Vec<u8>, CommandError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).map_err(encode_err)?;
    Ok(out.into_inner())
}

/// Baseline JPEG, `quality` 1..=100. Alpha is dropped (JPEG has none).
pub(crate) fn encode_jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>, CommandError> {
    let rgb = img.to_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100)).encode_image(&rgb).map_err(encode_err)?;
    Ok(out)
}

/// JPEG no bigger than `max_bytes`: lowers the quality, then halves the size, until it fits.
/// Returns the bytes and the final image size.
pub(crate) fn encode_jpeg_under(mut img: DynamicImage, quality: u8, max_bytes: usize) -> Result<(Vec<u8>, u32, u32), CommandError> {
    let mut q = quality;
    loop {
        let bytes = encode_jpeg(&img, q)?;
        if bytes.len() <= max_bytes || (img.width() <= 16 && q <= 30) {
            return Ok((bytes, img.width(), img.height()));
        }
        if q > 50 {
            q = q.saturating_sub(15).max(50);
        } else {
            let w = (img.width() / 2).max(16);
            img = downscale(img, Some(w));
        }
    }
}

/// Decodes one JPEG (an MJPEG camera frame).
pub(crate) fn decode_jpeg(bytes: &[u8]) -> Result<DynamicImage, CommandError> {
    image::load_from_memory_with_format(bytes, ImageFormat::Jpeg)
        .map_err(|e| CommandError::unavailable(format!("could not decode a camera frame: {e}")))
}

fn encode_err(e: image::ImageError) -> CommandError {
    CommandError::unavailable(format!("image encoding failed: {e}"))
}

#[cfg(test)]
pub(crate) fn test_image(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8, 255])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_parsing() {
        assert_eq!(Format::parse("s", None, Format::Png).unwrap(), Format::Png);
        assert_eq!(Format::parse("s", Some("JPG"), Format::Png).unwrap(), Format::Jpeg);
        assert_eq!(Format::parse("s", Some("jpeg"), Format::Png).unwrap(), Format::Jpeg);
        assert_eq!(Format::parse("s", Some("gif"), Format::Png).unwrap_err().code, "INVALID_REQUEST");
    }

    #[test]
    fn downscale_keeps_aspect_and_never_upscales() {
        let img = downscale(test_image(400, 300), Some(200));
        assert_eq!((img.width(), img.height()), (200, 150));
        let img = downscale(test_image(400, 300), Some(1000));
        assert_eq!((img.width(), img.height()), (400, 300));
        let img = downscale(test_image(1000, 1), Some(10));
        assert_eq!((img.width(), img.height()), (10, 1));
    }

    #[test]
    fn png_roundtrip() {
        let img = test_image(33, 17);
        let png = encode_png(&img).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let back = image::load_from_memory_with_format(&png, ImageFormat::Png).unwrap();
        assert_eq!(back.to_rgba8(), img.to_rgba8());
    }

    #[test]
    fn jpeg_roundtrip_and_quality_changes_size() {
        let img = test_image(160, 120);
        let hi = encode_jpeg(&img, 95).unwrap();
        let lo = encode_jpeg(&img, 20).unwrap();
        assert_eq!(&hi[..2], &[0xFF, 0xD8]);
        assert!(lo.len() < hi.len(), "{} !< {}", lo.len(), hi.len());
        let back = decode_jpeg(&hi).unwrap();
        assert_eq!((back.width(), back.height()), (160, 120));
    }

    #[test]
    fn jpeg_under_limit_shrinks() {
        let img = test_image(800, 600);
        let full = encode_jpeg(&img, 90).unwrap().len();
        let (bytes, w, h) = encode_jpeg_under(img, 90, full / 4).unwrap();
        assert!(bytes.len() <= full / 4);
        assert!(w <= 800 && h <= 600 && w * 3 == h * 4, "{w}x{h}");
    }

    #[test]
    fn bad_jpeg_is_an_error_not_a_panic() {
        let error = decode_jpeg(b"not a jpeg").unwrap_err();
        assert_eq!(error.code, crate::error::codes::UNAVAILABLE);
        assert!(error.message.starts_with("could not decode a camera frame: "), "{}", error.message);
    }
}
