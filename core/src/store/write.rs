//! Every mutation: validate, write data where no committed catalogue points, then commit.

use super::catalog::Entry;
use super::commit::commit;
use super::data::zeroed;
use super::{Options, State};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::format::bitmap::Bitmap;
use crate::format::journal::{self, Step};
use crate::format::metadata::{self, ArrayRecord, row_bytes};
use crate::io::Io;
use crate::name;
use crate::progress::Progress;
use crate::rows::Selection;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Rows copied per read/write when an array is rewritten (compaction, clone, de-segmenting).
const COPY_CHUNK_BYTES: u64 = 8 << 20;

/// One array to save: its bytes are C-order little-endian elements.
#[derive(Clone, Copy, Debug)]
pub struct NewArray<'a> {
    /// The array name.
    pub name: &'a str,
    /// Element type.
    pub dtype: DType,
    /// Shape (any ndim; 0-d arrays hold one element).
    pub shape: &'a [u64],
    /// The elements, exactly `product(shape) × itemsize` bytes.
    pub data: &'a [u8],
}

fn tmp(path: &str) -> String {
    name::staged(path)
}

fn expect_bytes(what: &str, shape: &[u64], dtype: DType, data: &[u8]) -> Result<()> {
    let rows = shape.first().copied().unwrap_or(1);
    let want = row_bytes(shape, dtype)?
        .checked_mul(rows)
        .ok_or_else(|| Error::ShapeMismatch(format!("shape {shape:?} overflows")))?;
    if data.len() as u64 != want {
        return Err(Error::ShapeMismatch(format!(
            "{what}: {} bytes given for shape {shape:?} of {} ({want} bytes)",
            data.len(),
            dtype.numpy_name()
        )));
    }
    Ok(())
}

/// Steps that remove every file of an array except its plain data file.
fn remove_side_files(entry: &Entry, steps: &mut Vec<Step>) {
    steps.push(Step::Remove(name::bitmap_file(&entry.record.name)));
    if entry.segments.is_some() {
        // The manifest, then the folder with every segment file in it (segments never live
        // elsewhere: `segments::decode` refuses that).
        steps.push(Step::Remove(entry.record.data_file.clone()));
        steps.push(Step::RemoveDir(name::segments_dir(&entry.record.name)));
    }
}

/// Steps that remove every file of an array.
fn remove_all_files(entry: &Entry, steps: &mut Vec<Step>) {
    remove_side_files(entry, steps);
    steps.push(Step::Remove(name::data_file(&entry.record.name)));
}

pub(crate) fn save(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    arrays: &[NewArray<'_>],
) -> Result<()> {
    let mut given = HashSet::with_capacity(arrays.len());
    for a in arrays {
        name::validate(a.name)?;
        if !given.insert(a.name) {
            return Err(Error::InvalidArgument(format!(
                "array {:?} is given twice",
                a.name
            )));
        }
        if a.shape.len() > crate::format::metadata::MAX_NDIM as usize {
            return Err(Error::ShapeMismatch(format!(
                "{} dimensions is over the limit of 64",
                a.shape.len()
            )));
        }
        expect_bytes(a.name, a.shape, a.dtype, a.data)?;
    }
    if let [one] = arrays
        && let Some(done) = save_one_in_place(io, st, opt, one)?
    {
        return Ok(done);
    }
    // Plan the records and steps, and check them against the readers' limits, before any byte
    // is written.
    let now = io.now_micros();
    let existing: HashMap<&str, usize> = st
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.record.name.as_str(), i))
        .collect();
    let mut steps = Vec::new();
    let mut records = Vec::with_capacity(arrays.len());
    let mut slots = Vec::with_capacity(arrays.len());
    for a in arrays {
        let data_file = name::data_file(a.name);
        let slot = existing.get(a.name).copied();
        match slot {
            Some(i) => remove_side_files(&st.entries[i], &mut steps),
            // A stale bitmap left by another tool must not apply to the new array.
            None => steps.push(Step::Remove(name::bitmap_file(a.name))),
        }
        steps.push(Step::Rename {
            from: tmp(&data_file),
            to: data_file.clone(),
        });
        records.push(ArrayRecord {
            name: a.name.to_string(),
            shape: a.shape.to_vec(),
            data_file,
            last_modified: now,
            dtype: a.dtype,
        });
        slots.push(slot);
    }
    let kept = st
        .entries
        .iter()
        .filter(|e| !given.contains(e.record.name.as_str()))
        .map(|e| &e.record);
    metadata::check_len(metadata::encoded_len(kept.chain(&records)))?;
    journal::checked_len(&steps)?;
    let staged: Vec<String> = records.iter().map(|r| tmp(&r.data_file)).collect();
    for (k, a) in arrays.iter().enumerate() {
        if let Err(e) = io.write_file(&staged[k], a.data) {
            for written in &staged[..=k] {
                let _ = io.remove(written); // a failed call leaves nothing behind
            }
            return Err(e);
        }
    }
    for (record, slot) in records.into_iter().zip(slots) {
        match slot {
            Some(i) => st.entries[i] = Entry::plain(record),
            None => st.entries.push(Entry::plain(record)),
        }
    }
    commit(io, st, opt, steps, &staged)
}

