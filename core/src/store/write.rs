//! Every mutation: validate, write data where no committed catalogue points, then commit.

use super::catalog::Entry;
use super::commit::commit;
use super::data::checked_len;
use super::{Options, State};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::format::bitmap::Bitmap;
use crate::format::journal::Step;
use crate::format::metadata::{row_bytes, ArrayRecord};
use crate::io::Io;
use crate::name;
use crate::rows::Selection;

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
    format!("{path}.tmp")
}

fn expect_bytes(what: &str, shape: &[u64], dtype: DType, data: &[u8]) -> Result<()> {
    let rows = shape.first().copied().unwrap_or(1);
    let want = row_bytes(shape, dtype)?
        .checked_mul(rows)
        .ok_or_else(|| Error::ShapeMismatch(format!("shape {shape:?} overflows")))?;
    if data.len() as u64 != want {
        return Err(Error::ShapeMismatch(format!("{what}: {} bytes given for shape {shape:?} of {} ({want} bytes)", data.len(), dtype.numpy_name())));
    }
    Ok(())
}

/// Steps that remove every file of an array except its plain data file.
fn remove_side_files(entry: &Entry, steps: &mut Vec<Step>) {
    steps.push(Step::Remove(name::bitmap_file(&entry.record.name)));
    if let Some(segs) = &entry.segments {
        steps.push(Step::Remove(entry.record.data_file.clone()));
        for s in segs {
            steps.push(Step::Remove(s.file.clone()));
        }
        steps.push(Step::RemoveDir(name::segments_dir(&entry.record.name)));
    }
}

/// Steps that remove every file of an array.
fn remove_all_files(entry: &Entry, steps: &mut Vec<Step>) {
    remove_side_files(entry, steps);
    steps.push(Step::Remove(name::data_file(&entry.record.name)));
}

