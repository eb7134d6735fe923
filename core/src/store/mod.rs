//! The store: a folder of named arrays over an [`Io`]. Every public method takes the store lock
//! (shared for reads, exclusive for writes), picks up commits made by other processes, and — for
//! a mutation — is committed before it returns (see `commit.rs` and docs/FORMAT.md §5).

pub(crate) mod catalog;
mod commit;
mod data;
pub mod stage;
mod write;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::format::metadata::ArrayRecord;
use crate::io::{Io, LockMode};
use crate::plan::ReadPlan;
use crate::progress::Progress;
use crate::rows::{RowMap, Selection};

pub use write::NewArray;

use catalog::Entry;

/// How hard a commit works to survive failures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Also `sync` files and the folder before a call returns, so commits survive power loss.
    /// Without it a commit survives the process being killed (it is in the OS page cache).
    pub durable: bool,
}

/// What a user sees of one array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayInfo {
    /// The array name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Logical shape: dimension 0 counts live rows only.
    pub shape: Vec<u64>,
    /// Physical shape as stored in the catalogue (dimension 0 counts dropped rows too).
    pub physical_shape: Vec<u64>,
    /// The data file (or segment manifest), relative to the store folder.
    pub data_file: String,
    /// Microseconds since the Unix epoch of the last change.
    pub last_modified: u64,
}

/// Where an array's bytes are: what every read is planned from (`ArrayLayout::plan`).
#[derive(Clone, Debug)]
pub struct ArrayLayout {
    /// Element type.
    pub dtype: DType,
    /// Logical shape.
    pub shape: Vec<u64>,
    /// Bytes of one row.
    pub row_bytes: u64,
    /// The files holding the physical rows in order, with their row counts (one for a plain
    /// array, one per segment for a segmented one).
    pub parts: Vec<(String, u64)>,
    /// Logical → physical rows.
    pub rows: RowMap,
}

#[derive(Default)]
pub(crate) struct State {
    entries: Vec<Entry>,
    stamp: Option<u64>,
    loaded: bool,
}

/// A NumPack store over an [`Io`] back end.
pub struct Store<I: Io> {
    io: I,
    state: State,
    options: Options,
}

/// Releases the store lock when dropped, so an error or a panic never leaves it held.
struct LockGuard<'a, I: Io>(&'a I);

impl<I: Io> Drop for LockGuard<'_, I> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

impl<I: Io> Store<I> {
    /// Opens the store in `io`'s folder (an empty folder is an empty store), finishing any
    /// commit a killed writer left half-applied and removing its temporary files.
    pub fn open(io: I) -> Result<Store<I>> {
        Store::open_with(io, Options::default())
    }

    /// [`Store::open`] with options.
    pub fn open_with(io: I, options: Options) -> Result<Store<I>> {
        let mut store = Store {
            io,
            state: State::default(),
            options,
        };
        store.with_lock(LockMode::Exclusive, |io, st, _| {
            commit::recover(io)?;
            commit::remove_temp_files(io)?;
            st.load(io)
        })?;
        Ok(store)
    }

    /// The back end.
    pub fn io(&self) -> &I {
        &self.io
    }

    /// The options the store was opened with.
    pub fn options(&self) -> Options {
        self.options
    }

    /// Runs `f` under the store lock after picking up other processes' commits. A failed
    /// mutation drops the in-memory catalogue so the next call re-reads what is on disk.
    fn with_lock<R>(
        &mut self,
        mode: LockMode,
        f: impl FnOnce(&I, &mut State, Options) -> Result<R>,
    ) -> Result<R> {
        let io = &self.io;
        let st = &mut self.state;
        io.lock(mode)?;
        let mut guard = LockGuard(io);
        if commit::journal_present(io)? {
            if mode == LockMode::Shared {
                // A writer died mid-commit: finishing it needs the exclusive lock.
                drop(guard);
                io.lock(LockMode::Exclusive)?;
                guard = LockGuard(io);
                commit::recover(io)?;
                drop(guard);
                io.lock(mode)?;
                guard = LockGuard(io);
            } else {
                commit::recover(io)?;
            }
            st.loaded = false;
        }
        let result = st.refresh(io).and_then(|()| f(io, st, self.options));
        if result.is_err() && mode == LockMode::Exclusive {
            st.loaded = false;
        }
        drop(guard);
        result
    }

