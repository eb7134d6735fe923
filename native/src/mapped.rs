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
        let cached = bases.iter().map(|b| b.1).sum::<u64>() <= CACHED_BYTES;
        match plan.layout().row_bytes {
            4 => Pipe::<4>::copy(plan, &bases, dst, cached),
            8 => Pipe::<8>::copy(plan, &bases, dst, cached),
            12 => Pipe::<12>::copy(plan, &bases, dst, cached),
            16 => Pipe::<16>::copy(plan, &bases, dst, cached),
            24 => Pipe::<24>::copy(plan, &bases, dst, cached),
            32 => Pipe::<32>::copy(plan, &bases, dst, cached),
            40 => Pipe::<40>::copy(plan, &bases, dst, cached),
            48 => Pipe::<48>::copy(plan, &bases, dst, cached),
            64 => Pipe::<64>::copy(plan, &bases, dst, cached),
            128 => Pipe::<128>::copy(plan, &bases, dst, cached),
            _ => Pipe::<0>::copy(plan, &bases, dst, cached),
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

/// The spans of a plan on their way to being copied from the mapped parts into the result.
/// Each span is checked and asked for into L2 when it arrives, into L1 when
/// [`PREFETCH_AHEAD`] more have arrived, and copied when [`FETCH_AHEAD`] more have: the copy
/// looks as far ahead at every row, across the plan's batches (it hands spans over 256 at a
/// time, and a look-ahead inside each batch left each batch's first rows unrequested while
/// the plan made it). Spans of exactly `N` bytes (a row, when `N` is the row width) are copied
/// with a constant length; others (runs of rows, or any span when `N` is 0) with memcpy, big
/// ones on two threads. A span outside its mapping or the result is [`Error::Corrupt`] as it
/// arrives, never a wild read or write.
struct Pipe<const N: usize> {
    /// Span `i` (counting from the plan's first) is at `ring[i % FETCH_AHEAD]` from its
    /// arrival until its copy, as its checked source, destination and length.
    ring: [Move; FETCH_AHEAD],
    /// Spans arrived so far.
    arrived: usize,
    /// Spans copied so far (the oldest `arrived - copied` wait in the ring).
    copied: usize,
}

/// One checked span: `len` bytes from `src` (in a mapping) to `dst` (in the result).
#[derive(Clone, Copy)]
struct Move {
    src: *const u8,
    dst: *mut u8,
    len: usize,
}

impl Move {
    /// Asks for the first and last cache line of the source into L1.
    #[inline(always)]
    fn prefetch_near(self) {
        prefetch(self.src, true);
        prefetch(self.src.wrapping_add(self.len.saturating_sub(1)), true);
    }
}

impl<const N: usize> Pipe<N> {
    /// Copies every span of `plan` from the parts mapped at `bases` into `dst`: without
    /// look-ahead if the parts are `cached` (small enough to stay in the caches).
    #[inline(always)]
    fn copy(
        plan: &ReadPlan<'_>,
        bases: &[(*const u8, u64)],
        dst: Dest,
        cached: bool,
    ) -> Result<()> {
        if cached {
            Self::direct(plan, bases, dst)
        } else {
            Self::run(plan, bases, dst)
        }
    }

    /// Copies every span of `plan` from the parts mapped at `bases` into `dst`, with look-ahead.
    #[inline(always)]
    fn run(plan: &ReadPlan<'_>, bases: &[(*const u8, u64)], dst: Dest) -> Result<()> {
        let mut pipe = Pipe::<N> {
            ring: [Move {
                src: std::ptr::null(),
                dst: std::ptr::null_mut(),
                len: 0,
            }; FETCH_AHEAD],
            arrived: 0,
            copied: 0,
        };
        plan.for_each_batch(|batch| {
            for s in batch {
                pipe.arrive(bases, dst, s)?;
            }
            Ok::<_, Error>(())
        })?;
        pipe.finish();
        Ok(())
    }

    /// Copies every span of `plan` as it arrives, without prefetching: for an array small
    /// enough to stay in the caches, where look-ahead only costs instructions.
    #[inline(always)]
    fn direct(plan: &ReadPlan<'_>, bases: &[(*const u8, u64)], dst: Dest) -> Result<()> {
        plan.for_each_batch(|batch| {
            for s in batch {
                let m = Self::check(bases, dst, s)?;
                // SAFETY: `m` was just checked against this copy's mappings and result.
                unsafe { Self::copy_move(m) };
            }
            Ok::<_, Error>(())
        })
    }

    /// Span `s` as a move, after checking that it lies inside its part's mapping and the
    /// result ([`Error::Corrupt`] otherwise).
    #[inline(always)]
    fn check(bases: &[(*const u8, u64)], dst: Dest, s: &Span) -> Result<Move> {
        let (base, mapped) = bases.get(s.part).copied().unwrap_or((std::ptr::null(), 0));
        let end = s.offset.checked_add(s.len);
        let at_end = s.at.checked_add(s.len);
        if end.is_none_or(|e| e > mapped) || at_end.is_none_or(|e| e > dst.len) {
            return Err(Error::Corrupt(format!(
                "{} bytes at {} of part {} do not fit the mapping or the result",
                s.len, s.offset, s.part
            )));
        }
        Ok(Move {
            src: base.wrapping_add(s.offset as usize),
            dst: dst.ptr.wrapping_add(s.at as usize),
            len: s.len as usize,
        })
    }

    /// Takes the next span: checks it, asks for it into L2, asks for the span that arrived
    /// [`PREFETCH_AHEAD`] before it into L1, and copies the oldest if the ring is full.
    #[inline(always)]
    fn arrive(&mut self, bases: &[(*const u8, u64)], dst: Dest, s: &Span) -> Result<()> {
        let m = Self::check(bases, dst, s)?;
        prefetch(m.src, false);
        if self.arrived - self.copied == FETCH_AHEAD {
            self.copy_oldest();
        }
        self.ring[self.arrived % FETCH_AHEAD] = m;
        self.arrived += 1;
        if self.arrived > PREFETCH_AHEAD {
            self.ring[(self.arrived - PREFETCH_AHEAD - 1) % FETCH_AHEAD].prefetch_near();
        }
        Ok(())
    }

    /// Copies the spans still in the ring (those not yet asked for into L1 first).
    #[inline(always)]
    fn finish(mut self) {
        let asked = self.arrived.saturating_sub(PREFETCH_AHEAD).max(self.copied);
        for i in asked..self.arrived {
            self.ring[i % FETCH_AHEAD].prefetch_near();
        }
        while self.copied < self.arrived {
            self.copy_oldest();
        }
    }

    /// Copies the oldest span in the ring (there is one).
    #[inline(always)]
    fn copy_oldest(&mut self) {
        let m = self.ring[self.copied % FETCH_AHEAD];
        self.copied += 1;
        // SAFETY: every move in the ring was made by `check` in `arrive`, for this copy.
        unsafe { Self::copy_move(m) };
    }

    /// Copies one move.
    ///
    /// # Safety
    /// `m` must come from [`Pipe::check`] for the mappings and result buffer of this copy,
    /// which must still be alive.
    #[inline(always)]
    unsafe fn copy_move(m: Move) {
        // SAFETY: `check` verified that the span's `offset + len` is within the mapped bytes
        // of its part (a live mapping held by the caller's `MappedArray`) and `at + len`
        // within the caller's exclusive result buffer, and made `src` and `dst` from them; the
        // two never overlap (the result is not a mapping of the store's files). A span with
        // `len > 0` lies in a mapped part, so `src` is not null then.
        unsafe {
            if N != 0 && m.len == N {
                std::ptr::copy_nonoverlapping(m.src, m.dst, N);
            } else if m.len > 0 {
                copy(
                    std::slice::from_raw_parts(m.src, m.len),
                    std::slice::from_raw_parts_mut(m.dst, m.len),
                );
            }
        }
    }
}

/// Arrays mapped in at most this many bytes are gathered without prefetching: they stay in
/// a core's L2 cache between calls, and the look-ahead's instructions made a gather of 10K
/// random rows of an 800 KB array 20% slower.
const CACHED_BYTES: u64 = 1 << 20;

/// How many spans ahead of its copy [`Pipe`] asks for a span's source into L1: a gather
/// of short rows is bound by memory latency, and prefetches (unlike loads) let the copies
/// retire while the next rows are on their way.
const PREFETCH_AHEAD: usize = 32;

/// How many spans ahead it first asks for their first cache line into L2 only (the next line,
/// for a row that crosses into it, follows by L2's own adjacent-line prefetch). One core can
/// wait on only a few L1 misses at once but on several times more L2 misses, so the far
/// request starts each row's trip from memory early and the near one finds it in L2. With
/// the pipeline ([`Pipe`]), 10K random 40-byte rows of a 40 MB array: LazyArray[idx] 11% less
/// time than the near request alone inside each batch (alternating builds, load 9).
const FETCH_AHEAD: usize = 64;

/// Asks the CPU to fetch the cache line at `p` into L1 if `near`, else into L2 (a hint:
/// nothing is read, and an address outside any mapping is ignored, never a fault).
#[inline(always)]
fn prefetch(p: *const u8, near: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _MM_HINT_T1, _mm_prefetch};
        // SAFETY: PREFETCHT0/T1 (SSE, in every x86_64 CPU) read nothing architecturally and do
        // not fault, whatever the address.
        unsafe {
            if near {
                _mm_prefetch::<_MM_HINT_T0>(p.cast());
            } else {
                _mm_prefetch::<_MM_HINT_T1>(p.cast());
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, near);
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
