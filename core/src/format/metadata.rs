//! `metadata.npkm`: the catalogue of arrays ("NPKB" v1, little-endian, packed).

use super::reader::Reader;
use crate::dtype::DType;
use crate::error::{Error, Result, corrupt};
use crate::name;

/// The magic number, bytes `4E 50 4B 42` ("NPKB").
pub const MAGIC: u32 = 0x424B_504E;
/// The only catalogue version there is.
pub const VERSION: u32 = 1;
/// The most dimensions an array may have (NumPy's own limit is 64).
pub const MAX_NDIM: u32 = 64;
/// The largest catalogue readers accept; a writer refuses to commit a larger one.
pub const MAX_METADATA_BYTES: u64 = 64 << 20;
/// Bytes of the catalogue header.
const HEADER_BYTES: u64 = 4 + 4 + 8 + 4;
/// Bytes of a record besides its name, dims and data-file name (the fixed tail and lengths).
const RECORD_MIN_BYTES: usize = 4 + 4 + 4 + 8 + 8 + 1 + 1 + 4 + 8 + 8 + 1;

/// One array's catalogue record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayRecord {
    /// The array name.
    pub name: String,
    /// The physical shape: dimension 0 counts dropped rows too.
    pub shape: Vec<u64>,
    /// The data file, relative to the store folder: `data_<name>.npkd` or `data_<name>.npkseg`.
    pub data_file: String,
    /// Microseconds since the Unix epoch of the last change.
    pub last_modified: u64,
    /// The element type.
    pub dtype: DType,
}

impl ArrayRecord {
    /// Bytes of one row (the product of dims 1.. times the itemsize); checked.
    pub fn row_bytes(&self) -> Result<u64> {
        row_bytes(&self.shape, self.dtype)
    }

    /// Total bytes of the physical array; checked.
    pub fn size_bytes(&self) -> Result<u64> {
        let rows = self.shape.first().copied().unwrap_or(1);
        rows.checked_mul(self.row_bytes()?)
            .ok_or_else(|| corrupt("array size overflows u64"))
    }

    /// Physical rows (dim 0), or 1 for a 0-d array.
    pub fn physical_rows(&self) -> u64 {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Whether the array's rows live in segment files (upstream 0.7's layout for big arrays).
    pub fn is_segmented(&self) -> bool {
        self.data_file.ends_with(".npkseg")
    }
}

/// Bytes of one row of an array of `shape` and `dtype`; checked against overflow.
pub fn row_bytes(shape: &[u64], dtype: DType) -> Result<u64> {
    let tail = shape.get(1..).unwrap_or(&[]);
    tail.iter()
        .try_fold(dtype.itemsize(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::ShapeMismatch(format!("shape {shape:?} overflows u64 bytes")))
}

/// The size of the encoded catalogue of `records`, without encoding it.
pub fn encoded_len<'a>(records: impl IntoIterator<Item = &'a ArrayRecord>) -> u64 {
    let record = |r: &ArrayRecord| {
        RECORD_MIN_BYTES as u64
            + r.name.len() as u64
            + 8 * r.shape.len() as u64
            + r.data_file.len() as u64
    };
    HEADER_BYTES + records.into_iter().map(record).sum::<u64>()
}

/// `Ok` when a catalogue of `len` bytes is one readers accept (the rule writers check first).
pub fn check_len(len: u64) -> Result<()> {
    if len > MAX_METADATA_BYTES {
        return Err(Error::InvalidArgument(format!(
            "the catalogue would be {len} bytes, over the {MAX_METADATA_BYTES}-byte limit readers accept (too many arrays, names or dimensions)"
        )));
    }
    Ok(())
}

