//! The in-memory catalogue: one [`Entry`] per array, loaded and validated from disk.

use super::{ArrayInfo, ArrayLayout, State};
use crate::error::{Result, corrupt};
use crate::format::METADATA_FILE;
use crate::format::bitmap::Bitmap;
use crate::format::metadata::{self, ArrayRecord};
use crate::format::segments::{self, Segment};
use crate::io::Io;
use crate::name;
use crate::rows::RowMap;

/// One array as the store knows it.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) record: ArrayRecord,
    /// The segment files of a segmented array.
    pub(crate) segments: Option<Vec<Segment>>,
    /// The deletion bitmap, if the array has one.
    pub(crate) bitmap: Option<Bitmap>,
    /// Whether the bitmap file is exactly what [`Bitmap::encode`] writes for `bitmap` (length
    /// and header), as checked when it was read or known because we wrote it: a row drop may
    /// then patch its changed words in place without reading the file first.
    pub(crate) bitmap_exact: bool,
    pub(crate) map: RowMap,
}

impl Entry {
    /// A fresh plain array without drops.
    pub(crate) fn plain(record: ArrayRecord) -> Entry {
        let map = RowMap::identity(record.physical_rows());
        Entry {
            record,
            segments: None,
            bitmap: None,
            bitmap_exact: false,
            map,
        }
    }

    pub(crate) fn row_bytes(&self) -> Result<u64> {
        self.record.row_bytes()
    }

    /// Sets the bitmap (or none) and rebuilds the row map; a bitmap set here is the one the
    /// caller writes whole with [`Bitmap::encode`] (or, when loading, checks afterwards).
    pub(crate) fn set_bitmap(&mut self, bitmap: Option<Bitmap>) {
        self.bitmap_exact = bitmap.is_some();
        self.map = match &bitmap {
            Some(b) => RowMap::from_bitmap(b),
            None => RowMap::identity(self.record.physical_rows()),
        };
        self.bitmap = bitmap;
    }

    pub(crate) fn info(&self) -> ArrayInfo {
        let mut shape = self.record.shape.clone();
        if let Some(rows) = shape.first_mut() {
            *rows = self.map.len();
        }
        ArrayInfo {
            name: self.record.name.clone(),
            dtype: self.record.dtype,
            shape,
            physical_shape: self.record.shape.clone(),
            data_file: self.record.data_file.clone(),
            last_modified: self.record.last_modified,
        }
    }

    pub(crate) fn layout(&self) -> Result<ArrayLayout> {
        let parts = match &self.segments {
            Some(segs) => segs.iter().map(|s| (s.file.clone(), s.rows)).collect(),
            None => vec![(self.record.data_file.clone(), self.record.physical_rows())],
        };
        Ok(ArrayLayout {
            dtype: self.record.dtype,
            shape: self.info().shape,
            row_bytes: self.row_bytes()?,
            parts,
            rows: self.map.clone(),
        })
    }

    /// Loads and checks one record's files: the data file must hold at least the recorded
    /// bytes (more is the tail of an append that never committed), segments exactly theirs.
    pub(crate) fn load(io: &impl Io, record: ArrayRecord) -> Result<Entry> {
        let size = record.size_bytes()?;
        let row_bytes = record.row_bytes()?;
        let segments = if record.is_segmented() {
            let raw = io
                .read_file(&record.data_file, segments::MAX_MANIFEST_BYTES)?
                .ok_or_else(|| {
                    corrupt(format!("segment manifest {} is missing", record.data_file))
                })?;
            let segs = segments::decode(&raw, &record.name, row_bytes, record.physical_rows())?;
            for s in &segs {
                let want = s.rows * row_bytes;
                let have = io.len(&s.file)?;
                if have.unwrap_or(0) < want || (have.is_none() && want > 0) {
                    return Err(corrupt(format!(
                        "segment {} holds {have:?} bytes, needs {want}",
                        s.file
                    )));
                }
            }
            Some(segs)
        } else {
            match io.len(&record.data_file)? {
                Some(len) if len >= size => {}
                None if size == 0 => {}
                have => {
                    return Err(corrupt(format!(
                        "{} holds {} bytes but shape {:?} of {} needs {size}",
                        record.data_file,
                        have.unwrap_or(0),
                        record.shape,
                        record.dtype.numpy_name()
                    )));
                }
            }
            None
        };
        let raw = io.read_file(
            &name::bitmap_file(&record.name),
            crate::format::bitmap::MAX_BITMAP_BYTES,
        )?;
        let bitmap = match &raw {
            Some(raw) => Some(Bitmap::decode(raw, record.physical_rows())?),
            None => None,
        };
        let mut entry = Entry {
            record,
            segments,
            bitmap: None,
            bitmap_exact: false,
            map: RowMap::identity(0),
        };
        entry.set_bitmap(bitmap);
        if let (Some(raw), Some(bitmap)) = (&raw, &entry.bitmap) {
            let rows = bitmap.rows();
            entry.bitmap_exact = raw.len() as u64 == Bitmap::file_len(rows)
                && raw.get(..16) == Some(&Bitmap::header(rows, rows - entry.map.len())[..]);
        }
        Ok(entry)
    }
}

impl State {
    /// Reads the catalogue from disk (an absent `metadata.npkm` is an empty store).
    pub(crate) fn load(&mut self, io: &impl Io) -> Result<()> {
        self.loaded = false;
        let stamp = io.catalogue_stamp()?;
        let entries = match io.read_file(METADATA_FILE, metadata::MAX_METADATA_BYTES)? {
            None => Vec::new(),
            Some(raw) => metadata::decode(&raw)?
                .into_iter()
                .map(|r| Entry::load(io, r))
                .collect::<Result<Vec<_>>>()?,
        };
        self.entries = entries;
        self.stamp = stamp;
        self.loaded = true;
        Ok(())
    }

    /// Reloads if the catalogue changed on disk since we last read or wrote it.
    pub(crate) fn refresh(&mut self, io: &impl Io) -> Result<()> {
        if self.loaded && self.stamp.is_some() && io.catalogue_stamp()? == self.stamp {
            return Ok(());
        }
        if self.loaded && self.stamp.is_none() && io.catalogue_stamp()?.is_none() {
            return Ok(());
        }
        self.load(io)
    }
}
