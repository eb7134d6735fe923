//! The one read plan. An array's [`ArrayLayout`] turns a [`Selection`] into the result's shape
//! and the byte spans of its data files that fill it, in result order: coalesced, split at
//! segment files, dropped rows skipped. The store runs a plan over [`Io`], native as copies
//! from mapped files, wasm into a JS array, the streaming search as zero-copy batches; no
//! binding walks rows itself.
//!
//! Planning allocates nothing per row: a whole array or a step-1 slice costs O(runs of live
//! rows), zero-width rows O(1) (an index list is still checked), and other selections are
//! walked lazily, one span at a time, by [`ReadPlan::for_each_span`].

use crate::error::{Error, Result};
use crate::io::Io;
use crate::rows::{Selection, normalize, slice_bounds};
use crate::store::ArrayLayout;

/// `len` bytes from byte `offset` of file `part` (an index into [`ArrayLayout::parts`]) belong
/// at byte `at` of the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The file, as an index into the layout's parts.
    pub part: usize,
    /// Byte offset in that file.
    pub offset: u64,
    /// Byte offset in the result.
    pub at: u64,
    /// Bytes.
    pub len: u64,
}

impl Span {
    /// No bytes (a placeholder).
    const EMPTY: Span = Span {
        part: 0,
        offset: 0,
        at: 0,
        len: 0,
    };
}

/// The most spans [`ReadPlan::for_each_batch`] hands over at once.
pub const BATCH_SPANS: usize = 256;

/// Which rows a plan reads, resolved against the array's length (not yet per row).
#[derive(Clone, Copy, Debug)]
enum Pick<'s> {
    /// `count` consecutive logical rows from `first`.
    Range { first: u64, count: u64 },
    /// `count` logical rows `first + k·step` (inside the array, as `slice_bounds` clamps).
    Step { first: i128, step: i128, count: u64 },
    /// Logical indices, negative from the end, each checked as it is walked.
    Indices(&'s [i64]),
    /// The rows whose flag is set (the mask's length already checked).
    Mask(&'s [bool]),
    /// `count` physical rows from `first`, dropped ones included (the store's own writes).
    Physical { first: u64, count: u64 },
}

/// A read planned from one layout: its result shape and the spans that fill it.
#[derive(Clone, Debug)]
pub struct ReadPlan<'a> {
    layout: &'a ArrayLayout,
    pick: Pick<'a>,
    shape: Vec<u64>,
    bytes: u64,
}

impl ArrayLayout {
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

    /// Plans reading `sel`. A 0-d array takes only [`Selection::All`] (NumPy's "too many
    /// indices" otherwise, a [`Error::BadIndex`]); an index list's length is the result's rows
    /// and each index is checked when the spans are walked; a result too large to address is
    /// [`Error::OutOfMemory`].
    pub fn plan<'a>(&'a self, sel: &'a Selection) -> Result<ReadPlan<'a>> {
        if self.shape.is_empty() {
            return match sel {
                Selection::All => self.planned(Pick::Range { first: 0, count: 1 }, 1),
                _ => Err(Error::BadIndex(
                    "too many indices for array: array is 0-dimensional, but 1 were indexed".into(),
                )),
            };
        }
        let len = self.rows.len();
        let (pick, rows) = match sel {
            Selection::All => (
                Pick::Range {
                    first: 0,
                    count: len,
                },
                len,
            ),
            Selection::Slice { start, stop, step } => {
                let (first, step, count) = slice_bounds(*start, *stop, *step, len)?;
                match step {
                    1 => (
                        Pick::Range {
                            first: first as u64,
                            count,
                        },
                        count,
                    ),
                    _ => (Pick::Step { first, step, count }, count),
                }
            }
            Selection::Indices(idx) => (Pick::Indices(idx), idx.len() as u64),
            Selection::Mask(mask) => (Pick::Mask(mask), sel.count(len)?),
        };
        self.planned(pick, rows)
    }