/// `Ok` if the catalogue, with `record` added, stays within what readers accept.
fn check_catalogue_with(st: &State, record: &ArrayRecord) -> Result<()> {
    metadata::check_len(metadata::encoded_len(
        st.entries.iter().map(|e| &e.record).chain([record]),
    ))
}

/// Saves one array without a journal when its new data file can be renamed into place on its
/// own: the array is new (and no stale bitmap lies around) or keeps its shape and dtype and has
/// no bitmap or segments. The data rename is then the commit point of the bytes, and a single
/// catalogue rename follows; a crash between the two leaves the bytes saved and, for an existing
/// array, only its modify time at the old value (a new array stays absent: its file is an orphan).
/// Returns `None` when the journaled path is needed.
fn save_one_in_place(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    a: &NewArray<'_>,
) -> Result<Option<()>> {
    let existing = st.find(a.name).ok();
    let simple = match existing {
        Some(i) => {
            let e = &st.entries[i];
            e.record.shape == a.shape
                && e.record.dtype == a.dtype
                && e.bitmap.is_none()
                && e.segments.is_none()
        }
        None => io.len(&name::bitmap_file(a.name))?.is_none(),
    };
    if !simple {
        return Ok(None);
    }
    let data_file = name::data_file(a.name);
    let record = ArrayRecord {
        name: a.name.to_string(),
        shape: a.shape.to_vec(),
        data_file: data_file.clone(),
        last_modified: io.now_micros(),
        dtype: a.dtype,
    };
    if existing.is_none() {
        check_catalogue_with(st, &record)?;
    }
    let staged = tmp(&data_file);
    io.write_file(&staged, a.data)?;
    if opt.durable {
        io.sync(&staged)?;
    }
    io.rename(&staged, &data_file)?;
    match existing {
        Some(i) => st.entries[i] = Entry::plain(record),
        None => st.entries.push(Entry::plain(record)),
    }
    commit(io, st, opt, Vec::new(), &[]).map(Some)
}

/// Rewrites a segmented array as a plain data file (its own commit), so that it can grow.
fn desegment(io: &impl Io, st: &mut State, opt: Options, i: usize) -> Result<()> {
    if st.entries[i].segments.is_none() {
        return Ok(());
    }
    let entry = st.entries[i].clone();
    let data_file = name::data_file(&entry.record.name);
    copy_rows(
        io,
        &entry,
        &tmp(&data_file),
        |e, start, n, buf| e.read_physical(io, start, n, buf),
        entry.record.physical_rows(),
        &mut (),
    )?;
    let mut steps = Vec::new();
    steps.push(Step::Remove(entry.record.data_file.clone()));
    for s in entry.segments.iter().flatten() {
        steps.push(Step::Remove(s.file.clone()));
    }
    steps.push(Step::RemoveDir(name::segments_dir(&entry.record.name)));
    steps.push(Step::Rename {
        from: tmp(&data_file),
        to: data_file.clone(),
    });
    let e = &mut st.entries[i];
    e.record.data_file = data_file;
    e.segments = None;
    commit(
        io,
        st,
        opt,
        steps,
        &[tmp(&name::data_file(&entry.record.name))],
    )
}

