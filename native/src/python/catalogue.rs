//! What both store classes (file system and remote) tell Python about their arrays: the info
//! tuple, and the catalogue methods, written once for both classes.

use numpack_core::{ArrayInfo, DType};

use super::errors::{IntoPy, PyResult};

/// The info tuple Python holds for an array: (name, dtype, shape, physical_shape, data_file,
/// last_modified), as `Store.info` returns it; a Dask graph keeps it to check that the array
/// did not change.
pub(crate) type Identity = (String, String, Vec<u64>, Vec<u64>, String, u64);

/// The info tuple of `i`.
pub(crate) fn info_tuple(i: ArrayInfo) -> Identity {
    (
        i.name,
        i.dtype.numpy_name().to_string(),
        i.shape,
        i.physical_shape,
        i.data_file,
        i.last_modified,
    )
}

/// The [`ArrayInfo`] an info tuple from Python stands for.
pub(crate) fn identity(t: Identity) -> PyResult<ArrayInfo> {
    Ok(ArrayInfo {
        name: t.0,
        dtype: DType::from_numpy_name(&t.1).py()?,
        shape: t.2,
        physical_shape: t.3,
        data_file: t.4,
        last_modified: t.5,
    })
}

/// The `#[pymethods]` block of a store class: the catalogue methods every store class offers
/// (`names`, `contains`, `info`, `infos`, each through the class's own `run`), then the
/// methods given. pyo3 takes one such block per class, so the shared methods are spliced in.
macro_rules! store_pymethods {
    (impl $ty:ty { $($own:tt)* }) => {
        #[pyo3::pymethods]
        impl $ty {
            /// Array names in creation order.
            fn names(&self, py: pyo3::Python<'_>) -> $crate::python::errors::PyResult<Vec<String>> {
                self.run(py, |s| s.names())
            }

            /// Whether `name` exists.
            fn contains(&self, py: pyo3::Python<'_>, name: &str) -> $crate::python::errors::PyResult<bool> {
                self.run(py, |s| s.contains(name))
            }

            /// (name, dtype, shape, physical_shape, data_file, last_modified) of one array.
            fn info(
                &self,
                py: pyo3::Python<'_>,
                name: &str,
            ) -> $crate::python::errors::PyResult<$crate::python::catalogue::Identity> {
                self.run(py, |s| s.info(name))
                    .map($crate::python::catalogue::info_tuple)
            }

            /// The info tuples of every array.
            fn infos(
                &self,
                py: pyo3::Python<'_>,
            ) -> $crate::python::errors::PyResult<Vec<$crate::python::catalogue::Identity>> {
                Ok(self
                    .run(py, |s| s.infos())?
                    .into_iter()
                    .map($crate::python::catalogue::info_tuple)
                    .collect())
            }

            $($own)*
        }
    };
}
pub(crate) use store_pymethods;
