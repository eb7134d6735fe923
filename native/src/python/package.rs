//! The compiled half of `numpack.package`: `numpack_core::package` (the container, the checks,
//! [`package::pack`] and [`package::unpack`] over the store's `Io`) with zstd from the C library
//! ([`CZstd`]) and the GIL released for the work. Only the package file itself is handled here:
//! it lies outside any store, so it is written as `<out>.tmp` and renamed here.

use std::fs::{self, File};
use std::io::{BufWriter, ErrorKind};
use std::path::PathBuf;

use numpack_core::package::{self, Compression, Package, ZstdCodec};
use numpack_core::{Error, Store};
use pyo3::prelude::*;

use super::errors::{IntoPy, PyResult};
use super::progress::PyHook;
use crate::fs_io::FsIo;
use numpack_core::progress::Progress;

/// The zstd level the wheel writes: the reference library's default, as NumPack's Python writer
/// used before the codec moved to Rust.
const LEVEL: i32 = 3;

/// zstd through the C library (`zstd` crate, bundled sources), the wheel's codec: level 3 frames
/// with the content size, and decoding straight into a buffer of the declared size, which the
/// output can never outgrow. The frame checks (one frame, window, blocks) and the size check of
/// the output are `numpack_core`'s. Every file is compressed, whatever its size: this encoder
/// passes data that does not compress at about 0.9 GB/s, so sampling first (as core's `Ruzstd`
/// does) would save little and could leave a compressible file raw.
#[derive(Clone, Copy, Debug, Default)]
pub struct CZstd;

impl ZstdCodec for CZstd {
    fn compress(&self, data: &[u8]) -> Option<Vec<u8>> {
        let mut compressor = zstd::bulk::Compressor::new(LEVEL).ok()?;
        let mut frame = Vec::new();
        frame.try_reserve_exact(data.len()).ok()?;
        // Room for `data.len()` bytes only: a frame that would not be smaller fails here, early.
        compressor.compress_to_buffer(data, &mut frame).ok()?;
        Some(frame)
    }

    fn decompress(&self, frame: &[u8], original_size: usize) -> numpack_core::Result<Vec<u8>> {
        let mut out = Vec::new();
        out.try_reserve_exact(original_size).map_err(|_| {
            Error::OutOfMemory(format!("decoding a zstd frame of {original_size} bytes"))
        })?;
        let mut decompressor = zstd::bulk::Decompressor::new()?;
        // The output goes into `out`'s spare capacity and is never reallocated: more than
        // `original_size` bytes is an error of the C library ("destination buffer too small").
        decompressor
            .decompress_to_buffer(frame, &mut out)
            .map_err(|e| Error::Corrupt(format!("zstd frame is corrupt: {e}")))?;
        Ok(out)
    }
}

/// An OS error of `kind` (Python sees `FileNotFoundError`, `FileExistsError`, …).
fn os_error(kind: ErrorKind, msg: String) -> Error {
    Error::Io(std::io::Error::new(kind, msg))
}

/// `(version, compression code, [(path, original_size, compressed_size)])` of a package.
type InfoTuple = (u32, u8, Vec<(String, u64, u64)>);

/// Parses and validates a package held in `data` without decompressing it.
#[pyfunction]
pub fn package_info(py: Python<'_>, data: &[u8]) -> PyResult<InfoTuple> {
    py.detach(|| {
        let p = Package::parse(data)?;
        let entries = p
            .entries()
            .iter()
            .map(|e| (e.path.to_string(), e.original_size, e.compressed_size))
            .collect();
        Ok((package::VERSION, p.compression().code(), entries))
    })
    .py()
}

