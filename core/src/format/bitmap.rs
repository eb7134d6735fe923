//! `deleted_<name>.npkb`: which physical rows are live. Header `u64 total_rows`,
//! `u64 deleted_count`, then ⌈total_rows/64⌉ u64 words; bit `r % 64` of word `r / 64` is 1 for a
//! live row. Padding bits past `total_rows` are 0. A legacy file without the header is read too.

use super::reader::Reader;
use crate::error::{corrupt, Result};

/// Live/dropped flags of an array's physical rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmap {
    rows: u64,
    words: Vec<u64>,
}

fn words_for(rows: u64) -> usize {
    rows.div_ceil(64) as usize
}

impl Bitmap {
    /// `rows` rows, all live.
    pub fn all_live(rows: u64) -> Bitmap {
        let mut words = vec![u64::MAX; words_for(rows)];
        if !rows.is_multiple_of(64)
            && let Some(last) = words.last_mut() {
                *last = (1u64 << (rows % 64)) - 1;
            }
        Bitmap { rows, words }
    }

    /// The number of physical rows it covers.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The raw words (bit set = live), for the row map.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Whether physical row `row` is live.
    pub fn is_live(&self, row: u64) -> bool {
        self.words.get((row / 64) as usize).is_some_and(|w| w >> (row % 64) & 1 == 1)
    }

    /// Marks physical row `row` dropped.
    pub fn drop_row(&mut self, row: u64) {
        if let Some(w) = self.words.get_mut((row / 64) as usize) {
            *w &= !(1u64 << (row % 64));
        }
    }

    /// The number of live rows.
    pub fn live_rows(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Extends or shrinks to `rows` physical rows; new rows are live.
    pub fn resize(&mut self, rows: u64) {
        let old = self.rows;
        self.words.resize(words_for(rows), 0);
        for r in old..rows {
            self.words[(r / 64) as usize] |= 1u64 << (r % 64);
        }
        if !rows.is_multiple_of(64)
            && let Some(last) = self.words.last_mut() {
                *last &= (1u64 << (rows % 64)) - 1;
            }
        self.rows = rows;
    }

    /// The file bytes (always with the header).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 8 * self.words.len());
        out.extend_from_slice(&self.rows.to_le_bytes());
        out.extend_from_slice(&(self.rows - self.live_rows()).to_le_bytes());
        for w in &self.words {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Parses a bitmap for an array of `physical_rows` rows. A headered file may cover more rows
    /// (an append that was never committed: the extra bits are ignored) or fewer (the rows past
    /// it are live). A legacy file without header is a bare run of words.
    pub fn decode(bytes: &[u8], physical_rows: u64) -> Result<Bitmap> {
        if !bytes.len().is_multiple_of(8) {
            return Err(corrupt(format!("deletion bitmap of {} bytes is not whole words", bytes.len())));
        }
        let mut r = Reader::new(bytes, "deletion bitmap");
        let headered = bytes.len() >= 16 && {
            let rows = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
            (rows.div_ceil(64)).checked_mul(8).and_then(|b| b.checked_add(16)) == Some(bytes.len() as u64)
        };
        let (rows, deleted) = if headered { (r.u64()?, Some(r.u64()?)) } else { ((bytes.len() as u64) * 8, None) };
        let mut words = Vec::with_capacity(r.remaining() / 8);
        while r.remaining() > 0 {
            words.push(r.u64()?);
        }
        let mut bitmap = Bitmap { rows: (words.len() as u64) * 64, words };
        bitmap.resize(rows.min(bitmap.rows));
        if let Some(deleted) = deleted {
            let actual = bitmap.rows - bitmap.live_rows();
            if deleted != actual {
                return Err(corrupt(format!("deletion bitmap says {deleted} rows dropped but marks {actual}")));
            }
        } else if rows < physical_rows {
            return Err(corrupt(format!("legacy deletion bitmap covers {rows} rows of {physical_rows}")));
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
        b.drop_row(1);
        let bytes = b.encode();
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
        b.drop_row(2);
        b.drop_row(69);
        let d = Bitmap::decode(&b.encode(), 65).unwrap();
        assert_eq!((d.rows(), d.live_rows()), (65, 64));
        let d = Bitmap::decode(&b.encode(), 130).unwrap();
        assert_eq!((d.rows(), d.live_rows()), (130, 128));
        assert!(!d.is_live(69) && d.is_live(70) && d.is_live(129));
    }

    #[test]
    fn legacy_bitmap_without_header() {
        let bytes = 0b1011u64.to_le_bytes();
        let d = Bitmap::decode(&bytes, 4).unwrap();
        assert_eq!((0..4).map(|r| d.is_live(r)).collect::<Vec<_>>(), [true, true, false, true]);
        assert!(Bitmap::decode(&bytes, 65).is_err());
    }

    #[test]
    fn wrong_deleted_count_is_corrupt() {
        let mut bytes = Bitmap::all_live(3).encode();
        bytes[8] = 2;
        assert!(Bitmap::decode(&bytes, 3).is_err());
        assert!(Bitmap::decode(&bytes[..20], 3).is_err());
    }
}
