//! The commit protocol (docs/FORMAT.md §5). Data goes to temporary files or to rows no committed
//! catalogue points at; then the new catalogue is renamed over `metadata.npkm`. When a commit
//! must also move, remove or patch other files, the steps are first written to a journal whose
//! rename into place is the commit point, and whoever opens the store next finishes them.

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
            Step::Patch { path, writes } => {
                let Some(len) = io.len(path)? else { continue };
                let end = writes.last().map_or(0, |(o, b)| o + b.len() as u64);
                if end > len {
                    return Err(crate::error::corrupt(format!(
                        "commit journal patches {path} up to byte {end}, past its {len} bytes"
                    )));
                }
                patch(io, path, writes)?;
            }
            Step::WriteFile { path, data } => io.write_file(path, data)?,
        }
    }
    Ok(())
}

fn patch(io: &impl Io, path: &str, writes: &[(u64, Vec<u8>)]) -> Result<()> {
    let writes: Vec<(u64, &[u8])> = writes.iter().map(|(o, b)| (*o, b.as_slice())).collect();
    io.overwrite(path, &writes)
}

/// Commits the in-memory catalogue of `st`, together with `steps` (renames of temporary files
/// written beforehand, removals of files no longer referenced, in-place patches). The catalogue
/// and the journal are encoded (and checked against the readers' limits) before anything is
/// written.
pub(crate) fn commit(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    steps: Vec<Step>,
    synced: &[String],
) -> Result<()> {
    let catalogue = metadata::encode(&st.records())?;
    if steps.iter().any(|s| matches!(s, Step::Patch { .. })) {
        return commit_patched(io, st, opt, steps, catalogue);
    }
    let mut steps = steps;
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

/// A commit whose journal patches files in place (a row drop's bitmap words). The journal
/// carries the new catalogue's bytes (a `WriteFile` of `metadata.npkm.tmp` before its rename),
/// so the writer may exchange the catalogue into place ([`Io::replace_catalogue`]): recovery
/// rewrites the staged copy from the journal before renaming it, so the old catalogue an
/// exchange leaves behind is never renamed back. The journal is retired by renaming it back to
/// `commit.npkj.tmp`, whose inode the next commit overwrites: no inode is created or freed.
fn commit_patched(
    io: &impl Io,
    st: &mut State,
    opt: Options,
    mut steps: Vec<Step>,
    catalogue: Vec<u8>,
) -> Result<()> {
    let patched: Vec<String> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Patch { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    let applied_now = steps.len();
    steps.push(Step::WriteFile {
        path: METADATA_TMP.into(),
        data: catalogue,
    });
    steps.push(Step::Rename {
        from: METADATA_TMP.into(),
        to: METADATA_FILE.into(),
    });
    let journal = journal::encode(&steps)?;
    // Stage the catalogue (the step recovery would run), then the journal.
    apply(io, &steps[applied_now..applied_now + 1])?;
    io.write_file(JOURNAL_TMP, &journal)?;
    if opt.durable {
        io.sync(METADATA_TMP)?;
        io.sync(JOURNAL_TMP)?;
    }
    io.rename(JOURNAL_TMP, JOURNAL_FILE)?; // the commit point
    if opt.durable {
        // In-place writes must not reach the disk before the commit point does.
        io.sync("")?;
    }
    for step in &steps[..applied_now] {
        match step {
            // The writer checked these files itself (`store::write`); recovery checks lengths.
            Step::Patch { path, writes } => patch(io, path, writes)?,
            other => apply(io, std::slice::from_ref(other))?,
        }
    }
    if opt.durable {
        for path in &patched {
            io.sync(path)?;
        }
    }
    io.replace_catalogue(METADATA_TMP, METADATA_FILE)?;
    io.rename(JOURNAL_FILE, JOURNAL_TMP)?; // retired: the commit is whole
    if opt.durable {
        io.sync("")?;
    }
    st.stamp = io.catalogue_stamp()?;
    Ok(())
}
