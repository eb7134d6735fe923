//! Progress reports and cancellation for long operations: the one hook every long call (packing,
//! unpacking, and any other that wants it) calls between chunks of work.
//!
//! A hook gets `(done, total)` in the operation's own unit (bytes for packages) and returns
//! `Ok(())` to go on. An `Err` aborts the operation at that point, before its commit, so it
//! changes nothing; bindings use it for Ctrl-C (the Python hook checks for signals) and to pass
//! counts to a progress bar. [`cancelled`] is the error a hook returns to say "stop".

use crate::error::{Error, Result};

/// Called between chunks of a long operation with the work done so far and the total.
pub trait Progress {
    /// Reports `done` of `total`; an error stops the operation, which then returns it.
    fn step(&mut self, done: u64, total: u64) -> Result<()>;
}

/// No reports, never cancels.
impl Progress for () {
    fn step(&mut self, _done: u64, _total: u64) -> Result<()> {
        Ok(())
    }
}

impl<F: FnMut(u64, u64) -> Result<()>> Progress for F {
    fn step(&mut self, done: u64, total: u64) -> Result<()> {
        self(done, total)
    }
}

/// The error a hook returns to cancel: an I/O error of kind `Interrupted`.
pub fn cancelled() -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::Interrupted,
        "operation cancelled",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_and_unit_are_hooks() {
        let mut seen = Vec::new();
        let mut hook = |d: u64, t: u64| {
            seen.push((d, t));
            if d >= 2 { Err(cancelled()) } else { Ok(()) }
        };
        assert!(hook.step(1, 3).is_ok());
        assert!(
            matches!(hook.step(2, 3), Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted)
        );
        assert_eq!(seen, [(1, 3), (2, 3)]);
        assert!(().step(5, 5).is_ok());
    }
}
