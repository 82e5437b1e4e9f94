//! A minimal Motion-JPEG AVI (RIFF) writer: the video container used by `screen.record` and
//! `camera.clip`, since this node ships no video encoder. Frames are appended as already-encoded
//! JPEGs as they are captured (memory ≈ the output size); [`AviWriter::finish`] patches the
//! frame counts and sizes and appends the `idx1` index. Plays in VLC, mpv, ffmpeg and browsers'
//! download viewers; no audio stream.

const AVIF_HASINDEX: u32 = 0x10;
const AVIIF_KEYFRAME: u32 = 0x10;
/// `RIFF` + `AVI ` + `LIST hdrl` (192 bytes of body) + `LIST` + `movi`.
const HEADER_LEN: usize = 12 + 8 + 192 + 12;

pub(crate) struct AviWriter {
    buf: Vec<u8>,
    width: u32,
    height: u32,
    fps: u32,
    /// (offset from the `movi` fourcc, chunk size) per frame.
    index: Vec<(u32, u32)>,
    max_frame: u32,
}

impl AviWriter {
    pub(crate) fn new(width: u32, height: u32, fps: u32) -> Self {
        let mut w = AviWriter { buf: Vec::with_capacity(64 * 1024), width, height, fps: fps.max(1), index: Vec::new(), max_frame: 0 };
        w.write_header(0);
        w
    }