    fn read<R>(&mut self, f: impl FnOnce(&I, &State) -> Result<R>) -> Result<R> {
        self.with_lock(LockMode::Shared, |io, st, _| f(io, st))
    }

    /// Re-reads the catalogue if another process committed since the last call.
    pub fn refresh(&mut self) -> Result<()> {
        self.read(|_, _| Ok(()))
    }

    /// The array names, in catalogue order (the order they were created in).
    pub fn names(&mut self) -> Result<Vec<String>> {
        self.read(|_, st| Ok(st.entries.iter().map(|e| e.record.name.clone()).collect()))
    }

    /// Whether an array called `name` exists.
    pub fn contains(&mut self, name: &str) -> Result<bool> {
        self.read(|_, st| Ok(st.find(name).is_ok()))
    }

    /// Shape, dtype and times of one array.
    pub fn info(&mut self, name: &str) -> Result<ArrayInfo> {
        self.read(|_, st| Ok(st.entries[st.find(name)?].info()))
    }

    /// [`ArrayInfo`] of every array, in catalogue order.
    pub fn infos(&mut self) -> Result<Vec<ArrayInfo>> {
        self.read(|_, st| Ok(st.entries.iter().map(Entry::info).collect()))
    }

    /// Plans reading `sel` of `name` and runs `f` on the back end and the plan while the shared
    /// lock is held: the files `f` reads or maps are the ones the plan was made from (no commit
    /// can replace them in between). The plan's layout is what a binding maps.
    pub fn with_plan<R>(
        &mut self,
        name: &str,
        sel: &Selection,
        f: impl FnOnce(&I, &ReadPlan<'_>) -> Result<R>,
    ) -> Result<R> {
        self.read(|io, st| {
            let layout = st.entries[st.find(name)?].layout()?;
            f(io, &layout.plan(sel)?)
        })
    }

    /// [`Store::with_plan`] for `count` logical rows from `start` ([`Error::IndexOutOfRange`]
    /// past the end).
    pub fn with_range_plan<R>(
        &mut self,
        name: &str,
        start: u64,
        count: u64,
        f: impl FnOnce(&I, &ReadPlan<'_>) -> Result<R>,
    ) -> Result<R> {
        self.read(|io, st| {
            let layout = st.entries[st.find(name)?].layout()?;
            f(io, &layout.plan_range(start, count)?)
        })
    }

    /// Reads `count` logical rows starting at `start` into `out` (exactly `count × row_bytes`).
    pub fn read_range(&mut self, name: &str, start: u64, count: u64, out: &mut [u8]) -> Result<()> {
        self.read(|io, st| st.entries[st.find(name)?].read_range(io, start, count, out))
    }

    /// Reads a selection of rows; returns the result's shape and bytes.
    pub fn read_selection(
        &mut self,
        name: &str,
        selection: &Selection,
    ) -> Result<(Vec<u64>, Vec<u8>)> {
        self.with_plan(name, selection, |io, plan| {
            Ok((plan.shape().to_vec(), plan.read_vec(io)?))
        })
    }

    /// Saves arrays, creating them or replacing them whole (shape and dtype may change), in one
    /// commit: after a crash either all of them are saved or none.
    pub fn save(&mut self, arrays: &[NewArray<'_>]) -> Result<()> {
        self.with_lock(LockMode::Exclusive, |io, st, opt| {
            write::save(io, st, opt, arrays)
        })
    }

    /// Appends rows (`shape` is the shape of the new rows, or of one row without the leading
    /// axis) to an existing array, cast to its dtype by [`crate::cast::can_cast`] (`same_kind`).
    pub fn append(&mut self, name: &str, dtype: DType, shape: &[u64], data: &[u8]) -> Result<()> {
        self.append_all(&[NewArray {
            name,
            dtype,
            shape,
            data,
        }])
    }

    /// Appends rows to several arrays in one commit: every array is checked first, so a call
    /// that fails changes none of them, and after a crash either all rows are there or none.
    pub fn append_all(&mut self, arrays: &[NewArray<'_>]) -> Result<()> {
        self.with_lock(LockMode::Exclusive, |io, st, opt| {
            write::append(io, st, opt, arrays)
        })
    }

    /// Overwrites the selected logical rows with `data` (rows of `shape[1..]`, cast to the
    /// array's dtype by [`crate::cast::can_cast`]; one row may come without the leading axis).
    /// Only those rows are written; a refused cast writes nothing. If the call fails part-way, the targeted rows may be part old, part new.
    pub fn replace(
        &mut self,
        name: &str,
        selection: &Selection,
        dtype: DType,
        shape: &[u64],
        data: &[u8],
    ) -> Result<()> {
        self.replace_all(&[(
            selection,
            NewArray {
                name,
                dtype,
                shape,
                data,
            },
        )])
    }

    /// [`Store::replace`] over several arrays: every array and selection is checked before any
    /// row is written, so a call that fails on bad input changes nothing.
    pub fn replace_all(&mut self, updates: &[(&Selection, NewArray<'_>)]) -> Result<()> {
        self.with_lock(LockMode::Exclusive, |io, st, opt| {
            write::replace(io, st, opt, updates)
        })
    }

    /// Drops the selected logical rows (a deletion bitmap; the data file is not rewritten).
    pub fn drop_rows(&mut self, name: &str, selection: &Selection) -> Result<()> {
        self.drop_rows_all(&[name], selection)
    }

    /// Drops the same selection of rows from several arrays in one commit: every array is
    /// checked first, so a call that fails changes none of them.
    pub fn drop_rows_all(&mut self, names: &[&str], selection: &Selection) -> Result<()> {
        self.with_lock(LockMode::Exclusive, |io, st, opt| {
            write::drop_rows(io, st, opt, names, selection)
        })
    }

    /// Removes whole arrays and their files, in one commit.
    pub fn drop_arrays(&mut self, names: &[&str]) -> Result<()> {
        self.with_lock(LockMode::Exclusive, |io, st, opt| {
            write::drop_arrays(io, st, opt, names)
        })
    }

    /// Rewrites an array without its dropped rows (and as a plain file if it was segmented).
    pub fn compact(&mut self, name: &str) -> Result<()> {
        self.compact_with(name, &mut ())
    }

    /// [`Store::compact`] reporting rows copied to `hook` between chunks; an error from the
    /// hook stops the copy before the commit and is returned, with the store unchanged.
    pub fn compact_with(&mut self, name: &str, hook: &mut dyn Progress) -> Result<()> {
        self.with_lock(LockMode::Exclusive, |io, st, opt| {
            write::compact(io, st, opt, name, hook)
        })
    }

    /// Copies the logical rows of `src` into a new array `dst`.
    pub fn clone_array(&mut self, src: &str, dst: &str) -> Result<()> {
        self.clone_array_with(src, dst, &mut ())
    }

    /// [`Store::clone_array`] reporting rows copied to `hook` between chunks; an error from the
    /// hook stops the copy before the commit and is returned, with the store unchanged.
    pub fn clone_array_with(
        &mut self,
        src: &str,
        dst: &str,
        hook: &mut dyn Progress,
    ) -> Result<()> {
        self.with_lock(LockMode::Exclusive, |io, st, opt| {
            write::clone_array(io, st, opt, src, dst, hook)
        })
    }

    /// Removes every array.
    pub fn reset(&mut self) -> Result<()> {
        self.with_lock(LockMode::Exclusive, |io, st, opt| write::reset(io, st, opt))
    }
}

impl State {
    fn find(&self, name: &str) -> Result<usize> {
        self.entries
            .iter()
            .position(|e| e.record.name == name)
            .ok_or_else(|| Error::NotFound(name.to_string()))
    }

    fn records(&self) -> Vec<ArrayRecord> {
        self.entries.iter().map(|e| e.record.clone()).collect()
    }
}
