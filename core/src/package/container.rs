//! The `.npkg` container: header, entries and checksum (docs/FORMAT.md §7). [`Package::parse`]
//! treats the buffer as hostile: every size is checked against the bytes that are there before
//! anything is allocated; [`Writer`] streams one file at a time.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::Write;

use super::codec::{ZstdCodec, compress_with, decompress_with};
use super::crc::chain;
use super::frame::MAX_ZSTD_RATIO;
use crate::error::{Error, Result, corrupt};
use crate::format::reader::Reader;
use crate::progress::Progress;

/// Package magic bytes.
pub const MAGIC: &[u8; 4] = b"NPKG";
/// The only package version we read and write.
pub const VERSION: u32 = 2;
/// The longest entry path we accept, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// The smallest entry: a u32 path length, a 1-byte path, two u64 sizes, no data.
const MIN_ENTRY_BYTES: usize = 4 + 1 + 16;

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
    /// decompressed and the checksum is not verified yet (see [`Package::files_with`]).
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
            check_path(path)?;
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
                .ok()
                .filter(|&n| n <= r.remaining())
                .ok_or_else(|| corrupt(format!(".npkg package: {path:?} is truncated")))?;
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

    /// Every file's bytes, in package order, decoded with `codec`. With `verify`, the checksum
    /// must match.
    pub fn files_with<C: ZstdCodec + ?Sized>(
        &self,
        verify: bool,
        codec: &C,
    ) -> Result<Vec<PackageFile<'a>>> {
        self.files_with_progress(verify, codec, &mut ())
    }

    /// [`Package::files_with`] reporting to `progress` before each file is decoded (original
    /// bytes decoded so far, of their total); an error from it stops the decoding.
    pub fn files_with_progress<C: ZstdCodec + ?Sized>(
        &self,
        verify: bool,
        codec: &C,
        progress: &mut dyn Progress,
    ) -> Result<Vec<PackageFile<'a>>> {
        let total = self
            .entries
            .iter()
            .fold(0u64, |t, e| t.saturating_add(e.original_size));
        let mut done = 0u64;
        let mut out = Vec::with_capacity(self.entries.len());
        let mut sum = 0u32;
        for entry in &self.entries {
            progress.step(done, total)?;
            done = done.saturating_add(entry.original_size);
            let data = entry.data_with(codec)?;
            if verify {
                sum = chain(sum, &data);
            }
            out.push((entry.path, data));
        }
        if verify && sum != self.checksum {
            return Err(corrupt(format!(
                ".npkg package: checksum mismatch (stored {:08x}, computed {sum:08x})",
                self.checksum
            )));
        }
        Ok(out)
    }
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

/// Writes a package to `out` one file at a time, so a caller never holds more than one file;
/// zstd frames come from the codec `C`.
pub struct Writer<W: Write, C: ZstdCodec> {
    out: W,
    compression: Compression,
    remaining: u32,
    chain: u32,
    paths: BTreeSet<String>,
    codec: C,
}

impl<W: Write, C: ZstdCodec> Writer<W, C> {
    /// Writes the header for `file_count` files, which will be compressed with `codec`;
    /// [`Writer::add`] must then be called that often.
    pub fn new(mut out: W, compression: Compression, file_count: usize, codec: C) -> Result<Self> {
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

    /// Adds one file and returns its compressed size (0: stored raw). With zstd, the file is
    /// stored as a frame of the writer's codec if that is smaller (see [`compress_with`]).
    pub fn add(&mut self, path: &str, data: &[u8]) -> Result<u64> {
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
        let compressed_size = frame.as_ref().map_or(0, |f| f.len() as u64);
        let mut head = Vec::with_capacity(20 + path.len());
        head.extend_from_slice(&(path.len() as u32).to_le_bytes());
        head.extend_from_slice(path.as_bytes());
        head.extend_from_slice(&(data.len() as u64).to_le_bytes());
        head.extend_from_slice(&compressed_size.to_le_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(frame.as_deref().unwrap_or(data))?;
        self.chain = chain(self.chain, data);
        self.remaining -= 1;
        Ok(compressed_size)
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
