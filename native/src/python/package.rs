//! The compiled half of `numpack.package`: the `.npkg` codec of `numpack_core` (parse, decode,
//! build, zstd), with the GIL released for the work. File names, folders and renames stay in
//! Python.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use numpack_core::format::package::{self, Compression, Package, Writer};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::errors::{IntoPy, PyResult};

/// `(version, compression code, [(path, original_size, compressed_size)])` of a package.
type InfoTuple = (u32, u8, Vec<(String, u64, u64)>);

/// Parses and validates a package held in `data` without decompressing it.
#[pyfunction]
pub fn package_info(py: Python<'_>, data: &[u8]) -> PyResult<InfoTuple> {
    py.detach(|| {
        let p = Package::parse(data)?;
        let entries = p.entries().iter().map(|e| (e.path.to_string(), e.original_size, e.compressed_size)).collect();
        Ok((package::VERSION, p.compression().code(), entries))
    })
    .py()
}

/// Every file of the package in `data` as `(path, bytes)`, in package order; with `verify` the
/// checksum must match.
#[pyfunction]
#[pyo3(signature = (data, verify = true))]
pub fn package_decode<'py>(py: Python<'py>, data: &[u8], verify: bool) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
    let files = py.detach(|| Package::parse(data)?.files(verify)).py()?;
    Ok(files.into_iter().map(|(path, bytes)| (path.to_string(), PyBytes::new(py, &bytes))).collect())
}

/// Writes the files `names` (relative to `root`) as a package at `out`, zstd-compressed when
/// `compression` and smaller. Each file is read, encoded and written before the next is read.
#[pyfunction]
#[pyo3(signature = (root, names, out, compression = true))]
pub fn package_pack(py: Python<'_>, root: PathBuf, names: Vec<String>, out: PathBuf, compression: bool) -> PyResult<()> {
    py.detach(move || -> numpack_core::Result<()> {
        for name in &names {
            package::check_path(name)?;
        }
        let compression = if compression { Compression::Zstd } else { Compression::None };
        let mut w = Writer::new(BufWriter::new(File::create(&out)?), compression, names.len())?;
        for name in &names {
            let data = std::fs::read(root.join(name))?;
            w.add(name, &data)?;
        }
        w.finish()?.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    })
    .py()
}
