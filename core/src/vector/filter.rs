//! Row filters: the set of logical rows a filtered search may return.
//!
//! A filter is built once from a list of logical row indices or from a boolean mask, and
//! checked against the number of candidate rows. Rules (`docs/METRICS.md`, "Filtered search"):
//!
//! * indices may come in any order; duplicates are merged (the allowed *set* is what counts);
//!   a negative index or one ≥ the row count is `FilterIndexOutOfRange`;
//! * a mask must have exactly one entry per row (`FilterMaskLength` otherwise);
//! * an empty filter (no index, or an all-false mask) is valid: the search returns empty
//!   results, not an error.
//!
//! The set is kept in the form its input already paid for: indices as a sorted list (size ∝
//! allowed rows), a mask as a bitmap (one bit per row, an eighth of the mask), so neither
//! form costs more to build than reading the input. Searches read either through `set`.

use super::VectorError;

/// Bits per bitmap word.
const WORD: u64 = 64;

/// The allowed logical rows of a filtered search, all `< rows`.
#[derive(Clone, Debug)]
pub struct RowFilter {
    set: Set,
    rows: u64,
}

#[derive(Clone, Debug)]
enum Set {
    /// Sorted, without duplicates.
    Sorted(Vec<u64>),
    /// Bit `r % 64` of word `r / 64` is set iff row `r` is allowed; no bit ≥ `rows` is set.
    Bits { words: Vec<u64>, count: usize },
}

/// How a filter holds its allowed rows (what a search reads).
#[derive(Clone, Copy, Debug)]
pub enum RowSet<'a> {
    /// The allowed rows, ascending, without duplicates.
    Sorted(&'a [u64]),
    /// One bit per row.
    Bitmap(Bitmap<'a>),
}

/// A borrowed bitmap of allowed rows: bit `r % 64` of word `r / 64` is row `r`.
#[derive(Clone, Copy, Debug)]
pub struct Bitmap<'a> {
    words: &'a [u64],
}

impl Bitmap<'_> {
    /// The bits of rows `start..start + len` (`len ≤ 64`) as one word: bit `i` is row
    /// `start + i`; rows past the bitmap read as not allowed.
    #[inline]
    pub fn word(&self, start: u64, len: usize) -> u64 {
        debug_assert!(len <= 64);
        if len == 0 {
            return 0;
        }
        let at = |i: u64| {
            usize::try_from(i)
                .ok()
                .and_then(|i| self.words.get(i))
                .copied()
                .unwrap_or(0)
        };
        let (w, sh) = (start / WORD, start % WORD);
        let lo = at(w) >> sh;
        let v = if sh == 0 {
            lo
        } else {
            lo | (at(w + 1) << (WORD - sh))
        };
        if len == 64 {
            v
        } else {
            v & ((1u64 << len) - 1)
        }
    }
}

