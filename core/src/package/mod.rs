//! `.npkg` packages: a whole store in one file, to ship it or to `fetch()` it into a page. The
//! layout is upstream NumPack's version 2 (spec: docs/FORMAT.md §7), all integers little-endian:
//!
//! `"NPKG"`, u32 version = 2, u8 compression (0 none, 1 zstd), u32 file_count; per file u32
//! path_len, UTF-8 path, u64 original_size, u64 compressed_size (0: stored raw), the stored bytes;
//! then a u32 CRC-32 chained over each file's CRC-32 (each as 4 little-endian bytes).
//!
//! One job per module: the container (`container`), the zstd frame walker that checks a frame
//! before any codec decodes it (`frame`), the codec adapter (`codec`: which bytes a
//! [`ZstdCodec`] sees and what it must give back), the pure-Rust codec `Ruzstd` (the `ruzstd`
//! feature; the wheel brings the C library instead) and the CRC-32 (`crc`). This file holds what
//! both runtimes do with them: [`pack`] and [`unpack`] over [`Io`], and the one rule for which
//! files a package holds ([`holds`]).

mod codec;
mod container;
mod crc;
mod frame;
#[cfg(feature = "ruzstd")]
mod ruzstd_codec;

use std::collections::BTreeSet;
use std::io::Write;

pub use codec::{ZstdCodec, compress_with, decompress_with};
pub use container::{
    Compression, Entry, MAGIC, MAX_PATH_BYTES, Package, PackageFile, VERSION, Writer, check_path,
};
pub use crc::crc32;
pub use frame::MAX_ZSTD_RATIO;
#[cfg(feature = "ruzstd")]
pub use ruzstd_codec::Ruzstd;

use crate::error::{Error, Result, corrupt};
use crate::format::{JOURNAL_FILE, METADATA_FILE};
use crate::io::{Io, LockMode};
use crate::name;
use crate::progress::Progress;
use crate::store::Store;

/// Whether a package of a store holds the file `path` (relative, `/`-separated): the catalogue
/// `metadata.npkm`, and the files named after an array: `data_<name>.npkd`,
/// `deleted_<name>.npkb`, `data_<name>.npkseg` and the `.npkd` files of `data_<name>_segments/`.
/// Never the lock and writer-marker files, the journal, staged `*.tmp` copies, or anything else
/// in the folder.
pub fn holds(path: &str) -> bool {
    match path.split_once('/') {
        None => path == METADATA_FILE || crate::name::is_array_file(path),
        Some((dir, file)) => {
            dir.starts_with("data_")
                && dir.ends_with("_segments")
                && !file.contains('/')
                && file.ends_with(".npkd")
        }
    }
}

/// The files of the store in `io` that a package holds ([`holds`]): the catalogue first, then
/// the rest in path order. Segment files are found through their manifests (a back end may or
/// may not list folders).
fn store_files(io: &impl Io) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for file in io.list("")? {
        if let Some(array) = file
            .strip_prefix("data_")
            .and_then(|f| f.strip_suffix(".npkseg"))
        {
            let dir = name::segments_dir(array);
            match io.list(&dir) {
                Ok(segments) => out.extend(
                    segments
                        .into_iter()
                        .map(|s| format!("{dir}/{s}"))
                        .filter(|p| holds(p)),
                ),
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if holds(&file) {
            out.push(file);
        }
    }
    out.sort_by(|a, b| (a != METADATA_FILE, a).cmp(&(b != METADATA_FILE, b)));
    Ok(out)
}

/// Releases the store lock when dropped.
struct Unlock<'a, I: Io>(&'a I);

impl<I: Io> Drop for Unlock<'_, I> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

/// Writes `store` as a package to `out` and returns the sink: the files of [`holds`], the
/// catalogue first, each read, encoded (zstd frames of `codec` where that is smaller, with
/// [`Compression::Zstd`]) and written before the next is read. The files are read under the
/// store's shared lock, after any commit a killed writer left half-applied is finished, so the
/// package is one committed state. A folder without a catalogue is not a store to pack
/// (`Error::Io`, not found).
pub fn pack<I: Io, W: Write, C: ZstdCodec>(
    store: &mut Store<I>,
    out: W,
    compression: Compression,
    codec: C,
) -> Result<W> {
    pack_with(store, out, compression, codec, &mut ())
}