    /// Plans reading `count` logical rows from `start` ([`Error::IndexOutOfRange`] past the end).
    pub fn plan_range(&self, start: u64, count: u64) -> Result<ReadPlan<'_>> {
        let len = self.len();
        if start.checked_add(count).is_none_or(|end| end > len) {
            return Err(Error::IndexOutOfRange {
                index: start.saturating_add(count) as i64,
                len,
            });
        }
        self.planned(
            Pick::Range {
                first: start,
                count,
            },
            count,
        )
    }

    /// Plans reading (or, through [`ReadPlan::for_each_span`], writing) `count` physical rows
    /// from `first`, dropped ones included.
    pub(crate) fn plan_physical(&self, first: u64, count: u64) -> Result<ReadPlan<'_>> {
        self.planned(Pick::Physical { first, count }, count)
    }

    fn planned<'a>(&'a self, pick: Pick<'a>, rows: u64) -> Result<ReadPlan<'a>> {
        let bytes = rows
            .checked_mul(self.row_bytes)
            .filter(|&b| usize::try_from(b).is_ok())
            .ok_or_else(|| {
                Error::OutOfMemory(format!(
                    "{rows} rows of {} bytes do not fit in memory",
                    self.row_bytes
                ))
            })?;
        let mut shape = self.shape.clone();
        if let Some(first) = shape.first_mut() {
            *first = rows;
        }
        Ok(ReadPlan {
            layout: self,
            pick,
            shape,
            bytes,
        })
    }
}

impl<'a> ReadPlan<'a> {
    /// The layout the plan was made from.
    pub fn layout(&self) -> &'a ArrayLayout {
        self.layout
    }

    /// The result's shape (dimension 0 is the rows read; empty for a 0-d array).
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// The result's size in bytes (it fits in `usize`).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Calls `f` for each span, in result order: together they tile the result. Consecutive
    /// physical rows of one file make one span (a plain array read whole is a single span).
    /// Stops at the first error: `f`'s, an index out of range, or a row in no file (a corrupt
    /// layout).
    pub fn for_each_span<E: From<Error>>(
        &self,
        mut f: impl FnMut(Span) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.for_each_batch(|batch| batch.iter().try_for_each(|&s| f(s)))
    }

    /// [`ReadPlan::for_each_span`], handing `f` up to [`BATCH_SPANS`] spans at a time: an
    /// executor copying short rows runs one tight loop per batch instead of one call per span.
    pub fn for_each_batch<E: From<Error>>(
        &self,
        f: impl FnMut(&[Span]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let layout = self.layout;
        let len = layout.len();
        if layout.row_bytes == 0 {
            // Zero-width rows: nothing to read, however many; only indices remain to check.
            if let Pick::Indices(idx) = self.pick {
                for &i in idx {
                    normalize(i, len)?;
                }
            }
            return Ok(());
        }
        // One file, nothing dropped: logical row = physical row = offset / row_bytes, so
        // single rows go straight to spans in a loop that keeps its state in registers.
        let plain = matches!(layout.parts.as_slice(), [(_, rows)] if *rows >= len)
            && !layout.rows.has_drops();
        match self.pick {
            Pick::Indices(idx) if plain => {
                return plain_rows(layout.row_bytes, idx.iter().map(|&i| index(i, len)), f);
            }
            Pick::Step { first, step, count } if plain => {
                // first + k·step stays inside 0..len for k < count (slice_bounds clamps it).
                let rows = (0..count as i128).map(|k| Ok((first + k * step) as u64));
                return plain_rows(layout.row_bytes, rows, f);
            }
            _ => {}
        }
        let mut starts = Vec::with_capacity(layout.parts.len());
        let mut total = 0u64;
        for (_, rows) in &layout.parts {
            starts.push(total);
            total = total.saturating_add(*rows);
        }
        let mut out = Emit {
            layout,
            starts,
            total,
            f,
            at: 0,
            batch: [Span::EMPTY; BATCH_SPANS],
            filled: 0,
        };
        match self.pick {
            Pick::Range { first, count } => layout
                .rows
                .for_each_run(first, count, |p, n| out.physical(p, n))?,
            Pick::Physical { first, count } => out.physical(first, count)?,
            Pick::Step { first, step, count } => {
                out.rows((0..count as i128).map(|k| Ok((first + k * step) as u64)))?
            }
            Pick::Indices(idx) => out.rows(idx.iter().map(|&i| normalize(i, len)))?,
            Pick::Mask(mask) => {
                let mut i = 0;
                while i < mask.len() {
                    if !mask[i] {
                        i += 1;
                        continue;
                    }
                    let from = i;
                    while i < mask.len() && mask[i] {
                        i += 1;
                    }
                    layout
                        .rows
                        .for_each_run(from as u64, (i - from) as u64, |p, n| out.physical(p, n))?;
                }
            }
        }
        out.flush()
    }

    /// Reads the planned rows over `io` into `out` (exactly [`ReadPlan::bytes`] long).
    pub fn read(&self, io: &impl Io, out: &mut [u8]) -> Result<()> {
        if out.len() as u64 != self.bytes {
            return Err(Error::ShapeMismatch(format!(
                "a buffer of {} bytes for a read of {}",
                out.len(),
                self.bytes
            )));
        }
        self.for_each_span(|s| {
            let file = &self.layout.parts[s.part].0;
            io.read_at(
                file,
                s.offset,
                &mut out[s.at as usize..(s.at + s.len) as usize],
            )
        })
    }

    /// Reads the planned rows over `io` into a new buffer ([`Error::OutOfMemory`] if it cannot
    /// be had, never an abort).
    pub fn read_vec(&self, io: &impl Io) -> Result<Vec<u8>> {
        let mut out = crate::error::try_filled(self.bytes, 0u8, "the rows read")?;
        self.read(io, &mut out)?;
        Ok(out)
    }
}