/// Packs eight mask bytes (non-zero = allowed) into eight bits, byte `i` → bit `i`.
#[inline]
fn pack8(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // Top bit of each byte: set iff the byte is non-zero; then one bit per byte at bit 8i.
    let nz = (((x & LOW7) + LOW7) | x) & !LOW7;
    let ones = nz >> 7;
    // The multiplier moves bit 8i to bit 56 + i with no carries (every product term lands on
    // its own bit), so the top byte holds the eight flags in order.
    ones.wrapping_mul(0x0102_0408_1020_4080) >> 56
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
        Ok(RowFilter {
            set: Set::Sorted(allowed),
            rows,
        })
    }

    /// Allows row `i` where `mask[i]` is true; the mask must have exactly `rows` entries.
    pub fn from_mask<I: IntoIterator<Item = bool>>(
        mask: I,
        rows: u64,
    ) -> Result<Self, VectorError> {
        let mut words = Vec::new();
        let (mut len, mut w) = (0u64, 0u64);
        for b in mask {
            w |= u64::from(b) << (len % WORD);
            len += 1;
            if len.is_multiple_of(WORD) {
                words.push(w);
                w = 0;
            }
        }
        if !len.is_multiple_of(WORD) {
            words.push(w);
        }
        if len != rows {
            return Err(VectorError::FilterMaskLength { len, rows });
        }
        Ok(Self::bitmap(words, rows))
    }

    /// Allows row `i` where `mask[i]` is non-zero (a byte mask, e.g. NumPy's or JS's booleans);
    /// the mask must have exactly `rows` entries. Reads the mask eight bytes at a time.
    pub fn from_mask_bytes(mask: &[u8], rows: u64) -> Result<Self, VectorError> {
        let len = mask.len() as u64;
        if len != rows {
            return Err(VectorError::FilterMaskLength { len, rows });
        }
        let words = mask
            .chunks(WORD as usize)
            .map(|c| {
                let mut w = 0u64;
                let (eights, tail) = c.split_at(c.len() / 8 * 8);
                for (j, e) in eights.chunks_exact(8).enumerate() {
                    let x = u64::from_le_bytes(e.try_into().expect("eight bytes"));
                    w |= pack8(x) << (8 * j);
                }
                for (j, &b) in tail.iter().enumerate() {
                    w |= u64::from(b != 0) << (eights.len() + j);
                }
                w
            })
            .collect();
        Ok(Self::bitmap(words, rows))
    }

    fn bitmap(words: Vec<u64>, rows: u64) -> Self {
        let count = words.iter().map(|w| w.count_ones() as usize).sum();
        RowFilter {
            set: Set::Bits { words, count },
            rows,
        }
    }

    /// Allows every one of `rows` rows (the same results as an unfiltered search).
    pub fn all(rows: u64) -> Self {
        let full = (rows / WORD) as usize;
        let mut words = vec![u64::MAX; full];
        if !rows.is_multiple_of(WORD) {
            words.push((1u64 << (rows % WORD)) - 1);
        }
        Self::bitmap(words, rows)
    }

    /// How the allowed rows are held (what a search reads).
    #[inline]
    pub fn set(&self) -> RowSet<'_> {
        match &self.set {
            Set::Sorted(v) => RowSet::Sorted(v),
            Set::Bits { words, .. } => RowSet::Bitmap(Bitmap { words }),
        }
    }

    /// The allowed logical rows, ascending (a new list).
    pub fn allowed(&self) -> Vec<u64> {
        self.within(0, self.rows).collect()
    }

    /// The number of candidate rows this filter was checked against.
    #[inline]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Number of allowed rows.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.set {
            Set::Sorted(v) => v.len(),
            Set::Bits { count, .. } => *count,
        }
    }

    /// True when no row is allowed (a search returns empty results).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if logical row `id` is allowed.
    #[inline]
    pub fn contains(&self, id: u64) -> bool {
        match self.set() {
            RowSet::Sorted(v) => v.binary_search(&id).is_ok(),
            RowSet::Bitmap(b) => b.word(id, 1) != 0,
        }
    }

    /// The allowed rows in `start..end`, ascending.
    pub fn within(&self, start: u64, end: u64) -> Within<'_> {
        let end = end.min(self.rows);
        match self.set() {
            RowSet::Sorted(v) => {
                let a = v.partition_point(|&r| r < start);
                let b = a + v[a..].partition_point(|&r| r < end);
                Within::Sorted(v[a..b].iter())
            }
            RowSet::Bitmap(bits) => Within::Bits {
                bits,
                at: start.min(end),
                end,
                word: 0,
            },
        }
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

/// Two filters are equal when they allow the same rows out of the same row count (whether
/// built from indices or a mask).
impl PartialEq for RowFilter {
    fn eq(&self, other: &Self) -> bool {
        self.rows == other.rows && self.len() == other.len() && self.allowed() == other.allowed()
    }
}

impl Eq for RowFilter {}

/// The allowed rows of a range, ascending (`RowFilter::within`).
#[derive(Clone, Debug)]
pub enum Within<'a> {
    /// From a sorted list.
    Sorted(core::slice::Iter<'a, u64>),
    /// From a bitmap, a word at a time.
    Bits {
        /// The filter's bitmap.
        bits: Bitmap<'a>,
        /// The first row not yet loaded into `word`.
        at: u64,
        /// The end of the range.
        end: u64,
        /// Loaded rows not yet returned: bit `i` is row `at - 64 + i`.
        word: u64,
    },
}

impl Iterator for Within<'_> {
    type Item = u64;

    #[inline]
    fn next(&mut self) -> Option<u64> {
        match self {
            Within::Sorted(it) => it.next().copied(),
            Within::Bits {
                bits,
                at,
                end,
                word,
            } => {
                while *word == 0 {
                    if *at >= *end {
                        return None;
                    }
                    let len = (*end - *at).min(WORD) as usize;
                    // Loaded at `at`; kept aligned so that bit i is row `at - 64 + i`.
                    *word = bits.word(*at, len);
                    *at += WORD;
                }
                let i = word.trailing_zeros() as u64;
                *word &= *word - 1;
                Some(*at - WORD + i)
            }
        }
    }
}
