//! `numpack info`'s facts checked against a model built from what the test wrote: rows saved
//! and dropped, the bytes of a row, and the files the in-memory back end holds.

use numpack_core::facts::facts;
use numpack_core::format::METADATA_FILE;
use numpack_core::{DType, Error, Io, MemIo, NewArray, Selection, Store};

/// A store with a 2-D float32 array (rows 1 and 3 of 5 dropped), an int64 vector and a 0-d
/// float64 array.
fn sample() -> MemIo {
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    let a: Vec<u8> = (0..5 * 3 * 4).map(|i| i as u8).collect();
    let b = vec![7u8; 2 * 8];
    let c = vec![1u8; 8];
    store
        .save(&[
            NewArray {
                name: "a",
                dtype: DType::Float32,
                shape: &[5, 3],
                data: &a,
            },
            NewArray {
                name: "b",
                dtype: DType::Int64,
                shape: &[2],
                data: &b,
            },
            NewArray {
                name: "c",
                dtype: DType::Float64,
                shape: &[],
                data: &c,
            },
        ])
        .unwrap();
    store
        .drop_rows("a", &Selection::Indices(vec![1, 3]))
        .unwrap();
    io
}

fn len(io: &MemIo, f: &str) -> u64 {
    io.len(f).unwrap().unwrap()
}

#[test]
fn facts_match_what_was_written() {
    let io = sample();
    let f = facts(&io, None).unwrap();
    let names: Vec<&str> = f.arrays.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);

    let a = &f.arrays[0];
    assert_eq!(
        (a.dtype, a.shape.clone(), a.physical_shape.clone()),
        (DType::Float32, vec![3, 3], vec![5, 3])
    );
    assert_eq!((a.live_rows, a.dropped_rows), (3, 2));
    let a_files = ["data_a.npkd", "deleted_a.npkb"];
    assert_eq!(a.files, a_files.map(|p| (p.to_string(), len(&io, p))));
    assert_eq!(
        a.bytes_on_disk,
        a_files.iter().map(|p| len(&io, p)).sum::<u64>()
    );
    assert_eq!(a.reclaimable_bytes, 2 * 3 * 4);

    let b = &f.arrays[1];
    assert_eq!(
        (b.live_rows, b.dropped_rows, b.reclaimable_bytes),
        (2, 0, 0)
    );
    assert_eq!(b.files, [("data_b.npkd".to_string(), 16)]);
    let c = &f.arrays[2];
    assert_eq!(
        (
            c.shape.clone(),
            c.live_rows,
            c.dropped_rows,
            c.bytes_on_disk
        ),
        (vec![], 1, 0, 8)
    );

    // Every file of the folder counts towards the store's bytes, whoever owns it.
    let all: u64 = io.list("").unwrap().iter().map(|p| len(&io, p)).sum();
    assert_eq!(f.bytes_on_disk, all);
    assert_eq!(
        f.bytes_on_disk,
        len(&io, METADATA_FILE) + a.bytes_on_disk + 16 + 8
    );
    assert_eq!(f.reclaimable_bytes, 24);
    assert_eq!(
        f.last_modified,
        f.arrays.iter().map(|a| a.last_modified).max()
    );
}

#[test]
fn an_uncommitted_tail_is_reclaimable_and_one_array_can_be_asked_for() {
    let io = sample();
    // An append that died after writing its rows but before committing leaves a tail.
    io.write_at("data_b.npkd", 16, &[0u8; 40]).unwrap();
    let f = facts(&io, Some("b")).unwrap();
    assert_eq!(f.arrays.len(), 1);
    assert_eq!(
        (f.arrays[0].bytes_on_disk, f.arrays[0].reclaimable_bytes),
        (56, 40)
    );
    assert_eq!(f.reclaimable_bytes, 40);
    assert!(matches!(facts(&io, Some("zz")), Err(Error::NotFound(n)) if n == "zz"));
}

#[test]
fn an_empty_store_and_a_corrupt_one() {
    let empty = facts(&MemIo::new(), None).unwrap();
    assert!(empty.arrays.is_empty());
    assert_eq!(
        (
            empty.bytes_on_disk,
            empty.reclaimable_bytes,
            empty.last_modified
        ),
        (0, 0, None)
    );
    let io = sample();
    io.set_len("data_a.npkd", 4).unwrap(); // shorter than its rows: the loader refuses it
    assert!(matches!(facts(&io, None), Err(Error::Corrupt(_))));
    io.write_file(METADATA_FILE, b"NPKB").unwrap();
    assert!(matches!(facts(&io, None), Err(Error::Corrupt(_))));
}

