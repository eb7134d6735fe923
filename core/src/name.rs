//! Array-name validation: a name becomes part of file names, so it must never reach outside
//! the store folder or collide with our own files.

use crate::error::{Error, Result};

/// The longest name in bytes (file systems cap a file name at 255 bytes; `data_` and `.npkd`
/// take 10 of them, `deleted_` and `.npkb` 13, so names are capped at 240).
pub const MAX_NAME_BYTES: usize = 240;

/// Checks that `name` can be an array name: 1–240 bytes of UTF-8, not `.` or `..`, and no
/// `/`, `\`, NUL or other control character.
pub fn validate(name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidName(format!("{name:?}: {why}")));
    if name.is_empty() {
        return bad("a name must not be empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad("a name must be at most 240 bytes");
    }
    if name == "." || name == ".." {
        return bad("a name must not be '.' or '..'");
    }
    if name.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
        return bad("a name must not contain '/', '\\', NUL or control characters");
    }
    Ok(())
}

/// The data file of a plain (unsegmented) array.
pub fn data_file(name: &str) -> String {
    format!("data_{name}.npkd")
}

/// The deletion bitmap of an array.
pub fn bitmap_file(name: &str) -> String {
    format!("deleted_{name}.npkb")
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
        for bad in ["", ".", "..", "a/b", "..\\x", "a\0b", "tab\t", &"x".repeat(241)] {
            assert!(matches!(validate(bad), Err(Error::InvalidName(_))), "{bad:?}");
        }
        for good in ["embeddings", "a.b", "名前", "with space", "..x", &"x".repeat(240)] {
            validate(good).unwrap();
        }
    }
}
