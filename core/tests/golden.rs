//! Golden bytes: a fixed sequence of calls must produce exactly these `metadata.npkm` and
//! bitmap bytes (the same bytes are quoted in docs/FORMAT.md §6).

use numpack_core::{DType, MemIo, NewArray, Selection, Store};

fn hex(s: &str) -> Vec<u8> {
    let clean: String = s.split_whitespace().collect();
    (0..clean.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn metadata_and_bitmap_bytes_are_exactly_the_spec() {
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    let a: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    store
        .save(&[
            NewArray {
                name: "a",
                dtype: DType::Float32,
                shape: &[3, 2],
                data: &a,
            },
            NewArray {
                name: "b",
                dtype: DType::Bool,
                shape: &[3],
                data: &[1, 0, 1],
            },
        ])
        .unwrap();
    store.drop_rows("b", &Selection::Indices(vec![1])).unwrap();

    let files = io.snapshot();
    // MemIo's clock reads 1_700_000_000_000_000 + n µs at its n-th call:
    // save → n = 1 (0x00060a24181e4001), drop → n = 2 (…4002).
    let metadata = hex("4e504b42 01000000 1b00000000000000 02000000
         01000000 61
         02000000 0300000000000000 0200000000000000
         0b000000 646174615f612e6e706b64
         01401e18240a0600 1800000000000000 0a 00 00000000 0000000000000000 0000000000000000 00
         01000000 62
         01000000 0300000000000000
         0b000000 646174615f622e6e706b64
         02401e18240a0600 0300000000000000 00 00 00000000 0000000000000000 0000000000000000 00");
    assert_eq!(files["metadata.npkm"], metadata);
    assert_eq!(
        metadata.len(),
        170,
        "upstream's example file for these two arrays is 170 bytes"
    );
    let bitmap = hex("0300000000000000 0100000000000000 0500000000000000");
    assert_eq!(files["deleted_b.npkb"], bitmap);
    assert_eq!(files["data_a.npkd"], a);
    assert_eq!(files["data_b.npkd"], vec![1, 0, 1]);
    let names: Vec<&String> = files.keys().collect();
    assert_eq!(
        names,
        [
            "data_a.npkd",
            "data_b.npkd",
            "deleted_b.npkb",
            "metadata.npkm"
        ],
        "no temporary files remain"
    );
}
