//! Staged writes and checked reads, for callers that spread one array over many processes
//! (`numpack.dask`): parts of a new array are written as plain files in a staging folder that
//! no catalogue points at, then [`Store::commit_staged`] makes them the array's segments in one
//! journaled commit (all or nothing); [`Store::read_range_if`] reads rows only if the array is
//! still the one a task graph was built against; [`Store::open_read_only`] opens a store over a
//! back end that cannot write (object storage).

use super::catalog::Entry;
use super::{ArrayInfo, ArrayLayout, LockGuard, Options, State, Store, commit};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::format::journal::Step;
use crate::format::metadata::{self, ArrayRecord};
use crate::format::segments::{self, Segment};
use crate::io::{Io, LockMode};
use crate::name;

/// The prefix of staging folders in a store folder. Readers never look inside them; a failed
/// staged write leaves at most such a folder behind, which its writer (or the next) removes.
pub const STAGE_PREFIX: &str = ".npk_stage_";

/// The name prefix of the staging folders of array `name` (the prefix, then the first 16 hex
/// digits of the SHA-256 of the name, then `_`): short whatever the array name, and distinct
/// per array, so a writer can find and remove the folders a dead writer of the same array left.
pub fn stage_root(name: &str) -> String {
    let mut h = crate::verify::sha256::Sha256::new();
    h.update(name.as_bytes());
    format!("{STAGE_PREFIX}{}_", &h.hex()[..16])
}

/// The path of the part holding logical rows `start..stop` in the staging folder `stage`: its
/// name records the rows, so [`staged_parts`] finds and orders the parts from the listing alone.
pub fn part_path(stage: &str, start: u64, stop: u64) -> Result<String> {
    if stop < start {
        return Err(Error::InvalidArgument(format!(
            "a staged part covers rows {start}..{stop}: its end is before its start"
        )));
    }
    let part = format!("{stage}/{start:020}_{stop:020}");
    check_part(&part)?;
    Ok(part)
}

/// The rows `start..stop` a part name made by [`part_path`] records, or `None` for another name.
fn part_rows(file: &str) -> Option<(u64, u64)> {
    let (a, b) = file.split_once('_')?;
    let digits = |s: &str| s.len() == 20 && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return None;
    }
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The parts in the staging folder `stage`, in row order as `(path, rows)`, checked to cover
/// rows `0..rows` exactly once (empty parts are skipped; other files are ignored: a part being
/// written is a `.tmp` file). A gap, an overlap or a short end is an error naming the rows.
pub fn staged_parts(io: &impl Io, stage: &str, rows: u64) -> Result<Vec<(String, u64)>> {
    check_part(&format!("{stage}/p"))?;
    let files = io.list(stage).map_err(|e| match e {
        Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound => Error::InvalidArgument(
            format!("the staging folder {stage} is gone (was the write aborted?)"),
        ),
        e => e,
    })?;
    let mut spans: Vec<(u64, u64, String)> = files
        .into_iter()
        .filter_map(|f| part_rows(&f).map(|(a, b)| (a, b, f)))
        .filter(|(a, b, _)| b > a)
        .collect();
    spans.sort();
    let mut at = 0;
    let mut parts = Vec::with_capacity(spans.len());
    for (start, stop, file) in spans {
        if start != at {
            return Err(Error::InvalidArgument(format!(
                "the staged parts do not cover rows {at}..{start} exactly once (was a block not \
                 written, or written twice with different bounds?)"
            )));
        }
        parts.push((format!("{stage}/{file}"), stop - start));
        at = stop;
    }
    if at != rows {
        return Err(Error::InvalidArgument(format!(
            "the staged parts end at row {at}, the array has {rows}"
        )));
    }
    Ok(parts)
}

