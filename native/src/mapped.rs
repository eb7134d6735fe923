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

/// The pieces a parallel copy is cut into (a multiple of the 2 MiB huge page), at destination
/// addresses aligned to it.
const COPY_CHUNK_BYTES: usize = 4 << 20;

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
        // Where each part is mapped (null and 0 bytes for an unmapped one).
        let bases: Vec<(*const u8, u64)> = self
            .maps
            .iter()
            .map(|m| {
                m.as_ref()
                    .map_or((std::ptr::null(), 0), |m| (m.as_ptr(), m.len() as u64))
            })
            .collect();
        let dst = Dest {
            ptr: out.as_mut_ptr(),
            len: out.len() as u64,
        };
        // Short fixed-width rows (a gather) are copied with a constant length, which compiles
        // to a few moves instead of a call to memcpy.
        match plan.layout().row_bytes {
            4 => Pipe::<4>::run(plan, &bases, dst),
            8 => Pipe::<8>::run(plan, &bases, dst),
            12 => Pipe::<12>::run(plan, &bases, dst),
            16 => Pipe::<16>::run(plan, &bases, dst),
            24 => Pipe::<24>::run(plan, &bases, dst),
            32 => Pipe::<32>::run(plan, &bases, dst),
            40 => Pipe::<40>::run(plan, &bases, dst),
            48 => Pipe::<48>::run(plan, &bases, dst),
            64 => Pipe::<64>::run(plan, &bases, dst),
            128 => Pipe::<128>::run(plan, &bases, dst),
            _ => Pipe::<0>::run(plan, &bases, dst),
        }
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

/// The result buffer of [`MappedArray::copy`], written through a raw pointer so the batches'
/// loops carry no slice bookkeeping.
#[derive(Clone, Copy)]
struct Dest {
    ptr: *mut u8,
    len: u64,
}

/// The spans of a plan on their way to being copied from the parts mapped at `bases` into
/// `dst`. Each span is checked and asked for into L2 when it arrives, into L1 when
/// [`PREFETCH_AHEAD`] more have arrived, and copied when [`FETCH_AHEAD`] more have: the copy
/// looks as far ahead at every row, across the plan's batches (it hands spans over 256 at a
/// time, and a look-ahead inside each batch left each batch's first rows unrequested while
/// the plan made it). Spans of exactly `N` bytes (a row, when `N` is the row width) are copied
/// with a constant length; others (runs of rows, or any span when `N` is 0) with memcpy, big
/// ones on two threads. A span outside its mapping or the result is [`Error::Corrupt`] as it
/// arrives, never a wild read or write.
struct Pipe<'a, const N: usize> {
    bases: &'a [(*const u8, u64)],
    dst: Dest,
    /// Span `i` (counting from the plan's first) is at `ring[i % FETCH_AHEAD]` from its
    /// arrival until its copy.
    ring: [Span; FETCH_AHEAD],
    /// Spans arrived so far.
    arrived: usize,
    /// Spans copied so far (the oldest `arrived - copied` wait in the ring).
    copied: usize,
}

impl<'a, const N: usize> Pipe<'a, N> {
    /// Copies every span of `plan`.
    #[inline(always)]
    fn run(plan: &ReadPlan<'_>, bases: &'a [(*const u8, u64)], dst: Dest) -> Result<()> {
        let mut pipe = Pipe::<N> {
            bases,
            dst,
            ring: [Span {
                part: 0,
                offset: 0,
                at: 0,
                len: 0,
            }; FETCH_AHEAD],
            arrived: 0,
            copied: 0,
        };
        plan.for_each_batch(|batch| batch.iter().try_for_each(|s| pipe.arrive(s)))?;
        pipe.finish();
        Ok(())
    }

    /// Takes the next span: checks it, asks for it into L2, asks for the span that arrived
    /// [`PREFETCH_AHEAD`] before it into L1, and copies the oldest if the ring is full.
    #[inline(always)]
    fn arrive(&mut self, s: &Span) -> Result<()> {
        let mapped = self.bases.get(s.part).map_or(0, |b| b.1);
        let end = s.offset.checked_add(s.len);
        let at_end = s.at.checked_add(s.len);
        if end.is_none_or(|e| e > mapped) || at_end.is_none_or(|e| e > self.dst.len) {
            return Err(Error::Corrupt(format!(
                "{} bytes at {} of part {} do not fit the mapping or the result",
                s.len, s.offset, s.part
            )));
        }
        prefetch(self.bases, s, false);
        if self.arrived - self.copied == FETCH_AHEAD {
            self.copy_oldest();
        }
        self.ring[self.arrived % FETCH_AHEAD] = *s;
        self.arrived += 1;
        if let Some(near) = self.arrived.checked_sub(PREFETCH_AHEAD + 1) {
            prefetch(self.bases, &self.ring[near % FETCH_AHEAD], true);
        }
        Ok(())
    }