/// [`pack`] reporting to `progress` (bytes of store files read so far, of their total) before
/// each file and at the end; an error from it stops the packing and is returned.
pub fn pack_with<I: Io, W: Write, C: ZstdCodec>(
    store: &mut Store<I>,
    out: W,
    compression: Compression,
    codec: C,
    progress: &mut dyn Progress,
) -> Result<W> {
    store.refresh()?;
    let io = store.io();
    io.lock(LockMode::Shared)?;
    let _unlock = Unlock(io);
    if io.len(JOURNAL_FILE)?.is_some() {
        return Err(Error::Locked(
            "a writer died during a commit; the next call to the store finishes it".into(),
        ));
    }
    let files = store_files(io)?;
    if files.first().map(String::as_str) != Some(METADATA_FILE) {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "not a NumPack store (no metadata.npkm): nothing to pack",
        )));
    }
    let mut total = 0u64;
    for path in &files {
        total = total.saturating_add(io.len(path)?.unwrap_or(0));
    }
    let mut done = 0u64;
    let mut w = Writer::new(out, compression, files.len(), codec)?;
    for path in &files {
        progress.step(done, total)?;
        let data = io
            .read_file(path, usize::MAX as u64)?
            .ok_or_else(|| corrupt(format!("{path} is missing")))?;
        w.add(path, &data)?;
        done = done.saturating_add(data.len() as u64);
    }
    let w = w.finish()?;
    progress.step(total, total)?;
    Ok(w)
}

/// Unpacks `package` into the store folder `open` returns, and returns its back end. The
/// package is parsed, decoded (with `codec`) and, with `verify`, checksummed before `open` is
/// called, so a bad package changes nothing and creates nothing. Then, under the store's
/// exclusive lock, every file [`holds`] accepts is written as `<path>.tmp` and renamed into place,
/// the catalogue last; the store's files the package does not hold are removed (an unpack over an
/// existing store replaces it). Other entries are skipped. Replacing a store is not atomic: if
/// the process dies part-way, the folder can mix both stores.
pub fn unpack<I: Io, C: ZstdCodec + ?Sized>(
    package: &[u8],
    verify: bool,
    codec: &C,
    open: impl FnOnce() -> Result<I>,
) -> Result<I> {
    unpack_with(package, verify, codec, open, &mut ())
}

/// [`unpack`] reporting to `progress` before each file is decoded and before each is staged:
/// `done` counts each file's bytes twice (decoded, then written) of a `total` of twice their
/// sum. An error from it stops the unpacking before any file is renamed into place (the staged
/// files are removed) and is returned.
pub fn unpack_with<I: Io, C: ZstdCodec + ?Sized>(
    package: &[u8],
    verify: bool,
    codec: &C,
    open: impl FnOnce() -> Result<I>,
    progress: &mut dyn Progress,
) -> Result<I> {
    let mut files =
        Package::parse(package)?.files_with_progress(verify, codec, &mut |d: u64, t: u64| {
            progress.step(d, t.saturating_mul(2))
        })?;
    files.retain(|(path, _)| holds(path));
    files.sort_by_key(|(path, _)| *path == METADATA_FILE);
    let io = open()?;
    io.lock(LockMode::Exclusive)?;
    let unlock = Unlock(&io);
    let keep: BTreeSet<&str> = files.iter().map(|(path, _)| *path).collect();
    let stale: Vec<String> = store_files(&io)?
        .into_iter()
        .filter(|p| !keep.contains(p.as_str()))
        .collect();
    let total = files
        .iter()
        .fold(0u64, |t, (_, d)| t.saturating_add(d.len() as u64));
    let mut done = total;
    let total = total.saturating_mul(2);
    let staged = files.iter().try_for_each(|(path, data)| -> Result<()> {
        progress.step(done, total)?;
        if let Some((dir, _)) = path.split_once('/') {
            io.create_dir(dir)?;
        }
        io.write_file(&name::staged(path), data)?;
        done = done.saturating_add(data.len() as u64);
        Ok(())
    });
    let staged = staged.and_then(|()| progress.step(total, total));
    if let Err(e) = staged {
        // A failed unpack leaves nothing behind (a folder still holding files stays).
        for (path, _) in &files {
            let _ = io.remove(&name::staged(path));
            let _ = path.split_once('/').map(|(dir, _)| io.remove_dir(dir));
        }
        return Err(e);
    }
    let has_catalogue = files.last().is_some_and(|(path, _)| *path == METADATA_FILE);
    let (data, catalogue) = files.split_at(files.len() - usize::from(has_catalogue));
    for (path, _) in data {
        io.rename(&name::staged(path), path)?;
    }
    for old in &stale {
        io.remove(old)?;
        if let Some((dir, _)) = old.split_once('/') {
            let _ = io.remove_dir(dir); // fails, as it should, while the folder holds files
        }
    }
    for (path, _) in catalogue {
        io.rename(&name::staged(path), path)?;
    }
    drop(unlock);
    Ok(io)
}