/// Checks that `part` (a path relative to the store folder) is a file directly inside a staging
/// folder.
pub fn check_part(part: &str) -> Result<()> {
    let ok = part.strip_prefix(STAGE_PREFIX).is_some_and(|rest| {
        let mut it = rest.split('/');
        let (dir, file, more) = (it.next(), it.next(), it.next());
        more.is_none()
            && dir.is_some_and(|d| !d.is_empty() && !d.contains(".."))
            && file.is_some_and(|f| !f.is_empty() && f != "." && f != ".." && !f.ends_with(".tmp"))
    });
    if !ok {
        return Err(Error::InvalidArgument(format!(
            "{part:?} is not a staged part (a file directly inside a {STAGE_PREFIX}* folder)"
        )));
    }
    Ok(())
}

impl<I: Io> Store<I> {
    /// Opens the store for reading only: no recovery and no clean-up (nothing is written). A
    /// store with an unfinished commit (a journal) is an error: open it writable first.
    pub fn open_read_only(io: I) -> Result<Store<I>> {
        let mut store = Store {
            io,
            state: State::default(),
            options: Options::default(),
        };
        {
            let io = &store.io;
            io.lock(LockMode::Shared)?;
            let _guard = LockGuard(io);
            if commit::journal_present(io)? {
                return Err(Error::Locked(
                    "the store has an unfinished commit; open it writable once to finish it".into(),
                ));
            }
            store.state.load(io)?;
        }
        Ok(store)
    }

    /// Reads `count` logical rows of `name` from `start` into `out`, under one shared lock, only
    /// if the array's [`ArrayInfo`] still equals `expect` (every commit that changes an array
    /// changes its shape, files or modify time). Returns `false`, reading nothing, if it does not.
    pub fn read_range_if(
        &mut self,
        name: &str,
        expect: &ArrayInfo,
        start: u64,
        count: u64,
        out: &mut [u8],
    ) -> Result<bool> {
        self.read(|io, st| {
            let Ok(i) = st.find(name) else {
                return Ok(false);
            };
            let entry = &st.entries[i];
            if entry.info() != *expect {
                return Ok(false);
            }
            entry.read_range(io, start, count, out)?;
            Ok(true)
        })
    }

    /// Runs `f` on the layout of `name` under one shared lock (as [`Store::with_plan`]),
    /// only if the array's [`ArrayInfo`] still equals `expect`; `None`, running nothing, if not.
    pub fn with_layout_if<R>(
        &mut self,
        name: &str,
        expect: &ArrayInfo,
        f: impl FnOnce(&I, ArrayLayout) -> Result<R>,
    ) -> Result<Option<R>> {
        self.read(|io, st| {
            let Ok(i) = st.find(name) else {
                return Ok(None);
            };
            let entry = &st.entries[i];
            if entry.info() != *expect {
                return Ok(None);
            }
            f(io, entry.layout()?).map(Some)
        })
    }

    /// Makes the parts in the staging folder `stage` (written at [`part_path`]s) the rows of
    /// array `name`, in one commit, as [`Store::commit_staged`]; the parts must cover rows
    /// `0..shape[0]` exactly once ([`staged_parts`]), else nothing changes.
    pub fn commit_stage(
        &mut self,
        name: &str,
        dtype: DType,
        shape: &[u64],
        stage: &str,
    ) -> Result<()> {
        name::validate(name)?;
        let rows = *shape.first().ok_or_else(|| {
            Error::ShapeMismatch("a staged array has at least one dimension".into())
        })?;
        self.with_lock(LockMode::Exclusive, |io, st, opt| {
            let parts = staged_parts(io, stage, rows)?;
            commit_staged(io, st, opt, name, dtype, shape, &parts)
        })
    }

    /// Makes the staged files `parts` (each `(path, rows)`, in row order; paths inside a
    /// [`STAGE_PREFIX`] folder) the rows of array `name` of `dtype` and `shape`, creating it or
    /// replacing it whole, in one commit: after a crash either the array is the new one or the
    /// old one. Each part must hold exactly its rows' bytes and the rows must add up to
    /// `shape[0]`; otherwise nothing changes. The parts become the array's segment files.
    pub fn commit_staged(
        &mut self,
        name: &str,
        dtype: DType,
        shape: &[u64],
        parts: &[(String, u64)],
    ) -> Result<()> {
        name::validate(name)?;
        if shape.is_empty() {
            return Err(Error::ShapeMismatch(
                "a staged array has at least one dimension".into(),
            ));
        }
        for (part, _) in parts {
            check_part(part)?;
        }
        self.with_lock(LockMode::Exclusive, |io, st, opt| {
            commit_staged(io, st, opt, name, dtype, shape, parts)
        })
    }
}

