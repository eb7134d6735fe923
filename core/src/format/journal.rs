//! `commit.npkj`: the list of file moves, removals and in-place writes that make one multi-file
//! commit. It is written to `commit.npkj.tmp` and renamed into place: that rename is the commit
//! point. Whoever opens the store next (or the writer itself, straight after) applies the steps
//! in order and removes the journal; every step can be applied twice without harm.
//!
//! Layout: `"NPKJ"`, u32 version (1, or 2 when a step of kind 4 or 5 is present), u32 step
//! count, then per step a u8 kind and its fields; a path is a u32 length and UTF-8 bytes:
//! 1 rename (two paths), 2 remove file (path), 3 remove empty folder (path), 4 patch (path, u32
//! count, then per write u64 offset, u32 length and the bytes), 5 write file (path, u64 length
//! and the bytes).

use super::reader::Reader;
use crate::error::{Error, Result, corrupt};

/// Journal magic bytes.
pub const MAGIC: &[u8; 4] = b"NPKJ";
/// The largest journal readers accept; a writer refuses to commit a larger one. A commit's
/// journal lists at most five steps per array (a rename and the removal of a bitmap, data file,
/// manifest and segment folder: under 5·name + 90 bytes), while the array's catalogue record takes
/// at least 2·name + 61 bytes, so any commit of a catalogue within
/// [`super::metadata::MAX_METADATA_BYTES`] fits in three times that; four leaves room for a
/// patched commit too, which carries the catalogue itself and at most 4 MiB of patches (the
/// writer's cap, `store::write`).
pub const MAX_JOURNAL_BYTES: u64 = 4 * super::metadata::MAX_METADATA_BYTES;

/// One step of a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Move a file over another (skipped if the source is already gone).
    Rename {
        /// The file to move.
        from: String,
        /// Where it goes.
        to: String,
    },
    /// Remove a file (a missing file is fine).
    Remove(String),
    /// Remove an empty folder (a missing folder is fine).
    RemoveDir(String),
    /// Overwrite bytes of an existing file in place, each write inside its length (skipped if
    /// the file is gone). Used for a deletion bitmap's changed words.
    Patch {
        /// The file to change.
        path: String,
        /// `(byte offset, new bytes)`, in offset order, not overlapping.
        writes: Vec<(u64, Vec<u8>)>,
    },
    /// Create or truncate a file and write its whole content. Used to stage the new catalogue,
    /// so that the writer may exchange it into place and recovery still installs this one.
    WriteFile {
        /// The file to write.
        path: String,
        /// Its content.
        data: Vec<u8>,
    },
}

impl Step {
    /// Whether this kind of step needs a version-2 journal (readers of version 1 know kinds 1–3).
    fn needs_v2(&self) -> bool {
        matches!(self, Step::Patch { .. } | Step::WriteFile { .. })
    }
}

/// The size of the encoded journal of `steps`, or an error if readers would refuse it (the rule
/// writers check before they write anything).
pub fn checked_len(steps: &[Step]) -> Result<u64> {
    let len = 12
        + steps
            .iter()
            .map(|s| match s {
                Step::Rename { from, to } => 9 + from.len() as u64 + to.len() as u64,
                Step::Remove(p) | Step::RemoveDir(p) => 5 + p.len() as u64,
                Step::Patch { path, writes } => {
                    9 + path.len() as u64
                        + writes.iter().map(|(_, b)| 12 + b.len() as u64).sum::<u64>()
                }
                Step::WriteFile { path, data } => 13 + path.len() as u64 + data.len() as u64,
            })
            .sum::<u64>();

    if len > MAX_JOURNAL_BYTES {
        return Err(Error::InvalidArgument(format!(
            "the commit journal would be {len} bytes, over the {MAX_JOURNAL_BYTES}-byte limit readers accept"
        )));
    }
    Ok(len)
}

/// Encodes a journal; fails, before allocating it, if readers would refuse it.
pub fn encode(steps: &[Step]) -> Result<Vec<u8>> {
    let len = checked_len(steps)?;
    let mut out = Vec::with_capacity(len as usize);
    out.extend_from_slice(MAGIC);
    let version: u32 = if steps.iter().any(Step::needs_v2) {
        2
    } else {
        1
    };
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(steps.len() as u32).to_le_bytes());
    let put = |out: &mut Vec<u8>, s: &str| {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    for step in steps {
        match step {
            Step::Rename { from, to } => {
                out.push(1);
                put(&mut out, from);
                put(&mut out, to);
            }
            Step::Remove(p) => {
                out.push(2);
                put(&mut out, p);
            }
            Step::RemoveDir(p) => {
                out.push(3);
                put(&mut out, p);
            }
            Step::Patch { path, writes } => {
                out.push(4);
                put(&mut out, path);
                out.extend_from_slice(&(writes.len() as u32).to_le_bytes());
                for (offset, bytes) in writes {
                    out.extend_from_slice(&offset.to_le_bytes());
                    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                    out.extend_from_slice(bytes);
                }
            }
            Step::WriteFile { path, data } => {
                out.push(5);
                put(&mut out, path);
                out.extend_from_slice(&(data.len() as u64).to_le_bytes());
                out.extend_from_slice(data);
            }
        }
    }
    Ok(out)
}

