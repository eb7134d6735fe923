//! Compatibility: a store written byte by byte the way upstream NumPack 0.7 writes it (records
//! in hash order, a headered bitmap, a legacy header-less bitmap, a segmented array with its
//! pretty-printed JSON manifest) opens and reads correctly, and keeps working after changes.

use std::collections::BTreeMap;

use numpack_core::{DType, MemIo, Selection, Store};

/// Upstream's record layout, written out independently of our encoder.
fn record(
    name: &str,
    shape: &[u64],
    data_file: &str,
    dtype_code: u8,
    itemsize: u64,
) -> (Vec<u8>, u64) {
    let size = shape.iter().product::<u64>() * itemsize;
    let mut r = Vec::new();
    r.extend_from_slice(&(name.len() as u32).to_le_bytes());
    r.extend_from_slice(name.as_bytes());
    r.extend_from_slice(&(shape.len() as u32).to_le_bytes());
    for d in shape {
        r.extend_from_slice(&d.to_le_bytes());
    }
    r.extend_from_slice(&(data_file.len() as u32).to_le_bytes());
    r.extend_from_slice(data_file.as_bytes());
    r.extend_from_slice(&1_716_000_000_123_456u64.to_le_bytes()); // last_modified
    r.extend_from_slice(&size.to_le_bytes());
    r.push(dtype_code);
    r.push(0); // compression none
    r.extend_from_slice(&[0u8; 4 + 8 + 8]);
    r.push(0); // no block info
    (r, size)
}

fn le_f64(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn upstream_store() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    // "ids": int64 [5], rows 1 and 3 dropped (headered bitmap).
    let ids: Vec<u8> = [10i64, 11, 12, 13, 14]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    files.insert("data_ids.npkd".to_string(), ids);
    let mut bm = Vec::new();
    for v in [5u64, 2, 0b10101] {
        bm.extend_from_slice(&v.to_le_bytes());
    }
    files.insert("deleted_ids.npkb".to_string(), bm);
    // "flags": uint8 [4], legacy bitmap (no header): row 2 dropped.
    files.insert("data_flags.npkd".to_string(), vec![1, 2, 3, 4]);
    files.insert(
        "deleted_flags.npkb".to_string(),
        0b1011u64.to_le_bytes().to_vec(),
    );
    // "big": float64 [5, 2] in two segments of 3 and 2 rows.
    let big: Vec<f64> = (0..10).map(f64::from).collect();
    files.insert(
        "data_big_segments/seg_000000.npkd".to_string(),
        le_f64(&big[..6]),
    );
    files.insert(
        "data_big_segments/seg_000001.npkd".to_string(),
        le_f64(&big[6..]),
    );
    let manifest = "{\n  \"version\": 1,\n  \"segments\": [\n    {\n      \"file\": \"data_big_segments/seg_000000.npkd\",\n      \"rows\": 3,\n      \"bytes\": 48\n    },\n    {\n      \"file\": \"data_big_segments/seg_000001.npkd\",\n      \"rows\": 2,\n      \"bytes\": 32\n    }\n  ]\n}";
    files.insert("data_big.npkseg".to_string(), manifest.as_bytes().to_vec());
    // The catalogue, in an order that is not creation order (upstream uses a HashMap).
    let recs = [
        record("big", &[5, 2], "data_big.npkseg", 11, 8),
        record("ids", &[5], "data_ids.npkd", 8, 8),
        record("flags", &[4], "data_flags.npkd", 1, 1),
    ];
    let mut meta = Vec::new();
    meta.extend_from_slice(b"NPKB");
    meta.extend_from_slice(&1u32.to_le_bytes());
    meta.extend_from_slice(&recs.iter().map(|r| r.1).sum::<u64>().to_le_bytes());
    meta.extend_from_slice(&(recs.len() as u32).to_le_bytes());
    for (r, _) in &recs {
        meta.extend_from_slice(r);
    }
    files.insert("metadata.npkm".to_string(), meta);
    files
}

fn read_all(store: &mut Store<MemIo>, name: &str) -> (Vec<u64>, Vec<u8>) {
    store.read_selection(name, &Selection::All).unwrap()
}

#[test]
fn upstream_store_reads_correctly() {
    let io = MemIo::new();
    io.restore(upstream_store());
    let mut store = Store::open(io).unwrap();
    assert_eq!(store.names().unwrap(), ["big", "ids", "flags"]);
    let ids = read_all(&mut store, "ids");
    assert_eq!(ids.0, [3]);
    assert_eq!(
        ids.1,
        [10i64, 12, 14]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect::<Vec<u8>>()
    );
    assert_eq!(read_all(&mut store, "flags"), (vec![3], vec![1, 2, 4]));
    let big = read_all(&mut store, "big");
    assert_eq!(big.0, [5, 2]);
    assert_eq!(big.1, le_f64(&(0..10).map(f64::from).collect::<Vec<_>>()));
    // A read that spans the segment boundary.
    let (_, rows) = store
        .read_selection("big", &Selection::Indices(vec![2, 3, -1]))
        .unwrap();
    assert_eq!(rows, le_f64(&[4.0, 5.0, 6.0, 7.0, 8.0, 9.0]));
    let info = store.info("ids").unwrap();
    assert_eq!(
        (info.dtype, info.physical_shape, info.last_modified),
        (DType::Int64, vec![5], 1_716_000_000_123_456)
    );
}

#[test]
fn upstream_store_keeps_working_after_changes() {
    let io = MemIo::new();
    io.restore(upstream_store());
    let mut store = Store::open(io.clone()).unwrap();
    // Replace inside the second segment, then append (which rewrites it as a plain file).
    store
        .replace(
            "big",
            &Selection::Indices(vec![4]),
            DType::Float64,
            &[1, 2],
            &le_f64(&[-1.0, -2.0]),
        )
        .unwrap();
    store
        .append("big", DType::Float64, &[1, 2], &le_f64(&[100.0, 101.0]))
        .unwrap();
    store
        .append("ids", DType::Int64, &[1], &99i64.to_le_bytes())
        .unwrap();
    store
        .drop_rows("flags", &Selection::Indices(vec![0]))
        .unwrap();

    let files = io.snapshot();
    assert!(
        files
            .keys()
            .all(|f| !f.starts_with("data_big_segments") && f != "data_big.npkseg"),
        "segments were replaced by a plain file"
    );
    let mut store = Store::open(io).unwrap();
    let mut want: Vec<f64> = (0..8).map(f64::from).collect();
    want.extend([-1.0, -2.0, 100.0, 101.0]);
    assert_eq!(read_all(&mut store, "big"), (vec![6, 2], le_f64(&want)));
    assert_eq!(
        read_all(&mut store, "ids").1,
        [10i64, 12, 14, 99]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect::<Vec<u8>>()
    );
    assert_eq!(read_all(&mut store, "flags"), (vec![2], vec![2, 4]));
    // The bitmap we rewrote has upstream's header: 6 rows, 2 dropped.
    let ids_bitmap = &files["deleted_ids.npkb"];
    assert_eq!(
        &ids_bitmap[..16],
        &[6, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(ids_bitmap[16], 0b110101);
}