pub(crate) fn save(io: &impl Io, st: &mut State, opt: Options, arrays: &[NewArray<'_>]) -> Result<()> {
    for (i, a) in arrays.iter().enumerate() {
        name::validate(a.name)?;
        if arrays[..i].iter().any(|b| b.name == a.name) {
            return Err(Error::InvalidArgument(format!("array {:?} is given twice", a.name)));
        }
        if a.shape.len() > crate::format::metadata::MAX_NDIM as usize {
            return Err(Error::ShapeMismatch(format!("{} dimensions is over the limit of 64", a.shape.len())));
        }
        expect_bytes(a.name, a.shape, a.dtype, a.data)?;
    }
    if let [one] = arrays
        && let Some(done) = save_one_in_place(io, st, opt, one)? {
            return Ok(done);
        }
    let now = io.now_micros();
    let mut steps = Vec::new();
    let mut synced = Vec::new();
    for a in arrays {
        let data_file = name::data_file(a.name);
        io.write_file(&tmp(&data_file), a.data)?;
        synced.push(tmp(&data_file));
        let record = ArrayRecord { name: a.name.to_string(), shape: a.shape.to_vec(), data_file: data_file.clone(), last_modified: now, dtype: a.dtype };
        match st.find(a.name) {
            Ok(i) => {
                remove_side_files(&st.entries[i], &mut steps);
                st.entries[i] = Entry::plain(record);
            }
            Err(_) => {
                // A stale bitmap left by another tool must not apply to the new array.
                steps.push(Step::Remove(name::bitmap_file(a.name)));
                st.entries.push(Entry::plain(record));
            }
        }
        steps.push(Step::Rename { from: tmp(&data_file), to: data_file });
    }
    commit(io, st, opt, steps, &synced)
}

/// Saves one array without a journal when its new data file can be renamed into place on its
/// own: the array is new (and no stale bitmap lies around) or keeps its shape and dtype and has
/// no bitmap or segments. The data rename is then the commit point of the bytes, and a single
/// catalogue rename follows; a crash between the two leaves the bytes saved and, for an existing
/// array, only its modify time at the old value (a new array stays absent: its file is an orphan).
/// Returns `None` when the journaled path is needed.
fn save_one_in_place(io: &impl Io, st: &mut State, opt: Options, a: &NewArray<'_>) -> Result<Option<()>> {
    let existing = st.find(a.name).ok();
    let simple = match existing {
        Some(i) => {
            let e = &st.entries[i];
            e.record.shape == a.shape && e.record.dtype == a.dtype && e.bitmap.is_none() && e.segments.is_none()
        }
        None => io.len(&name::bitmap_file(a.name))?.is_none(),
    };
    if !simple {
        return Ok(None);
    }
    let data_file = name::data_file(a.name);
    let staged = tmp(&data_file);
    io.write_file(&staged, a.data)?;
    if opt.durable {
        io.sync(&staged)?;
    }
    io.rename(&staged, &data_file)?;
    let record = ArrayRecord { name: a.name.to_string(), shape: a.shape.to_vec(), data_file, last_modified: io.now_micros(), dtype: a.dtype };
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
    copy_rows(io, &entry, &tmp(&data_file), |e, start, n, buf| e.read_physical(io, start, n, buf), entry.record.physical_rows())?;
    let mut steps = Vec::new();
    steps.push(Step::Remove(entry.record.data_file.clone()));
    for s in entry.segments.iter().flatten() {
        steps.push(Step::Remove(s.file.clone()));
    }
    steps.push(Step::RemoveDir(name::segments_dir(&entry.record.name)));
    steps.push(Step::Rename { from: tmp(&data_file), to: data_file.clone() });
    let e = &mut st.entries[i];
    e.record.data_file = data_file;
    e.segments = None;
    commit(io, st, opt, steps, &[tmp(&name::data_file(&entry.record.name))])
}

/// Streams `rows` rows of `entry` (read by `read`) into a fresh file `dst`.
fn copy_rows<I: Io>(io: &I, entry: &Entry, dst: &str, read: impl Fn(&Entry, u64, u64, &mut [u8]) -> Result<()>, rows: u64) -> Result<()> {
    let rb = entry.row_bytes()?;
    io.write_file(dst, &[])?;
    let chunk = (COPY_CHUNK_BYTES / rb.max(1)).max(1);
    let mut buf = Vec::new();
    let mut done = 0;
    while done < rows {
        let n = chunk.min(rows - done);
        buf.resize(checked_len(n, rb)?, 0);
        read(entry, done, n, &mut buf)?;
        io.write_at(dst, done * rb, &buf)?;
        done += n;
    }
    Ok(())
}

fn check_rows(entry: &Entry, what: &str, dtype: DType, shape: &[u64], data: &[u8]) -> Result<u64> {
    let rec = &entry.record;
    if rec.shape.is_empty() {
        return Err(Error::ShapeMismatch(format!("{what}: {:?} is 0-d and has no rows", rec.name)));
    }
    if dtype != rec.dtype {
        return Err(Error::DtypeMismatch(format!("{what}: {:?} holds {}, not {}", rec.name, rec.dtype.numpy_name(), dtype.numpy_name())));
    }
    if shape.len() != rec.shape.len() || shape[1..] != rec.shape[1..] {
        return Err(Error::ShapeMismatch(format!("{what}: rows of shape {:?} do not fit {:?} of shape {:?}", shape.get(1..).unwrap_or(&[]), rec.name, rec.shape)));
    }
    expect_bytes(what, shape, dtype, data)?;
    Ok(shape[0])
}

pub(crate) fn append(io: &impl Io, st: &mut State, opt: Options, name: &str, dtype: DType, shape: &[u64], data: &[u8]) -> Result<()> {
    let i = st.find(name)?;
    let rows = check_rows(&st.entries[i], "append", dtype, shape, data)?;
    if rows == 0 {
        return Ok(());
    }
    desegment(io, st, opt, i)?;
    let entry = &mut st.entries[i];
    let old_rows = entry.record.physical_rows();
    let new_rows = old_rows.checked_add(rows).ok_or_else(|| Error::ShapeMismatch("row count overflows".into()))?;
    let committed = entry.record.size_bytes()?;
    let file = entry.record.data_file.clone();
    if io.len(&file)?.is_some_and(|len| len > committed) {
        io.set_len(&file, committed)?; // the tail of an append that never committed
    }
    io.write_at(&file, committed, data)?;
    let mut steps = Vec::new();
    if let Some(mut bitmap) = entry.bitmap.clone() {
        bitmap.resize(new_rows);
        let path = name::bitmap_file(name);
        io.write_file(&tmp(&path), &bitmap.encode())?;
        steps.push(Step::Rename { from: tmp(&path), to: path });
        entry.record.shape[0] = new_rows;
        entry.set_bitmap(Some(bitmap));
    } else {
        entry.record.shape[0] = new_rows;
        entry.set_bitmap(None);
    }
    entry.record.last_modified = io.now_micros();
    commit(io, st, opt, steps, &[file])
}

/// Resolves a selection to physical rows, rejecting duplicates when `unique` is set.
fn physical_rows(entry: &Entry, selection: &Selection, unique: bool) -> Result<Vec<u64>> {
    if entry.record.shape.is_empty() {
        return Err(Error::ShapeMismatch(format!("{:?} is 0-d and has no rows", entry.record.name)));
    }
    let logical = selection.resolve(entry.map.len())?;
    if unique {
        let mut sorted = logical.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::InvalidArgument(format!("row {} is given twice", w[0])));
        }
    }
    Ok(logical.into_iter().map(|l| entry.map.to_physical(l)).collect())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn replace(io: &impl Io, st: &mut State, opt: Options, name: &str, selection: &Selection, dtype: DType, shape: &[u64], data: &[u8]) -> Result<()> {
    let i = st.find(name)?;
    let entry = &st.entries[i];
    let rows = check_rows(entry, "replace", dtype, shape, data)?;
    let targets = physical_rows(entry, selection, true)?;
    if targets.len() as u64 != rows {
        return Err(Error::ShapeMismatch(format!("replace: {rows} rows given for {} indices", targets.len())));
    }
    if rows == 0 {
        return Ok(());
    }
    let rb = entry.row_bytes()? as usize;
    // Write in file order, coalescing runs of consecutive rows into one write.
    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.sort_unstable_by_key(|&k| targets[k]);
    let mut run: Vec<u8> = Vec::new();
    let mut k = 0;
    while k < order.len() {
        let start = targets[order[k]];
        let mut n = 1;
        while k + n < order.len() && targets[order[k + n]] == start + n as u64 {
            n += 1;
        }
        if n == 1 {
            entry.write_physical(io, start, &data[order[k] * rb..(order[k] + 1) * rb])?;
        } else {
            run.clear();
            for &src in &order[k..k + n] {
                run.extend_from_slice(&data[src * rb..(src + 1) * rb]);
            }
            entry.write_physical(io, start, &run)?;
        }
        k += n;
    }
    let synced: Vec<String> = match &entry.segments {
        Some(segs) => segs.iter().map(|s| s.file.clone()).collect(),
        None => vec![entry.record.data_file.clone()],
    };
    st.entries[i].record.last_modified = io.now_micros();
    commit(io, st, opt, Vec::new(), &synced)
}

