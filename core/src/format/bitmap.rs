//! `deleted_<name>.npkb`: which physical rows are live. Header `u64 total_rows`,
//! `u64 deleted_count`, then ⌈total_rows/64⌉ u64 words; bit `r % 64` of word `r / 64` is 1 for a
//! live row. Padding bits past `total_rows` are 0. A legacy file without the header is read too.

use super::reader::Reader;
use crate::error::{Error, Result, corrupt};

/// The largest deletion bitmap file readers accept (16-byte header and 2^30 words: 2^36 rows).
/// A writer refuses to produce a larger one.
pub const MAX_BITMAP_BYTES: u64 = (1 << 33) + 16;

/// The most physical rows an array with dropped rows can have ([`MAX_BITMAP_BYTES`] of words).
pub const MAX_BITMAP_ROWS: u64 = ((MAX_BITMAP_BYTES - 16) / 8) * 64;

/// Live/dropped flags of an array's physical rows.
///
/// Only the words that were read from a file or touched by a drop are held: rows past
/// `words.len() × 64` are live. Nothing is ever allocated per declared row, so a catalogue
/// claiming 2^40 rows costs what its bitmap file holds, not 2^37 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmap {
    rows: u64,
    /// Bit `r % 64` of word `r / 64` is 1 for a live row; bits at or past `rows` are 0.
    words: Vec<u64>,
}

fn words_for(rows: u64) -> u64 {
    rows.div_ceil(64)
}

/// Ones in bit positions `from..to` of a word (`from <= to <= 64`).
fn bit_range(from: u64, to: u64) -> u64 {
    let upto = |n: u64| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    upto(to) & !upto(from)
}

impl Bitmap {
    /// `rows` rows, all live (no words held).
    pub fn all_live(rows: u64) -> Bitmap {
        Bitmap {
            rows,
            words: Vec::new(),
        }
    }

    /// The number of physical rows it covers.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The words held (bit set = live); rows past `words().len() × 64` are live.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Whether physical row `row` is live.
    pub fn is_live(&self, row: u64) -> bool {
        row < self.rows
            && self
                .words
                .get((row / 64) as usize)
                .is_none_or(|w| w >> (row % 64) & 1 == 1)
    }

    /// Holds words up to and including word `w`, the new ones all live.
    fn hold(&mut self, w: u64) -> Result<()> {
        let have = self.words.len() as u64;
        if w < have {
            return Ok(());
        }
        let extra = w + 1 - have;
        self.words
            .try_reserve_exact(extra as usize)
            .map_err(|_| Error::OutOfMemory(format!("a deletion bitmap of {} words", w + 1)))?;
        self.words.resize((w + 1) as usize, u64::MAX);
        self.clear_padding();
        Ok(())
    }

    /// Zeroes the bits at or past `rows` in the words held.
    fn clear_padding(&mut self) {
        let full = words_for(self.rows);
        self.words.truncate(full as usize);
        if self.words.len() as u64 == full
            && !self.rows.is_multiple_of(64)
            && let Some(last) = self.words.last_mut()
        {
            *last &= bit_range(0, self.rows % 64);
        }
    }

    /// Marks physical row `row` dropped (a row at or past `rows()` is ignored). Fails only if the
    /// words up to it cannot be allocated.
    pub fn drop_row(&mut self, row: u64) -> Result<()> {
        if row >= self.rows {
            return Ok(());
        }
        self.hold(row / 64)?;
        self.words[(row / 64) as usize] &= !(1u64 << (row % 64));
        Ok(())
    }

    /// The number of live rows.
    pub fn live_rows(&self) -> u64 {
        let held: u64 = self.words.iter().map(|w| u64::from(w.count_ones())).sum();
        held + self.rows.saturating_sub(self.words.len() as u64 * 64)
    }

    /// Extends or shrinks to `rows` physical rows; new rows are live. O(1) when growing.
    pub fn resize(&mut self, rows: u64) {
        let old = self.rows;
        self.rows = rows;
        if rows < old {
            self.clear_padding();
        } else if !self.words.is_empty() {
            let base = (self.words.len() as u64 - 1) * 64;
            let last = self.words.last_mut().expect("not empty");
            if old < base + 64 {
                // Padding bits of the last held word that are rows now.
                *last |= bit_range(old.saturating_sub(base), (rows - base).min(64));
            }
        }
    }

    /// `Ok` if an array of `rows` physical rows can have a deletion bitmap that readers accept
    /// (at most [`MAX_BITMAP_ROWS`]); the one place that rule is decided.
    pub fn check_rows(rows: u64) -> Result<()> {
        if rows > MAX_BITMAP_ROWS {
            return Err(Error::InvalidArgument(format!(
                "rows cannot be dropped from an array of {rows} rows: its deletion bitmap would be over the {MAX_BITMAP_BYTES}-byte limit (at most {MAX_BITMAP_ROWS} rows)"
            )));
        }
        Ok(())
    }

    /// The file bytes (always with the header and every word), or an error, before anything is
    /// allocated, if readers would refuse a file that large.
    pub fn encode(&self) -> Result<Vec<u8>> {
        Bitmap::check_rows(self.rows)?;
        let words = words_for(self.rows);
        let bytes = 16 + 8 * words;
        let mut out: Vec<u8> = crate::error::try_with_capacity(bytes, "a deletion bitmap")?;
        out.extend_from_slice(&self.rows.to_le_bytes());
        out.extend_from_slice(&(self.rows - self.live_rows()).to_le_bytes());
        for w in 0..words {
            let word = match self.words.get(w as usize) {
                Some(&word) => word,
                None if w == words - 1 && !self.rows.is_multiple_of(64) => {
                    bit_range(0, self.rows % 64)
                }
                None => u64::MAX,
            };
            out.extend_from_slice(&word.to_le_bytes());
        }
        Ok(out)
    }