/// Packs the store folder `root` into the file `out` ([`package::pack_with`], zstd frames of
/// [`CZstd`] with `compression`), written as `<out>.tmp` (removed if the call fails or is
/// interrupted) and renamed into place. `progress(done, total)` is called with bytes read.
#[pyfunction]
#[pyo3(signature = (root, out, compression = true, progress = None))]
pub fn package_pack(
    py: Python<'_>,
    root: PathBuf,
    out: PathBuf,
    compression: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<()> {
    let mut hook = PyHook::new(progress.as_ref());
    let result = py.detach(|| -> numpack_core::Result<()> {
        if !root.is_dir() {
            return Err(os_error(
                ErrorKind::NotFound,
                format!("{} is not a NumPack store folder", root.display()),
            ));
        }
        let mut store = Store::open(FsIo::open(&root)?)?;
        let compression = if compression {
            Compression::Zstd
        } else {
            Compression::None
        };
        let mut tmp = out.clone().into_os_string();
        tmp.push(".tmp");
        let written = File::create(&tmp)
            .map_err(Error::from)
            .and_then(|f| {
                package::pack_with(&mut store, BufWriter::new(f), compression, CZstd, &mut hook)
            })
            .and_then(|w| w.into_inner().map_err(|e| e.into_error().into()));
        match written {
            Ok(_) => Ok(fs::rename(&tmp, &out)?),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    });
    hook.finish(result)
}

/// Unpacks the package file `src` into the store folder `out` ([`package::unpack_with`]): a bad
/// package (or Ctrl-C before the renames) creates nothing; an existing `out` is an error unless
/// `overwrite`. `progress(done, total)` is called with bytes written.
#[pyfunction]
#[pyo3(signature = (src, out, overwrite = false, verify = true, progress = None))]
pub fn package_unpack(
    py: Python<'_>,
    src: PathBuf,
    out: PathBuf,
    overwrite: bool,
    verify: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<()> {
    let mut hook = PyHook::new(progress.as_ref());
    let result = py.detach(|| -> numpack_core::Result<()> {
        let buf = fs::read(&src)?;
        hook.step(0, buf.len() as u64)?;
        let open = || {
            if out.exists() && !overwrite {
                return Err(os_error(
                    ErrorKind::AlreadyExists,
                    format!(
                        "{} exists (pass overwrite=True to replace it)",
                        out.display()
                    ),
                ));
            }
            FsIo::open(&out)
        };
        package::unpack_with(&buf, verify, &CZstd, open, &mut hook)?;
        Ok(())
    });
    hook.finish(result)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use numpack_core::package::{Ruzstd, Writer, decompress_with};

    use super::*;

    /// Text-like bytes (compress well), an int64 arange, and noise (does not compress).
    fn files() -> Vec<(&'static str, Vec<u8>)> {
        let words = [&b"alpha "[..], b"beta ", b"gamma\n", b"delta ", b"0123 "];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let text: Vec<u8> = (0..20_000)
            .flat_map(|_| words[(next() % 5) as usize].to_vec())
            .collect();
        let arange: Vec<u8> = (0..(5i64 << 17)).flat_map(i64::to_le_bytes).collect(); // 5 MiB: Ruzstd samples it
        let noise: Vec<u8> = (0..300_000).map(|_| next() as u8).collect();
        vec![
            ("metadata.npkm", b"NPKB\x01\x00\x00\x00".to_vec()),
            ("data_text.npkd", text),
            ("data_ids.npkd", arange),
            ("data_noise.npkd", noise),
            ("data_empty.npkd", vec![]),
            ("data_s_segments/seg_000000.npkd", vec![3; 70_000]),
        ]
    }

    /// A zstd package of `files` written with `codec`.
    fn build<C: ZstdCodec>(files: &[(&str, Vec<u8>)], codec: C) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), Compression::Zstd, files.len(), codec).unwrap();
        for (path, data) in files {
            w.add(path, data).unwrap();
        }
        w.finish().unwrap()
    }

    /// `path → bytes` of a package decoded with `codec`, checksum verified.
    fn decode<C: ZstdCodec>(pkg: &[u8], codec: &C) -> BTreeMap<String, Vec<u8>> {
        Package::parse(pkg)
            .unwrap()
            .files_with(true, codec)
            .unwrap()
            .into_iter()
            .map(|(p, d)| (p.to_string(), d.into_owned()))
            .collect()
    }

    fn as_map(files: &[(&str, Vec<u8>)]) -> BTreeMap<String, Vec<u8>> {
        files
            .iter()
            .map(|(p, d)| (p.to_string(), d.clone()))
            .collect()
    }

    #[test]
    fn packages_cross_between_the_c_and_the_pure_rust_codec() {
        let files = files();
        // The C writer's package opens with ruzstd (as in wasm), and with the C reader.
        let c_pkg = build(&files, CZstd);
        assert_eq!(decode(&c_pkg, &Ruzstd), as_map(&files));
        assert_eq!(decode(&c_pkg, &CZstd), as_map(&files));
        let parsed = Package::parse(&c_pkg).unwrap();
        let compressed: Vec<bool> = parsed.entries().iter().map(|e| e.is_compressed()).collect();
        assert_eq!(compressed, [false, true, true, false, false, true]);
        // Level 3, content size in every frame header.
        for e in parsed.entries().iter().filter(|e| e.is_compressed()) {
            assert_eq!(
                zstd::zstd_safe::get_frame_content_size(e.payload).ok(),
                Some(Some(e.original_size)),
                "{}",
                e.path
            );
        }
        let ids = &parsed.entries()[2];
        assert!(
            (ids.compressed_size as f64) < 0.14 * ids.original_size as f64,
            "{} of {}",
            ids.compressed_size,
            ids.original_size
        );
        // The ruzstd writer's package (as wasm writes it) opens with the C reader.
        let r_pkg = build(&files, Ruzstd);
        let r_parsed = Package::parse(&r_pkg).unwrap();
        assert!(
            r_parsed
                .entries()
                .iter()
                .filter(|e| e.is_compressed())
                .count()
                >= 3
        );
        assert_eq!(decode(&r_pkg, &CZstd), as_map(&files));
        assert!(c_pkg.len() < r_pkg.len());
    }

    #[test]
    fn the_c_reader_is_held_to_the_declared_size() {
        let zeros = vec![0u8; 16 << 20];
        // A level-3 stream (no content size in the header), declared as 1000 bytes: the C decoder
        // has room for 1000 bytes only.
        let stream = zstd::stream::encode_all(zeros.as_slice(), LEVEL).unwrap();
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&stream).ok(),
            Some(None)
        );
        let err = decompress_with(&CZstd, &stream, 1000).unwrap_err();
        assert!(
            matches!(&err, Error::Corrupt(m) if m.contains("corrupt")),
            "{err}"
        );
        assert_eq!(
            decompress_with(&CZstd, &stream, zeros.len() as u64).unwrap(),
            zeros
        );
        assert!(matches!(
            decompress_with(&CZstd, &stream, zeros.len() as u64 + 1),
            Err(Error::Corrupt(_))
        ));
        // The C library would decode two frames in a row; the frame checks refuse the second.
        let mut no_size = zstd::bulk::Compressor::new(LEVEL).unwrap();
        no_size.include_contentsize(false).unwrap();
        let half = no_size.compress(&zeros[..5000]).unwrap();
        let two = [half.clone(), half].concat();
        let err = decompress_with(&CZstd, &two, 10_000)
            .unwrap_err()
            .to_string();
        assert!(err.contains("stray bytes"), "{err}");
        let frame = CZstd.compress(&zeros[..5000]).unwrap();
        // A content size that disagrees, a truncated frame, a flipped byte.
        assert!(
            decompress_with(&CZstd, &frame, 4999)
                .unwrap_err()
                .to_string()
                .contains("declares")
        );
        assert!(matches!(
            decompress_with(&CZstd, &frame[..frame.len() - 1], 5000),
            Err(Error::Corrupt(_))
        ));
        let text = &files()[1].1;
        let frame = CZstd.compress(text).unwrap();
        for at in [frame.len() / 3, frame.len() / 2, frame.len() - 2] {
            let mut bad = frame.clone();
            bad[at] ^= 0x5A;
            match decompress_with(&CZstd, &bad, text.len() as u64) {
                Err(err) => assert!(matches!(err, Error::Corrupt(_)), "{err}"),
                Ok(out) => assert_eq!(out.len(), text.len()), // a flip in literals: the CRC catches it
            }
        }
        // Frames with the C library's own checksum are read, and a wrong checksum refused.
        let mut c = zstd::bulk::Compressor::new(LEVEL).unwrap();
        c.include_checksum(true).unwrap();
        let mut summed = c.compress(text).unwrap();
        assert_eq!(
            decompress_with(&CZstd, &summed, text.len() as u64).unwrap(),
            *text
        );
        assert_eq!(
            decompress_with(&Ruzstd, &summed, text.len() as u64).unwrap(),
            *text
        );
        let last = summed.len() - 1;
        summed[last] ^= 1;
        assert!(matches!(
            decompress_with(&CZstd, &summed, text.len() as u64),
            Err(Error::Corrupt(_))
        ));
    }

    #[test]
    fn the_c_writer_stores_raw_what_does_not_shrink() {
        let files = files();
        assert!(CZstd.compress(&files[3].1).is_none(), "noise");
        assert!(package::compress_with(&CZstd, b"").is_none());
        assert!(package::compress_with(&CZstd, b"ab").is_none());
        let frame = package::compress_with(&CZstd, &files[1].1).unwrap();
        assert!(frame.len() * 3 < files[1].1.len());
    }
}
