//! Sizes and counts at the edges: a writer never produces a file a reader refuses, nothing is
//! allocated or scanned per declared row, and a refused call changes nothing on disk.

use std::time::Instant;

use numpack_core::format::bitmap::Bitmap;
use numpack_core::format::metadata::{self, ArrayRecord};
use numpack_core::format::{JOURNAL_FILE, METADATA_FILE};
mod common;

use common::RemoveFails;
use numpack_core::{DType, Error, Io, MemIo, NewArray, Selection, Store};

fn store_records(store: &mut Store<MemIo>) -> Vec<ArrayRecord> {
    store
        .infos()
        .unwrap()
        .into_iter()
        .map(|i| ArrayRecord {
            name: i.name,
            shape: i.physical_shape,
            data_file: i.data_file,
            last_modified: i.last_modified,
            dtype: i.dtype,
        })
        .collect()
}

fn names(n: usize, len: usize) -> Vec<String> {
    (0..n).map(|i| format!("{i:0>len$}")).collect()
}

#[test]
fn a_writer_killed_during_reset_of_many_long_names_leaves_a_store_that_opens() {
    let mem = MemIo::new();
    let names = names(3000, 200);
    let one = [7u8; 4];
    let arrays: Vec<NewArray<'_>> = names
        .iter()
        .map(|n| NewArray {
            name: n,
            dtype: DType::Uint8,
            shape: &[1, 4],
            data: &one,
        })
        .collect();
    Store::open(mem.clone()).unwrap().save(&arrays).unwrap();
    // The process "dies" right after the commit point: removing the journal fails.
    let mut dying = Store::open(RemoveFails {
        inner: mem.clone(),
        path: JOURNAL_FILE,
        kind: std::io::ErrorKind::Other,
    })
    .unwrap();
    assert!(dying.reset().is_err());
    let left = mem
        .len(JOURNAL_FILE)
        .unwrap()
        .expect("the journal is left behind");
    assert!(
        left > 1 << 20,
        "the journal ({left} bytes) is over the old 1 MiB limit"
    );
    let mut reopened = Store::open(mem.clone()).unwrap();
    assert!(reopened.names().unwrap().is_empty());
    assert_eq!(mem.list("").unwrap(), vec![METADATA_FILE.to_string()]);
}

#[test]
fn a_catalogue_over_the_readers_limit_is_refused_before_anything_is_written() {
    let mem = MemIo::new();
    let mut store = Store::open(mem.clone()).unwrap();
    store
        .save(&[NewArray {
            name: "keep",
            dtype: DType::Int8,
            shape: &[2],
            data: &[1, 2],
        }])
        .unwrap();
    let before = mem.snapshot();
    let names = names(66_000, 238);
    let shape = [1u64; 64];
    let one = [1u8];
    let arrays: Vec<NewArray<'_>> = names
        .iter()
        .map(|n| NewArray {
            name: n,
            dtype: DType::Int8,
            shape: &shape,
            data: &one,
        })
        .collect();
    let records: Vec<ArrayRecord> = arrays
        .iter()
        .map(|a| ArrayRecord {
            name: a.name.into(),
            shape: a.shape.to_vec(),
            data_file: format!("data_{}.npkd", a.name),
            last_modified: 0,
            dtype: a.dtype,
        })
        .collect();
    assert!(
        metadata::encoded_len(&records) > metadata::MAX_METADATA_BYTES,
        "the case must be over the limit"
    );
    let err = store.save(&arrays).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert_eq!(mem.snapshot(), before, "a refused save changed files");
    assert_eq!(store.names().unwrap(), ["keep"]);
    // A single new array that would cross the limit is refused the same way (the journal-free
    // path of a one-array save checks too).
    let keep_len = metadata::encoded_len(&store_records(&mut store));
    let mut fit = 0;
    let mut len = keep_len;
    while len + metadata::encoded_len(&records[fit..=fit]) - metadata::encoded_len(&[])
        <= metadata::MAX_METADATA_BYTES
    {
        len += metadata::encoded_len(&records[fit..=fit]) - metadata::encoded_len(&[]);
        fit += 1;
    }
    store.save(&arrays[..fit]).unwrap();
    let before = mem.snapshot();
    let err = store.save(&arrays[fit..=fit]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert_eq!(mem.snapshot(), before, "a refused save changed files");
    Store::open(mem).unwrap(); // whatever was committed opens
}

#[test]
fn zero_width_rows_with_a_huge_count_cost_nothing_per_row() {
    let mem = MemIo::new();
    let mut store = Store::open(mem.clone()).unwrap();
    let rows = 1u64 << 40;
    store
        .save(&[NewArray {
            name: "h",
            dtype: DType::Int8,
            shape: &[rows, 0],
            data: &[],
        }])
        .unwrap();
    let before = mem.snapshot();
    let started = Instant::now();
    // Dropping needs a bitmap readers would refuse: a typed error, nothing changed.
    assert!(matches!(
        store.drop_rows("h", &Selection::Indices(vec![0])),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        store.drop_rows(
            "h",
            &Selection::Slice {
                start: None,
                stop: None,
                step: 1
            }
        ),
        Err(Error::InvalidArgument(_))
    ));
    // Replacing every row would need a 2^40-entry row list: out of memory, typed.
    let all = Selection::Slice {
        start: None,
        stop: None,
        step: 1,
    };
    assert!(matches!(
        store.replace("h", &all, DType::Int8, &[rows, 0], &[]),
        Err(Error::OutOfMemory(_))
    ));
    assert_eq!(mem.snapshot(), before);
    let (shape, bytes) = store.read_selection("h", &Selection::All).unwrap();
    assert_eq!((shape, bytes.len()), (vec![rows, 0], 0));
    let (shape, _) = store
        .read_selection(
            "h",
            &Selection::Slice {
                start: Some(5),
                stop: None,
                step: 3,
            },
        )
        .unwrap();
    assert_eq!(shape[0], (rows - 5).div_ceil(3));

    // A catalogue declaring 2^40 rows beside a 10-row bitmap with one row dropped opens at once.
    let mut small = Bitmap::all_live(10);
    small.drop_row(4).unwrap();
    mem.write_file("deleted_h.npkb", &small.encode().unwrap())
        .unwrap();
    let mut reopened = Store::open(mem.clone()).unwrap();
    assert_eq!(reopened.info("h").unwrap().shape, vec![rows - 1, 0]);
    let (shape, _) = reopened.read_selection("h", &Selection::All).unwrap();
    assert_eq!(shape, vec![rows - 1, 0]);
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn zero_width_rows_read_back_in_every_form() {
    let mut store = Store::open(MemIo::new()).unwrap();
    store
        .save(&[NewArray {
            name: "x",
            dtype: DType::Float32,
            shape: &[5, 0],
            data: &[],
        }])
        .unwrap();
    for sel in [
        Selection::All,
        Selection::Indices(vec![4, 0]),
        Selection::Slice {
            start: None,
            stop: None,
            step: -2,
        },
        Selection::Mask(vec![true, false, true, true, false]),
    ] {
        let (shape, bytes) = store.read_selection("x", &sel).unwrap();
        assert_eq!((shape[1], bytes.len()), (0, 0));
    }
    store.drop_rows("x", &Selection::Indices(vec![1])).unwrap();
    store.append("x", DType::Float32, &[2, 0], &[]).unwrap();
    assert_eq!(store.info("x").unwrap().shape, vec![6, 0]);
}