/// Parses a journal; every path must stay inside the store folder.
pub fn decode(bytes: &[u8]) -> Result<Vec<Step>> {
    let mut r = Reader::new(bytes, "commit journal");
    if r.take(4)? != MAGIC {
        return Err(corrupt("commit journal: bad magic"));
    }
    let version = r.u32()?;
    if version != 1 && version != 2 {
        return Err(corrupt("commit journal: unknown version"));
    }
    let count = r.u32()? as usize;
    if count > r.remaining() / 5 {
        return Err(corrupt("commit journal: step count exceeds its size"));
    }
    let mut steps = Vec::with_capacity(count);
    for _ in 0..count {
        let path = |r: &mut Reader<'_>| -> Result<String> {
            let p = r.string(512)?;
            let inside = !p.is_empty()
                && !p.starts_with('/')
                && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
                && !p.contains('\\')
                && !p.contains('\0');
            if inside {
                Ok(p)
            } else {
                Err(corrupt(format!(
                    "commit journal: path {p:?} leaves the store"
                )))
            }
        };
        let step = match r.u8()? {
            1 => Step::Rename {
                from: path(&mut r)?,
                to: path(&mut r)?,
            },
            2 => Step::Remove(path(&mut r)?),
            3 => Step::RemoveDir(path(&mut r)?),
            4 if version == 2 => {
                let path = path(&mut r)?;
                let n = r.u32()? as usize;
                if n > r.remaining() / 12 {
                    return Err(corrupt("commit journal: patch count exceeds its size"));
                }
                let mut writes: Vec<(u64, Vec<u8>)> = Vec::with_capacity(n);
                for _ in 0..n {
                    let offset = r.u64()?;
                    let len = u64::from(r.u32()?);
                    let ordered = writes.last().is_none_or(|(o, b)| {
                        o.checked_add(b.len() as u64).is_some_and(|e| e <= offset)
                    });
                    if !ordered || offset.checked_add(len).is_none() {
                        return Err(corrupt("commit journal: patch writes out of order"));
                    }
                    writes.push((offset, r.take(len as usize)?.to_vec()));
                }
                Step::Patch { path, writes }
            }
            5 if version == 2 => {
                let path = path(&mut r)?;
                let len = r.u64()?;
                if len > r.remaining() as u64 {
                    return Err(corrupt("commit journal: file content exceeds its size"));
                }
                Step::WriteFile {
                    path,
                    data: r.take(len as usize)?.to_vec(),
                }
            }
            k => return Err(corrupt(format!("commit journal: unknown step kind {k}"))),
        };
        steps.push(step);
    }
    r.finish()?;
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_escape_attempts() {
        let steps = vec![
            Step::Rename {
                from: "data_a.npkd.tmp".into(),
                to: "data_a.npkd".into(),
            },
            Step::Remove("deleted_a.npkb".into()),
            Step::RemoveDir("data_a_segments".into()),
        ];
        assert_eq!(decode(&encode(&steps).unwrap()).unwrap(), steps);
        for evil in ["../x", "/etc/passwd", "a/../../b", ""] {
            assert!(
                decode(&encode(&[Step::Remove(evil.into())]).unwrap()).is_err(),
                "{evil}"
            );
        }
        let bytes = encode(&steps).unwrap();
        assert_eq!(bytes[4..8], 1u32.to_le_bytes(), "kinds 1-3 keep version 1");
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn patches_and_staged_files_need_version_2_and_round_trip() {
        let steps = vec![
            Step::Patch {
                path: "deleted_a.npkb".into(),
                writes: vec![(8, vec![1; 8]), (40, vec![2; 16])],
            },
            Step::WriteFile {
                path: "metadata.npkm.tmp".into(),
                data: b"NPKB...".to_vec(),
            },
            Step::Rename {
                from: "metadata.npkm.tmp".into(),
                to: "metadata.npkm".into(),
            },
        ];
        let bytes = encode(&steps).unwrap();
        assert_eq!(bytes.len() as u64, checked_len(&steps).unwrap());
        assert_eq!(bytes[4..8], 2u32.to_le_bytes());
        assert_eq!(decode(&bytes).unwrap(), steps);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err());
        }
        let mut v1 = bytes.clone();
        v1[4] = 1;
        assert!(
            decode(&v1).is_err(),
            "kinds 4 and 5 are refused in a version-1 journal"
        );
        for writes in [
            vec![(40, vec![2; 16]), (8, vec![1; 8])],
            vec![(8, vec![1; 8]), (12, vec![2; 8])],
            vec![(u64::MAX - 3, vec![1; 8])],
        ] {
            let bad = encode(&[Step::Patch {
                path: "deleted_a.npkb".into(),
                writes,
            }])
            .unwrap();
            assert!(decode(&bad).is_err(), "overlapping or wrapping writes");
        }
    }
}
