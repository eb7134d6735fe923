//! An array as mapped memory: the store's [`ArrayLayout`] (files, row map) with each file
//! mapped, and the copies that read logical rows out of it (ranges, gathers, diffs). This is
//! memory copying only; what the rows mean and where they are comes from the core.

use std::sync::Arc;

use numpack_core::rows::slice_bounds;
use numpack_core::{ArrayLayout, DType, Error, Result, RowMap, Selection};

use crate::fs_io::FsIo;
use crate::mmap_cache::Mapping;

/// Copies of at least this many bytes are split over two threads (one core copies ~11 GB/s
/// here; two get closer to the memory bus).
const PARALLEL_COPY_BYTES: usize = 16 << 20;

struct Part {
    map: Option<Arc<Mapping>>,
    /// First physical row of the part.
    start: u64,
    rows: u64,
}

/// One array's rows in mapped memory.
pub struct MappedArray {
    /// Element type.
    pub dtype: DType,
    /// Logical shape (empty for a 0-d array).
    pub shape: Vec<u64>,
    /// Bytes of one row (the itemsize for 1-D and 0-d arrays).
    pub row_bytes: u64,
    parts: Vec<Part>,
    rows: RowMap,
}

/// A raw pointer that may cross threads: every use is bounded by a length checked beforehand.
#[derive(Clone, Copy)]
struct SendPtr(*mut u8);
// SAFETY: the pointer is only dereferenced inside ranges that the owner of the memory keeps
// alive and that no two threads share (see `copy_range`).
unsafe impl Send for SendPtr {}
// SAFETY: as above; threads write disjoint ranges.
unsafe impl Sync for SendPtr {}

impl MappedArray {
    /// Maps every file of `layout` (call under the store lock, so the files match it).
    pub fn open(io: &FsIo, layout: ArrayLayout) -> Result<MappedArray> {
        let mut parts = Vec::with_capacity(layout.parts.len());
        let mut start = 0u64;
        for (file, rows) in &layout.parts {
            let bytes = rows
                .checked_mul(layout.row_bytes)
                .ok_or_else(|| Error::Corrupt(format!("{file}: size overflows")))?;
            parts.push(Part {
                map: io.map(file, bytes)?,
                start,
                rows: *rows,
            });
            start += rows;
        }
        Ok(MappedArray {
            dtype: layout.dtype,
            shape: layout.shape,
            row_bytes: layout.row_bytes,
            parts,
            rows: layout.rows,
        })
    }

    /// Logical rows (1 for a 0-d array).
    pub fn len(&self) -> u64 {
        if self.shape.is_empty() {
            1
        } else {
            self.rows.len()
        }
    }

    /// Whether there are no logical rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many files hold the rows (more than one for a segmented array).
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    /// Whether logical rows differ from physical ones.
    pub fn has_drops(&self) -> bool {
        self.rows.has_drops()
    }

