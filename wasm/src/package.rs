//! `.npkg` packages (upstream NumPack's single-file export, version 2): a store's files in one
//! buffer, so a page can `fetch()` a store and open it in memory. Only uncompressed entries are
//! read (compression code 0, or entries stored raw); zstd entries are refused with a clear error.
//!
//! Layout (little-endian): `"NPKG"`, u32 version = 2, u8 compression, u32 file_count; per file
//! u32 path_len, UTF-8 path, u64 original_size, u64 compressed_size (0 = stored raw), the bytes;
//! then a u32 CRC-32 chained over each file's CRC-32 (as 4 LE bytes).

use std::collections::BTreeMap;

use numpack_core::{Error, Result};

const MAGIC: &[u8; 4] = b"NPKG";
const VERSION: u32 = 2;

/// CRC-32 (IEEE, reflected, as zlib's `crc32`) of `data`, continuing from `crc`.
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
        }
    }
    !c
}

fn corrupt(msg: impl Into<String>) -> Error {
    Error::Corrupt(format!("package: {}", msg.into()))
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let n = usize::try_from(n).map_err(|_| corrupt("size overflows"))?;
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| corrupt("truncated"))?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(b);
        Ok(u64::from_le_bytes(raw))
    }
}

/// A path inside a package must stay inside the store folder.
pub fn check_path(path: &str) -> Result<()> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path.split('/').any(|c| c.is_empty() || c == "." || c == "..")
        || path.matches('/').count() > 1;
    if bad { Err(corrupt(format!("unsafe path {path:?}"))) } else { Ok(()) }
}

/// Parses a package into `path → bytes`, checking the CRC.
pub fn decode(buf: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut r = Reader { buf, at: 0 };
    if r.take(4)? != MAGIC {
        return Err(corrupt("not an .npkg package (bad magic)"));
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(corrupt(format!("unsupported package version {version}")));
    }
    let _compression = r.take(1)?[0];
    let count = r.u32()?;
    let mut files = BTreeMap::new();
    let mut chain = 0u32;
    for _ in 0..count {
        let path_len = r.u32()?;
        if path_len > 4096 {
            return Err(corrupt("path too long"));
        }
        let path = std::str::from_utf8(r.take(u64::from(path_len))?).map_err(|_| corrupt("path is not UTF-8"))?.to_string();
        check_path(&path)?;
        let original = r.u64()?;
        let compressed = r.u64()?;
        if compressed != 0 {
            return Err(Error::InvalidArgument("compressed .npkg entries are not supported in JavaScript; pack with compression off".into()));
        }
        let data = r.take(original)?;
        chain = crc32(chain, &crc32(0, data).to_le_bytes());
        if files.insert(path.clone(), data.to_vec()).is_some() {
            return Err(corrupt(format!("{path} appears twice")));
        }
    }
    let want = r.u32()?;
    if want != chain {
        return Err(corrupt("CRC mismatch"));
    }
    if r.at != buf.len() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(files)
}

/// Writes `files` as an uncompressed package (lock and temporary files are skipped).
pub fn encode(files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let kept: Vec<(&String, &Vec<u8>)> = files.iter().filter(|(p, _)| !p.starts_with('.') && !p.ends_with(".tmp")).collect();
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&(kept.len() as u32).to_le_bytes());
    let mut chain = 0u32;
    for (path, data) in kept {
        out.extend_from_slice(&(path.len() as u32).to_le_bytes());
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(data);
        chain = crc32(chain, &crc32(0, data).to_le_bytes());
    }
    out.extend_from_slice(&chain.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_zlib() {
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn round_trip_and_hostile_input() {
        let mut files = BTreeMap::new();
        files.insert("metadata.npkm".to_string(), vec![1, 2, 3]);
        files.insert("data_a.npkd".to_string(), vec![]);
        let pkg = encode(&files);
        assert_eq!(decode(&pkg).unwrap(), files);
        for cut in 0..pkg.len() {
            assert!(decode(&pkg[..cut]).is_err());
        }
        let mut bad = pkg.clone();
        let last = bad.len() - 6;
        bad[last] ^= 1;
        assert!(decode(&bad).is_err());
    }
}