    /// The length of the file [`Bitmap::encode`] writes for `rows` rows.
    pub fn file_len(rows: u64) -> u64 {
        16 + 8 * words_for(rows)
    }

    /// The file header [`Bitmap::encode`] writes: rows covered and rows dropped.
    pub fn header(rows: u64, dropped: u64) -> [u8; 16] {
        let mut h = [0u8; 16];
        h[..8].copy_from_slice(&rows.to_le_bytes());
        h[8..].copy_from_slice(&dropped.to_le_bytes());
        h
    }

    /// The in-place writes `(byte offset, bytes)` that turn the file [`Bitmap::encode`] wrote
    /// before rows were dropped from the words `touched` (sorted, distinct, each held) into the
    /// one it writes now, `dropped` being the rows dropped now: the header's count, then the
    /// touched words, adjacent ones merged into one write.
    pub fn patch(&self, dropped: u64, touched: &[u64]) -> Vec<(u64, Vec<u8>)> {
        let mut writes: Vec<(u64, Vec<u8>)> = Vec::with_capacity(touched.len() + 1);
        writes.push((8, dropped.to_le_bytes().to_vec()));
        let mut last: Option<u64> = None;
        for &w in touched {
            let word = self.words[w as usize].to_le_bytes();
            match writes.last_mut() {
                Some((_, bytes)) if last.is_some_and(|l| l + 1 == w) => {
                    bytes.extend_from_slice(&word)
                }
                _ => writes.push((16 + 8 * w, word.to_vec())),
            }
            last = Some(w);
        }
        writes
    }

    /// Parses a bitmap for an array of `physical_rows` rows. A headered file may cover more rows
    /// (an append that was never committed: the extra bits are ignored) or fewer (the rows past
    /// it are live). A legacy file without header is a bare run of words. Time and memory are
    /// those of the file's bytes, whatever `physical_rows` says.
    pub fn decode(bytes: &[u8], physical_rows: u64) -> Result<Bitmap> {
        if !bytes.len().is_multiple_of(8) {
            return Err(corrupt(format!(
                "deletion bitmap of {} bytes is not whole words",
                bytes.len()
            )));
        }
        let mut r = Reader::new(bytes, "deletion bitmap");
        let headered = bytes.len() >= 16 && {
            let rows = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
            (rows.div_ceil(64))
                .checked_mul(8)
                .and_then(|b| b.checked_add(16))
                == Some(bytes.len() as u64)
        };
        let (rows, deleted) = if headered {
            (r.u64()?, Some(r.u64()?))
        } else {
            ((bytes.len() as u64) * 8, None)
        };
        let mut words =
            crate::error::try_with_capacity(r.remaining() as u64 / 8, "a deletion bitmap")?;
        while r.remaining() > 0 {
            words.push(r.u64()?);
        }
        let mut bitmap = Bitmap {
            rows: (words.len() as u64) * 64,
            words,
        };
        bitmap.resize(rows.min(bitmap.rows));
        if let Some(deleted) = deleted {
            let actual = bitmap.rows - bitmap.live_rows();
            if deleted != actual {
                return Err(corrupt(format!(
                    "deletion bitmap says {deleted} rows dropped but marks {actual}"
                )));
            }
        } else if rows < physical_rows {
            return Err(corrupt(format!(
                "legacy deletion bitmap covers {rows} rows of {physical_rows}"
            )));
        }
        bitmap.resize(physical_rows);
        Ok(bitmap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_example_bytes() {
        // 3 rows, row 1 dropped: 03.., 01.., 05..
        let mut b = Bitmap::all_live(3);
        b.drop_row(1).unwrap();
        let bytes = b.encode().unwrap();
        let mut want = Vec::new();
        for v in [3u64, 1, 5] {
            want.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(bytes, want);
        assert_eq!(Bitmap::decode(&bytes, 3).unwrap(), b);
    }

    #[test]
    fn longer_bitmap_than_shape_is_cut_and_shorter_is_extended_live() {
        let mut b = Bitmap::all_live(70);
        b.drop_row(2).unwrap();
        b.drop_row(69).unwrap();
        let d = Bitmap::decode(&b.encode().unwrap(), 65).unwrap();
        assert_eq!((d.rows(), d.live_rows()), (65, 64));
        let d = Bitmap::decode(&b.encode().unwrap(), 130).unwrap();
        assert_eq!((d.rows(), d.live_rows()), (130, 128));
        assert!(!d.is_live(69) && d.is_live(70) && d.is_live(129));
    }

    #[test]
    fn legacy_bitmap_without_header() {
        let bytes = 0b1011u64.to_le_bytes();
        let d = Bitmap::decode(&bytes, 4).unwrap();
        assert_eq!(
            (0..4).map(|r| d.is_live(r)).collect::<Vec<_>>(),
            [true, true, false, true]
        );
        assert!(Bitmap::decode(&bytes, 65).is_err());
    }

    #[test]
    fn wrong_deleted_count_is_corrupt() {
        let mut bytes = Bitmap::all_live(3).encode().unwrap();
        bytes[8] = 2;
        assert!(Bitmap::decode(&bytes, 3).is_err());
        assert!(Bitmap::decode(&bytes[..20], 3).is_err());
    }
}
