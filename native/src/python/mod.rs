//! The private compiled module `numpack._numpack`; the public API is the pure-Python package.

mod arrays;
mod catalogue;
mod errors;
mod lazy;
mod package;
mod pool;
mod progress;
mod remote_io;
mod store;
mod vector;
mod vector_scan;
mod verify;

use pyo3::prelude::*;

/// Registers the classes and exceptions of `numpack._numpack`.
#[pymodule(gil_used = false)]
#[pyo3(name = "_numpack")]
fn numpack_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<store::PyStore>()?;
    m.add_class::<lazy::PyMapped>()?;
    m.add_class::<arrays::MappingOwner>()?;
    m.add_function(wrap_pyfunction!(arrays::cast, m)?)?;
    m.add_function(wrap_pyfunction!(package::package_info, m)?)?;
    m.add_function(wrap_pyfunction!(package::package_unpack, m)?)?;
    m.add_function(wrap_pyfunction!(package::package_pack, m)?)?;
    m.add_function(wrap_pyfunction!(verify::store_verify, m)?)?;
    m.add_function(wrap_pyfunction!(verify::store_facts, m)?)?;
    m.add_function(wrap_pyfunction!(verify::store_checksums, m)?)?;
    m.add_function(wrap_pyfunction!(vector::vector_capabilities, m)?)?;
    m.add_function(wrap_pyfunction!(vector::vector_set_tier, m)?)?;
    m.add_function(wrap_pyfunction!(vector::vector_compute, m)?)?;
    m.add_function(wrap_pyfunction!(vector::vector_compute_type, m)?)?;
    m.add_function(wrap_pyfunction!(vector::vector_scores, m)?)?;
    m.add_function(wrap_pyfunction!(vector::vector_top_k, m)?)?;
    m.add_function(wrap_pyfunction!(vector::vector_merge_top_k, m)?)?;
    remote_io::register(m)?;
    m.add_function(wrap_pyfunction!(vector::vector_norm_cache, m)?)?;
    m.add_function(wrap_pyfunction!(vector::vector_fma_peak, m)?)?;
    m.add_class::<vector::PyNormCache>()?;
    m.add("NumPackError", py.get_type::<errors::NumPackError>())?;
    m.add(
        "CorruptStoreError",
        py.get_type::<errors::CorruptStoreError>(),
    )?;
    m.add("LockError", py.get_type::<errors::LockError>())?;
    Ok(())
}
