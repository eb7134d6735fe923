//! A read-only consistency check of a whole store folder (`numpack verify`). Every rule it
//! applies is the store's own: the catalogue is decoded by [`metadata::decode`], each record's
//! files are checked by the same loader the store opens them with (data and segment sizes, the
//! deletion bitmap), and the journal by [`journal::decode`]. What it adds is the walk over the
//! folder: files named after an array that no record uses (orphans), and the temporary files a
//! killed writer leaves behind. It never writes; a writer's recovery (opening the store for
//! writing) finishes a pending journal and removes temporary files.

use std::collections::BTreeSet;

pub(crate) mod sha256;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::format::{JOURNAL_FILE, METADATA_FILE, journal, metadata};
use crate::io::Io;
use crate::name;
use crate::progress::Progress;
use crate::rows::Selection;
use crate::store::Store;
use crate::store::catalog::Entry;

/// The class of a problem [`verify`] finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// A commit journal is present (a writer died mid-commit) or cannot be decoded.
    Journal,
    /// An array's data file is missing or shorter than its shape needs.
    Data,
    /// An array's deletion bitmap is corrupt or disagrees with its shape.
    Bitmap,
    /// A segmented array's manifest or segment files are missing, corrupt or short.
    Segments,
    /// A file named after an array that no catalogue record uses.
    Orphan,
    /// A temporary file a killed writer left behind.
    Temp,
}

impl Fault {
    /// The lower-case name scripts see (`journal`, `data`, `bitmap`, `segments`, `orphan`,
    /// `temp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Journal => "journal",
            Fault::Data => "data",
            Fault::Bitmap => "bitmap",
            Fault::Segments => "segments",
            Fault::Orphan => "orphan",
            Fault::Temp => "temp",
        }
    }
}

/// One problem: its class, the file concerned (relative to the store folder) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The class of the problem.
    pub fault: Fault,
    /// The file concerned.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

fn problem(fault: Fault, path: &str, message: impl Into<String>) -> Problem {
    Problem {
        fault,
        path: path.to_string(),
        message: message.into(),
    }
}

