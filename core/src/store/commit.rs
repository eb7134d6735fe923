//! The commit protocol (docs/FORMAT.md §5). Data goes to temporary files or to rows no committed
//! catalogue points at; then the new catalogue is renamed over `metadata.npkm`. When a commit
//! must also move or remove other files, the steps are first written to a journal whose rename
//! into place is the commit point, and whoever opens the store next finishes them.

use super::State;
use crate::error::{Error, Result};
use crate::format::journal::{self, Step};
use crate::format::{JOURNAL_FILE, JOURNAL_TMP, METADATA_FILE, METADATA_TMP, metadata};
use crate::io::Io;
use crate::store::Options;
use std::io::ErrorKind;

/// Whether a journal (an interrupted or in-flight multi-file commit) is present.
pub(crate) fn journal_present(io: &impl Io) -> Result<bool> {
    Ok(io.len(JOURNAL_FILE)?.is_some())
}

/// Finishes a commit left half-applied by a killed writer. Call with the exclusive lock held.
pub(crate) fn recover(io: &impl Io) -> Result<()> {
    if let Some(raw) = io.read_file(JOURNAL_FILE, journal::MAX_JOURNAL_BYTES)? {
        apply(io, &journal::decode(&raw)?)?;
        io.remove(JOURNAL_FILE)?;
    }
    Ok(())
}

/// Removes temporary files a killed writer left behind (they were never committed). Where the
/// folder is read-only to us they stay, for the next writer: reading never needs write access.
pub(crate) fn remove_temp_files(io: &impl Io) -> Result<()> {
    for name in io.list("")? {
        let staged_of = name.strip_suffix(".tmp");
        if staged_of.is_some_and(|f| {
            f == METADATA_FILE || f == JOURNAL_FILE || crate::name::is_array_file(f)
        }) {
            match io.remove(&name) {
                Err(Error::Io(e))
                    if matches!(
                        e.kind(),
                        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem
                    ) =>
                {
                    return Ok(());
                }
                other => other?,
            }
        }
    }
    Ok(())
}

fn apply(io: &impl Io, steps: &[Step]) -> Result<()> {
    for step in steps {
        match step {
            Step::Rename { from, to } => {
                if io.len(from)?.is_some() {
                    io.rename(from, to)?;
                }
            }
            Step::Remove(path) => io.remove(path)?,
            Step::RemoveDir(dir) => {
                if let Ok(files) = io.list(dir) {
                    for f in files {
                        io.remove(&format!("{dir}/{f}"))?;
                    }
                }
                io.remove_dir(dir)?;
            }
        }
    }
    Ok(())
}

/// Commits the in-memory catalogue of `st`, together with `steps` (renames of temporary files
/// written beforehand, removals of files no longer referenced). The catalogue and the journal are
/// encoded (and checked against the readers' limits) before anything is written.
pub(crate) fn commit(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    mut steps: Vec<Step>,
    synced: &[String],
) -> Result<()> {
    let catalogue = metadata::encode(&st.records())?;
    steps.push(Step::Rename {
        from: METADATA_TMP.into(),
        to: METADATA_FILE.into(),
    });
    let journal = if steps.len() == 1 {
        None
    } else {
        Some(journal::encode(&steps)?)
    };
    io.write_file(METADATA_TMP, &catalogue)?;
    if opt.durable {
        for path in synced {
            io.sync(path)?;
        }
        io.sync(METADATA_TMP)?;
    }
    match journal {
        None => io.replace_catalogue(METADATA_TMP, METADATA_FILE)?,
        Some(journal) => {
            io.write_file(JOURNAL_TMP, &journal)?;
            if opt.durable {
                io.sync(JOURNAL_TMP)?;
            }
            io.rename(JOURNAL_TMP, JOURNAL_FILE)?; // the commit point
            apply(io, &steps)?;
            io.remove(JOURNAL_FILE)?;
        }
    }
    if opt.durable {
        io.sync("")?;
    }
    st.stamp = io.catalogue_stamp()?;
    Ok(())
}