/// Encodes a catalogue; records keep the order given (ours: the order arrays were created).
/// Fails, before allocating, if readers would refuse it.
pub fn encode(records: &[ArrayRecord]) -> Result<Vec<u8>> {
    let len = encoded_len(records);
    check_len(len)?;
    let mut out = Vec::with_capacity(len as usize);
    let mut total: u64 = 0;
    for r in records {
        total = total
            .checked_add(r.size_bytes()?)
            .ok_or_else(|| corrupt("total size overflows u64"))?;
    }
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for r in records {
        put_str(&mut out, &r.name);
        out.extend_from_slice(&(r.shape.len() as u32).to_le_bytes());
        for d in &r.shape {
            out.extend_from_slice(&d.to_le_bytes());
        }
        put_str(&mut out, &r.data_file);
        out.extend_from_slice(&r.last_modified.to_le_bytes());
        out.extend_from_slice(&r.size_bytes()?.to_le_bytes());
        out.push(r.dtype.code());
        out.push(0); // compression: none
        out.extend_from_slice(&0u32.to_le_bytes()); // compression level
        out.extend_from_slice(&0u64.to_le_bytes()); // original size
        out.extend_from_slice(&0u64.to_le_bytes()); // compressed size
        out.push(0); // no block info
    }
    Ok(out)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Parses a catalogue, rejecting anything malformed, inconsistent or compressed.
pub fn decode(bytes: &[u8]) -> Result<Vec<ArrayRecord>> {
    let mut r = Reader::new(bytes, "metadata.npkm");
    let magic = r.u32()?;
    if magic != MAGIC {
        return Err(corrupt(format!(
            "metadata.npkm: bad magic {magic:#010x} (want \"NPKB\")"
        )));
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(corrupt(format!("metadata.npkm: unknown version {version}")));
    }
    let total = r.u64()?;
    let count = r.u32()? as usize;
    if count > r.remaining() / RECORD_MIN_BYTES {
        return Err(corrupt(format!(
            "metadata.npkm: {count} records cannot fit in {} bytes",
            r.remaining()
        )));
    }
    let mut records: Vec<ArrayRecord> = Vec::with_capacity(count);
    let mut seen = std::collections::HashSet::with_capacity(count);
    let mut sum: u64 = 0;
    for _ in 0..count {
        let rec = decode_record(&mut r)?;
        if !seen.insert(rec.name.clone()) {
            return Err(corrupt(format!(
                "metadata.npkm: array {:?} is listed twice",
                rec.name
            )));
        }
        sum = sum
            .checked_add(rec.size_bytes()?)
            .ok_or_else(|| corrupt("total size overflows u64"))?;
        records.push(rec);
    }
    r.finish()?;
    if sum != total {
        return Err(corrupt(format!(
            "metadata.npkm: total_size {total} but the records add up to {sum}"
        )));
    }
    Ok(records)
}

fn decode_record(r: &mut Reader<'_>) -> Result<ArrayRecord> {
    let name = r.string(name::MAX_STORED_NAME_BYTES)?;
    name::validate(&name).map_err(|e| corrupt(format!("metadata.npkm: {e}")))?;
    let ndim = r.u32()?;
    if ndim > MAX_NDIM {
        return Err(corrupt(format!(
            "metadata.npkm: {name:?} has {ndim} dimensions"
        )));
    }
    let mut shape = Vec::with_capacity(ndim as usize);
    for _ in 0..ndim {
        shape.push(r.u64()?);
    }
    let data_file = r.string(name::MAX_STORED_NAME_BYTES + 16)?;
    if data_file != name::data_file(&name) && data_file != name::manifest_file(&name) {
        return Err(corrupt(format!(
            "metadata.npkm: {name:?} names data file {data_file:?}"
        )));
    }
    let last_modified = r.u64()?;
    let size_bytes = r.u64()?;
    let dtype = DType::from_code(r.u8()?)?;
    let compression = r.u8()?;
    let _level = r.u32()?;
    let _original = r.u64()?;
    let _compressed = r.u64()?;
    if r.u8()? != 0 {
        // Block info: skip it with bounds checks, then refuse (nothing writes compressed data).
        let _enabled = r.u8()?;
        let _block_size = r.u64()?;
        let _num_blocks = r.u64()?;
        let blocks = r.u32()? as usize;
        r.take(
            blocks
                .checked_mul(24)
                .ok_or_else(|| corrupt("block table overflows"))?,
        )?;
    }
    if compression != 0 {
        return Err(corrupt(format!(
            "metadata.npkm: {name:?} is compressed (algorithm {compression}); not supported"
        )));
    }
    let rec = ArrayRecord {
        name,
        shape,
        data_file,
        last_modified,
        dtype,
    };
    let expected = rec
        .size_bytes()
        .map_err(|_| corrupt(format!("metadata.npkm: {:?} size overflows", rec.name)))?;
    if expected != size_bytes {
        return Err(corrupt(format!(
            "metadata.npkm: {:?} records {size_bytes} bytes but its shape needs {expected}",
            rec.name
        )));
    }
    Ok(rec)
}
