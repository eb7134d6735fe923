//! Row filters: the set of logical rows a filtered search may return.
//!
//! A filter is built once from a list of logical row indices or from a boolean mask, checked
//! against the number of candidate rows, and kept as a sorted list without duplicates. Rules
//! (`docs/METRICS.md`, "Filtered search"):
//!
//! * indices may come in any order; duplicates are merged (the allowed *set* is what counts);
//!   a negative index or one ≥ the row count is `FilterIndexOutOfRange`;
//! * a mask must have exactly one entry per row (`FilterMaskLength` otherwise);
//! * an empty filter (no index, or an all-false mask) is valid: the search returns empty
//!   results, not an error.

use super::VectorError;

/// The allowed logical rows of a filtered search: sorted, without duplicates, all `< rows`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowFilter {
    allowed: Vec<u64>,
    rows: u64,
}

impl RowFilter {
    /// Allows the rows named in `indices` (any order, duplicates merged) out of `rows` rows.
    pub fn from_indices<I: IntoIterator<Item = i64>>(
        indices: I,
        rows: u64,
    ) -> Result<Self, VectorError> {
        let it = indices.into_iter();
        let mut allowed = Vec::with_capacity(it.size_hint().0);
        let mut sorted = true;
        for i in it {
            let u = u64::try_from(i)
                .ok()
                .filter(|&u| u < rows)
                .ok_or(VectorError::FilterIndexOutOfRange { index: i, rows })?;
            sorted &= allowed.last().is_none_or(|&p| p < u);
            allowed.push(u);
        }
        if !sorted {
            allowed.sort_unstable();
            allowed.dedup();
        }
        Ok(RowFilter { allowed, rows })
    }

    /// Allows row `i` where `mask[i]` is true; the mask must have exactly `rows` entries.
    pub fn from_mask<I: IntoIterator<Item = bool>>(
        mask: I,
        rows: u64,
    ) -> Result<Self, VectorError> {
        let mut allowed = Vec::new();
        let mut len = 0u64;
        for b in mask {
            if b {
                allowed.push(len);
            }
            len += 1;
        }
        if len != rows {
            return Err(VectorError::FilterMaskLength { len, rows });
        }
        Ok(RowFilter { allowed, rows })
    }

    /// Allows every one of `rows` rows (the same results as an unfiltered search).
    pub fn all(rows: u64) -> Self {
        RowFilter {
            allowed: (0..rows).collect(),
            rows,
        }
    }

    /// The allowed logical rows, ascending.
    #[inline]
    pub fn allowed(&self) -> &[u64] {
        &self.allowed
    }

    /// The number of candidate rows this filter was checked against.
    #[inline]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Number of allowed rows.
    #[inline]
    pub fn len(&self) -> usize {
        self.allowed.len()
    }

    /// True when no row is allowed (a search returns empty results).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }

    /// True if logical row `id` is allowed.
    #[inline]
    pub fn contains(&self, id: u64) -> bool {
        self.allowed.binary_search(&id).is_ok()
    }

    /// The allowed rows in `start..end`, ascending.
    #[inline]
    pub fn within(&self, start: u64, end: u64) -> &[u64] {
        let a = self.allowed.partition_point(|&r| r < start);
        let b = a + self.allowed[a..].partition_point(|&r| r < end);
        &self.allowed[a..b]
    }

    /// Errors unless this filter was built for `rows` candidate rows.
    pub fn check_rows(&self, rows: u64) -> Result<(), VectorError> {
        if self.rows == rows {
            Ok(())
        } else {
            Err(VectorError::FilterRowsMismatch {
                filter: self.rows,
                rows,
            })
        }
    }
}
