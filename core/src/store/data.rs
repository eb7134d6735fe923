//! Reading and writing rows of an array's data file(s), physical and logical, through the one
//! read plan (`crate::plan`).

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

impl Entry {
    /// Reads `rows` physical rows from `start` into `out`, across segments if need be.
    pub(crate) fn read_physical(
        &self,
        io: &impl Io,
        start: u64,
        rows: u64,
        out: &mut [u8],
    ) -> Result<()> {
        if self.segments.is_none() {
            return io.read_at(&self.record.data_file, start * self.row_bytes()?, out);
        }
        self.layout()?.plan_physical(start, rows)?.read(io, out)
    }

    /// Writes whole physical rows starting at `start`.
    pub(crate) fn write_physical(&self, io: &impl Io, start: u64, bytes: &[u8]) -> Result<()> {
        let rb = self.row_bytes()?;
        if self.segments.is_none() {
            return io.write_at(&self.record.data_file, start * rb, bytes);
        }
        let layout = self.layout()?;
        layout
            .plan_physical(start, bytes.len() as u64 / rb.max(1))?
            .for_each_span(|s| {
                io.write_at(
                    &layout.parts[s.part].0,
                    s.offset,
                    &bytes[s.at as usize..(s.at + s.len) as usize],
                )
            })
    }

    /// Reads `count` logical rows from `start` into `out` (exactly `count × row_bytes` bytes).
    pub(crate) fn read_range(
        &self,
        io: &impl Io,
        start: u64,
        count: u64,
        out: &mut [u8],
    ) -> Result<()> {
        self.layout()?.plan_range(start, count)?.read(io, out)
    }
}
