//! Row selections as JS passes them, turned into a core [`Selection`], and resolved against an
//! array's [`ArrayLayout`] into the byte spans of its files that a read copies.

use numpack_core::{ArrayLayout, Selection};

use crate::error::{JsResult, value_error};

/// Builds a selection from the flat form the JS layer sends: `kind` 0 = all rows,
/// 1 = `indices`, 2 = slice `start:stop:step` (missing bounds are `undefined`), 3 = a boolean
/// mask sent as one 0/1 per row in `indices` (its length is checked by the core).
pub fn from_parts(
    kind: u8,
    indices: Option<Vec<i64>>,
    start: Option<f64>,
    stop: Option<f64>,
    step: Option<f64>,
) -> JsResult<Selection> {
    match kind {
        0 => Ok(Selection::All),
        1 => Ok(Selection::Indices(indices.unwrap_or_default())),
        3 => Ok(Selection::Mask(
            indices
                .unwrap_or_default()
                .into_iter()
                .map(|v| v != 0)
                .collect(),
        )),
        2 => Ok(Selection::Slice {
            start: bound(start)?,
            stop: bound(stop)?,
            step: bound(step)?.unwrap_or(1),
        }),
        _ => Err(value_error(format!("unknown selection kind {kind}"))),
    }
}

/// A slice bound: an integral number (beyond int64 clamped to it: no array has that many rows,
/// so the slice means the same), or none.
fn bound(v: Option<f64>) -> JsResult<Option<i64>> {
    match v {
        None => Ok(None),
        Some(f) if f.is_finite() && f.fract() == 0.0 => Ok(Some(f as i64)), // `as` saturates
        Some(f) => Err(value_error(format!("slice bound {f} is not an integer"))),
    }
}

/// The logical rows a read returns, resolved against the array's length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rows {
    /// `count` consecutive logical rows from `first` (whole arrays, step-1 slices, ranges).
    Range {
        /// First logical row.
        first: u64,
        /// Rows read.
        count: u64,
    },
    /// Any other rows, each `< len`, in result order.
    List(Vec<u64>),
}

impl Rows {
    /// Resolves `selection` over `len` logical rows as `Store::read_selection` does: whole
    /// arrays and step-1 slices are one range, everything else a list of rows.
    pub fn select(selection: &Selection, len: u64) -> numpack_core::Result<Rows> {
        match selection {
            Selection::All => Ok(Rows::Range {
                first: 0,
                count: len,
            }),
            Selection::Slice {
                start,
                stop,
                step: 1,
            } => {
                let (first, _, count) = numpack_core::rows::slice_bounds(*start, *stop, 1, len)?;
                Ok(Rows::Range {
                    first: first as u64,
                    count,
                })
            }
            _ => Ok(Rows::List(selection.resolve(len)?)),
        }
    }

    /// How many rows the read returns.
    pub fn count(&self) -> u64 {
        match self {
            Rows::Range { count, .. } => *count,
            Rows::List(rows) => rows.len() as u64,
        }
    }
}