    /// Bytes of all logical rows.
    pub fn nbytes(&self) -> Result<usize> {
        self.len()
            .checked_mul(self.row_bytes)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| Error::InvalidArgument("array does not fit in memory".into()))
    }

    /// The mapping holding every logical row in order, when there is one (no drops, one file).
    pub fn contiguous(&self) -> Option<Arc<Mapping>> {
        match self.parts.as_slice() {
            [part] if !self.has_drops() => part.map.clone(),
            _ => None,
        }
    }

    /// Runs `(first physical row, rows)` covering `count` logical rows from `start`, in logical
    /// order (one run when nothing is dropped). Used by the vector search to scan in place.
    pub fn physical_runs(&self, start: u64, count: u64) -> Vec<(u64, u64)> {
        self.rows.physical_runs(start, count)
    }

    /// Pointer to physical row `phys` and how many physical rows follow it in the same mapped
    /// file (the pointer stays valid while `self` lives).
    pub fn physical_rows_at(&self, phys: u64) -> Result<(*const u8, u64)> {
        self.physical(phys)
    }

    /// Pointer to physical row `phys` and the physical rows following it in the same part.
    fn physical(&self, phys: u64) -> Result<(*const u8, u64)> {
        let i = match self.parts.as_slice() {
            [_] => 0,
            parts => parts.partition_point(|p| p.start + p.rows <= phys),
        };
        let part = self
            .parts
            .get(i)
            .filter(|p| phys >= p.start && phys < p.start + p.rows);
        let part =
            part.ok_or_else(|| Error::Corrupt(format!("physical row {phys} is in no file")))?;
        let map = part
            .map
            .as_ref()
            .ok_or_else(|| Error::Corrupt("an empty file holds rows".into()))?;
        let local = phys - part.start;
        // SAFETY: `MappedArray::open` mapped at least `rows × row_bytes` bytes of this part and
        // `local < rows`, so the offset is inside the mapping.
        Ok((
            unsafe { map.as_ptr().add((local * self.row_bytes) as usize) },
            part.rows - local,
        ))
    }

    /// Copies `count` logical rows from `start` into `out` (`count × row_bytes` bytes).
    pub fn copy_range(&self, start: u64, count: u64, out: &mut [u8]) -> Result<()> {
        let rb = self.row_bytes;
        if start.checked_add(count).is_none_or(|end| end > self.len()) {
            return Err(Error::IndexOutOfRange {
                index: start.saturating_add(count) as i64,
                len: self.len(),
            });
        }
        if out.len() as u64 != count * rb {
            return Err(Error::ShapeMismatch(format!(
                "{} bytes for {count} rows of {rb} bytes",
                out.len()
            )));
        }
        if rb == 0 {
            return Ok(()); // zero-width rows: nothing to copy (and no file to copy from)
        }
        let runs = if self.shape.is_empty() {
            vec![(0, 1)]
        } else {
            self.rows.physical_runs(start, count)
        };
        let mut at = 0usize;
        for (phys, n) in runs {
            let mut done = 0;
            while done < n {
                let (src, avail) = self.physical(phys + done)?;
                let take = avail.min(n - done);
                let bytes = (take * rb) as usize;
                copy(src, &mut out[at..at + bytes]);
                at += bytes;
                done += take;
            }
        }
        Ok(())
    }

    /// How many rows `sel` selects (its errors are core's [`Selection::count`]); a 0-d array
    /// takes no row selection (NumPy: "too many indices"), only [`Selection::All`].
    pub fn count(&self, sel: &Selection) -> Result<u64> {
        if self.shape.is_empty() {
            return match sel {
                Selection::All => Ok(1),
                _ => Err(Error::BadIndex(
                    "too many indices for array: array is 0-dimensional, but 1 were indexed".into(),
                )),
            };
        }
        sel.count(self.len())
    }

    /// The rows of the result of reading `sel`, to size it: [`MappedArray::count`], except
    /// that an index list is not checked here (its length is the count; [`MappedArray::read`]
    /// checks each index as it copies), so that the indices are walked once.
    pub fn rows_out(&self, sel: &Selection) -> Result<u64> {
        match sel {
            Selection::Indices(idx) if !self.shape.is_empty() => Ok(idx.len() as u64),
            _ => self.count(sel),
        }
    }

    /// Copies the logical rows `sel` selects, in order, into `out` (`rows_out(sel) × row_bytes`
    /// bytes); errors as [`MappedArray::count`]. Whole arrays and step-1 slices are copied as
    /// runs; everything else row by row.
    pub fn read(&self, sel: &Selection, out: &mut [u8]) -> Result<()> {
        let count = self.rows_out(sel)?;
        if count.checked_mul(self.row_bytes) != Some(out.len() as u64) {
            return Err(Error::ShapeMismatch(format!(
                "{} bytes for {count} rows of {} bytes",
                out.len(),
                self.row_bytes
            )));
        }
        if self.row_bytes == 0 {
            // Zero-width rows: nothing to copy (and no walk over rows, however many a slice
            // selects); only the indices of a list remain to be checked.
            if matches!(sel, Selection::Indices(_)) {
                sel.count(self.len())?;
            }
            return Ok(());
        }
        let len = self.len();
        match sel {
            Selection::All => self.copy_range(0, len, out),
            Selection::Slice { start, stop, step } => {
                let (first, step, count) = slice_bounds(*start, *stop, *step, len)?;
                if step == 1 {
                    return self.copy_range(first as u64, count, out);
                }
                // first + k·step stays inside 0..len for k < count (slice_bounds clamps it).
                self.gather_rows(
                    (0..count as i128).map(|k| Ok((first + k * step) as u64)),
                    out,
                )
            }
            Selection::Indices(idx) => self.gather_rows(
                idx.iter().map(|&r| numpack_core::rows::normalize(r, len)),
                out,
            ),
            Selection::Mask(mask) => {
                let picked = mask.iter().enumerate().filter(|&(_, &keep)| keep);
                self.gather_rows(picked.map(|(i, _)| Ok(i as u64)), out)
            }
        }
    }

    /// Copies the logical rows `rows` (negative ones count from the end) into `out`.
    pub fn gather(&self, rows: &[i64], out: &mut [u8]) -> Result<()> {
        let rb = self.row_bytes as usize;
        if out.len() != rows.len() * rb {
            return Err(Error::ShapeMismatch(format!(
                "{} bytes for {} rows of {rb} bytes",
                out.len(),
                rows.len()
            )));
        }
        let len = self.len();
        self.gather_rows(
            rows.iter().map(|&r| numpack_core::rows::normalize(r, len)),
            out,
        )
    }

    /// Copies the logical rows `rows` yields (each already checked `< len`, or the error to
    /// return) one after another into `out`, which holds exactly that many rows.
    fn gather_rows(&self, rows: impl Iterator<Item = Result<u64>>, out: &mut [u8]) -> Result<()> {
        let rb = self.row_bytes as usize;
        let single = match (self.parts.as_slice(), self.has_drops()) {
            ([part], false) => part.map.as_ref().map(|m| m.as_ptr()),
            _ => None,
        };
        let mut chunks = out.chunks_exact_mut(rb.max(1));
        for logical in rows {
            let logical = logical?;
            if rb == 0 {
                continue; // zero-width rows: nothing to copy (and no file to copy from)
            }
            let dst = chunks
                .next()
                .ok_or_else(|| Error::ShapeMismatch("more rows than the output holds".into()))?;
            let src = match single {
                // SAFETY: logical < len = physical rows of the one mapped part.
                Some(base) => unsafe { base.add(logical as usize * rb) },
                None => {
                    self.physical(if self.shape.is_empty() {
                        0
                    } else {
                        self.rows.to_physical(logical)
                    })?
                    .0
                }
            };
            // SAFETY: `src` points at a whole row inside a live mapping; `dst` is a row of `out`.
            unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), rb) };
        }
        Ok(())
    }

    /// The logical rows whose bytes differ from the rows in `data` (all logical rows, in order).
    pub fn diff_rows(&self, data: &[u8]) -> Result<Vec<i64>> {
        let rb = self.row_bytes as usize;
        if data.len() as u64 != self.len() * self.row_bytes {
            return Err(Error::ShapeMismatch(
                "diff: data and array differ in size".into(),
            ));
        }
        let mut changed = Vec::new();
        if rb == 0 {
            return Ok(changed);
        }
        for (l, new) in data.chunks_exact(rb).enumerate() {
            let phys = if self.shape.is_empty() {
                0
            } else {
                self.rows.to_physical(l as u64)
            };
            let (src, _) = self.physical(phys)?;
            // SAFETY: a whole row inside a live mapping.
            let old = unsafe { std::slice::from_raw_parts(src, rb) };
            if old != new {
                changed.push(l as i64);
            }
        }
        Ok(changed)
    }
}

/// memcpy from mapped memory, on two threads for big copies.
fn copy(src: *const u8, dst: &mut [u8]) {
    let n = dst.len();
    if n < PARALLEL_COPY_BYTES {
        // SAFETY: callers pass a source with `n` readable mapped bytes, disjoint from `dst`.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), n) };
        return;
    }
    let half = (n / 2) & !4095;
    let (a, b) = dst.split_at_mut(half);
    let s = SendPtr(src as *mut u8);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let s = s;
            // SAFETY: bytes half..n of the source are readable (see above), `b` is disjoint.
            unsafe { std::ptr::copy_nonoverlapping(s.0.add(half), b.as_mut_ptr(), b.len()) };
        });
        // SAFETY: bytes 0..half of the source are readable, `a` is disjoint from the source.
        unsafe { std::ptr::copy_nonoverlapping(s.0, a.as_mut_ptr(), a.len()) };
    });
}
