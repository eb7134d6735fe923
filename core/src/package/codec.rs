//! The codec adapter: a [`ZstdCodec`] only turns bytes into one frame and back; which files are
//! compressed, the checks on a frame before it is decoded and on the output after are here, the
//! same whatever the codec.

use super::frame::{FrameHeader, check_frame};
use crate::error::{Result, corrupt};

/// A zstd implementation for package entries, chosen by the caller: `Ruzstd` (pure Rust, the
/// `ruzstd` feature, used by wasm) or another, e.g. the C library in the wheel.
pub trait ZstdCodec {
    /// One zstd frame of `data` (never empty) with its content size in the header, or `None`
    /// when the codec declines: it failed, or judged `data` not worth compressing. The caller
    /// keeps the frame only if its header is sound and it is smaller than `data`.
    fn compress(&self, data: &[u8]) -> Option<Vec<u8>>;

    /// Decodes `frame` into exactly `original_size` bytes, or fails (as `Error::Corrupt` for
    /// bad input). It MUST NOT allocate or produce more than `original_size` bytes of output,
    /// whatever the frame says. The caller has already checked that `frame` is one frame with
    /// nothing after it, the zstd magic, no dictionary, a content size (if any) equal to
    /// `original_size`, an allowed window, and blocks that can decode to `original_size`; it
    /// refuses output of any other length.
    fn decompress(&self, frame: &[u8], original_size: usize) -> Result<Vec<u8>>;
}

/// `data` as a zstd frame of `codec`, or `None` when the file is stored raw: it is empty, the
/// codec declined, or the frame is not smaller. A frame that readers would refuse before
/// decoding it (see [`decompress_with`]: e.g. a window too large for the file) or that lacks
/// the content size is not used either, so no codec can write a package that does not open.
pub fn compress_with<C: ZstdCodec + ?Sized>(codec: &C, data: &[u8]) -> Option<Vec<u8>> {
    if data.is_empty() {
        return None;
    }
    let frame = codec.compress(data)?;
    let size = data.len() as u64;
    let sound = check_frame(&frame, size).is_ok()
        && FrameHeader::parse(&frame).ok()?.content_size == Some(size);
    (frame.len() < data.len() && sound).then_some(frame)
}

/// Decodes one zstd frame with `codec`; it must decode to exactly `original_size` bytes. The
/// frame is checked first (docs/FORMAT.md §7: one frame with nothing after it, no dictionary, a
/// content size that agrees, a bounded window, blocks that can decode to `original_size`), so
/// the codec never gets to allocate more than `original_size`; output of another length is an
/// error.
pub fn decompress_with<C: ZstdCodec + ?Sized>(
    codec: &C,
    frame: &[u8],
    original_size: u64,
) -> Result<Vec<u8>> {
    check_frame(frame, original_size)?;
    let want = usize::try_from(original_size).map_err(|_| {
        corrupt(format!(
            "zstd frame of {original_size} bytes is too large here"
        ))
    })?;
    let out = codec.decompress(frame, want)?;
    if out.len() != want {
        return Err(corrupt(format!(
            "zstd frame decodes to {} bytes, not the declared {original_size}",
            out.len()
        )));
    }
    Ok(out)
}