/// A store holding one segmented array `big` (float64 [5, 2] in segments of 3 and 2 rows), as
/// upstream NumPack 0.7 lays it out.
fn segmented() -> MemIo {
    use numpack_core::format::metadata::{ArrayRecord, encode};
    let seg = |k: usize, rows: usize| {
        (
            format!("data_big_segments/seg_{k:06}.npkd"),
            vec![0u8; rows * 16],
        )
    };
    let manifest = r#"{"version": 1, "segments": [{"file": "data_big_segments/seg_000000.npkd", "rows": 3, "bytes": 48}, {"file": "data_big_segments/seg_000001.npkd", "rows": 2, "bytes": 32}]}"#;
    let record = ArrayRecord {
        name: "big".into(),
        shape: vec![5, 2],
        data_file: "data_big.npkseg".into(),
        last_modified: 1_716_000_000_000_000,
        dtype: DType::Float64,
    };
    let files = [
        seg(0, 3),
        seg(1, 2),
        ("data_big.npkseg".into(), manifest.as_bytes().to_vec()),
        (METADATA_FILE.into(), encode(&[record]).unwrap()),
    ];
    let io = MemIo::new();
    io.restore(files.into_iter().collect());
    io
}

#[test]
fn a_segmented_array_counts_its_segment_files() {
    let io = segmented();
    let f = facts(&io, None).unwrap();
    let big = &f.arrays[0];
    let manifest = len(&io, "data_big.npkseg");
    assert_eq!(
        big.files,
        [
            ("data_big.npkseg".to_string(), manifest),
            ("data_big_segments/seg_000000.npkd".to_string(), 48),
            ("data_big_segments/seg_000001.npkd".to_string(), 32),
        ]
    );
    assert_eq!(
        (big.live_rows, big.bytes_on_disk, big.reclaimable_bytes),
        (5, manifest + 80, 0)
    );
    // The in-memory back end lists files only: the segment files still count.
    assert_eq!(f.bytes_on_disk, len(&io, METADATA_FILE) + manifest + 80);
}

#[test]
fn verify_finds_an_orphan_segment_on_a_back_end_that_lists_files_only() {
    use numpack_core::verify::{Fault, verify};
    let io = segmented();
    assert!(verify(&io).unwrap().is_empty());
    io.write_file("data_big_segments/seg_000009.npkd", &[0; 16])
        .unwrap();
    let found: Vec<(Fault, String)> = verify(&io)
        .unwrap()
        .into_iter()
        .map(|p| (p.fault, p.path))
        .collect();
    assert_eq!(
        found,
        [(
            Fault::Orphan,
            "data_big_segments/seg_000009.npkd".to_string()
        )]
    );
    io.set_len("data_big_segments/seg_000001.npkd", 8).unwrap();
    let found: Vec<Fault> = verify(&io).unwrap().into_iter().map(|p| p.fault).collect();
    assert_eq!(found, [Fault::Segments]); // the broken array's segment files are not orphans
}

/// `verify --save-checksums`: SHA-256 of the logical bytes, checked against the FIPS 180-2
/// example digests (one block, two blocks, a million bytes).
#[test]
fn checksums_are_sha256_of_the_live_rows() {
    use numpack_core::verify::checksums;
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    let two = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    let million = vec![b'a'; 1_000_000];
    store
        .save(&[
            NewArray {
                name: "abc",
                dtype: DType::Uint8,
                shape: &[4],
                data: b"abXc",
            },
            NewArray {
                name: "two",
                dtype: DType::Uint8,
                shape: &[2, 28],
                data: two,
            },
            NewArray {
                name: "million",
                dtype: DType::Uint8,
                shape: &[1000, 1000],
                data: &million,
            },
            NewArray {
                name: "empty",
                dtype: DType::Float32,
                shape: &[0, 3],
                data: &[],
            },
        ])
        .unwrap();
    store
        .drop_rows("abc", &Selection::Indices(vec![2]))
        .unwrap();
    let mut seen = (0, 0);
    let mut hook = |done: u64, total: u64| -> numpack_core::Result<()> {
        assert!(done > seen.0 && done <= total);
        seen = (done, total);
        Ok(())
    };
    let sums = checksums(&mut store, &mut hook).unwrap();
    let got: Vec<(&str, &str)> = sums
        .iter()
        .map(|s| (s.name.as_str(), s.sha256.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            ),
            (
                "two",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
            (
                "million",
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
            ),
            (
                "empty",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            ),
        ]
    );
    assert_eq!(sums[0].shape, [3]);
    assert_eq!(seen, (3 + 56 + 1_000_000, 3 + 56 + 1_000_000));
}
