//! Byte-level encoders and hostile-input parsers for every file of a store (spec: docs/FORMAT.md).

pub mod bitmap;
pub mod journal;
pub mod metadata;
pub mod segments;

pub(crate) mod reader;

/// The catalogue file.
pub const METADATA_FILE: &str = "metadata.npkm";
/// Where the next catalogue is written before it is renamed over [`METADATA_FILE`].
pub const METADATA_TMP: &str = "metadata.npkm.tmp";
/// The commit journal (present only while a multi-file commit is being applied).
pub const JOURNAL_FILE: &str = "commit.npkj";
/// Where the journal is written before it is renamed into place (the commit point).
pub const JOURNAL_TMP: &str = "commit.npkj.tmp";
/// The lock file that serialises writers (used by back ends that lock).
pub const LOCK_FILE: &str = ".numpack.lock";
