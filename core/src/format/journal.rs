//! `commit.npkj`: the list of file moves and removals that make one multi-file commit.
//! It is written to `commit.npkj.tmp` and renamed into place: that rename is the commit point.
//! Whoever opens the store next (or the writer itself, straight after) applies the steps in
//! order and removes the journal; every step can be applied twice without harm.
//!
//! Layout: `"NPKJ"`, u32 version 1, u32 step count, then per step a u8 kind
//! (1 = rename, 2 = remove file, 3 = remove empty folder) and one (kinds 2, 3) or two (kind 1)
//! u32-length-prefixed UTF-8 paths.

use super::reader::Reader;
use crate::error::{Error, Result, corrupt};

/// Journal magic bytes.
pub const MAGIC: &[u8; 4] = b"NPKJ";
/// The largest journal readers accept; a writer refuses to commit a larger one. A commit's
/// journal lists at most five steps per array (a rename and the removal of a bitmap, data file,
/// manifest and segment folder: under 5·name + 90 bytes), while the array's catalogue record takes
/// at least 2·name + 61 bytes, so any commit of a catalogue within
/// [`super::metadata::MAX_METADATA_BYTES`] fits in three times that; four leaves room.
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
    out.extend_from_slice(&1u32.to_le_bytes());
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
    if r.u32()? != 1 {
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
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err());
        }
    }
}
