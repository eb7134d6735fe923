//! NumPy interop: dtypes, the bytes of an input array, new output arrays allocated by NumPy
//! (so large ones get its huge-page `madvise`), and arrays viewing a mapping without a copy.

use std::borrow::Cow;
use std::sync::Arc;

use numpack_core::DType;
use numpy::npyffi::{self, NpyTypes, PY_ARRAY_API};
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use super::errors::{IntoPy, PyResult};
use super::pool::{self, Block, BlockOwner};
use crate::mmap_cache::Mapping;

/// The numpy dtype of a store dtype.
pub fn descr<'py>(py: Python<'py>, dtype: DType) -> PyResult<Bound<'py, PyArrayDescr>> {
    PyArrayDescr::new(py, dtype.numpy_name())
}

/// The store dtype of a numpy dtype; TypeError for anything else (strings, objects, …).
pub fn dtype_of(d: &Bound<'_, PyArrayDescr>) -> PyResult<DType> {
    DType::from_numpy_name(&dtype_name(d)?).py()
}

/// A dtype's name as NumPy spells it (`dtype.name`). The built-in numeric dtypes are named
/// from the descriptor's kind and item size by core's table (`DType::from_numpy_kind`), without
/// a Python call (NumPy computes `name` in Python: ~1.5 µs, a tenth of a small search); any
/// other dtype (bfloat16 and the rest of the user-defined ones, strings, …) asks NumPy.
pub fn dtype_name(d: &Bound<'_, PyArrayDescr>) -> PyResult<Cow<'static, str>> {
    // Type numbers from NPY_USERDEF on belong to user-defined dtypes, whatever their kind.
    if d.num() < npyffi::NPY_TYPES::NPY_USERDEF as i32
        && let Some(t) = DType::from_numpy_kind(d.kind(), d.itemsize() as u64)
    {
        return Ok(Cow::Borrowed(t.numpy_name()));
    }
    Ok(Cow::Owned(d.getattr("name")?.extract()?))
}

/// Whether a dtype's bytes are in this machine's order (`dtype.isnative`: true also where
/// byte order does not apply).
pub fn is_native(d: &Bound<'_, PyArrayDescr>) -> bool {
    d.is_native_byteorder().unwrap_or(true)
}

/// A raw pointer and length that may cross into a thread without the GIL.
#[derive(Clone, Copy)]
pub struct RawBytes {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the memory belongs to a NumPy array that the caller keeps alive (a `Bound` held across
// the GIL-free section) and is only read or written inside that section.
unsafe impl Send for RawBytes {}
// SAFETY: as above.
unsafe impl Sync for RawBytes {}

impl RawBytes {
    /// The bytes, to read.
    ///
    /// # Safety
    /// The owning array must be alive and not resized for the lifetime of the slice.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller upholds that the array is alive; ptr/len describe its buffer.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The bytes, to write.
    ///
    /// # Safety
    /// As [`RawBytes::as_slice`], and nobody else may access the buffer meanwhile (it is a
    /// fresh array not yet handed to Python).
    pub unsafe fn as_mut_slice<'a>(&self) -> &'a mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as above; the caller guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

/// An array's shape, dtype and bytes, for handing to the store.
pub struct Input {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<u64>,
    /// Its buffer (C order, native little-endian).
    pub bytes: RawBytes,
}

/// Reads an input array; it must be C-contiguous and native-endian (the Python layer makes
/// it so), of one of the 14 dtypes.
pub fn input(arr: &Bound<'_, PyAny>) -> PyResult<Input> {
    let arr = arr
        .cast::<PyUntypedArray>()
        .map_err(|_| PyTypeError::new_err("expected a numpy.ndarray"))?;
    let d = arr.dtype();
    let dtype = dtype_of(&d)?;
    if !is_native(&d) || !arr.is_c_contiguous() {
        return Err(PyValueError::new_err(
            "internal: arrays must be C-contiguous and native-endian",
        ));
    }
    let shape: Vec<u64> = arr.shape().iter().map(|&n| n as u64).collect();
    let len = arr.shape().iter().product::<usize>() * dtype.itemsize() as usize;
    Ok(Input {
        dtype,
        shape,
        bytes: RawBytes {
            ptr: data_ptr(arr),
            len,
        },
    })
}

/// The data pointer of an array.
fn data_ptr(arr: &Bound<'_, PyUntypedArray>) -> *mut u8 {
    // SAFETY: `arr` is a live ndarray; reading its data field is what NumPy's own macro does.
    unsafe {
        (*npyffi::_PyArray_GET_ITEM_DATA(arr.as_array_ptr()))
            .data
            .cast()
    }
}

fn dims(shape: &[u64]) -> PyResult<Vec<npyffi::npy_intp>> {
    shape
        .iter()
        .map(|&n| {
            npyffi::npy_intp::try_from(n).map_err(|_| PyValueError::new_err("dimension too large"))
        })
        .collect()
}

/// A new uninitialised C-order array, and its buffer: allocated by NumPy, or for a big one
/// over a reused [`Block`] (`pool.rs`) when one of its size is free.
pub fn empty<'py>(
    py: Python<'py>,
    shape: &[u64],
    dtype: DType,
) -> PyResult<(Bound<'py, PyAny>, RawBytes)> {
    let len = shape
        .iter()
        .try_fold(dtype.itemsize(), |a, &n| a.checked_mul(n))
        .and_then(|n| usize::try_from(n).ok());
    if let Some(len) = len.filter(|&n| n >= pool::MIN_BYTES)
        && let Some(block) = Block::take(len)
    {
        let ptr = block.ptr();
        let owner = Bound::new(py, BlockOwner::new(block))?.into_any();
        // SAFETY: the block holds at least `len` bytes at a huge-page-aligned `ptr` and `owner`
        // keeps it until NumPy frees the array.
        let obj = unsafe { over_owned(py, shape, dtype, ptr, npyffi::NPY_ARRAY_CARRAY, owner)? };
        return Ok((obj, RawBytes { ptr, len }));
    }
    let mut dims = dims(shape)?;
    let d = descr(py, dtype)?;
    // SAFETY: PyArray_Empty steals the descr reference we pass (into_dtype_ptr hands over one);
    // dims has `nd` entries.
    let obj = unsafe {
        let ptr = PY_ARRAY_API.PyArray_Empty(
            py,
            dims.len() as i32,
            dims.as_mut_ptr(),
            d.into_dtype_ptr(),
            0,
        );
        Bound::from_owned_ptr_or_err(py, ptr)?
    };
    let arr = obj.cast::<PyUntypedArray>()?;
    let len = shape.iter().product::<u64>() as usize * dtype.itemsize() as usize;
    let bytes = RawBytes {
        ptr: data_ptr(arr),
        len,
    };
    Ok((obj, bytes))
}

/// Keeps a mapping alive for as long as any NumPy array viewing it (it is their `base`).
#[pyclass(frozen, module = "numpack._numpack")]
pub struct MappingOwner {
    map: Arc<Mapping>,
}

#[pymethods]
impl MappingOwner {
    /// Mapped bytes.
    fn __len__(&self) -> usize {
        self.map.len()
    }
}

/// An ndarray over the first bytes of `map` (no copy), read-only unless `writable`.
pub fn view<'py>(
    py: Python<'py>,
    map: Arc<Mapping>,
    shape: &[u64],
    dtype: DType,
    writable: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let need = shape
        .iter()
        .try_fold(dtype.itemsize(), |a, &n| a.checked_mul(n));
    if need.is_none_or(|n| n > map.len() as u64) {
        return Err(super::errors::CorruptStoreError::new_err(
            "mapping shorter than the array",
        ));
    }
    if writable && !map.writable() {
        return Err(PyValueError::new_err("the data file is read-only"));
    }
    let ptr = map.as_mut_ptr();
    let owner = Bound::new(py, MappingOwner { map })?.into_any();
    let mut flags = npyffi::NPY_ARRAY_C_CONTIGUOUS | npyffi::NPY_ARRAY_ALIGNED;
    if writable {
        flags |= npyffi::NPY_ARRAY_WRITEABLE;
    }
    // SAFETY: the data pointer covers `need` bytes of a page-aligned mapping that `owner` keeps
    // alive.
    unsafe { over_owned(py, shape, dtype, ptr, flags, owner) }
}

/// A C-order array of `shape` and `dtype` over the memory at `ptr`, which `owner` (set as the
/// array's base) keeps alive until NumPy frees the array.
///
/// # Safety
/// `ptr` must be aligned for `dtype` and valid for `shape`'s bytes (writable if `flags` says
/// so) for as long as `owner` lives.
unsafe fn over_owned<'py>(
    py: Python<'py>,
    shape: &[u64],
    dtype: DType,
    ptr: *mut u8,
    flags: i32,
    owner: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut dims = dims(shape)?;
    let d = descr(py, dtype)?;
    // SAFETY: the caller vouches for `ptr`; PyArray_NewFromDescr steals the descr reference,
    // and PyArray_SetBaseObject steals the owner reference (on failure the array, already
    // owning nothing, is released).
    unsafe {
        let subtype = npyffi::get_type_object(py, NpyTypes::PyArray_Type);
        let arr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            subtype,
            d.into_dtype_ptr(),
            dims.len() as i32,
            dims.as_mut_ptr(),
            std::ptr::null_mut(),
            ptr.cast(),
            flags,
            std::ptr::null_mut(),
        );
        let arr = Bound::from_owned_ptr_or_err(py, arr)?;
        if PY_ARRAY_API.PyArray_SetBaseObject(py, arr.as_ptr().cast(), owner.into_ptr()) != 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(arr)
    }
}

/// `arr` (C-contiguous, native-endian) cast to the dtype named `dtype` by core's write rule
/// ([`numpack_core::cast`], NumPy's `same_kind`): a new array, or TypeError naming `name`.
#[pyfunction]
pub fn cast<'py>(
    py: Python<'py>,
    arr: &Bound<'py, PyAny>,
    dtype: &str,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let a = input(arr)?;
    let to = DType::from_numpy_name(dtype).py()?;
    // SAFETY: `arr` is borrowed for the whole call and not resized meanwhile.
    let bytes = numpack_core::cast::cast(name, a.dtype, to, unsafe { a.bytes.as_slice() }).py()?;
    let (out, dst) = empty(py, &a.shape, to)?;
    // SAFETY: `out` is fresh, unseen by Python code, and exactly as long as the cast bytes.
    unsafe { dst.as_mut_slice() }.copy_from_slice(&bytes);
    Ok(out)
}