pub(crate) fn drop_rows(io: &impl Io, st: &mut State, opt: Options, name: &str, selection: &Selection) -> Result<()> {
    let i = st.find(name)?;
    let entry = &mut st.entries[i];
    let targets = physical_rows(entry, selection, false)?;
    if targets.is_empty() {
        return Ok(());
    }
    let mut bitmap = entry.bitmap.clone().unwrap_or_else(|| Bitmap::all_live(entry.record.physical_rows()));
    for &p in &targets {
        bitmap.drop_row(p);
    }
    let path = name::bitmap_file(name);
    io.write_file(&tmp(&path), &bitmap.encode())?;
    entry.set_bitmap(Some(bitmap));
    entry.record.last_modified = io.now_micros();
    commit(io, st, opt, vec![Step::Rename { from: tmp(&path), to: path.clone() }], &[tmp(&path)])
}

pub(crate) fn drop_arrays(io: &impl Io, st: &mut State, opt: Options, names: &[&str]) -> Result<()> {
    let mut steps = Vec::new();
    for &n in names {
        let i = st.find(n)?;
        remove_all_files(&st.entries[i], &mut steps);
        st.entries.remove(i);
    }
    commit(io, st, opt, steps, &[])
}

pub(crate) fn compact(io: &impl Io, st: &mut State, opt: Options, name: &str) -> Result<()> {
    let i = st.find(name)?;
    let entry = st.entries[i].clone();
    if entry.bitmap.is_none() && entry.segments.is_none() {
        return Ok(());
    }
    let data_file = name::data_file(name);
    let live = if entry.record.shape.is_empty() { 1 } else { entry.map.len() };
    copy_rows(io, &entry, &tmp(&data_file), |e, start, n, buf| e.read_range(io, start, n, buf), live)?;
    let mut steps = Vec::new();
    remove_side_files(&entry, &mut steps);
    steps.push(Step::Rename { from: tmp(&data_file), to: data_file.clone() });
    let mut record = entry.record.clone();
    if let Some(rows) = record.shape.first_mut() {
        *rows = live;
    }
    record.data_file = data_file.clone();
    record.last_modified = io.now_micros();
    st.entries[i] = Entry::plain(record);
    commit(io, st, opt, steps, &[tmp(&data_file)])
}

pub(crate) fn clone_array(io: &impl Io, st: &mut State, opt: Options, src: &str, dst: &str) -> Result<()> {
    name::validate(dst)?;
    let entry = st.entries[st.find(src)?].clone();
    if st.find(dst).is_ok() {
        return Err(Error::InvalidArgument(format!("array {dst:?} already exists")));
    }
    let data_file = name::data_file(dst);
    let live = if entry.record.shape.is_empty() { 1 } else { entry.map.len() };
    copy_rows(io, &entry, &tmp(&data_file), |e, start, n, buf| e.read_range(io, start, n, buf), live)?;
    let mut shape = entry.record.shape.clone();
    if let Some(rows) = shape.first_mut() {
        *rows = live;
    }
    let record = ArrayRecord { name: dst.to_string(), shape, data_file: data_file.clone(), last_modified: io.now_micros(), dtype: entry.record.dtype };
    st.entries.push(Entry::plain(record));
    let steps = vec![Step::Remove(name::bitmap_file(dst)), Step::Rename { from: tmp(&data_file), to: data_file }];
    commit(io, st, opt, steps, &[tmp(&name::data_file(dst))])
}

pub(crate) fn reset(io: &impl Io, st: &mut State, opt: Options) -> Result<()> {
    let mut steps = Vec::new();
    for e in &st.entries {
        remove_all_files(e, &mut steps);
    }
    // Stray files of arrays no catalogue lists (upstream leaves them after crashes).
    for f in io.list("")? {
        let stray = (f.starts_with("data_") && (f.ends_with(".npkd") || f.ends_with(".npkseg"))) || (f.starts_with("deleted_") && f.ends_with(".npkb"));
        if stray && !steps.contains(&Step::Remove(f.clone())) {
            steps.push(Step::Remove(f));
        }
    }
    st.entries.clear();
    commit(io, st, opt, steps, &[])
}