/// Checks the store in `io`'s folder and lists every problem found (an empty list: the store is
/// clean). An error means the store cannot be checked at all: the folder cannot be listed or the
/// catalogue cannot be read or decoded.
pub fn verify(io: &impl Io) -> Result<Vec<Problem>> {
    let mut out = Vec::new();
    let files = io.list("")?;
    if let Some(raw) = io.read_file(JOURNAL_FILE, journal::MAX_JOURNAL_BYTES)? {
        let message = match journal::decode(&raw) {
            Ok(steps) => format!(
                "a writer died during a commit ({} steps pending); the next writer finishes it",
                steps.len()
            ),
            Err(e) => format!("the commit journal cannot be decoded: {e}"),
        };
        out.push(problem(Fault::Journal, JOURNAL_FILE, message));
    }
    let records = match io.read_file(METADATA_FILE, metadata::MAX_METADATA_BYTES)? {
        Some(raw) => metadata::decode(&raw)?,
        None => Vec::new(),
    };
    // Files the catalogue uses: data files or manifests, bitmaps, segment files.
    let mut used: BTreeSet<String> = BTreeSet::new();
    // Segment folders to look into: the segmented records' (back ends that list files only
    // never show a folder) and any `data_*_segments` folder the listing shows.
    let mut segment_dirs: BTreeSet<String> = files
        .iter()
        .filter(|f| f.starts_with("data_") && f.ends_with("_segments"))
        .cloned()
        .collect();
    for record in records {
        let bitmap = name::bitmap_file(&record.name);
        used.insert(record.data_file.clone());
        used.insert(bitmap.clone());
        let segmented = record.is_segmented();
        if segmented {
            segment_dirs.insert(name::segments_dir(&record.name));
        }
        let array = record.name.clone();
        let data_file = record.data_file.clone();
        let size = record.size_bytes();
        match Entry::load(io, record) {
            Ok(entry) => {
                for s in entry.segments.iter().flatten() {
                    used.insert(s.file.clone());
                }
            }
            Err(e) => {
                // The loader decided; this only labels the problem with the file it concerns.
                let short = match (size, io.len(&data_file)?) {
                    (Ok(need), Some(have)) => have < need,
                    (Ok(need), None) => need > 0,
                    (Err(_), _) => true,
                };
                if segmented {
                    // The array's segment files are its own, broken as it is: not orphans.
                    let dir = name::segments_dir(&array);
                    if let Ok(inside) = io.list(&dir) {
                        used.extend(inside.into_iter().map(|f| format!("{dir}/{f}")));
                    }
                }
                let (fault, path) = if segmented {
                    (Fault::Segments, data_file.as_str())
                } else if short {
                    (Fault::Data, data_file.as_str())
                } else {
                    (Fault::Bitmap, bitmap.as_str())
                };
                out.push(problem(fault, path, e.to_string()));
            }
        }
    }
    for file in &files {
        if let Some(staged_of) = file.strip_suffix(".tmp") {
            if staged_of == METADATA_FILE
                || staged_of == JOURNAL_FILE
                || name::is_array_file(staged_of)
            {
                out.push(problem(
                    Fault::Temp,
                    file,
                    "a temporary file of a commit that never finished (a writer removes it)",
                ));
            }
        } else if name::is_array_file(file) && !used.contains(file.as_str()) {
            out.push(problem(
                Fault::Orphan,
                file,
                "named after an array, but no array in the catalogue uses it",
            ));
        }
    }
    for dir in &segment_dirs {
        let inside = match io.list(dir) {
            Ok(inside) => inside,
            // Not a folder, or a segmented record's missing folder (its loader reported it).
            Err(Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotADirectory | std::io::ErrorKind::NotFound
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        for seg in inside {
            let path = format!("{dir}/{seg}");
            if !used.contains(&path) {
                out.push(problem(
                    Fault::Orphan,
                    &path,
                    "a segment file no segment manifest in the catalogue lists",
                ));
            }
        }
    }
    out.sort_by(|a, b| (a.fault, &a.path).cmp(&(b.fault, &b.path)));
    Ok(out)
}

/// One array's checksum (`numpack verify --save-checksums`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayChecksum {
    /// The array name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Logical shape.
    pub shape: Vec<u64>,
    /// SHA-256 of the array's logical bytes (live rows, C order, little-endian), 64 lower-case
    /// hex digits: NumPy's `hashlib.sha256(array.tobytes())`.
    pub sha256: String,
}

/// Bytes read per block while hashing.
const CHECKSUM_BLOCK_BYTES: u64 = 16 << 20;

/// The [`ArrayChecksum`] of every array of `store` in catalogue order, read about 16 MiB of
/// rows at a time; `progress` hears the bytes hashed of the total after each block (and may
/// cancel).
pub fn checksums<I: Io>(
    store: &mut Store<I>,
    progress: &mut impl Progress,
) -> Result<Vec<ArrayChecksum>> {
    let infos = store.infos()?;
    let mut total: u64 = 0;
    for info in &infos {
        let rows = info.shape.first().copied().unwrap_or(1);
        let bytes = rows.checked_mul(metadata::row_bytes(&info.shape, info.dtype)?);
        total = bytes
            .and_then(|b| total.checked_add(b))
            .ok_or_else(|| Error::OutOfMemory("the store's size overflows u64".into()))?;
    }
    let mut done = 0;
    let mut out = Vec::new();
    for info in infos {
        let mut h = sha256::Sha256::new();
        if info.shape.is_empty() {
            let (_, bytes) = store.read_selection(&info.name, &Selection::All)?;
            h.update(&bytes);
            done += bytes.len() as u64;
            progress.step(done, total)?;
        } else {
            let row_bytes = metadata::row_bytes(&info.shape, info.dtype)?;
            let rows = info.shape[0];
            let step = (CHECKSUM_BLOCK_BYTES / row_bytes.max(1)).max(1);
            let mut buf = Vec::new();
            let mut start = 0;
            while start < rows {
                let count = step.min(rows - start);
                let len = usize::try_from(count * row_bytes).map_err(|_| {
                    Error::OutOfMemory("a checksum block does not fit memory".into())
                })?;
                buf.resize(len, 0);
                store.read_range(&info.name, start, count, &mut buf)?;
                h.update(&buf);
                done += len as u64;
                progress.step(done, total)?;
                start += count;
            }
        }
        out.push(ArrayChecksum {
            name: info.name,
            dtype: info.dtype,
            shape: info.shape,
            sha256: h.hex(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::mem_io::MemIo;
    use crate::rows::Selection;
    use crate::store::{NewArray, Store};

    fn store_with_two_arrays() -> MemIo {
        let io = MemIo::new();
        let mut store = Store::open(io.clone()).unwrap();
        let a: Vec<u8> = (0..48u8).collect();
        let b = vec![1u8; 16];
        let arrays = [
            NewArray {
                name: "a",
                dtype: DType::Float32,
                shape: &[4, 3],
                data: &a,
            },
            NewArray {
                name: "b",
                dtype: DType::Int64,
                shape: &[2],
                data: &b,
            },
        ];
        store.save(&arrays).unwrap();
        store.drop_rows("a", &Selection::Indices(vec![1])).unwrap();
        io
    }

    fn faults(io: &MemIo) -> Vec<(Fault, String)> {
        verify(io)
            .unwrap()
            .into_iter()
            .map(|p| (p.fault, p.path))
            .collect()
    }

    #[test]
    fn a_clean_store_has_no_problems() {
        assert!(faults(&store_with_two_arrays()).is_empty());
        assert!(faults(&MemIo::default()).is_empty());
    }

    #[test]
    fn each_fault_class_is_found() {
        let io = store_with_two_arrays();
        io.set_len("data_b.npkd", 8).unwrap();
        io.write_file("deleted_a.npkb", &[1, 2, 3]).unwrap();
        io.write_file("data_gone.npkd", b"x").unwrap();
        io.write_file("metadata.npkm.tmp", b"x").unwrap();
        io.write_file(JOURNAL_FILE, b"garbage").unwrap();
        assert_eq!(
            faults(&io),
            [
                (Fault::Journal, JOURNAL_FILE.to_string()),
                (Fault::Data, "data_b.npkd".to_string()),
                (Fault::Bitmap, "deleted_a.npkb".to_string()),
                (Fault::Orphan, "data_gone.npkd".to_string()),
                (Fault::Temp, "metadata.npkm.tmp".to_string()),
            ]
        );
        io.write_file(METADATA_FILE, b"NPKB").unwrap();
        assert!(matches!(verify(&io), Err(Error::Corrupt(_))));
    }
}
