//! What `numpack info` reports about a store folder, computed once for every front end (the
//! Python and the npm command lines print it): per array its dtype, shapes, live and dropped
//! rows, the files it occupies with their bytes, and the bytes a compaction would give back;
//! for the store its bytes on disk and last change. Read-only, over any [`Io`]; each record is
//! loaded by the store's own loader (so a corrupt record is the loader's error, not a guess).

use std::collections::BTreeMap;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::format::{METADATA_FILE, metadata};
use crate::io::Io;
use crate::name;
use crate::store::catalog::Entry;

/// The facts of one array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayFacts {
    /// The array name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Logical shape: dimension 0 counts live rows only.
    pub shape: Vec<u64>,
    /// Physical shape as stored (dimension 0 counts dropped rows too).
    pub physical_shape: Vec<u64>,
    /// Rows a read sees (1 for a 0-d array).
    pub live_rows: u64,
    /// Rows dropped but still on disk (a compaction removes them).
    pub dropped_rows: u64,
    /// The files the array occupies, relative to the store folder, with their bytes: its data
    /// file (or segment manifest), its deletion bitmap, then its segment files in name order.
    pub files: Vec<(String, u64)>,
    /// The sum of [`ArrayFacts::files`]' bytes.
    pub bytes_on_disk: u64,
    /// Bytes a compaction would give back: the dropped rows, plus any bytes of a plain data file
    /// past its recorded rows (the tail of an append that never committed).
    pub reclaimable_bytes: u64,
    /// Microseconds since the Unix epoch of the array's last change.
    pub last_modified: u64,
}

/// The facts of a store folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreFacts {
    /// The arrays in catalogue order (only the one asked for, if any).
    pub arrays: Vec<ArrayFacts>,
    /// Bytes of every file in the store folder, recursively (catalogue, lock and temporary
    /// files included).
    pub bytes_on_disk: u64,
    /// The sum of the listed arrays' reclaimable bytes.
    pub reclaimable_bytes: u64,
    /// The latest last change of any array in the store, or `None` for an empty store.
    pub last_modified: Option<u64>,
}

/// The facts of the store in `io`'s folder: every array, or only `only`
/// ([`Error::NotFound`] if the store has no such array). An error means the catalogue or an
/// array's files cannot be read; nothing is ever written.
pub fn facts(io: &impl Io, only: Option<&str>) -> Result<StoreFacts> {
    let records = match io.read_file(METADATA_FILE, metadata::MAX_METADATA_BYTES)? {
        Some(raw) => metadata::decode(&raw)?,
        None => Vec::new(),
    };
    let last_modified = records.iter().map(|r| r.last_modified).max();
    let mut files = BTreeMap::new();
    walk(io, "", &mut files)?;
    let mut arrays = Vec::new();
    for record in records {
        let segments = name::segments_dir(&record.name);
        if record.is_segmented() {
            // Back ends that list files only (not folders) still count the segment files.
            walk(io, &segments, &mut files)?;
        }
        if only.is_some_and(|o| o != record.name) {
            continue;
        }
        let data_file = record.data_file.clone();
        let bitmap = name::bitmap_file(&record.name);
        let segmented = record.is_segmented();
        let row_bytes = record.row_bytes()?;
        let info = Entry::load(io, record)?.info();
        let physical_rows = info.physical_shape.first().copied().unwrap_or(1);
        let live_rows = info.shape.first().copied().unwrap_or(1);
        let mut own: Vec<(String, u64)> = [&data_file, &bitmap]
            .into_iter()
            .filter_map(|f| files.get(f.as_str()).map(|&n| (f.clone(), n)))
            .collect();
        if segmented {
            let prefix = format!("{segments}/");
            own.extend(
                files
                    .range(prefix.clone()..)
                    .take_while(|(f, _)| f.starts_with(&prefix))
                    .map(|(f, &n)| (f.clone(), n)),
            );
        }
        let dropped = physical_rows.saturating_sub(live_rows);
        let tail = if segmented {
            0
        } else {
            let data_bytes = physical_rows.saturating_mul(row_bytes);
            own.first()
                .filter(|(f, _)| *f == data_file)
                .map_or(0, |(_, n)| n.saturating_sub(data_bytes))
        };
        arrays.push(ArrayFacts {
            bytes_on_disk: own.iter().map(|(_, n)| n).sum(),
            reclaimable_bytes: dropped.saturating_mul(row_bytes).saturating_add(tail),
            name: info.name,
            dtype: info.dtype,
            shape: info.shape,
            physical_shape: info.physical_shape,
            live_rows,
            dropped_rows: dropped,
            files: own,
            last_modified: info.last_modified,
        });
    }
    if let Some(o) = only
        && arrays.is_empty()
    {
        return Err(Error::NotFound(o.to_string()));
    }
    Ok(StoreFacts {
        bytes_on_disk: files.values().sum(),
        reclaimable_bytes: arrays.iter().map(|a| a.reclaimable_bytes).sum(),
        arrays,
        last_modified,
    })
}

/// Adds every file under the folder `dir` (relative paths) with its bytes to `files`. An entry
/// that lists as a folder is walked into (back ends that list folders); anything else is a
/// file whose length is taken.
fn walk(io: &impl Io, dir: &str, files: &mut BTreeMap<String, u64>) -> Result<()> {
    let names = match io.list(dir) {
        Ok(names) => names,
        Err(_) if !dir.is_empty() => return Ok(()), // no such folder (a segmented array's is missing)
        Err(e) => return Err(e),
    };
    for entry in names {
        let path = if dir.is_empty() {
            entry
        } else {
            format!("{dir}/{entry}")
        };
        if files.contains_key(&path) {
            continue;
        }
        if io.list(&path).is_ok() {
            walk(io, &path, files)?;
        } else if let Some(n) = io.len(&path)? {
            files.insert(path, n);
        }
    }
    Ok(())
}
