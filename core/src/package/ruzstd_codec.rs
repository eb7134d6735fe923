//! zstd in pure Rust (`ruzstd`, the `ruzstd` feature): the codec of the wasm build.

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use ruzstd::encoding::{CompressionLevel, compress_to_vec};

use super::ZstdCodec;
use super::frame::{ZSTD_MAGIC, window_limit};
use crate::error::{Error, Result, corrupt};

/// Output [`Ruzstd`] decodes between two checks against the declared size.
const DECODE_STEP: usize = 1 << 20;
/// Files at least this large are sampled before [`Ruzstd`] compresses them.
const PROBE_MIN_BYTES: usize = 4 << 20;
/// Bytes taken from the start, middle and end of a file to sample it.
const PROBE_SLICE_BYTES: usize = 256 << 10;
/// A sample must shrink below this share (in percent) for the whole file to be compressed.
const PROBE_MAX_PERCENT: u64 = 97;

/// zstd in pure Rust (`ruzstd`). It writes ruzstd's fastest level (close to zstd level 1) and
/// first samples a file of 4 MiB or more (256 KiB from its start, middle and end): unless the
/// sample shrinks below 97 %, it declines, since this encoder is slow on data that does not
/// compress. It decodes any frame the reference zstd writes without a dictionary, with memory
/// that grows with the output actually decoded.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ruzstd;

impl ZstdCodec for Ruzstd {
    fn compress(&self, data: &[u8]) -> Option<Vec<u8>> {
        if data.len() >= PROBE_MIN_BYTES {
            let n = PROBE_SLICE_BYTES;
            let mid = data.len() / 2 - n / 2;
            let mut sample = Vec::with_capacity(3 * n);
            for start in [0, mid, data.len() - n] {
                sample.extend_from_slice(data.get(start..start + n)?);
            }
            let packed = compress_to_vec(sample.as_slice(), CompressionLevel::Fastest);
            if packed.len() as u64 * 100 >= sample.len() as u64 * PROBE_MAX_PERCENT {
                return None;
            }
        }
        Some(with_content_size(
            compress_to_vec(data, CompressionLevel::Fastest),
            data.len() as u64,
        ))
    }

    fn decompress(&self, frame: &[u8], original_size: usize) -> Result<Vec<u8>> {
        let bad = |msg: String| corrupt(format!("zstd frame {msg}"));
        let want = original_size;
        let mut dec = FrameDecoder::new();
        dec.set_max_window_size(window_limit(want as u64));
        let mut src = frame;
        dec.init(&mut src)
            .map_err(|e| bad(format!("header: {e}")))?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            if !dec.is_finished() {
                dec.decode_blocks(&mut src, BlockDecodingStrategy::UptoBytes(DECODE_STEP))
                    .map_err(|e| bad(format!("is corrupt: {e}")))?;
            }
            let ready = dec.can_collect();
            if ready > want - out.len() {
                return Err(bad(format!(
                    "decodes to more than the declared {want} bytes"
                )));
            }
            if ready > out.capacity() - out.len() {
                let target = (out.len() + ready)
                    .max(out.capacity().saturating_mul(2))
                    .min(want);
                out.try_reserve_exact(target - out.len()).map_err(|_| {
                    Error::OutOfMemory(format!("decoding a zstd frame of {want} bytes"))
                })?;
            }
            dec.collect_to_writer(&mut out)
                .map_err(|e| bad(format!("is corrupt: {e}")))?;
            if dec.is_finished() && dec.can_collect() == 0 {
                break;
            }
        }
        if !src.is_empty() {
            return Err(bad(format!("is followed by {} stray bytes", src.len())));
        }
        Ok(out)
    }
}

/// Puts the content size into the header of a frame that has none, so that readers which need
/// it (python-zstandard's one-shot `decompress()`, `zstd -l`) see it. ruzstd writes the magic, a
/// descriptor without content size, single-segment or dictionary flags, and a window descriptor;
/// anything else is returned unchanged.
fn with_content_size(frame: Vec<u8>, size: u64) -> Vec<u8> {
    let (Some(magic), Some(&descriptor), Some(&window), Some(blocks)) =
        (frame.get(..4), frame.get(4), frame.get(5), frame.get(6..))
    else {
        return frame;
    };
    if magic != ZSTD_MAGIC || descriptor & 0b1110_0011 != 0 {
        return frame;
    }
    let mut out = Vec::with_capacity(frame.len() + 8);
    out.extend_from_slice(&ZSTD_MAGIC);
    match u32::try_from(size) {
        Ok(small) => {
            out.push(descriptor | 2 << 6);
            out.push(window);
            out.extend_from_slice(&small.to_le_bytes());
        }
        Err(_) => {
            out.push(descriptor | 3 << 6);
            out.push(window);
            out.extend_from_slice(&size.to_le_bytes());
        }
    }
    out.extend_from_slice(blocks);
    out
}