    /// Copies the spans still in the ring (those not yet asked for into L1 first).
    #[inline(always)]
    fn finish(mut self) {
        let asked = self.arrived.saturating_sub(PREFETCH_AHEAD).max(self.copied);
        for i in asked..self.arrived {
            prefetch(self.bases, &self.ring[i % FETCH_AHEAD], true);
        }
        while self.copied < self.arrived {
            self.copy_oldest();
        }
    }

    /// Copies the oldest span in the ring (there is one).
    #[inline(always)]
    fn copy_oldest(&mut self) {
        let s = self.ring[self.copied % FETCH_AHEAD];
        self.copied += 1;
        let base = self.bases.get(s.part).map_or(std::ptr::null(), |b| b.0);
        // SAFETY: `arrive` checked that `offset + len ≤` the mapped bytes of part `s.part` (a
        // live mapping held by the caller's `MappedArray`) and `at + len ≤ dst.len` bytes of
        // the caller's exclusive buffer; the two never overlap (the result is not a mapping of
        // the store's files). A span with `len > 0` lies in a mapped part, so `base` is not
        // null then.
        unsafe {
            let src = base.add(s.offset as usize);
            let to = self.dst.ptr.add(s.at as usize);
            if N != 0 && s.len == N as u64 {
                std::ptr::copy_nonoverlapping(src, to, N);
            } else if s.len > 0 {
                copy(
                    std::slice::from_raw_parts(src, s.len as usize),
                    std::slice::from_raw_parts_mut(to, s.len as usize),
                );
            }
        }
    }
}

/// How many spans ahead of its copy [`Pipe`] asks for a span's source into L1: a gather
/// of short rows is bound by memory latency, and prefetches (unlike loads) let the copies
/// retire while the next rows are on their way.
const PREFETCH_AHEAD: usize = 32;

/// How many spans ahead it first asks for them into L2 only. One core can wait on only a few
/// L1 misses at once but on several times more L2 misses, so the far request starts each
/// row's trip from memory early and the near one finds it in L2. 10K random 40-byte rows: a
/// C model of the loop took 0-20% less time than with the near request alone (the spread is
/// the shared machine's), LazyArray[idx] 4% less (median of 4 runs each, in turn).
const FETCH_AHEAD: usize = 64;

/// Asks the CPU to fetch the first and last cache line of span `s`'s source, into L1 if
/// `near`, else into L2 (a hint: nothing is read, and an address outside any mapping is
/// ignored, never a fault).
#[inline(always)]
fn prefetch(bases: &[(*const u8, u64)], s: &Span, near: bool) {
    #[cfg(target_arch = "x86_64")]
    if let Some(&(base, _)) = bases.get(s.part) {
        use std::arch::x86_64::{_MM_HINT_T0, _MM_HINT_T1, _mm_prefetch};
        let first = base.wrapping_add(s.offset as usize);
        let last = first.wrapping_add((s.len as usize).saturating_sub(1));
        // SAFETY: PREFETCHT0/T1 (SSE, in every x86_64 CPU) read nothing architecturally and do
        // not fault, whatever the address.
        unsafe {
            if near {
                _mm_prefetch::<_MM_HINT_T0>(first.cast());
                _mm_prefetch::<_MM_HINT_T0>(last.cast());
            } else {
                _mm_prefetch::<_MM_HINT_T1>(first.cast());
                _mm_prefetch::<_MM_HINT_T1>(last.cast());
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bases, s, near);
}

/// A piece of a parallel copy, until a thread takes it: source and destination.
type Chunk<'a> = std::sync::Mutex<Option<(&'a [u8], &'a mut [u8])>>;

/// memcpy from mapped memory; big copies on two threads that take 2 MiB-aligned chunks from a
/// shared counter, so each thread faults in its own pages of a fresh result and a thread the
/// OS delays leaves its share to the other instead of holding the call up.
#[inline]
fn copy(src: &[u8], dst: &mut [u8]) {
    if dst.len() < PARALLEL_COPY_BYTES {
        dst.copy_from_slice(src);
        return;
    }
    // Chunk boundaries at aligned destination addresses, so no huge page is faulted by both.
    let lead = dst.as_ptr().align_offset(COPY_CHUNK_BYTES).min(dst.len());
    let ((s0, s1), (d0, d1)) = (src.split_at(lead), dst.split_at_mut(lead));
    let chunks: Vec<Chunk<'_>> = std::iter::once((s0, d0))
        .filter(|(s, _)| !s.is_empty())
        .chain(
            s1.chunks(COPY_CHUNK_BYTES)
                .zip(d1.chunks_mut(COPY_CHUNK_BYTES)),
        )
        .map(|c| std::sync::Mutex::new(Some(c)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(slot) = chunks.get(i) else { return };
            let taken = slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some((s, d)) = taken {
                d.copy_from_slice(s);
            }
        }
    };
    std::thread::scope(|scope| {
        scope.spawn(work);
        work();
    });
}
