//! `.npkg` packages: a whole store in one file, to ship it or to `fetch()` it into a page. The
//! layout is upstream NumPack's version 2 (spec: docs/FORMAT.md §7), all integers little-endian:
//!
//! `"NPKG"`, u32 version = 2, u8 compression (0 none, 1 zstd), u32 file_count; per file u32
//! path_len, UTF-8 path, u64 original_size, u64 compressed_size (0: stored raw), the stored bytes;
//! then a u32 CRC-32 chained over each file's CRC-32 (each as 4 little-endian bytes).
//!
//! The zstd implementation is the caller's choice, a [`ZstdCodec`]: [`Ruzstd`] (pure Rust, builds
//! for wasm32; the default) or one the caller brings (the wheel uses the C library at level 3).
//! Everything else is this module's, whatever the codec: framing, paths, the checksum, and the
//! guards. [`Package::parse`] treats the buffer as hostile: every size is checked against the
//! bytes that are there before anything is allocated. Before a codec sees a frame, its header and
//! block headers are checked here ([`decompress_with`]): one frame and nothing after it, no
//! dictionary, a content size and window within bounds, blocks that can hold the declared size.
//! After, the output must be exactly the declared size.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use ruzstd::encoding::{CompressionLevel, compress_to_vec};

use super::reader::Reader;
use crate::error::{Error, Result, corrupt};

/// Package magic bytes.
pub const MAGIC: &[u8; 4] = b"NPKG";
/// The only package version we read and write.
pub const VERSION: u32 = 2;
/// The longest entry path we accept, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// No zstd frame decodes to more than this many bytes per byte of frame: every block that
/// produces output has a 3-byte header and at least 1 byte of content, and decodes to at most
/// 128 KiB. An entry that declares more cannot be valid, whatever its bytes.
pub const MAX_ZSTD_RATIO: u64 = 32 * 1024;

/// The smallest entry: a u32 path length, a 1-byte path, two u64 sizes, no data.
const MIN_ENTRY_BYTES: usize = 4 + 1 + 16;
/// The zstd frame magic number (little-endian 0xFD2FB528).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// The largest window a frame may ask for: the reference decoder's default limit (2^27).
const MAX_WINDOW: u64 = 128 << 20;
/// Any frame may ask for this much window, even for a small entry: streaming encoders that do
/// not know the size up front (upstream's writer) declare 2 MiB at level 3, 8 MiB at level 19.
const MIN_WINDOW_ALLOWANCE: u64 = 8 << 20;
/// The most a zstd block decodes to (RFC 8878 §3.1.1.2.4: Block_Maximum_Size is at most 128 KiB).
const MAX_BLOCK: u64 = 128 << 10;
/// Output [`Ruzstd`] decodes between two checks against the declared size.
const DECODE_STEP: usize = 1 << 20;
/// Files at least this large are sampled before [`Ruzstd`] compresses them.
const PROBE_MIN_BYTES: usize = 4 << 20;
/// Bytes taken from the start, middle and end of a file to sample it.
const PROBE_SLICE_BYTES: usize = 256 << 10;
/// A sample must shrink below this share (in percent) for the whole file to be compressed.
const PROBE_MAX_PERCENT: u64 = 97;

/// A zstd implementation for package entries, chosen by the caller: [`Ruzstd`] (pure Rust, the
/// default) or another, e.g. the C library in the wheel. A codec only turns bytes into one frame
/// and back; which files are compressed, the checks on a frame before it is decoded and on the
/// output after are this module's ([`compress_with`], [`decompress_with`]).
pub trait ZstdCodec {
    /// One zstd frame of `data` (never empty) with its content size in the header, or `None`
    /// when the codec declines: it failed, or judged `data` not worth compressing. The caller
    /// keeps the frame only if its header is sound and it is smaller than `data`.
    fn compress(&self, data: &[u8]) -> Option<Vec<u8>>;

    /// Decodes `frame` into exactly `original_size` bytes, or fails (as [`Error::Corrupt`] for
    /// bad input). It MUST NOT allocate or produce more than `original_size` bytes of output,
    /// whatever the frame says. The caller has already checked that `frame` is one frame with
    /// nothing after it, the zstd magic, no dictionary, a content size (if any) equal to
    /// `original_size`, an allowed window, and blocks that can decode to `original_size`; it
    /// refuses output of any other length.
    fn decompress(&self, frame: &[u8], original_size: usize) -> Result<Vec<u8>>;
}

/// zstd in pure Rust (`ruzstd`), the codec the wasm build uses and the default here. It writes
/// ruzstd's fastest level (close to zstd level 1) and first samples a file of 4 MiB or more
/// (256 KiB from its start, middle and end): unless the sample shrinks below 97 %, it declines,
/// since this encoder is slow on data that does not compress. It decodes any frame the
/// reference zstd writes without a dictionary, with memory that grows with the output actually
/// decoded.
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
                out.try_reserve_exact(target - out.len())
                    .map_err(|_| out_of_memory())?;
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

/// The error for an allocation of decoded output that failed.
fn out_of_memory() -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::OutOfMemory,
        "out of memory decoding a zstd frame",
    ))
}

/// The largest window a frame of an `original_size`-byte entry may ask for.
fn window_limit(original_size: u64) -> u64 {
    original_size
        .saturating_mul(2)
        .clamp(MIN_WINDOW_ALLOWANCE, MAX_WINDOW)
}

/// How the files of a package may be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Every file is stored raw (code 0).
    None,
    /// Files may be zstd frames (code 1); those that would not shrink are stored raw.
    Zstd,
}

impl Compression {
    /// The header code: 0 none, 1 zstd.
    pub fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zstd => 1,
        }
    }

    /// The compression of a header code, if it is known.
    pub fn from_code(code: u8) -> Option<Compression> {
        match code {
            0 => Some(Compression::None),
            1 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// `"none"` or `"zstd"`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
        }
    }
}

/// One file of a parsed package, borrowed from the package bytes (not yet decompressed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Where the file goes inside the store folder (checked by [`check_path`]).
    pub path: &'a str,
    /// The file's length.
    pub original_size: u64,
    /// The zstd frame's length, or 0 when the file is stored raw.
    pub compressed_size: u64,
    /// The stored bytes: the file itself, or a zstd frame.
    pub payload: &'a [u8],
}