    pub(crate) fn frames(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Appends one JPEG frame (must have this writer's dimensions).
    pub(crate) fn push_jpeg(&mut self, jpeg: &[u8]) {
        let size = u32::try_from(jpeg.len()).unwrap_or(u32::MAX);
        let offset = (self.buf.len() - (HEADER_LEN - 4)) as u32;
        self.index.push((offset, size));
        self.max_frame = self.max_frame.max(size);
        self.buf.extend_from_slice(b"00dc");
        put32(&mut self.buf, size);
        self.buf.extend_from_slice(jpeg);
        if jpeg.len() % 2 == 1 {
            self.buf.push(0);
        }
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        let movi_size = (self.buf.len() - (HEADER_LEN - 4)) as u32; // from the `movi` fourcc on
        self.buf.extend_from_slice(b"idx1");
        put32(&mut self.buf, (self.index.len() * 16) as u32);
        for &(offset, size) in &self.index {
            self.buf.extend_from_slice(b"00dc");
            put32(&mut self.buf, AVIIF_KEYFRAME);
            put32(&mut self.buf, offset);
            put32(&mut self.buf, size);
        }
        let riff_size = (self.buf.len() - 8) as u32;
        let frames = self.index.len() as u32;
        let body = std::mem::take(&mut self.buf);
        self.write_header(frames);
        let mut out = std::mem::take(&mut self.buf);
        out.extend_from_slice(&body[HEADER_LEN..]);
        patch32(&mut out, 4, riff_size);
        patch32(&mut out, HEADER_LEN - 8, movi_size);
        out
    }

    fn write_header(&mut self, frames: u32) {
        let (w, h, fps) = (self.width, self.height, self.fps);
        let b = &mut self.buf;
        b.extend_from_slice(b"RIFF");
        put32(b, 0); // patched in finish()
        b.extend_from_slice(b"AVI LIST");
        put32(b, 192); // hdrl: 4 + avih 64 + LIST strl 124
        b.extend_from_slice(b"hdrlavih");
        put32(b, 56);
        put32(b, 1_000_000 / fps); // dwMicroSecPerFrame
        put32(b, self.max_frame.saturating_mul(fps)); // dwMaxBytesPerSec
        put32(b, 0); // dwPaddingGranularity
        put32(b, AVIF_HASINDEX);
        put32(b, frames); // dwTotalFrames
        put32(b, 0); // dwInitialFrames
        put32(b, 1); // dwStreams
        put32(b, self.max_frame); // dwSuggestedBufferSize
        put32(b, w);
        put32(b, h);
        b.extend_from_slice(&[0; 16]); // dwReserved[4]
        b.extend_from_slice(b"LIST");
        put32(b, 116);
        b.extend_from_slice(b"strlstrh");
        put32(b, 56);
        b.extend_from_slice(b"vidsMJPG");
        put32(b, 0); // dwFlags
        put32(b, 0); // wPriority + wLanguage
        put32(b, 0); // dwInitialFrames
        put32(b, 1); // dwScale
        put32(b, fps); // dwRate: fps = rate / scale
        put32(b, 0); // dwStart
        put32(b, frames); // dwLength
        put32(b, self.max_frame); // dwSuggestedBufferSize
        put32(b, u32::MAX); // dwQuality: default
        put32(b, 0); // dwSampleSize
        put16(b, 0);
        put16(b, 0);
        put16(b, u16::try_from(w).unwrap_or(u16::MAX));
        put16(b, u16::try_from(h).unwrap_or(u16::MAX)); // rcFrame
        b.extend_from_slice(b"strf");
        put32(b, 40); // BITMAPINFOHEADER
        put32(b, 40);
        put32(b, w);
        put32(b, h);
        put16(b, 1); // planes
        put16(b, 24); // bit count
        b.extend_from_slice(b"MJPG");
        put32(b, w.saturating_mul(h).saturating_mul(3));
        b.extend_from_slice(&[0; 16]); // pels per meter x/y, colours used/important
        b.extend_from_slice(b"LIST");
        put32(b, 0); // movi size, patched in finish()
        b.extend_from_slice(b"movi");
        debug_assert_eq!(b.len(), HEADER_LEN);
    }
}

fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn patch32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::capabilities::imaging::{decode_jpeg, encode_jpeg, test_image};

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// What a reader sees in an AVI file: header fields and the frame payloads.
    #[derive(Debug)]
    pub(crate) struct ParsedAvi {
        pub(crate) total_frames: u32,
        pub(crate) width: u32,
        pub(crate) height: u32,
        pub(crate) fps: u32,
        pub(crate) frames: Vec<Vec<u8>>,
        pub(crate) index_len: usize,
    }

    /// Walks the RIFF tree (independently of the writer) and checks sizes and the index.
    pub(crate) fn parse_avi(b: &[u8]) -> ParsedAvi {
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(u32_at(b, 4) as usize, b.len() - 8, "RIFF size");
        assert_eq!(&b[8..12], b"AVI ");
        let mut p = 12;
        let (mut total_frames, mut width, mut height, mut fps) = (0, 0, 0, 0);
        let (mut frames, mut idx, mut movi_start) = (Vec::new(), Vec::new(), 0);
        while p + 8 <= b.len() {
            let id = &b[p..p + 4];
            let size = u32_at(b, p + 4) as usize;
            let body = p + 8;
            assert!(body + size <= b.len(), "chunk {:?} overruns", String::from_utf8_lossy(id));
            match id {
                b"LIST" => {
                    let kind = &b[body..body + 4];
                    if kind == b"movi" {
                        movi_start = body;
                        let mut q = body + 4;
                        while q < body + size {
                            assert_eq!(&b[q..q + 4], b"00dc");
                            let n = u32_at(b, q + 4) as usize;
                            frames.push(b[q + 8..q + 8 + n].to_vec());
                            q += 8 + n + (n % 2);
                        }
                        assert_eq!(q, body + size, "movi size");
                        p = body + size;
                    } else {
                        p = body + 4; // descend into hdrl / strl
                    }
                    continue;
                }
                b"avih" => {
                    total_frames = u32_at(b, body + 16);
                    width = u32_at(b, body + 32);
                    height = u32_at(b, body + 36);
                }
                b"strh" => {
                    assert_eq!(&b[body..body + 8], b"vidsMJPG");
                    fps = u32_at(b, body + 24) / u32_at(b, body + 20);
                    assert_eq!(u32_at(b, body + 32), total_frames, "strh dwLength");
                }
                b"strf" => assert_eq!(&b[body + 16..body + 20], b"MJPG"),
                b"idx1" => {
                    for e in b[body..body + size].chunks(16) {
                        idx.push((u32_at(e, 8) as usize, u32_at(e, 12) as usize));
                    }
                }
                _ => {}
            }
            p = body + size + (size % 2);
        }
        for (i, &(off, n)) in idx.iter().enumerate() {
            let chunk = movi_start + off;
            assert_eq!(&b[chunk..chunk + 4], b"00dc", "idx1 entry {i} points at a frame");
            assert_eq!(n, frames[i].len());
        }
        ParsedAvi { total_frames, width, height, fps, index_len: idx.len(), frames }
    }

    #[test]
    fn writes_a_parseable_mjpeg_avi() {
        let mut w = AviWriter::new(64, 48, 5);
        let jpegs: Vec<Vec<u8>> = [90u8, 40, 70].iter().map(|&q| encode_jpeg(&test_image(64, 48), q).unwrap()).collect();
        for j in &jpegs {
            w.push_jpeg(j);
        }
        w.push_jpeg(&[0xFF, 0xD8, 0xFF]); // odd length: exercises padding
        assert_eq!(w.frames(), 4);
        let avi = w.finish();
        let parsed = parse_avi(&avi);
        assert_eq!((parsed.width, parsed.height, parsed.fps), (64, 48, 5));
        assert_eq!(parsed.total_frames, 4);
        assert_eq!(parsed.index_len, 4);
        assert_eq!(parsed.frames[..3], jpegs[..]);
        assert_eq!(parsed.frames[3], vec![0xFF, 0xD8, 0xFF]);
        let img = decode_jpeg(&parsed.frames[0]).unwrap();
        assert_eq!((img.width(), img.height()), (64, 48));
    }

    #[test]
    fn empty_avi_is_still_valid() {
        let parsed = parse_avi(&AviWriter::new(10, 10, 30).finish());
        assert_eq!(parsed.total_frames, 0);
        assert!(parsed.frames.is_empty());
        assert_eq!(parsed.fps, 30);
    }
}
