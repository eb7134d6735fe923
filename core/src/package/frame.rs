//! The zstd frame walker: what every frame must pass before any codec decodes it (RFC 8878
//! §3.1.1). Headers and block headers are read, never the compressed content.

use crate::error::{Result, corrupt};

/// No zstd frame decodes to more than this many bytes per byte of frame: every block that
/// produces output has a 3-byte header and at least 1 byte of content, and decodes to at most
/// 128 KiB. An entry that declares more cannot be valid, whatever its bytes.
pub const MAX_ZSTD_RATIO: u64 = 32 * 1024;

/// The zstd frame magic number (little-endian 0xFD2FB528).
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// The largest window a frame may ask for: the reference decoder's default limit (2^27).
const MAX_WINDOW: u64 = 128 << 20;
/// Any frame may ask for this much window, even for a small entry: streaming encoders that do
/// not know the size up front (upstream's writer) declare 2 MiB at level 3, 8 MiB at level 19.
const MIN_WINDOW_ALLOWANCE: u64 = 8 << 20;
/// The most a zstd block decodes to (RFC 8878 §3.1.1.2.4: Block_Maximum_Size is at most 128 KiB).
const MAX_BLOCK: u64 = 128 << 10;

/// The largest window a frame of an `original_size`-byte entry may ask for.
pub(crate) fn window_limit(original_size: u64) -> u64 {
    original_size
        .saturating_mul(2)
        .clamp(MIN_WINDOW_ALLOWANCE, MAX_WINDOW)
}

/// What a zstd frame header says (RFC 8878 §3.1.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// The header's length in bytes (magic included): where the first block starts.
    len: usize,
    /// Frame_Content_Size, when the header has one.
    pub(crate) content_size: Option<u64>,
    /// Window_Size: the content size for a single-segment frame.
    window: u64,
    /// Whether a 4-byte content checksum follows the last block.
    checksum: bool,
}

impl FrameHeader {
    /// Parses the header at the start of `frame`. Refuses another magic (a skippable or legacy
    /// frame), a set reserved bit, and a dictionary id other than 0.
    pub(crate) fn parse(frame: &[u8]) -> std::result::Result<FrameHeader, String> {
        let short = || "is truncated".to_string();
        if frame.get(..4).ok_or_else(short)? != ZSTD_MAGIC {
            return Err("has no zstd magic".into());
        }
        let descriptor = *frame.get(4).ok_or_else(short)?;
        let single_segment = descriptor & 0x20 != 0;
        if descriptor & 0x08 != 0 {
            return Err("header sets a reserved bit".into());
        }
        let mut at = 5;
        let mut window = 0;
        if !single_segment {
            let wd = *frame.get(at).ok_or_else(short)?;
            let base = 1u64 << (10 + (wd >> 3));
            window = base + base / 8 * u64::from(wd & 7);
            at += 1;
        }
        let dict_len = [0, 1, 2, 4][usize::from(descriptor & 3)];
        let dict = frame.get(at..at + dict_len).ok_or_else(short)?;
        if dict.iter().any(|&b| b != 0) {
            return Err("needs a dictionary".into());
        }
        at += dict_len;
        let fcs_len = match descriptor >> 6 {
            0 if single_segment => 1,
            0 => 0,
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let fcs = frame.get(at..at + fcs_len).ok_or_else(short)?;
        at += fcs_len;
        let mut value = [0u8; 8];
        value[..fcs_len].copy_from_slice(fcs);
        let content_size = match fcs_len {
            0 => None,
            2 => Some(u64::from_le_bytes(value) + 256),
            _ => Some(u64::from_le_bytes(value)),
        };
        if single_segment {
            window = content_size.unwrap_or(0);
        }
        Ok(FrameHeader {
            len: at,
            content_size,
            window,
            checksum: descriptor & 0x04 != 0,
        })
    }
}

/// The checks every frame passes before a codec decodes it (see
/// [`decompress_with`](super::decompress_with)): `original_size` within [`MAX_ZSTD_RATIO`] of
/// the frame, one frame with nothing after it, no dictionary, a content size (if any) equal to
/// `original_size`, a window of at most max(2 × size, 8 MiB) and 128 MiB, and blocks that can
/// decode to `original_size`. The block headers are walked, not decoded: a raw or RLE block
/// decodes to its Block_Size, a compressed one to at most min(window, 128 KiB).
pub(crate) fn check_frame(frame: &[u8], original_size: u64) -> Result<()> {
    let bad = |msg: String| corrupt(format!("zstd frame {msg}"));
    if original_size > (frame.len() as u64).saturating_mul(MAX_ZSTD_RATIO) {
        return Err(bad(format!(
            "of {} bytes cannot hold {original_size} bytes",
            frame.len()
        )));
    }
    let header = FrameHeader::parse(frame).map_err(bad)?;
    if let Some(declared) = header.content_size
        && declared != original_size
    {
        return Err(bad(format!(
            "declares {declared} bytes, the entry {original_size}"
        )));
    }
    let limit = window_limit(original_size);
    if header.window > limit {
        return Err(bad(format!(
            "asks for a window of {} bytes, over the limit of {limit}",
            header.window
        )));
    }
    let block_max = header.window.min(MAX_BLOCK);
    let (mut at, mut most) = (header.len, 0u64);
    loop {
        let head = frame
            .get(at..at + 3)
            .ok_or_else(|| bad("is truncated".into()))?;
        let head = u32::from_le_bytes([head[0], head[1], head[2], 0]);
        let size = u64::from(head >> 3);
        if size > block_max {
            return Err(bad(format!(
                "has a block of {size} bytes, over its maximum of {block_max}"
            )));
        }
        let (stored, decoded) = match (head >> 1) & 3 {
            0 => (size, size),
            1 => (1, size),
            2 => (size, block_max),
            _ => return Err(bad("has a block of the reserved type".into())),
        };
        at = (at + 3)
            .checked_add(stored as usize)
            .filter(|&end| end <= frame.len())
            .ok_or_else(|| bad("is truncated".into()))?;
        most += decoded;
        if head & 1 != 0 {
            break;
        }
    }
    if header.checksum {
        at += 4;
    }
    match at.cmp(&frame.len()) {
        std::cmp::Ordering::Greater => return Err(bad("is truncated".into())),
        std::cmp::Ordering::Less => {
            return Err(bad(format!(
                "is followed by {} stray bytes",
                frame.len() - at
            )));
        }
        std::cmp::Ordering::Equal => {}
    }
    if most < original_size {
        return Err(bad(format!(
            "has blocks that decode to at most {most} bytes, not the declared {original_size}"
        )));
    }
    Ok(())
}