impl<'a> Entry<'a> {
    /// Whether the file is stored as a zstd frame.
    pub fn is_compressed(&self) -> bool {
        self.compressed_size != 0
    }

    /// The file's bytes: borrowed when stored raw, decompressed with [`Ruzstd`] (and checked)
    /// otherwise.
    pub fn data(&self) -> Result<Cow<'a, [u8]>> {
        self.data_with(&Ruzstd)
    }

    /// The file's bytes: borrowed when stored raw, decompressed with `codec` (and checked, see
    /// [`decompress_with`]) otherwise.
    pub fn data_with<C: ZstdCodec + ?Sized>(&self, codec: &C) -> Result<Cow<'a, [u8]>> {
        if !self.is_compressed() {
            return Ok(Cow::Borrowed(self.payload));
        }
        decompress_with(codec, self.payload, self.original_size)
            .map(Cow::Owned)
            .map_err(|err| match err {
                Error::Corrupt(msg) => {
                    corrupt(format!(".npkg package: entry {:?}: {msg}", self.path))
                }
                other => other,
            })
    }
}

/// A decoded file of a package: its path and bytes (borrowed from the package when stored raw).
pub type PackageFile<'a> = (&'a str, Cow<'a, [u8]>);

/// A parsed package: its header and entries, validated but not decompressed.
#[derive(Clone, Debug)]
pub struct Package<'a> {
    compression: Compression,
    entries: Vec<Entry<'a>>,
    checksum: u32,
}

impl<'a> Package<'a> {
    /// Parses and validates a package: magic, version, compression code, file count, entry paths
    /// ([`check_path`], no duplicates), sizes against the buffer, no trailing bytes. Nothing is
    /// decompressed and the checksum is not verified yet (see [`Package::files`]).
    pub fn parse(buf: &'a [u8]) -> Result<Package<'a>> {
        let mut r = Reader::new(buf, ".npkg package");
        if r.take(4)? != MAGIC {
            return Err(corrupt(".npkg package: bad magic (not an .npkg package)"));
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(corrupt(format!(
                ".npkg package: unsupported version {version} (only {VERSION} is read)"
            )));
        }
        let code = r.u8()?;
        let compression = Compression::from_code(code)
            .ok_or_else(|| corrupt(format!(".npkg package: unknown compression code {code}")))?;
        let count = r.u32()? as usize;
        if count > r.remaining().saturating_sub(4) / MIN_ENTRY_BYTES {
            return Err(corrupt(format!(
                ".npkg package: {count} files cannot fit in its {} bytes",
                buf.len()
            )));
        }
        let mut entries = Vec::with_capacity(count);
        let mut seen = BTreeSet::new();
        for _ in 0..count {
            let path_len = r.u32()? as usize;
            if path_len > MAX_PATH_BYTES {
                return Err(corrupt(format!(
                    ".npkg package: a path of {path_len} bytes is over the limit of {MAX_PATH_BYTES}"
                )));
            }
            let path = std::str::from_utf8(r.take(path_len)?)
                .map_err(|_| corrupt(".npkg package: an entry path is not UTF-8"))?;
            if let Some(why) = path_problem(path) {
                return Err(corrupt(format!(
                    ".npkg package: unsafe entry path {path:?}: {why}"
                )));
            }
            if !seen.insert(path) {
                return Err(corrupt(format!(".npkg package: {path:?} appears twice")));
            }
            let original_size = r.u64()?;
            let compressed_size = r.u64()?;
            if compressed_size != 0 {
                if compression == Compression::None {
                    return Err(corrupt(format!(
                        ".npkg package: {path:?} is compressed in a package without compression"
                    )));
                }
                if original_size > compressed_size.saturating_mul(MAX_ZSTD_RATIO) {
                    return Err(corrupt(format!(
                        ".npkg package: {path:?} claims {original_size} bytes from a {compressed_size}-byte zstd frame"
                    )));
                }
            }
            let stored = if compressed_size != 0 {
                compressed_size
            } else {
                original_size
            };
            let stored = usize::try_from(stored)
                .map_err(|_| corrupt(format!(".npkg package: {path:?} is truncated")))?;
            if stored > r.remaining() {
                return Err(corrupt(format!(".npkg package: {path:?} is truncated")));
            }
            let payload = r.take(stored)?;
            entries.push(Entry {
                path,
                original_size,
                compressed_size,
                payload,
            });
        }
        let checksum = r.u32()?;
        r.finish()?;
        Ok(Package {
            compression,
            entries,
            checksum,
        })
    }

    /// The compression the header declares.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The entries, in package order.
    pub fn entries(&self) -> &[Entry<'a>] {
        &self.entries
    }

    /// The stored checksum (CRC-32 chained over each file's CRC-32).
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// Every file's bytes, in package order, decoded with [`Ruzstd`]. With `verify`, the
    /// checksum must match.
    pub fn files(&self, verify: bool) -> Result<Vec<PackageFile<'a>>> {
        self.files_with(verify, &Ruzstd)
    }

    /// Every file's bytes, in package order, decoded with `codec`. With `verify`, the checksum
    /// must match.
    pub fn files_with<C: ZstdCodec + ?Sized>(
        &self,
        verify: bool,
        codec: &C,
    ) -> Result<Vec<PackageFile<'a>>> {
        let mut out = Vec::with_capacity(self.entries.len());
        let mut chain = 0u32;
        for entry in &self.entries {
            let data = entry.data_with(codec)?;
            if verify {
                chain = crc32(chain, &crc32(0, &data).to_le_bytes());
            }
            out.push((entry.path, data));
        }
        if verify && chain != self.checksum {
            return Err(corrupt(format!(
                ".npkg package: checksum mismatch (stored {:08x}, computed {chain:08x})",
                self.checksum
            )));
        }
        Ok(out)
    }
}

/// Parses a package and returns `path → bytes` (decoded with [`Ruzstd`]), checksum verified.
pub fn decode(buf: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let package = Package::parse(buf)?;
    Ok(package
        .files(true)?
        .into_iter()
        .map(|(path, data)| (path.to_string(), data.into_owned()))
        .collect())
}