/// `index` resolved against `len` rows (negative from the end): [`normalize`] without its
/// 128-bit arithmetic, for the per-row loops.
#[inline(always)]
fn index(i: i64, len: u64) -> Result<u64> {
    // A negative index wraps to len − |i|, past `len` when |i| > len.
    let row = if i >= 0 {
        i as u64
    } else {
        len.wrapping_add(i as u64)
    };
    if row < len {
        Ok(row)
    } else {
        normalize(i, len)
    }
}

/// Spans of the rows `rows` yields (each already `<` the rows of the one file, or the error to
/// stop with) in a plain array, consecutive rows merged, handed to `f` in batches.
#[inline(always)]
fn plain_rows<E: From<Error>>(
    rb: u64,
    rows: impl Iterator<Item = Result<u64>>,
    mut f: impl FnMut(&[Span]) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let mut batch = [Span::EMPTY; BATCH_SPANS];
    let mut filled = 0;
    let mut cur = Span::EMPTY;
    for row in rows {
        let offset = row? * rb;
        if offset == cur.offset + cur.len && cur.len > 0 {
            cur.len += rb;
            continue;
        }
        if cur.len > 0 {
            batch[filled] = cur;
            filled += 1;
            if filled == BATCH_SPANS {
                f(&batch)?;
                filled = 0;
            }
        }
        cur = Span {
            part: 0,
            offset,
            at: cur.at + cur.len,
            len: rb,
        };
    }
    if cur.len > 0 {
        batch[filled] = cur;
        filled += 1;
    }
    if filled > 0 {
        f(&batch[..filled])?;
    }
    Ok(())
}

/// Turns physical rows into spans, split at file boundaries, handed out in batches.
struct Emit<'l, F> {
    layout: &'l ArrayLayout,
    /// First physical row of each part.
    starts: Vec<u64>,
    /// Physical rows in all parts.
    total: u64,
    f: F,
    /// Result bytes emitted so far.
    at: u64,
    /// Spans not yet handed to `f`: `batch[..filled]`.
    batch: [Span; BATCH_SPANS],
    filled: usize,
}