/// Streams `rows` rows of `entry` (read by `read`) into a fresh file `dst`.
fn copy_rows<I: Io>(
    io: &I,
    entry: &Entry,
    dst: &str,
    read: impl Fn(&Entry, u64, u64, &mut [u8]) -> Result<()>,
    rows: u64,
    hook: &mut dyn Progress,
) -> Result<()> {
    let rb = entry.row_bytes()?;
    io.write_file(dst, &[])?;
    let chunk = (COPY_CHUNK_BYTES / rb.max(1)).max(1);
    let mut done = 0;
    while done < rows {
        let n = chunk.min(rows - done);
        let mut buf = zeroed(n, rb)?;
        read(entry, done, n, &mut buf)?;
        io.write_at(dst, done * rb, &buf)?;
        done += n;
        hook.step(done, rows)?;
    }
    Ok(())
}

/// Checks rows written into `entry` and casts them to its dtype ([`crate::cast`], NumPy's
/// `same_kind` rule): rows of the stored row shape (or one row without the leading axis), and
/// bytes that match. Returns the row count and the rows as stored elements.
fn fit_rows<'a>(entry: &Entry, what: &str, a: &NewArray<'a>) -> Result<(u64, Cow<'a, [u8]>)> {
    let rec = &entry.record;
    if rec.shape.is_empty() {
        return Err(Error::ShapeMismatch(format!(
            "{what}: {:?} is 0-d and has no rows",
            rec.name
        )));
    }
    let one_row: Vec<u64>;
    let shape = if a.shape.len() + 1 == rec.shape.len() && a.shape == &rec.shape[1..] {
        one_row = std::iter::once(1).chain(a.shape.iter().copied()).collect();
        &one_row[..]
    } else {
        a.shape
    };
    if shape.len() != rec.shape.len() || shape[1..] != rec.shape[1..] {
        return Err(Error::ShapeMismatch(format!(
            "{what}: rows of shape {:?} do not fit {:?} of shape {:?}",
            shape.get(1..).unwrap_or(&[]),
            rec.name,
            rec.shape
        )));
    }
    expect_bytes(what, shape, a.dtype, a.data)?;
    let data = crate::cast::cast(&rec.name, a.dtype, rec.dtype, a.data)?;
    Ok((shape[0], data))
}

/// Names given to one call must differ: the call's checks would otherwise see stale state.
fn unique_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(Error::InvalidArgument(format!(
                "array {n:?} is given twice"
            )));
        }
    }
    Ok(())
}

/// Appends rows to several arrays in one commit. Every array is checked before any byte is
/// written; the rows land past the committed ends, where no reader looks until the commit.
pub(crate) fn append(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    arrays: &[NewArray<'_>],
) -> Result<()> {
    unique_names(arrays.iter().map(|a| a.name))?;
    let mut targets = Vec::with_capacity(arrays.len());
    for a in arrays {
        let i = st.find(a.name)?;
        let entry = &st.entries[i];
        let (rows, data) = fit_rows(entry, "append", a)?;
        let new_rows = entry
            .record
            .physical_rows()
            .checked_add(rows)
            .ok_or_else(|| Error::ShapeMismatch("row count overflows".into()))?;
        if entry.bitmap.is_some() {
            Bitmap::check_rows(new_rows)?;
        }
        if rows > 0 {
            targets.push((i, new_rows, data));
        }
    }
    if targets.is_empty() {
        return Ok(());
    }
    for &(i, ..) in &targets {
        desegment(io, st, opt, i)?;
    }
    let now = io.now_micros();
    let mut steps = Vec::new();
    let mut synced = Vec::new();
    for (i, new_rows, data) in targets {
        let entry = &mut st.entries[i];
        let committed = entry.record.size_bytes()?;
        let file = entry.record.data_file.clone();
        if io.len(&file)?.is_some_and(|len| len > committed) {
            io.set_len(&file, committed)?; // the tail of an append that never committed
        }
        io.write_at(&file, committed, &data)?;
        entry.record.shape[0] = new_rows;
        if let Some(mut bitmap) = entry.bitmap.clone() {
            bitmap.resize(new_rows);
            let path = name::bitmap_file(&entry.record.name);
            io.write_file(&tmp(&path), &bitmap.encode()?)?;
            steps.push(Step::Rename {
                from: tmp(&path),
                to: path,
            });
            entry.set_bitmap(Some(bitmap));
        } else {
            entry.set_bitmap(None);
        }
        entry.record.last_modified = now;
        synced.push(file);
    }
    commit(io, st, opt, steps, &synced)
}

/// Resolves a selection to physical rows, rejecting duplicates when `unique` is set.
fn physical_rows(entry: &Entry, selection: &Selection, unique: bool) -> Result<Vec<u64>> {
    if entry.record.shape.is_empty() {
        return Err(Error::ShapeMismatch(format!(
            "{:?} is 0-d and has no rows",
            entry.record.name
        )));
    }
    let logical = selection.resolve(entry.map.len())?;
    if unique {
        let mut sorted = logical.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::InvalidArgument(format!(
                "row {} is given twice",
                w[0]
            )));
        }
    }
    Ok(logical
        .into_iter()
        .map(|l| entry.map.to_physical(l))
        .collect())
}

