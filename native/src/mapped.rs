//! An array as mapped memory: the store's [`ArrayLayout`] with each of its files mapped, and
//! the execution of core's read plans over it as memory copies. Which rows, in which order,
//! from which file is decided by the plan ([`ArrayLayout::plan`]), never here.

use std::sync::Arc;

use numpack_core::{ArrayLayout, DType, Error, ReadPlan, Result, Selection, Span};

use crate::fs_io::FsIo;
use crate::mmap_cache::Mapping;

/// Copies of at least this many bytes are split over two threads (one core copies ~11 GB/s
/// here; two get closer to the memory bus).
const PARALLEL_COPY_BYTES: usize = 16 << 20;

/// One array's rows in mapped memory.
pub struct MappedArray {
    /// Element type.
    pub dtype: DType,
    /// Logical shape (empty for a 0-d array).
    pub shape: Vec<u64>,
    /// Bytes of one row (the itemsize for 1-D and 0-d arrays).
    pub row_bytes: u64,
    layout: ArrayLayout,
    /// The mapping of each part of the layout (none for an empty file).
    maps: Vec<Option<Arc<Mapping>>>,
}

impl MappedArray {
    /// Maps every file of `layout` (call under the store lock, so the files match it).
    pub fn open(io: &FsIo, layout: &ArrayLayout) -> Result<MappedArray> {
        let mut maps = Vec::with_capacity(layout.parts.len());
        for (file, rows) in &layout.parts {
            let bytes = rows
                .checked_mul(layout.row_bytes)
                .ok_or_else(|| Error::Corrupt(format!("{file}: size overflows")))?;
            maps.push(io.map(file, bytes)?);
        }
        let (dtype, shape, row_bytes) = (layout.dtype, layout.shape.clone(), layout.row_bytes);
        Ok(MappedArray {
            dtype,
            shape,
            row_bytes,
            layout: layout.clone(),
            maps,
        })
    }

    /// The layout the files were mapped from (to plan reads of them).
    pub fn layout(&self) -> &ArrayLayout {
        &self.layout
    }

    /// Logical rows (1 for a 0-d array).
    pub fn len(&self) -> u64 {
        self.layout.len()
    }

    /// Whether there are no logical rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many files hold the rows (more than one for a segmented array).
    pub fn parts(&self) -> usize {
        self.maps.len()
    }

    /// Whether logical rows differ from physical ones.
    pub fn has_drops(&self) -> bool {
        self.layout.rows.has_drops()
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
        match self.maps.as_slice() {
            [map] if !self.has_drops() => map.clone(),
            _ => None,
        }
    }

    /// The mapped bytes a span of a plan of this array's layout reads (they stay valid while
    /// `self` lives; a span outside the mapping is [`Error::Corrupt`], never a wild read).
    #[inline]
    pub fn span(&self, s: Span) -> Result<&[u8]> {
        let map = self.maps.get(s.part).and_then(Option::as_ref);
        let map = map.ok_or_else(|| {
            Error::Corrupt(format!(
                "part {} of the array holds rows but is not mapped",
                s.part
            ))
        })?;
        if s.offset
            .checked_add(s.len)
            .is_none_or(|end| end > map.len() as u64)
        {
            return Err(Error::Corrupt(format!(
                "{} bytes at {} are past the end of a mapped file",
                s.len, s.offset
            )));
        }
        // SAFETY: `offset + len ≤ map.len()` (checked above), and the mapping lives as long as
        // `self`, which holds an `Arc` to it.
        Ok(unsafe {
            std::slice::from_raw_parts(map.as_ptr().add(s.offset as usize), s.len as usize)
        })
    }

    /// Copies the rows `plan` (made from this array's layout) reads into `out`, exactly
    /// [`ReadPlan::bytes`] long.
    pub fn copy(&self, plan: &ReadPlan<'_>, out: &mut [u8]) -> Result<()> {
        if out.len() as u64 != plan.bytes() {
            return Err(Error::ShapeMismatch(format!(
                "{} bytes for a read of {}",
                out.len(),
                plan.bytes()
            )));
        }
        // Spans are copied in groups: a gather of short rows is bound by memory latency, so
        // each group's sources are loaded together before its copies.
        let mut group = [Span {
            part: 0,
            offset: 0,
            at: 0,
            len: 0,
        }; 64];
        let mut n = 0;
        let mut run = |group: &[Span]| -> Result<()> {
            let mut touch = 0u8;
            for &s in group {
                touch ^= self.span(s)?.first().copied().unwrap_or(0);
            }
            std::hint::black_box(touch);
            for &s in group {
                copy(
                    self.span(s)?,
                    &mut out[s.at as usize..(s.at + s.len) as usize],
                );
            }
            Ok(())
        };
        plan.for_each_span(|s| {
            group[n] = s;
            n += 1;
            if n == group.len() {
                run(&group)?;
                n = 0;
            }
            Ok::<_, Error>(())
        })?;
        run(&group[..n])
    }

    /// Plans reading `sel` from the mapped layout (see [`ArrayLayout::plan`]).
    pub fn plan<'a>(&'a self, sel: &'a Selection) -> Result<ReadPlan<'a>> {
        self.layout.plan(sel)
    }

    /// The logical rows whose bytes differ from the rows in `data` (all logical rows, in order).
    pub fn diff_rows(&self, data: &[u8]) -> Result<Vec<i64>> {
        let all = Selection::All;
        let plan = self.plan(&all)?;
        if data.len() as u64 != plan.bytes() {
            return Err(Error::ShapeMismatch(
                "diff: data and array differ in size".into(),
            ));
        }
        let rb = self.row_bytes as usize;
        let mut changed = Vec::new();
        plan.for_each_span(|s| {
            let new = &data[s.at as usize..(s.at + s.len) as usize];
            let first = s.at as usize / rb;
            for (k, (old, new)) in self
                .span(s)?
                .chunks_exact(rb)
                .zip(new.chunks_exact(rb))
                .enumerate()
            {
                if old != new {
                    changed.push((first + k) as i64);
                }
            }
            Ok::<_, Error>(())
        })?;
        Ok(changed)
    }
}

/// memcpy from mapped memory, on two threads for big copies.
#[inline]
fn copy(src: &[u8], dst: &mut [u8]) {
    if dst.len() < PARALLEL_COPY_BYTES {
        dst.copy_from_slice(src);
        return;
    }
    let half = (dst.len() / 2) & !4095;
    let ((a, b), (sa, sb)) = (dst.split_at_mut(half), src.split_at(half));
    std::thread::scope(|scope| {
        scope.spawn(move || b.copy_from_slice(sb));
        a.copy_from_slice(sa);
    });
}