impl<E: From<Error>, F: FnMut(&[Span]) -> std::result::Result<(), E>> Emit<'_, F> {
    /// Logical rows one by one (each `< len`, or the error to stop with), consecutive physical
    /// rows merged into one run. A file without dropped rows maps logical rows to physical
    /// ones unchanged, so its loop skips the row map.
    #[inline(always)]
    fn rows(&mut self, rows: impl Iterator<Item = Result<u64>>) -> std::result::Result<(), E> {
        let map = &self.layout.rows;
        if map.has_drops() {
            self.runs(rows.map(|r| r.map(|l| map.to_physical(l))))
        } else {
            self.runs(rows)
        }
    }

    /// Physical rows one by one, consecutive ones merged into one run.
    #[inline(always)]
    fn runs(&mut self, rows: impl Iterator<Item = Result<u64>>) -> std::result::Result<(), E> {
        let (mut first, mut n) = (0u64, 0u64);
        for phys in rows {
            let phys = phys?;
            if n > 0 && phys == first + n {
                n += 1;
                continue;
            }
            if n > 0 {
                self.physical(first, n)?;
            }
            (first, n) = (phys, 1);
        }
        if n > 0 {
            self.physical(first, n)?;
        }
        Ok(())
    }

    /// Physical rows `phys..phys + n`.
    #[inline(always)]
    fn physical(&mut self, mut phys: u64, mut n: u64) -> std::result::Result<(), E> {
        let rb = self.layout.row_bytes;
        if phys.checked_add(n).is_none_or(|end| end > self.total) {
            return Err(
                Error::Corrupt(format!("physical rows {phys}..+{n} are in no data file")).into(),
            );
        }
        while n > 0 {
            let (part, local, take) = if self.starts.len() == 1 {
                // One file holding every physical row (checked above): the span as it is.
                (0, phys, n)
            } else {
                let part = self.starts.partition_point(|&s| s <= phys) - 1;
                let local = phys - self.starts[part];
                (part, local, (self.layout.parts[part].1 - local).min(n))
            };
            let span = Span {
                part,
                offset: local * rb,
                at: self.at,
                len: take * rb,
            };
            self.at += span.len;
            self.push(span)?;
            phys += take;
            n -= take;
        }
        Ok(())
    }

    #[inline(always)]
    fn push(&mut self, span: Span) -> std::result::Result<(), E> {
        self.batch[self.filled] = span;
        self.filled += 1;
        if self.filled == BATCH_SPANS {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the spans gathered so far to `f`.
    fn flush(&mut self) -> std::result::Result<(), E> {
        let n = std::mem::take(&mut self.filled);
        if n == 0 {
            return Ok(());
        }
        (self.f)(&self.batch[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::bitmap::Bitmap;
    use crate::{DType, RowMap};

    /// A 2-byte-row array over files of `parts` rows, with `dropped` physical rows.
    fn layout(parts: &[u64], dropped: &[u64]) -> ArrayLayout {
        let physical: u64 = parts.iter().sum();
        let mut bitmap = Bitmap::all_live(physical);
        for &d in dropped {
            bitmap.drop_row(d).unwrap();
        }
        let rows = RowMap::from_bitmap(&bitmap);
        ArrayLayout {
            dtype: DType::Uint16,
            shape: vec![rows.len()],
            row_bytes: 2,
            parts: parts
                .iter()
                .enumerate()
                .map(|(i, &r)| (format!("f{i}"), r))
                .collect(),
            rows,
        }
    }

    fn spans(plan: &ReadPlan<'_>) -> Result<Vec<Span>> {
        let mut out = Vec::new();
        plan.for_each_span(|s| {
            out.push(s);
            Ok::<_, Error>(())
        })?;
        Ok(out)
    }

    /// The reference: `(part, offset)` of each logical row, by scanning the bitmap's live rows
    /// and the part sizes one row at a time.
    fn naive(parts: &[u64], dropped: &[u64], logical: &[u64]) -> Vec<(usize, u64)> {
        let physical: u64 = parts.iter().sum();
        let live: Vec<u64> = (0..physical).filter(|p| !dropped.contains(p)).collect();
        logical
            .iter()
            .map(|&l| {
                let mut p = live[l as usize];
                for (i, &rows) in parts.iter().enumerate() {
                    if p < rows {
                        return (i, p * 2);
                    }
                    p -= rows;
                }
                unreachable!()
            })
            .collect()
    }

    /// Expands spans into one `(part, offset)` per row, checking that they tile the result in
    /// order and are maximal (no two neighbours could have been one span).
    fn per_row(spans: &[Span]) -> Vec<(usize, u64)> {
        let mut next = 0;
        let mut out = Vec::new();
        for (i, s) in spans.iter().enumerate() {
            assert_eq!(s.at, next, "spans tile the result");
            assert!(s.len > 0 && s.len % 2 == 0);
            if i > 0 {
                let p = spans[i - 1];
                assert!(
                    !(p.part == s.part && p.offset + p.len == s.offset),
                    "{p:?} and {s:?} not merged"
                );
            }
            next += s.len;
            out.extend((0..s.len / 2).map(|k| (s.part, s.offset + 2 * k)));
        }
        out
    }

    #[test]
    fn every_selection_matches_a_row_by_row_reference() {
        let cases: [(&[u64], &[u64]); 5] = [
            (&[10], &[]),
            (&[3, 1, 6], &[]),
            (&[3, 1, 6], &[0, 3, 4, 9]),
            (&[64, 64, 5], &[63, 64, 65, 100]),
            (&[130], &[0, 1, 2, 64, 129]),
        ];
        for (parts, dropped) in cases {
            let l = layout(parts, dropped);
            let len = l.rows.len() as i64;
            let mut sels = vec![
                Selection::All,
                Selection::Indices(
                    (0..3 * len)
                        .map(|i| (i * 7 + i / 3) % len - (i % 2) * len)
                        .collect(),
                ),
                Selection::Indices(vec![]),
                Selection::Mask((0..len).map(|i| i % 5 != 1 && i % 7 != 3).collect()),
                Selection::Mask(vec![true; len as usize]),
            ];
            for step in [1, 2, 3, -1, -2, 64] {
                for start in [None, Some(0), Some(2), Some(-3), Some(len + 5)] {
                    for stop in [None, Some(1), Some(len - 2), Some(-1000)] {
                        sels.push(Selection::Slice { start, stop, step });
                    }
                }
            }
            for sel in &sels {
                let want = sel.resolve(len as u64).unwrap();
                let plan = l.plan(sel).unwrap();
                assert_eq!(plan.shape(), [want.len() as u64]);
                assert_eq!(plan.bytes(), 2 * want.len() as u64);
                let got = spans(&plan).unwrap();
                assert_eq!(
                    per_row(&got),
                    naive(parts, dropped, &want),
                    "{parts:?} {dropped:?} {sel:?}"
                );
                if matches!(sel, Selection::All) && parts.len() == 1 && dropped.is_empty() {
                    assert_eq!(got.len(), 1, "a plain array read whole is one span");
                }
            }
            for first in 0..len as u64 {
                for count in 0..=len as u64 - first {
                    let want: Vec<u64> = (first..first + count).collect();
                    assert_eq!(
                        per_row(&spans(&l.plan_range(first, count).unwrap()).unwrap()),
                        naive(parts, dropped, &want)
                    );
                }
            }
            assert!(matches!(
                l.plan_range(len as u64, 1),
                Err(Error::IndexOutOfRange { .. })
            ));
            let bad = Selection::Indices(vec![0, len]);
            assert!(matches!(
                spans(&l.plan(&bad).unwrap()),
                Err(Error::IndexOutOfRange { .. })
            ));
            assert!(matches!(
                l.plan(&Selection::Mask(vec![true; len as usize + 1])),
                Err(Error::BadIndex(_))
            ));
        }
    }

    #[test]
    fn batches_tile_long_selections_of_plain_and_dropped_arrays() {
        // More spans than one batch holds, so runs and batches meet at batch boundaries.
        for (parts, dropped) in [(&[1000u64][..], &[][..]), (&[1000][..], &[5, 6, 700][..])] {
            let l = layout(parts, dropped);
            let len = l.rows.len() as i64;
            let sels = [
                Selection::Indices(
                    (0..3000)
                        .map(|i| {
                            if i % 3 == 0 {
                                (i * 37) % len
                            } else {
                                i % len - len
                            }
                        })
                        .collect(),
                ),
                Selection::Slice {
                    start: Some(len - 1),
                    stop: None,
                    step: -2,
                },
                Selection::Slice {
                    start: None,
                    stop: None,
                    step: 3,
                },
            ];
            for sel in &sels {
                let want = sel.resolve(len as u64).unwrap();
                let plan = l.plan(sel).unwrap();
                let mut sizes = Vec::new();
                let mut got = Vec::new();
                plan.for_each_batch(|b| {
                    sizes.push(b.len());
                    got.extend_from_slice(b);
                    Ok::<_, Error>(())
                })
                .unwrap();
                assert!(sizes.iter().all(|&n| n > 0 && n <= BATCH_SPANS));
                assert_eq!(per_row(&got), naive(parts, dropped, &want), "{sel:?}");
            }
            let bad = Selection::Indices(
                (0..600)
                    .map(|i| if i == 599 { -len - 1 } else { i })
                    .collect(),
            );
            assert!(matches!(
                spans(&l.plan(&bad).unwrap()),
                Err(Error::IndexOutOfRange { .. })
            ));
        }
    }

    #[test]
    fn zero_width_rows_and_huge_counts_do_not_walk_or_abort() {
        let n = u64::MAX / 2;
        let rows = RowMap::identity(n);
        let mut l = ArrayLayout {
            dtype: DType::Uint16,
            shape: vec![n, 0],
            row_bytes: 0,
            parts: vec![("f".into(), n)],
            rows,
        };
        let all = Selection::All;
        let plan = l.plan(&all).unwrap();
        assert_eq!(plan.shape(), [u64::MAX / 2, 0]);
        assert_eq!(spans(&plan).unwrap(), []);
        let strided = Selection::Slice {
            start: None,
            stop: None,
            step: -3,
        };
        assert_eq!(
            l.plan(&strided).unwrap().shape()[0],
            (u64::MAX / 2).div_ceil(3)
        );
        let bad = Selection::Indices(vec![1, -(1 << 62) * 2]);
        assert!(matches!(
            spans(&l.plan(&bad).unwrap()),
            Err(Error::IndexOutOfRange { .. })
        ));
        l.row_bytes = 8;
        l.shape = vec![l.rows.len()];
        assert!(matches!(l.plan(&all), Err(Error::OutOfMemory(_))));
        let mem = crate::MemIo::new();
        let ok = Selection::Slice {
            start: None,
            stop: Some(1 << 40),
            step: 1,
        };
        assert!(matches!(
            l.plan(&ok).unwrap().read_vec(&mem),
            Err(Error::OutOfMemory(_))
        ));
    }

    #[test]
    fn zero_d_takes_only_all() {
        let mut l = layout(&[1], &[]);
        l.shape = vec![];
        let plan = l.plan(&Selection::All).unwrap();
        assert_eq!(plan.shape(), [] as [u64; 0]);
        assert_eq!(
            spans(&plan).unwrap(),
            [Span {
                part: 0,
                offset: 0,
                at: 0,
                len: 2
            }]
        );
        for sel in [
            Selection::Indices(vec![0]),
            Selection::Mask(vec![true]),
            Selection::Slice {
                start: None,
                stop: None,
                step: 1,
            },
        ] {
            assert!(matches!(l.plan(&sel), Err(Error::BadIndex(_))), "{sel:?}");
        }
    }
}