/// Why `path` cannot be a package entry, or `None` when it can: 1–[`MAX_PATH_BYTES`] bytes, a
/// store file name or `data_<name>_segments/<file>`, no empty, `.` or `..` component, no
/// leading `/`, no `\`, NUL or control character.
fn path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("empty");
    }
    if path.len() > MAX_PATH_BYTES {
        return Some("too long");
    }
    if path.starts_with('/') {
        return Some("an absolute path would leave the store folder");
    }
    if path.contains('\\') {
        return Some("a backslash could leave the store folder");
    }
    if path.chars().any(char::is_control) {
        return Some("NUL or a control character");
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.contains(&"..") {
        return Some("`..` would leave the store folder");
    }
    if parts.iter().any(|p| p.is_empty() || *p == ".") {
        return Some("an empty or `.` component");
    }
    match parts.as_slice() {
        [_] => None,
        [dir, _] if dir.starts_with("data_") && dir.ends_with("_segments") => None,
        _ => Some("only data_<name>_segments/ may hold files below the store folder"),
    }
}

/// Checks that `path` may be a file of a store folder in a package (see docs/FORMAT.md §7):
/// a corrupt-store error names the problem.
pub fn check_path(path: &str) -> Result<()> {
    match path_problem(path) {
        None => Ok(()),
        Some(why) => Err(corrupt(format!(
            ".npkg package: unsafe entry path {path:?}: {why}"
        ))),
    }
}

/// What a [`Writer`] stored for one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The file's length.
    pub original_size: u64,
    /// The zstd frame's length, or 0 when the file was stored raw.
    pub compressed_size: u64,
}

/// Writes a package to `out` one file at a time, so a caller never holds more than one file.
/// zstd frames come from the codec `C` ([`Ruzstd`] unless [`Writer::with_codec`] says otherwise).
pub struct Writer<W: Write, C: ZstdCodec = Ruzstd> {
    out: W,
    compression: Compression,
    remaining: u32,
    chain: u32,
    paths: BTreeSet<String>,
    codec: C,
}

impl<W: Write> Writer<W> {
    /// Writes the header for `file_count` files; [`Writer::add`] must then be called that often.
    /// Files are compressed with [`Ruzstd`].
    pub fn new(out: W, compression: Compression, file_count: usize) -> Result<Writer<W>> {
        Writer::with_codec(out, compression, file_count, Ruzstd)
    }
}

impl<W: Write, C: ZstdCodec> Writer<W, C> {
    /// Writes the header for `file_count` files, which will be compressed with `codec`;
    /// [`Writer::add`] must then be called that often.
    pub fn with_codec(
        mut out: W,
        compression: Compression,
        file_count: usize,
        codec: C,
    ) -> Result<Writer<W, C>> {
        let count = u32::try_from(file_count).map_err(|_| {
            Error::InvalidArgument(format!("a package holds at most {} files", u32::MAX))
        })?;
        let mut head = Vec::with_capacity(13);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        head.push(compression.code());
        head.extend_from_slice(&count.to_le_bytes());
        out.write_all(&head)?;
        Ok(Writer {
            out,
            compression,
            remaining: count,
            chain: 0,
            paths: BTreeSet::new(),
            codec,
        })
    }

