//! The Python side of `numpack_core::progress`: the hook every long call made without the GIL
//! (packing, compaction, clone, streaming search) passes to core, so Ctrl-C stops it promptly
//! and `progress=` callbacks see its counts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use numpack_core::progress::{Progress, cancelled};
use pyo3::prelude::*;

use super::errors::{IntoPy, PyResult};

/// How often a long call run without the GIL takes it back to look for Ctrl-C and to report.
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// The Python side of [`Progress`]: at most every [`CHECK_EVERY`] (and at the end), takes the
/// GIL, runs pending signal handlers (Ctrl-C raises `KeyboardInterrupt` there) and calls the
/// optional `callback(done, total)`. The first Python error cancels the operation and is kept
/// for [`PyHook::finish`] to raise.
pub(crate) struct PyHook<'a> {
    callback: Option<&'a Py<PyAny>>,
    last: Option<Instant>,
    error: Option<PyErr>,
}

impl<'a> PyHook<'a> {
    /// A hook reporting to `callback`, if any.
    pub(crate) fn new(callback: Option<&'a Py<PyAny>>) -> Self {
        PyHook {
            callback,
            last: None,
            error: None,
        }
    }

    /// The operation's result, or the Python error that cancelled it.
    pub(crate) fn finish<T>(self, result: numpack_core::Result<T>) -> PyResult<T> {
        match (self.error, result) {
            (Some(err), _) => Err(err),
            (None, result) => result.py(),
        }
    }
}

impl Progress for PyHook<'_> {
    fn step(&mut self, done: u64, total: u64) -> numpack_core::Result<()> {
        if self.error.is_some() {
            return Err(cancelled());
        }
        if done < total && self.last.is_some_and(|t| t.elapsed() < CHECK_EVERY) {
            return Ok(());
        }
        self.last = Some(Instant::now());
        let callback = self.callback;
        let checked = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(cb) = callback {
                cb.call1(py, (done, total))?;
            }
            Ok(())
        });
        checked.map_err(|err| {
            self.error = Some(err);
            cancelled()
        })
    }
}

/// [`PyHook`] for work split over threads (streaming search): workers add the rows of each
/// batch with [`SharedHook::tick`]. Only the calling thread, where Python runs signal handlers,
/// takes the GIL (the pool's caller works on pieces too); once it has cancelled, every worker
/// stops at its next batch.
pub(crate) struct SharedHook<'a> {
    hook: Mutex<PyHook<'a>>,
    owner: ThreadId,
    done: AtomicU64,
    total: u64,
    stopped: AtomicBool,
}

impl<'a> SharedHook<'a> {
    /// A hook for `total` rows reporting to `callback`, if any; made on the calling thread.
    pub(crate) fn new(callback: Option<&'a Py<PyAny>>, total: u64) -> Self {
        SharedHook {
            hook: Mutex::new(PyHook::new(callback)),
            owner: thread::current().id(),
            done: AtomicU64::new(0),
            total,
            stopped: AtomicBool::new(false),
        }
    }

    /// Adds `rows` done; an error (cancelled) means stop.
    pub(crate) fn tick(&self, rows: u64) -> numpack_core::Result<()> {
        let done = self.done.fetch_add(rows, Ordering::Relaxed) + rows;
        if self.stopped.load(Ordering::Relaxed) {
            return Err(cancelled());
        }
        if thread::current().id() != self.owner {
            return Ok(());
        }
        let mut hook = self.hook.lock().unwrap_or_else(PoisonError::into_inner);
        let step = hook.step(done.min(self.total), self.total);
        if step.is_err() {
            self.stopped.store(true, Ordering::Relaxed);
        }
        step
    }

    /// The call's result (`Err` mapped by `err`), or the Python error that cancelled it; a
    /// finished call reports `(total, total)` last.
    pub(crate) fn finish<T, E>(
        self,
        result: Result<T, E>,
        err: impl FnOnce(E) -> PyErr,
    ) -> PyResult<T> {
        let mut hook = self
            .hook
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let result = match result {
            Ok(v) => hook.step(self.total, self.total).map(|_| v),
            Err(e) => return hook.error.map_or_else(|| Err(err(e)), Err),
        };
        hook.finish(result)
    }
}