/// The distinct physical rows a drop's selection names, in order: the logical rows are sorted
/// first, so the lookups walk the row map forwards (and come out sorted).
fn dropped_rows(entry: &Entry, selection: &Selection) -> Result<Vec<u64>> {
    if entry.record.shape.is_empty() {
        return Err(Error::ShapeMismatch(format!(
            "{:?} is 0-d and has no rows",
            entry.record.name
        )));
    }
    let mut logical = selection.resolve(entry.map.len())?;
    logical.sort_unstable();
    logical.dedup();
    entry.map.to_physical_sorted(&mut logical);
    Ok(logical)
}

/// Overwrites selected rows of several arrays, then commits once. Every array and selection is
/// checked before any row is written.
pub(crate) fn replace(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    updates: &[(&Selection, NewArray<'_>)],
) -> Result<()> {
    unique_names(updates.iter().map(|(_, a)| a.name))?;
    let mut planned = Vec::with_capacity(updates.len());
    for (selection, a) in updates {
        let i = st.find(a.name)?;
        let entry = &st.entries[i];
        let (rows, data) = fit_rows(entry, "replace", a)?;
        let targets = physical_rows(entry, selection, true)?;
        if targets.len() as u64 != rows {
            return Err(Error::ShapeMismatch(format!(
                "replace: {rows} rows given for {} indices",
                targets.len()
            )));
        }
        if rows > 0 {
            planned.push((i, targets, data));
        }
    }
    if planned.is_empty() {
        return Ok(());
    }
    let now = io.now_micros();
    let mut synced = Vec::new();
    for (i, targets, data) in planned {
        let entry = &st.entries[i];
        write_rows(io, entry, &targets, &data)?;
        match &entry.segments {
            Some(segs) => synced.extend(segs.iter().map(|s| s.file.clone())),
            None => synced.push(entry.record.data_file.clone()),
        }
        st.entries[i].record.last_modified = now;
    }
    commit(io, st, opt, Vec::new(), &synced)
}

/// Writes row `k` of `data` over physical row `targets[k]`, in file order, one range per run of
/// consecutive rows: all of them in one [`Io::overwrite`] for a plain array (a back end with
/// mappings copies them in), through the segments' spans for a segmented one.
fn write_rows(io: &impl Io, entry: &Entry, targets: &[u64], data: &[u8]) -> Result<()> {
    let rb = entry.row_bytes()? as usize;
    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.sort_unstable_by_key(|&k| targets[k]);
    // Runs of consecutive target rows: (first row, positions in `order`).
    let mut runs: Vec<(u64, std::ops::Range<usize>)> = Vec::new();
    let mut k = 0;
    while k < order.len() {
        let start = targets[order[k]];
        let mut n = 1;
        while k + n < order.len() && targets[order[k + n]] == start + n as u64 {
            n += 1;
        }
        runs.push((start, k..k + n));
        k += n;
    }
    let bytes_of = |range: &std::ops::Range<usize>| -> Vec<u8> {
        let mut run = Vec::with_capacity(range.len() * rb);
        for &src in &order[range.clone()] {
            run.extend_from_slice(&data[src * rb..(src + 1) * rb]);
        }
        run
    };
    if entry.segments.is_some() {
        for (start, range) in &runs {
            entry.write_physical(io, *start, &bytes_of(range))?;
        }
        return Ok(());
    }
    // Single rows are written from `data` itself; longer runs are gathered first.
    let gathered: Vec<Vec<u8>> = runs
        .iter()
        .filter(|(_, r)| r.len() > 1)
        .map(|(_, r)| bytes_of(r))
        .collect();
    let mut longer = gathered.iter();
    let mut writes: Vec<(u64, &[u8])> = Vec::with_capacity(runs.len());
    for (start, range) in &runs {
        let bytes = if range.len() == 1 {
            let src = order[range.start];
            &data[src * rb..(src + 1) * rb]
        } else {
            longer.next().map_or(&[][..], Vec::as_slice)
        };
        writes.push((start * rb as u64, bytes));
    }
    io.overwrite(&entry.record.data_file, &writes)
}

/// The most bitmap words one call patches in place (a journal of about 1.3 MiB); a drop that
/// touches more rewrites the bitmaps whole.
const PATCH_MAX_WORDS: usize = 1 << 16;

/// Drops the selected rows of several arrays in one commit. Every selection is resolved and
/// checked before anything is written. An array whose bitmap file is in the current layout has
/// only its changed words (and dropped count) patched in place, through the journal; others get
/// a whole new bitmap file.
pub(crate) fn drop_rows(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    names: &[&str],
    selection: &Selection,
) -> Result<()> {
    unique_names(names.iter().copied())?;
    let mut planned = Vec::with_capacity(names.len());
    for &n in names {
        let i = st.find(n)?;
        let entry = &st.entries[i];
        Bitmap::check_rows(entry.record.physical_rows())?;
        let targets = dropped_rows(entry, selection)?;
        if targets.is_empty() {
            continue;
        }
        planned.push((i, targets));
    }
    if planned.is_empty() {
        return Ok(());
    }
    let touched_words: usize = planned.iter().map(|(_, t)| t.len()).sum();
    // Patch in place only bitmap files in the current layout (`Entry::bitmap_exact`): a legacy
    // file, one covering more or fewer rows, or none at all is rewritten whole instead.
    let patch = touched_words <= PATCH_MAX_WORDS
        && planned.iter().all(|(i, _)| st.entries[*i].bitmap_exact);
    let now = io.now_micros();
    let mut steps = Vec::new();
    if patch {
        for (i, targets) in planned {
            let entry = &mut st.entries[i];
            let path = name::bitmap_file(&entry.record.name);
            let Some(bitmap) = entry.bitmap.as_mut() else {
                continue; // (patchable: every entry has one)
            };
            for &p in &targets {
                bitmap.drop_row(p)?;
            }
            entry.map.drop_rows(bitmap, &targets);
            let mut touched: Vec<u64> = targets.iter().map(|p| p / 64).collect();
            touched.dedup();
            let dropped = bitmap.rows() - entry.map.len();
            steps.push(Step::Patch {
                path,
                writes: bitmap.patch(dropped, &touched),
            });
            entry.record.last_modified = now;
        }
        return commit(io, st, opt, steps, &[]);
    }
    let mut rebuilt = Vec::with_capacity(planned.len());
    for (i, targets) in planned {
        let entry = &st.entries[i];
        let mut bitmap = entry
            .bitmap
            .clone()
            .unwrap_or_else(|| Bitmap::all_live(entry.record.physical_rows()));
        for &p in &targets {
            bitmap.drop_row(p)?;
        }
        let bytes = bitmap.encode()?;
        rebuilt.push((i, bitmap, bytes));
    }
    let mut synced: Vec<String> = Vec::new();
    for (i, bitmap, bytes) in rebuilt {
        let path = name::bitmap_file(&st.entries[i].record.name);
        if let Err(e) = io.write_file(&tmp(&path), &bytes) {
            for written in &synced {
                let _ = io.remove(written); // a failed call leaves nothing behind
            }
            return Err(e);
        }
        synced.push(tmp(&path));
        steps.push(Step::Rename {
            from: tmp(&path),
            to: path,
        });
        let entry = &mut st.entries[i];
        entry.set_bitmap(Some(bitmap));
        entry.record.last_modified = now;
    }
    commit(io, st, opt, steps, &synced)
}

pub(crate) fn drop_arrays(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    names: &[&str],
) -> Result<()> {
    let mut steps = Vec::new();
    for &n in names {
        let i = st.find(n)?;
        remove_all_files(&st.entries[i], &mut steps);
        st.entries.remove(i);
    }
    commit(io, st, opt, steps, &[])
}

/// Rewrites `name` without its dropped rows; `hook` gets rows copied, and an error from it (or
/// from the copy) removes the half-written file and leaves the store as it was.
pub(crate) fn compact(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    name: &str,
    hook: &mut dyn Progress,
) -> Result<()> {
    let i = st.find(name)?;
    let entry = st.entries[i].clone();
    if entry.bitmap.is_none() && entry.segments.is_none() {
        return Ok(());
    }
    let data_file = name::data_file(name);
    let live = if entry.record.shape.is_empty() {
        1
    } else {
        entry.map.len()
    };
    if let Err(e) = copy_rows(
        io,
        &entry,
        &tmp(&data_file),
        |e, start, n, buf| e.read_range(io, start, n, buf),
        live,
        hook,
    ) {
        let _ = io.remove(&tmp(&data_file)); // a failed call leaves nothing behind
        return Err(e);
    }
    let mut steps = Vec::new();
    remove_side_files(&entry, &mut steps);
    steps.push(Step::Rename {
        from: tmp(&data_file),
        to: data_file.clone(),
    });
    let mut record = entry.record.clone();
    if let Some(rows) = record.shape.first_mut() {
        *rows = live;
    }
    record.data_file = data_file.clone();
    record.last_modified = io.now_micros();
    st.entries[i] = Entry::plain(record);
    commit(io, st, opt, steps, &[tmp(&data_file)])
}

/// Copies the logical rows of `src` into a new array `dst`; `hook` gets rows copied, and an
/// error from it (or from the copy) removes the half-written file and leaves the store as it was.
pub(crate) fn clone_array(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    src: &str,
    dst: &str,
    hook: &mut dyn Progress,
) -> Result<()> {
    name::validate(dst)?;
    let entry = st.entries[st.find(src)?].clone();
    if st.find(dst).is_ok() {
        return Err(Error::InvalidArgument(format!(
            "array {dst:?} already exists"
        )));
    }
    let data_file = name::data_file(dst);
    let live = if entry.record.shape.is_empty() {
        1
    } else {
        entry.map.len()
    };
    let mut shape = entry.record.shape.clone();
    if let Some(rows) = shape.first_mut() {
        *rows = live;
    }
    let record = ArrayRecord {
        name: dst.to_string(),
        shape,
        data_file: data_file.clone(),
        last_modified: io.now_micros(),
        dtype: entry.record.dtype,
    };
    check_catalogue_with(st, &record)?;
    if let Err(e) = copy_rows(
        io,
        &entry,
        &tmp(&data_file),
        |e, start, n, buf| e.read_range(io, start, n, buf),
        live,
        hook,
    ) {
        let _ = io.remove(&tmp(&data_file)); // a failed call leaves nothing behind
        return Err(e);
    }
    st.entries.push(Entry::plain(record));
    let steps = vec![
        Step::Remove(name::bitmap_file(dst)),
        Step::Rename {
            from: tmp(&data_file),
            to: data_file,
        },
    ];
    commit(io, st, opt, steps, &[tmp(&name::data_file(dst))])
}

pub(crate) fn reset(io: &impl Io, st: &mut State, opt: Options) -> Result<()> {
    let mut steps = Vec::new();
    for e in &st.entries {
        remove_all_files(e, &mut steps);
    }
    st.entries.clear();
    commit(io, st, opt, steps, &[])?;
    // Stray files of arrays no catalogue lists (upstream leaves them after crashes) are garbage,
    // not part of the store: removed after the commit, never listed in its journal.
    for f in io.list("")? {
        if name::is_array_file(&f) {
            io.remove(&f)?;
        }
    }
    Ok(())
}