    /// Adds one file. With zstd, the file is stored as a frame of the writer's codec if that is
    /// smaller (see [`compress_with`]), raw otherwise.
    pub fn add(&mut self, path: &str, data: &[u8]) -> Result<Stored> {
        if let Some(why) = path_problem(path) {
            return Err(Error::InvalidArgument(format!(
                "package entry {path:?}: {why}"
            )));
        }
        if self.remaining == 0 {
            return Err(Error::InvalidArgument(
                "more package entries than the declared file count".into(),
            ));
        }
        if !self.paths.insert(path.to_string()) {
            return Err(Error::InvalidArgument(format!(
                "package entry {path:?} appears twice"
            )));
        }
        let frame = match self.compression {
            Compression::Zstd => compress_with(&self.codec, data),
            Compression::None => None,
        };
        let stored = Stored {
            original_size: data.len() as u64,
            compressed_size: frame.as_ref().map_or(0, |f| f.len() as u64),
        };
        let mut head = Vec::with_capacity(20 + path.len());
        head.extend_from_slice(&(path.len() as u32).to_le_bytes());
        head.extend_from_slice(path.as_bytes());
        head.extend_from_slice(&stored.original_size.to_le_bytes());
        head.extend_from_slice(&stored.compressed_size.to_le_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(frame.as_deref().unwrap_or(data))?;
        self.chain = crc32(self.chain, &crc32(0, data).to_le_bytes());
        self.remaining -= 1;
        Ok(stored)
    }

    /// Writes the checksum and returns the sink. Every declared file must have been added.
    pub fn finish(mut self) -> Result<W> {
        if self.remaining != 0 {
            return Err(Error::InvalidArgument(format!(
                "{} declared package entries were not added",
                self.remaining
            )));
        }
        self.out.write_all(&self.chain.to_le_bytes())?;
        Ok(self.out)
    }
}

/// Builds a whole package in memory from `(path, bytes)` pairs, in the order given, compressing
/// with [`Ruzstd`].
pub fn build(files: &[(&str, &[u8])], compression: Compression) -> Result<Vec<u8>> {
    let mut w = Writer::new(Vec::new(), compression, files.len())?;
    for (path, data) in files {
        w.add(path, data)?;
    }
    w.finish()
}

/// `data` as a zstd frame of [`Ruzstd`], or `None` when it is stored raw (see [`compress_with`]).
pub fn compress(data: &[u8]) -> Option<Vec<u8>> {
    compress_with(&Ruzstd, data)
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

/// Decodes one zstd frame with [`Ruzstd`] (see [`decompress_with`]).
pub fn decompress(frame: &[u8], original_size: u64) -> Result<Vec<u8>> {
    decompress_with(&Ruzstd, frame, original_size)
}

/// Decodes one zstd frame with `codec`; it must decode to exactly `original_size` bytes. Before
/// the codec runs, the frame is checked here: `original_size` is within
/// [`MAX_ZSTD_RATIO`] of the frame, the frame is one frame with nothing after it, has no
/// dictionary, its content size (if present) agrees, its window is at most
/// max(2 × size, 8 MiB) and 128 MiB, and its blocks can decode to `original_size`. The codec
/// never gets to allocate more than `original_size`; output of another length is an error.
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

/// What a zstd frame header says (RFC 8878 §3.1.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FrameHeader {
    /// The header's length in bytes (magic included): where the first block starts.
    len: usize,
    /// Frame_Content_Size, when the header has one.
    content_size: Option<u64>,
    /// Window_Size: the content size for a single-segment frame.
    window: u64,
    /// Whether a 4-byte content checksum follows the last block.
    checksum: bool,
}

impl FrameHeader {
    /// Parses the header at the start of `frame`. Refuses another magic (a skippable or legacy
    /// frame), a set reserved bit, and a dictionary id other than 0.
    fn parse(frame: &[u8]) -> std::result::Result<FrameHeader, String> {
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

/// The checks every frame passes before a codec decodes it (see [`decompress_with`]). The
/// block headers are walked, not decoded: a raw or RLE block decodes to its Block_Size, a
/// compressed one to at most min(window, 128 KiB).
fn check_frame(frame: &[u8], original_size: u64) -> Result<()> {
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

/// CRC-32 lookup tables (IEEE, reflected) for slicing by 8 bytes.
const CRC_TABLES: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

/// CRC-32 (IEEE, as zlib's `crc32`) of `data`, continuing from `crc` (0 to start).
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let mut c = !crc;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let lo = u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]) ^ c;
        let hi = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]);
        c = t[7][(lo & 0xFF) as usize]
            ^ t[6][(lo >> 8 & 0xFF) as usize]
            ^ t[5][(lo >> 16 & 0xFF) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xFF) as usize]
            ^ t[2][(hi >> 8 & 0xFF) as usize]
            ^ t[1][(hi >> 16 & 0xFF) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = t[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes the reference zstd compressed for the fixtures below.
    fn sample(n: usize) -> Vec<u8> {
        const WORDS: [&[u8]; 14] = [
            b"alpha",
            b"beta",
            b"gamma",
            b"delta",
            b"epsilon",
            b"zeta",
            b"eta",
            b"theta",
            b"iota",
            b"kappa",
            b" ",
            b"\n",
            b"0123",
            b"\x00\x01\x02",
        ];
        let (mut x, mut out) = (7u64, Vec::new());
        while out.len() < n {
            x = (x * 1_103_515_245 + 12_345) & 0x7FFF_FFFF;
            out.extend_from_slice(WORDS[((x >> 16) % 14) as usize]);
        }
        out.truncate(n);
        out
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // zstd frames of `sample(1200)` made by the reference zstd (python-zstandard 0.25):
    // ZstdCompressor(level=3).compress (content size, single segment), the same with
    // write_checksum=True, a level-3 stream_writer (upstream NumPack's framing: no content size,
    // 2 MiB window) and level 19.
    const ONE_SHOT: &str = concat!(
        "28b52ffd60b003050c0072481717a0a5e9680a4ed2a754e43b0f52557558cb8b7e552d2953567eb31b360d7d6ddb9a86",
        "a6a169e8c1496948431ab6766958bb34acc434ac071a5ef55743813010fc4a019cb0721afe8a38ff381ef0abe466377e",
        "4821809462c0ea57bf0a809da8d1a6942419f637200282903a2b0f10384ba6b6690c14e90084c591613938e9bc399e5f",
        "22c10f8e23c84b0236d4c8df2059a16bf850dc88ac032429e5366a92c15452d30cf66ab8d2691a6884740303b0b9c42b",
        "8bfe16d1662fd53d762b61a63fa102582450e2d2219aa99c34902ef0a36cef8110f33632899eabebf5b8191c0c2301ec",
        "fc3b54eaeff62ced418210108ec5ebcd42c5479a1ce18548aa741f3d4db6146e80f01507f2bd1917b5a1d227eb1659b3",
        "0722718c30644df86a8be2850134e453f1c59a8fb871efc1fc972d7636690b34e7e803342bec9adf6c4dd8d8c900e281",
        "a1bfb7bfdc5082511e60bcea6bf8cc99f73b7ea0d78018d0a57ba6730ef0b8c7a0272e10ca2c84815960e9594ed8bfc9",
        "e3306e5d7df0a3a55401",
    );
    const CHECKSUM: &str = concat!(
        "28b52ffd64b003050c0072481717a0a5e9680a4ed2a754e43b0f52557558cb8b7e552d2953567eb31b360d7d6ddb9a86",
        "a6a169e8c1496948431ab6766958bb34acc434ac071a5ef55743813010fc4a019cb0721afe8a38ff381ef0abe466377e",
        "4821809462c0ea57bf0a809da8d1a6942419f637200282903a2b0f10384ba6b6690c14e90084c591613938e9bc399e5f",
        "22c10f8e23c84b0236d4c8df2059a16bf850dc88ac032429e5366a92c15452d30cf66ab8d2691a6884740303b0b9c42b",
        "8bfe16d1662fd53d762b61a63fa102582450e2d2219aa99c34902ef0a36cef8110f33632899eabebf5b8191c0c2301ec",
        "fc3b54eaeff62ced418210108ec5ebcd42c5479a1ce18548aa741f3d4db6146e80f01507f2bd1917b5a1d227eb1659b3",
        "0722718c30644df86a8be2850134e453f1c59a8fb871efc1fc972d7636690b34e7e803342bec9adf6c4dd8d8c900e281",
        "a1bfb7bfdc5082511e60bcea6bf8cc99f73b7ea0d78018d0a57ba6730ef0b8c7a0272e10ca2c84815960e9594ed8bfc9",
        "e3306e5d7df0a3a55401e6d19d5b",
    );
    const STREAM: &str = concat!(
        "28b52ffd00587d0c00e24b20189025c903cb4d3582be1f04466424772fb4b51c765589440666f88db9e020f25a119221",
        "f2ee8ef78e1779c91089058f1561f3163d78ce8aacc88aee10df7ace8a8e0c916488244324e29121d28af4a0155d6bc1",
        "376fe16dbdb71632449221f2cdfb1e14e082196e456f15faad073f183ce0ade7c65cf0e615e061078cbef5ad018089a8",
        "912aa2496a1436e6204283143bf310108ba888d318a3025733715496198e1dc7e30d125beb09198264926d4219fc51c9",
        "fa4313561351c057ca26e4e800954cb364f696aec89a1f8d55e7c007bca9fdcac65f46da6f5caaf7c93cf34ea7f0a348",
        "ac7488e6cb710690423e1af60484f286e88fab7df51a5985fa303906c021075d756d7f693992108c20540c9bcbb8f881",
        "92835e4ce41eb226791d646f125eacfc6ec6f71325724289886bdd402d67843d6be2bbb7ba2f1de810a7c0ff351741ee",
        "dfabf92df577f8d42470ee143ad368be5ed317a3011fb8e9e242b1add46ef2da3de723723c070fc8d52126803536eb5c",
        "07409c5bc03088355b90b3ac819abb535970d8b5a6bf5905",
    );
    const LEVEL19: &str = concat!(
        "28b52ffd60b003ed0a00a2c61211a0ed98835ff8ee99ffdf9570fa412af607d2fd52be79776ddb75770fadf578ab5ded",
        "5d7bd7a9aef74446934fd331858c5397d0977417019ca645f7ef5d9da67a29df4e2383d1b1294f538098a8d1364d25c3",
        "de01208428c5cc3a204692236d5b3814333e226f35ca9448a65a986ece4682b94912a0e336a3c1d05433d204f6c93aa5",
        "a226936d43a4133173270168c73b1e6421790016daec8083a5714f51f14125da7b5e821626e9b7f2e560795cf822dc8e",
        "8c5a837ea521a5da1f2be7826548e4a8fae56ef7a40d248e6d2c1afc407dd82e51ef1729e2f6943abdc8067a4aa08d4f",
        "6765b5be4ae5efc8c04710aff0b0a66a9ab6efcb1b14a55305802381faba1935cd72283aaf84a04642e6f33ab0d32233",
        "832552626b7e1c8eba6e41e234f5faba5cf6a664a90c30a9f29d7c9acf331e0a10a8841c90cec1bb24510c08071182fa",
        "4c0267f11d20ba95afeceda99730e85dfdfc5775d5eba6",
    );

    fn is_corrupt<T: std::fmt::Debug>(r: Result<T>) -> bool {
        matches!(r, Err(Error::Corrupt(_)))
    }

    /// A package by hand: `(path, original_size, compressed_size, payload)` entries.
    fn raw_package(code: u8, entries: &[(&str, u64, u64, &[u8])], checksum: u32) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(code);
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (path, original, compressed, payload) in entries {
            out.extend_from_slice(&(path.len() as u32).to_le_bytes());
            out.extend_from_slice(path.as_bytes());
            out.extend_from_slice(&original.to_le_bytes());
            out.extend_from_slice(&compressed.to_le_bytes());
            out.extend_from_slice(payload);
        }
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    fn chain(files: &[&[u8]]) -> u32 {
        files
            .iter()
            .fold(0, |c, f| crc32(c, &crc32(0, f).to_le_bytes()))
    }

    fn small_files() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("metadata.npkm", b"NPKB\x01\x00\x00\x00".to_vec()),
            ("data_a.npkd", sample(700)),
            ("data_b.npkd", vec![]),
            ("data_c_segments/seg_000000.npkd", vec![9; 40]),
        ]
    }

    fn refs<'a>(files: &'a [(&'static str, Vec<u8>)]) -> Vec<(&'static str, &'a [u8])> {
        files.iter().map(|(p, d)| (*p, d.as_slice())).collect()
    }

    #[test]
    fn crc_matches_zlib() {
        assert_eq!(crc32(0, b""), 0);
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
        let data = sample(1000);
        for cut in [0, 1, 7, 8, 9, 500, 999] {
            assert_eq!(crc32(crc32(0, &data[..cut]), &data[cut..]), crc32(0, &data));
        }
        // Against the bitwise definition on every tail length.
        for n in 0..40 {
            let mut c = !0u32;
            for &b in &data[..n] {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        (c >> 1) ^ 0xEDB8_8320
                    } else {
                        c >> 1
                    };
                }
            }
            assert_eq!(crc32(0, &data[..n]), !c, "{n}");
        }
    }

    #[test]
    fn golden_bytes_of_an_uncompressed_package() {
        let pkg = build(
            &[("metadata.npkm", b"ab"), ("data_x.npkd", b"")],
            Compression::None,
        )
        .unwrap();
        let mut want = b"NPKG\x02\x00\x00\x00\x00\x02\x00\x00\x00".to_vec();
        want.extend_from_slice(b"\x0d\x00\x00\x00metadata.npkm\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00ab");
        want.extend_from_slice(b"\x0b\x00\x00\x00data_x.npkd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        want.extend_from_slice(&[0x1a, 0xae, 0x3a, 0xaf]); // docs/FORMAT.md §7
        assert_eq!(chain(&[b"ab", b""]).to_le_bytes(), [0x1a, 0xae, 0x3a, 0xaf]);
        assert_eq!(pkg, want);
    }

    #[test]
    fn round_trip_both_compressions() {
        let files = small_files();
        for compression in [Compression::None, Compression::Zstd] {
            let pkg = build(&refs(&files), compression).unwrap();
            let parsed = Package::parse(&pkg).unwrap();
            assert_eq!(parsed.compression(), compression);
            assert_eq!(
                parsed.entries().iter().map(|e| e.path).collect::<Vec<_>>(),
                files.iter().map(|f| f.0).collect::<Vec<_>>()
            );
            // The text compresses, the tiny and empty files stay raw.
            let compressed: Vec<bool> = parsed.entries().iter().map(Entry::is_compressed).collect();
            assert_eq!(
                compressed,
                [
                    false,
                    compression == Compression::Zstd,
                    false,
                    compression == Compression::Zstd
                ]
            );
            let got = parsed.files(true).unwrap();
            for ((path, data), (want_path, want)) in got.iter().zip(&files) {
                assert_eq!((path, data.as_ref()), (want_path, want.as_slice()));
            }
            assert_eq!(decode(&pkg).unwrap().len(), files.len());
        }
        let empty = build(&[], Compression::Zstd).unwrap();
        assert!(decode(&empty).unwrap().is_empty());
    }

    #[test]
    fn reads_frames_of_the_reference_zstd() {
        let want = sample(1200);
        for (name, hex) in [
            ("one-shot", ONE_SHOT),
            ("checksum", CHECKSUM),
            ("stream", STREAM),
            ("level 19", LEVEL19),
        ] {
            let frame = unhex(hex);
            assert_eq!(
                decompress(&frame, want.len() as u64).unwrap(),
                want,
                "{name}"
            );
            assert!(
                is_corrupt(decompress(&frame, want.len() as u64 - 1)),
                "{name}: one byte short"
            );
            assert!(
                is_corrupt(decompress(&frame, want.len() as u64 + 1)),
                "{name}: one byte long"
            );
            let pkg = raw_package(
                1,
                &[("data_t.npkd", want.len() as u64, frame.len() as u64, &frame)],
                chain(&[&want]),
            );
            assert_eq!(decode(&pkg).unwrap()["data_t.npkd"], want, "{name}");
        }
    }

    #[test]
    fn our_frames_carry_the_content_size_and_decode() {
        for n in [1usize, 100, 1200, 300_000] {
            let data = sample(n);
            let Some(frame) = compress(&data) else {
                continue;
            };
            assert!(frame.len() < n);
            let descriptor = frame[4];
            assert_eq!(descriptor >> 6, 2, "4-byte content size");
            assert_eq!(
                u32::from_le_bytes(frame[6..10].try_into().unwrap()) as usize,
                n
            );
            assert_eq!(decompress(&frame, n as u64).unwrap(), data);
        }
        // Incompressible input is left raw; so is a big file whose sample does not shrink.
        let mut x = 1u64;
        let noise: Vec<u8> = (0..(5 << 20))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(compress(&noise[..1000]).is_none());
        assert!(compress(&noise).is_none());
        let mut zeros_then_noise = vec![0u8; 5 << 20];
        zeros_then_noise[..1 << 20].copy_from_slice(&noise[..1 << 20]);
        assert!(
            compress(&zeros_then_noise).is_some(),
            "the middle and end of the sample shrink"
        );
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        for compression in [Compression::None, Compression::Zstd] {
            let pkg = build(&refs(&small_files()), compression).unwrap();
            for cut in 0..pkg.len() {
                assert!(is_corrupt(Package::parse(&pkg[..cut])), "cut {cut}");
                assert!(is_corrupt(decode(&pkg[..cut])), "cut {cut}");
            }
            let mut longer = pkg.clone();
            longer.push(0);
            assert!(is_corrupt(decode(&longer)));
        }
    }

    #[test]
    fn every_bit_flip_is_an_error_or_yields_the_same_bytes() {
        let files = small_files();
        for compression in [Compression::None, Compression::Zstd] {
            let pkg = build(&refs(&files), compression).unwrap();
            let parsed = Package::parse(&pkg).unwrap();
            // Where a slice of the package lies in it.
            let span = |part: &[u8]| {
                let at = part.as_ptr() as usize - pkg.as_ptr() as usize;
                at..at + part.len()
            };
            // Byte ranges of the paths: a flip there renames a file (the checksum covers data only).
            let paths: Vec<std::ops::Range<usize>> = parsed
                .entries()
                .iter()
                .map(|e| span(e.path.as_bytes()))
                .collect();
            let payloads: Vec<std::ops::Range<usize>> =
                parsed.entries().iter().map(|e| span(e.payload)).collect();
            for i in 0..pkg.len() {
                for bit in 0..8 {
                    let mut bad = pkg.clone();
                    bad[i] ^= 1 << bit;
                    match Package::parse(&bad) {
                        Err(err) => assert!(
                            matches!(err, Error::Corrupt(_)),
                            "byte {i} bit {bit}: {err}"
                        ),
                        Ok(p) => match p.files(true) {
                            Err(err) => {
                                assert!(
                                    matches!(err, Error::Corrupt(_)),
                                    "byte {i} bit {bit}: {err}"
                                );
                                let raw_payload = payloads
                                    .iter()
                                    .zip(parsed.entries())
                                    .any(|(r, e)| r.contains(&i) && !e.is_compressed());
                                if raw_payload {
                                    assert!(
                                        err.to_string().contains("checksum"),
                                        "byte {i} bit {bit}: {err}"
                                    );
                                }
                            }
                            Ok(got) => {
                                // Only a renamed file, or a flip zstd ignores (a header bit that does
                                // not change the output), or the header's compression code 0 → 1.
                                for ((_, data), (_, want)) in got.iter().zip(&files) {
                                    assert_eq!(
                                        data.as_ref(),
                                        want.as_slice(),
                                        "byte {i} bit {bit}: silent data change"
                                    );
                                }
                                let in_path = paths.iter().any(|r| r.contains(&i));
                                let in_frame = payloads
                                    .iter()
                                    .zip(parsed.entries())
                                    .any(|(r, e)| r.contains(&i) && e.is_compressed());
                                assert!(
                                    in_path || in_frame || i == 8,
                                    "byte {i} bit {bit} was accepted"
                                );
                            }
                        },
                    }
                }
            }
        }
    }

    #[test]
    fn header_fields_are_checked() {
        let good = build(&[("metadata.npkm", b"x")], Compression::None).unwrap();
        let with = |at: usize, bytes: &[u8]| {
            let mut b = good.clone();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            b
        };
        for (what, bad) in [
            ("magic", with(0, b"NPKJ")),
            ("version", with(4, &1u32.to_le_bytes())),
            ("version", with(4, &3u32.to_le_bytes())),
            ("compression", with(8, &[2])),
            ("file count", with(9, &u32::MAX.to_le_bytes())),
            ("file count", with(9, &2u32.to_le_bytes())),
            ("path length", with(13, &u32::MAX.to_le_bytes())),
            ("original size", with(30, &u64::MAX.to_le_bytes())),
            (
                "compressed in a none package",
                with(38, &1u64.to_le_bytes()),
            ),
        ] {
            assert!(is_corrupt(Package::parse(&bad)), "{what}");
        }
        let not_utf8 = raw_package(0, &[("\u{ff}", 0, 0, b"")], 0);
        let idx = not_utf8.iter().position(|&b| b == 0xC3).unwrap();
        let mut not_utf8 = not_utf8;
        not_utf8[idx] = 0xFF;
        assert!(is_corrupt(Package::parse(&not_utf8)));
    }

    #[test]
    fn hostile_paths_are_refused() {
        for path in [
            "",
            "/etc/passwd",
            "../escape.npkd",
            "data_a_segments/../../x",
            "..",
            ".",
            "./x",
            "a//b",
            "a/",
            "x\\..\\y",
            "C:\\x",
            "a\0b",
            "a\nb",
            "dir/file.npkd",
            "data_a_segments/sub/seg.npkd",
            "data_a_segments/..",
        ] {
            let pkg = raw_package(0, &[(path, 1, 0, b"x")], chain(&[b"x"]));
            assert!(is_corrupt(Package::parse(&pkg)), "{path:?}");
            assert!(check_path(path).is_err(), "{path:?}");
            assert!(
                matches!(
                    build(&[(path, b"x")], Compression::None),
                    Err(Error::InvalidArgument(_))
                ),
                "{path:?}"
            );
        }
        let long = "a".repeat(MAX_PATH_BYTES + 1);
        assert!(is_corrupt(Package::parse(&raw_package(
            0,
            &[(&long, 0, 0, b"")],
            chain(&[b""])
        ))));
        let msg = Package::parse(&raw_package(0, &[("../x", 1, 0, b"x")], 0))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("leave the store folder"), "{msg}");
        for path in [
            "metadata.npkm",
            "data_a_segments/seg_000001.npkd",
            ".numpack.lock",
            "data_é.npkd",
        ] {
            assert!(check_path(path).is_ok(), "{path:?}");
        }
        let dup = raw_package(
            0,
            &[("a", 1, 0, b"x"), ("a", 1, 0, b"x")],
            chain(&[b"x", b"x"]),
        );
        assert!(is_corrupt(Package::parse(&dup)));
        assert!(matches!(
            build(&[("a", b"x"), ("a", b"y")], Compression::None),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn zstd_bombs_and_lies_are_refused() {
        // 16 MiB of zeros is ~0.5 KiB of RLE blocks: declared as 1000 bytes it must stop early.
        let zeros = vec![0u8; 16 << 20];
        let frame = compress(&zeros).unwrap();
        assert!(frame.len() < 1024);
        let err = decompress(&frame, 1000).unwrap_err().to_string();
        assert!(
            err.contains("more than the declared") || err.contains("declares"),
            "{err}"
        );
        let no_size = compress_to_vec(&zeros[..], CompressionLevel::Fastest);
        let err = decompress(&no_size, 1000).unwrap_err().to_string();
        assert!(err.contains("more than the declared"), "{err}");
        assert_eq!(decompress(&no_size, zeros.len() as u64).unwrap(), zeros);
        // A size no frame of this length can reach is refused before anything is allocated.
        let pkg = raw_package(
            1,
            &[("data_a.npkd", 1 << 40, frame.len() as u64, &frame)],
            0,
        );
        assert!(is_corrupt(Package::parse(&pkg)));
        assert!(is_corrupt(decompress(&frame, u64::MAX)));
        // A frame that asks for a 1 GiB window (window descriptor exponent 20).
        let mut big_window = no_size.clone();
        big_window[5] = 20 << 3;
        let err = decompress(&big_window, zeros.len() as u64)
            .unwrap_err()
            .to_string();
        assert!(err.contains("window") || err.contains("Window"), "{err}");
        // Content size in the header that disagrees with the entry; a short frame; stray bytes.
        let text = sample(5000);
        let frame = compress(&text).unwrap();
        assert!(is_corrupt(decompress(&frame, 4999)));
        assert!(is_corrupt(decompress(&frame[..frame.len() - 1], 5000)));
        let mut stray = frame.clone();
        stray.extend_from_slice(&frame);
        assert!(is_corrupt(decompress(&stray, 5000)));
        // Not zstd at all (upstream's zlib fallback), and a skippable frame.
        assert!(is_corrupt(decompress(
            b"\x78\x9c\x4b\x04\x00\x00\x62\x00\x62",
            1
        )));
        assert!(is_corrupt(decompress(
            b"\x50\x2a\x4d\x18\x00\x00\x00\x00",
            0
        )));
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let frame = unhex(ONE_SHOT);
        for _ in 0..3000 {
            let mut f = frame.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % f.len() as u64) as usize;
                f[i] ^= 1 << (next() % 8);
            }
            let _ = decompress(&f, 1200);
            let n = (next() % 64) as usize;
            let junk: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            let _ = Package::parse(&junk);
            let _ = decompress(&junk, next() % 100_000);
        }
    }

    /// A frame by hand: no content size, a 1 KiB window (descriptor 0), then `blocks` as
    /// (type, Block_Size, content); the last one is marked last.
    fn hand_frame(blocks: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut f = ZSTD_MAGIC.to_vec();
        f.extend_from_slice(&[0x00, 0x00]);
        for (i, (kind, size, content)) in blocks.iter().enumerate() {
            let last = u32::from(i + 1 == blocks.len());
            f.extend_from_slice(&(size << 3 | kind << 1 | last).to_le_bytes()[..3]);
            f.extend_from_slice(content);
        }
        f
    }

    #[test]
    fn frames_are_checked_before_any_codec_sees_them() {
        // Raw and RLE blocks: the walk knows exactly what they decode to.
        let frame = hand_frame(&[(0, 5, b"hello"), (1, 300, b"!")]);
        let want = [b"hello".as_slice(), &[b'!'; 300]].concat();
        assert_eq!(decompress(&frame, 305).unwrap(), want);
        let err = decompress(&frame, 306).unwrap_err().to_string();
        assert!(err.contains("at most 305"), "{err}");
        assert!(is_corrupt(decompress(&frame, 304)));
        for (what, bad) in [
            ("reserved block type", hand_frame(&[(3, 1, b"x")])),
            ("block over the window", hand_frame(&[(1, 1025, b"x")])),
            ("no last block", hand_frame(&[(0, 1, b"x")])[..9].to_vec()),
            (
                "skippable frame",
                [
                    &[0x50, 0x2a, 0x4d, 0x18][..],
                    &hand_frame(&[(0, 1, b"x")])[4..],
                ]
                .concat(),
            ),
        ] {
            let err = decompress(&bad, 1).unwrap_err();
            assert!(matches!(err, Error::Corrupt(_)), "{what}: {err}");
        }
        // A dictionary id (1 byte, not 0), a reserved header bit; a dictionary id of 0 is none.
        let mut dict = hand_frame(&[(0, 1, b"x")]);
        dict[4] = 0x01;
        dict.insert(6, 7);
        assert!(
            decompress(&dict, 1)
                .unwrap_err()
                .to_string()
                .contains("dictionary")
        );
        dict[6] = 0;
        assert_eq!(decompress(&dict, 1).unwrap(), b"x");
        let mut reserved = hand_frame(&[(0, 1, b"x")]);
        reserved[4] = 0x08;
        assert!(
            decompress(&reserved, 1)
                .unwrap_err()
                .to_string()
                .contains("reserved")
        );
        // A single-segment frame's window is its content size, here over the 128 MiB cap: 1600
        // RLE blocks of 128 KiB (200 MiB), refused before anything is decoded.
        let mut single = ZSTD_MAGIC.to_vec();
        single.push(0xE0);
        single.extend_from_slice(&(200u64 << 20).to_le_bytes());
        for i in 0..1600u32 {
            single.extend_from_slice(
                &((128 << 10) << 3 | 1 << 1 | u32::from(i == 1599)).to_le_bytes()[..3],
            );
            single.push(0);
        }
        assert!(
            decompress(&single, 200 << 20)
                .unwrap_err()
                .to_string()
                .contains("window")
        );
    }

    /// Codecs that misbehave: each `decompress` outcome is fixed, `calls` counts them.
    struct Rogue {
        frame: Option<Vec<u8>>,
        output: fn(usize) -> Result<Vec<u8>>,
        calls: std::cell::Cell<usize>,
    }

    impl ZstdCodec for Rogue {
        fn compress(&self, _: &[u8]) -> Option<Vec<u8>> {
            self.frame.clone()
        }
        fn decompress(&self, _: &[u8], original_size: usize) -> Result<Vec<u8>> {
            self.calls.set(self.calls.get() + 1);
            (self.output)(original_size)
        }
    }

    fn rogue(output: fn(usize) -> Result<Vec<u8>>) -> Rogue {
        Rogue {
            frame: None,
            output,
            calls: std::cell::Cell::new(0),
        }
    }

    #[test]
    fn a_codec_that_fails_or_lies_gives_a_typed_error() {
        let text = sample(5000);
        let pkg = build(&[("data_t.npkd", &text)], Compression::Zstd).unwrap();
        let parsed = Package::parse(&pkg).unwrap();
        assert!(parsed.entries()[0].is_compressed());
        let failing = rogue(|_| Err(corrupt("zstd frame is corrupt: the codec said no")));
        let err = parsed.files_with(true, &failing).unwrap_err().to_string();
        assert!(
            err.contains("data_t.npkd") && err.contains("the codec said no"),
            "{err}"
        );
        let oom = rogue(|_| Err(out_of_memory()));
        assert!(matches!(parsed.files_with(true, &oom), Err(Error::Io(_))));
        for short_or_long in [
            (|n| Ok(vec![0; n - 1])) as fn(usize) -> Result<Vec<u8>>,
            |n| Ok(vec![0; n + 1]),
            |_| Ok(vec![]),
        ] {
            let err = parsed.files_with(true, &rogue(short_or_long)).unwrap_err();
            assert!(
                matches!(&err, Error::Corrupt(m) if m.contains("not the declared 5000")),
                "{err}"
            );
        }
        // The right size with the wrong bytes is caught by the checksum.
        let wrong_bytes = rogue(|n| Ok(vec![0; n]));
        assert!(
            parsed
                .files_with(true, &wrong_bytes)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        assert_eq!(
            parsed.files_with(false, &wrong_bytes).unwrap()[0].1.len(),
            5000
        );
        // A frame that fails the checks never reaches the codec.
        let counting = rogue(|n| Ok(vec![0; n]));
        let frame = compress(&text).unwrap();
        for (bad, size) in [
            (&frame[..frame.len() - 1], 5000),
            (&frame[..], 4999),
            (&frame[..], 1 << 40),
        ] {
            assert!(is_corrupt(decompress_with(&counting, bad, size)));
        }
        assert_eq!(counting.calls.get(), 0);
        assert_eq!(
            decompress_with(&counting, &frame, 5000).unwrap().len(),
            5000
        );
        assert_eq!(counting.calls.get(), 1);
    }

    #[test]
    fn a_writer_keeps_only_sound_smaller_frames_of_its_codec() {
        let text = sample(5000);
        let good = compress(&text).unwrap();
        let mut no_size = compress_to_vec(text.as_slice(), CompressionLevel::Fastest);
        assert_eq!(no_size[4] >> 6, 0);
        let too_big = with_content_size(
            compress_to_vec(&sample(20_000)[..], CompressionLevel::Fastest),
            5000,
        );
        assert_eq!(good[4] & 0x20, 0, "a window descriptor at byte 5");
        let mut huge_window = good.clone();
        huge_window[5] = 20 << 3;
        let trailing = [good.as_slice(), b"\0"].concat();
        for (frame, kept) in [
            (Some(good.clone()), true),
            (None, false),
            (Some(no_size.clone()), false),
            (Some(too_big), false),
            (Some(huge_window), false),
            (Some(trailing), false),
        ] {
            let codec = Rogue {
                frame,
                output: |_| Ok(vec![]),
                calls: std::cell::Cell::new(0),
            };
            let mut w = Writer::with_codec(Vec::new(), Compression::Zstd, 2, codec).unwrap();
            assert_eq!(
                w.add("data_t.npkd", &text).unwrap().compressed_size != 0,
                kept
            );
            assert_eq!(
                w.add("data_e.npkd", b"").unwrap().compressed_size,
                0,
                "an empty file is never compressed"
            );
            let pkg = w.finish().unwrap();
            assert_eq!(decode(&pkg).unwrap()["data_t.npkd"], text);
        }
        no_size.truncate(0);
        assert!(
            compress_with(
                &Rogue {
                    frame: Some(no_size),
                    output: |_| Ok(vec![]),
                    calls: Default::default()
                },
                &text
            )
            .is_none()
        );
    }

    #[test]
    fn writer_counts_its_entries() {
        let mut w = Writer::new(Vec::new(), Compression::None, 1).unwrap();
        assert!(matches!(
            Writer::new(Vec::new(), Compression::None, 0)
                .unwrap()
                .add("a", b""),
            Err(Error::InvalidArgument(_))
        ));
        w.add("a", b"1").unwrap();
        assert!(w.add("b", b"2").is_err());
        assert!(matches!(
            Writer::new(Vec::new(), Compression::None, 2)
                .unwrap()
                .finish(),
            Err(Error::InvalidArgument(_))
        ));
    }
}