/// Calls `f(file, offset, at, len)` for each contiguous byte span of `rows` of the array that
/// `layout` describes, in result order: `len` bytes of `file` from `offset` belong at byte `at`
/// of the result. Consecutive physical rows in one file make one span (a whole array without
/// dropped rows is a single span); empty spans are skipped. A 0-d array yields its one element.
pub fn for_each_span(
    layout: &ArrayLayout,
    rows: &Rows,
    mut f: impl FnMut(&str, u64, u64, u64) -> numpack_core::Result<()>,
) -> numpack_core::Result<()> {
    let rb = layout.row_bytes;
    let len = if layout.shape.is_empty() {
        1
    } else {
        layout.rows.len()
    };
    let mut at = 0u64; // result row of the next span
    // Splits physical rows `phys..phys + n` over the files holding them.
    let mut emit = |phys: u64, n: u64| -> numpack_core::Result<()> {
        let mut done = 0u64;
        let mut part_start = 0u64;
        for (file, part_rows) in &layout.parts {
            let part_end = part_start.saturating_add(*part_rows);
            let from = phys + done;
            if done < n && from >= part_start && from < part_end {
                let take = (part_end - from).min(n - done);
                if take * rb > 0 {
                    f(file, (from - part_start) * rb, (at + done) * rb, take * rb)?;
                }
                done += take;
            }
            part_start = part_end;
        }
        if done < n {
            return Err(numpack_core::Error::Corrupt(format!(
                "physical row {} is in no data file",
                phys + done
            )));
        }
        at += n;
        Ok(())
    };
    if layout.shape.is_empty() {
        return emit(0, 1);
    }
    match rows {
        Rows::Range { first, count } => {
            if first.checked_add(*count).is_none_or(|end| end > len) {
                return Err(numpack_core::Error::IndexOutOfRange {
                    index: first.saturating_add(*count) as i64,
                    len,
                });
            }
            for (phys, n) in layout.rows.physical_runs(*first, *count) {
                emit(phys, n)?;
            }
        }
        Rows::List(list) => {
            let mut i = 0;
            while i < list.len() {
                if list[i] >= len {
                    return Err(numpack_core::Error::IndexOutOfRange {
                        index: list[i] as i64,
                        len,
                    });
                }
                let phys = layout.rows.to_physical(list[i]);
                let mut n = 1;
                while i + n < list.len()
                    && list[i + n] < len
                    && layout.rows.to_physical(list[i + n]) == phys + n as u64
                {
                    n += 1;
                }
                emit(phys, n as u64)?;
                i += n;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use numpack_core::format::bitmap::Bitmap;
    use numpack_core::{DType, RowMap};

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

    /// The spans `for_each_span` yields, as `(file, offset, at, len)`.
    fn spans(
        layout: &ArrayLayout,
        rows: &Rows,
    ) -> numpack_core::Result<Vec<(String, u64, u64, u64)>> {
        let mut out = Vec::new();
        for_each_span(layout, rows, |f, o, a, l| {
            out.push((f.to_string(), o, a, l));
            Ok(())
        })?;
        Ok(out)
    }

    /// The reference: one span per row, straight from the row map and the part sizes.
    fn naive(layout: &ArrayLayout, logical: &[u64]) -> Vec<(String, u64)> {
        logical
            .iter()
            .map(|&l| {
                let mut p = layout.rows.to_physical(l);
                for (file, rows) in &layout.parts {
                    if p < *rows {
                        return (file.clone(), p * 2);
                    }
                    p -= rows;
                }
                unreachable!("row {l} is in no part")
            })
            .collect()
    }

    /// Expands spans into one `(file, offset)` per row, checking they tile the result in order.
    fn per_row(spans: &[(String, u64, u64, u64)]) -> Vec<(String, u64)> {
        let mut next = 0;
        let mut out = Vec::new();
        for (f, o, a, l) in spans {
            assert_eq!(*a, next, "spans tile the result");
            assert!(*l > 0 && l % 2 == 0);
            next += l;
            out.extend((0..l / 2).map(|k| (f.clone(), o + 2 * k)));
        }
        out
    }

    #[test]
    fn spans_follow_parts_and_drops() {
        for (parts, dropped) in [
            (vec![10], vec![]),
            (vec![3, 1, 6], vec![]),
            (vec![3, 1, 6], vec![0, 3, 4, 9]),
            (vec![64, 64, 5], vec![63, 64, 65, 100]),
        ] {
            let l = layout(&parts, &dropped);
            let len = l.rows.len();
            let all: Vec<u64> = (0..len).collect();
            let whole = spans(
                &l,
                &Rows::Range {
                    first: 0,
                    count: len,
                },
            )
            .unwrap();
            assert_eq!(per_row(&whole), naive(&l, &all));
            if parts.len() == 1 && dropped.is_empty() {
                assert_eq!(whole.len(), 1, "a plain array without drops is one span");
            }
            for first in 0..len {
                for count in 0..=len - first {
                    let want: Vec<u64> = (first..first + count).collect();
                    assert_eq!(
                        per_row(&spans(&l, &Rows::Range { first, count }).unwrap()),
                        naive(&l, &want)
                    );
                }
            }
            let list: Vec<u64> = (0..3 * len).map(|i| (i * 7 + i / 3) % len).collect();
            assert_eq!(
                per_row(&spans(&l, &Rows::List(list.clone())).unwrap()),
                naive(&l, &list)
            );
            assert!(
                spans(
                    &l,
                    &Rows::Range {
                        first: len,
                        count: 1
                    }
                )
                .is_err()
            );
            assert!(spans(&l, &Rows::List(vec![0, len])).is_err());
        }
    }

    #[test]
    fn select_matches_resolve() {
        let sels = [
            Selection::All,
            Selection::Indices(vec![3, -1, 0]),
            Selection::Slice {
                start: Some(2),
                stop: Some(8),
                step: 1,
            },
            Selection::Slice {
                start: Some(-3),
                stop: None,
                step: 1,
            },
            Selection::Slice {
                start: Some(20),
                stop: None,
                step: 1,
            },
            Selection::Slice {
                start: None,
                stop: None,
                step: -2,
            },
        ];
        for sel in sels {
            let want = sel.resolve(10).unwrap();
            let got = match Rows::select(&sel, 10).unwrap() {
                Rows::Range { first, count } => (first..first + count).collect(),
                Rows::List(rows) => rows,
            };
            assert_eq!(got, want, "{sel:?}");
        }
        assert!(Rows::select(&Selection::Indices(vec![10]), 10).is_err());
    }
}