fn commit_staged(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    name: &str,
    dtype: DType,
    shape: &[u64],
    parts: &[(String, u64)],
) -> Result<()> {
    let row_bytes = metadata::row_bytes(shape, dtype)?;
    let mut total: u64 = 0;
    for (part, rows) in parts {
        let want = rows
            .checked_mul(row_bytes)
            .ok_or_else(|| Error::ShapeMismatch(format!("{rows} rows overflow")))?;
        match io.len(part)? {
            Some(have) if have == want => {}
            have => {
                return Err(Error::InvalidArgument(format!(
                    "staged part {part} holds {} bytes, {rows} rows need {want} (was it removed \
                     by another writer?)",
                    have.map_or("no".to_string(), |h| h.to_string())
                )));
            }
        }
        total = total
            .checked_add(*rows)
            .ok_or_else(|| Error::ShapeMismatch("staged rows overflow".into()))?;
    }
    if total != shape[0] {
        return Err(Error::ShapeMismatch(format!(
            "staged parts hold {total} rows, the array has {}",
            shape[0]
        )));
    }
    let dir = name::segments_dir(name);
    let segs: Vec<Segment> = (0..parts.len())
        .map(|i| Segment {
            file: format!("{dir}/seg_{i:06}.npkd"),
            rows: parts[i].1,
        })
        .collect();
    let manifest = segments::encode(&segs, row_bytes);
    // What readers will parse must parse: refuse here rather than commit a corrupt manifest.
    segments::decode(manifest.as_bytes(), name, row_bytes, shape[0])?;
    let record = ArrayRecord {
        name: name.to_string(),
        shape: shape.to_vec(),
        data_file: name::manifest_file(name),
        last_modified: io.now_micros(),
        dtype,
    };
    let existing = st.find(name).ok();
    let mut steps: Vec<Step> = parts
        .iter()
        .zip(&segs)
        .map(|((from, _), s)| Step::Rename {
            from: from.clone(),
            to: s.file.clone(),
        })
        .collect();
    let manifest_tmp = name::staged(&record.data_file);
    steps.push(Step::Rename {
        from: manifest_tmp.clone(),
        to: record.data_file.clone(),
    });
    steps.push(Step::Remove(name::bitmap_file(name)));
    match existing.map(|i| &st.entries[i]) {
        Some(old) => match &old.segments {
            // Old segments the new ones do not overwrite go; the folder stays.
            Some(old_segs) => steps.extend(
                old_segs
                    .iter()
                    .filter(|o| !segs.iter().any(|s| s.file == o.file))
                    .map(|o| Step::Remove(o.file.clone())),
            ),
            None => steps.push(Step::Remove(old.record.data_file.clone())),
        },
        None => {
            metadata::check_len(metadata::encoded_len(
                st.entries.iter().map(|e| &e.record).chain([&record]),
            ))?;
            // A plain data file a killed writer left under this name is not part of the store.
            steps.push(Step::Remove(name::data_file(name)));
        }
    }
    io.create_dir(&dir)?;
    io.write_file(&manifest_tmp, manifest.as_bytes())?;
    let mut synced: Vec<String> = parts.iter().map(|(p, _)| p.clone()).collect();
    synced.push(manifest_tmp);
    let entry = Entry {
        record,
        segments: Some(segs),
        bitmap: None,
        bitmap_exact: false,
        map: crate::rows::RowMap::identity(shape[0]),
    };
    match existing {
        Some(i) => st.entries[i] = entry,
        None => st.entries.push(entry),
    }
    commit::commit(io, st, opt, steps, &synced)
}
