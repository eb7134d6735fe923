//! Reading and writing rows of an array's data file(s), physical and logical.

use super::catalog::Entry;
use crate::error::{Error, Result};
use crate::io::Io;

/// A zeroed buffer for `rows × row_bytes` bytes, or [`Error::OutOfMemory`] if that does not fit
/// in memory (never an abort).
pub(crate) fn zeroed(rows: u64, row_bytes: u64) -> Result<Vec<u8>> {
    let n = rows
        .checked_mul(row_bytes)
        .ok_or_else(|| Error::OutOfMemory(format!("{rows} rows of {row_bytes} bytes overflow")))?;
    crate::error::try_filled(n, 0u8, "the rows read")
}

fn expect_len(out: &[u8], rows: u64, row_bytes: u64) -> Result<()> {
    if out.len() as u64 != rows * row_bytes {
        return Err(Error::ShapeMismatch(format!(
            "buffer of {} bytes for {rows} rows of {row_bytes} bytes",
            out.len()
        )));
    }
    Ok(())
}

impl Entry {
    /// Where physical rows `start..start + rows` live: `(file, byte offset in it, first row of
    /// the span within the request, rows in the span)`, in order; one span for a plain array.
    fn spans(&self, start: u64, rows: u64) -> Result<Vec<(&str, u64, u64, u64)>> {
        let rb = self.row_bytes()?;
        let Some(segs) = &self.segments else {
            return Ok(vec![(self.record.data_file.as_str(), start * rb, 0, rows)]);
        };
        let mut spans = Vec::new();
        let (mut seg_start, mut done) = (0u64, 0u64);
        for s in segs {
            let seg_end = seg_start + s.rows;
            let from = (start + done).max(seg_start);
            if from < seg_end && done < rows {
                let n = (seg_end - from).min(rows - done);
                spans.push((s.file.as_str(), (from - seg_start) * rb, done, n));
                done += n;
            }
            seg_start = seg_end;
        }
        Ok(spans)
    }

    /// Reads `rows` physical rows from `start` into `out`, across segments if need be.
    pub(crate) fn read_physical(
        &self,
        io: &impl Io,
        start: u64,
        rows: u64,
        out: &mut [u8],
    ) -> Result<()> {
        let rb = self.row_bytes()?;
        for (file, offset, first, n) in self.spans(start, rows)? {
            io.read_at(
                file,
                offset,
                &mut out[(first * rb) as usize..((first + n) * rb) as usize],
            )?;
        }
        Ok(())
    }

    /// Writes whole physical rows starting at `start`.
    pub(crate) fn write_physical(&self, io: &impl Io, start: u64, bytes: &[u8]) -> Result<()> {
        let rb = self.row_bytes()?;
        let rows = bytes.len() as u64 / rb.max(1);
        for (file, offset, first, n) in self.spans(start, rows)? {
            io.write_at(
                file,
                offset,
                &bytes[(first * rb) as usize..((first + n) * rb) as usize],
            )?;
        }
        Ok(())
    }

    /// Reads `count` logical rows from `start`.
    pub(crate) fn read_range(
        &self,
        io: &impl Io,
        start: u64,
        count: u64,
        out: &mut [u8],
    ) -> Result<()> {
        let rb = self.row_bytes()?;
        let len = if self.record.shape.is_empty() {
            1
        } else {
            self.map.len()
        };
        if start.checked_add(count).is_none_or(|end| end > len) {
            return Err(Error::IndexOutOfRange {
                index: start.saturating_add(count) as i64,
                len,
            });
        }
        expect_len(out, count, rb)?;
        let mut at = 0usize;
        for (phys, n) in self.map.physical_runs(start, count) {
            let bytes = (n * rb) as usize;
            self.read_physical(io, phys, n, &mut out[at..at + bytes])?;
            at += bytes;
        }
        Ok(())
    }

    /// Reads the given logical rows (each `< len`), coalescing consecutive physical rows.
    pub(crate) fn read_rows(&self, io: &impl Io, rows: &[u64], out: &mut [u8]) -> Result<()> {
        let rb = self.row_bytes()?;
        expect_len(out, rows.len() as u64, rb)?;
        let len = self.map.len();
        let mut i = 0;
        while i < rows.len() {
            if rows[i] >= len {
                return Err(Error::IndexOutOfRange {
                    index: rows[i] as i64,
                    len,
                });
            }
            let phys = self.map.to_physical(rows[i]);
            let mut n = 1;
            while i + n < rows.len()
                && rows[i + n] < len
                && self.map.to_physical(rows[i + n]) == phys + n as u64
            {
                n += 1;
            }
            let at = i * rb as usize;
            self.read_physical(io, phys, n as u64, &mut out[at..at + n * rb as usize])?;
            i += n;
        }
        Ok(())
    }
}
