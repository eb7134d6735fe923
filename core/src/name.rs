//! Array-name validation: a name becomes part of file names, so it must never reach outside
//! the store folder or collide with our own files.

use crate::error::{Error, Result};

/// The longest file name most file systems allow, in bytes.
const MAX_FILE_NAME_BYTES: usize = 255;

/// Bytes the longest file name derived from an array name adds to it: the staged bitmap
/// `deleted_<name>.npkb.tmp` (every other derived name is shorter).
const LONGEST_AFFIX_BYTES: usize = "deleted_".len() + ".npkb".len() + STAGED_SUFFIX.len();

/// The longest name a store accepts for a new array, in bytes: every file derived from it
/// (data, bitmap, manifest, segment folder, and their staged `.tmp` copies) then fits in 255.
pub const MAX_NAME_BYTES: usize = MAX_FILE_NAME_BYTES - LONGEST_AFFIX_BYTES;

/// The longest name read from a catalogue written elsewhere (its `data_<name>.npkd` must exist).
pub const MAX_STORED_NAME_BYTES: usize = MAX_FILE_NAME_BYTES - "data_".len() - ".npkd".len();

/// The suffix of a file being written before it is renamed into place.
const STAGED_SUFFIX: &str = ".tmp";

/// Checks that `name` can be an array name: 1–238 bytes of UTF-8, not `.` or `..`, and no
/// `/`, `\`, NUL or other control character.
pub fn validate(name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidName(format!("{name:?}: {why}")));
    if name.is_empty() {
        return bad("a name must not be empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::InvalidName(format!(
            "{name:?}: a name must be at most {MAX_NAME_BYTES} bytes (the files named after it must fit in {MAX_FILE_NAME_BYTES})"
        )));
    }
    if name == "." || name == ".." {
        return bad("a name must not be '.' or '..'");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return bad("a name must not contain '/', '\\', NUL or control characters");
    }
    Ok(())
}

/// The staged copy of `path`, written first and then renamed over it.
pub fn staged(path: &str) -> String {
    format!("{path}{STAGED_SUFFIX}")
}

/// The data file of a plain (unsegmented) array.
pub fn data_file(name: &str) -> String {
    format!("data_{name}.npkd")
}

/// The deletion bitmap of an array.
pub fn bitmap_file(name: &str) -> String {
    format!("deleted_{name}.npkb")
}

/// Whether `file` (a name in the store folder) is one of the files named after an array: a
/// data file, a segment manifest or a deletion bitmap. The one place that rule is written.
pub fn is_array_file(file: &str) -> bool {
    (file.starts_with("data_") && (file.ends_with(".npkd") || file.ends_with(".npkseg")))
        || (file.starts_with("deleted_") && file.ends_with(".npkb"))
}

/// The segment manifest of a segmented array.
pub fn manifest_file(name: &str) -> String {
    format!("data_{name}.npkseg")
}

/// The folder holding a segmented array's segment files.
pub fn segments_dir(name: &str) -> String {
    format!("data_{name}_segments")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_rejected() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "..\\x",
            "a\0b",
            "tab\t",
            &"x".repeat(MAX_NAME_BYTES + 1),
        ] {
            assert!(
                matches!(validate(bad), Err(Error::InvalidName(_))),
                "{bad:?}"
            );
        }
        for good in [
            "embeddings",
            "a.b",
            "名前",
            "with space",
            "..x",
            &"x".repeat(MAX_NAME_BYTES),
        ] {
            validate(good).unwrap();
        }
        assert_eq!(MAX_NAME_BYTES, 238);
        let longest = "x".repeat(MAX_NAME_BYTES);
        for derived in [
            staged(&bitmap_file(&longest)),
            staged(&data_file(&longest)),
            staged(&manifest_file(&longest)),
            segments_dir(&longest),
        ] {
            assert!(
                derived.len() <= MAX_FILE_NAME_BYTES,
                "{} bytes",
                derived.len()
            );
        }
    }
}
