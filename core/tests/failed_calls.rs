//! A call that fails changes nothing on disk: multi-array calls check every array before
//! writing any, and refused sizes are refused before the first byte is written.

mod common;

use common::{RemoveFails, bytes};
use numpack_core::{DType, Error, Io, MemIo, NewArray, Selection, Store};

/// A call under test.
type Call<'a> = Box<dyn Fn(&mut Store<MemIo>) -> numpack_core::Result<()> + 'a>;

fn store() -> (MemIo, Store<MemIo>) {
    let mem = MemIo::new();
    let mut s = Store::open(mem.clone()).unwrap();
    s.save(&[
        NewArray {
            name: "a",
            dtype: DType::Float32,
            shape: &[5, 2],
            data: &bytes(1, 40),
        },
        NewArray {
            name: "i",
            dtype: DType::Float64,
            shape: &[3, 2],
            data: &bytes(2, 48),
        },
    ])
    .unwrap();
    s.drop_rows("i", &Selection::Indices(vec![1])).unwrap();
    (mem, s)
}

#[test]
fn multi_array_calls_are_all_or_nothing() {
    let (mem, mut s) = store();
    let before = mem.snapshot();
    let f32_row = bytes(3, 8);
    let f64_row = bytes(4, 16);
    let cases: Vec<(&str, Call<'_>)> = vec![
        // The second array's dtype is wrong: the first must not gain a row.
        (
            "append, second dtype wrong",
            Box::new(|s| {
                s.append_all(&[
                    NewArray {
                        name: "a",
                        dtype: DType::Float32,
                        shape: &[1, 2],
                        data: &f32_row,
                    },
                    NewArray {
                        // complex64 cannot be cast to the stored float64 (same_kind).
                        name: "i",
                        dtype: DType::Complex64,
                        shape: &[1, 2],
                        data: &f64_row,
                    },
                ])
            }),
        ),
        (
            "append, second missing",
            Box::new(|s| {
                s.append_all(&[
                    NewArray {
                        name: "a",
                        dtype: DType::Float32,
                        shape: &[1, 2],
                        data: &f32_row,
                    },
                    NewArray {
                        name: "zz",
                        dtype: DType::Float32,
                        shape: &[1, 2],
                        data: &f32_row,
                    },
                ])
            }),
        ),
        (
            "append, same array twice",
            Box::new(|s| {
                s.append_all(&[
                    NewArray {
                        name: "a",
                        dtype: DType::Float32,
                        shape: &[1, 2],
                        data: &f32_row,
                    },
                    NewArray {
                        name: "a",
                        dtype: DType::Float32,
                        shape: &[1, 2],
                        data: &f32_row,
                    },
                ])
            }),
        ),
        // Row 2 is out of range for `i` (2 live rows): `a` must keep its row 2.
        (
            "drop, second out of range",
            Box::new(|s| s.drop_rows_all(&["a", "i"], &Selection::Indices(vec![2]))),
        ),
        (
            "drop, second missing",
            Box::new(|s| s.drop_rows_all(&["a", "zz"], &Selection::Indices(vec![0]))),
        ),
        (
            "replace, second out of range",
            Box::new(|s| {
                s.replace_all(&[
                    (
                        &Selection::Indices(vec![2]),
                        NewArray {
                            name: "a",
                            dtype: DType::Float32,
                            shape: &[1, 2],
                            data: &f32_row,
                        },
                    ),
                    (
                        &Selection::Indices(vec![2]),
                        NewArray {
                            name: "i",
                            dtype: DType::Float64,
                            shape: &[1, 2],
                            data: &f64_row,
                        },
                    ),
                ])
            }),
        ),
        (
            "replace, second width wrong",
            Box::new(|s| {
                s.replace_all(&[
                    (
                        &Selection::Indices(vec![0]),
                        NewArray {
                            name: "a",
                            dtype: DType::Float32,
                            shape: &[1, 2],
                            data: &f32_row,
                        },
                    ),
                    (
                        &Selection::Indices(vec![0]),
                        NewArray {
                            name: "i",
                            dtype: DType::Float64,
                            shape: &[1, 1],
                            data: &f64_row[..8],
                        },
                    ),
                ])
            }),
        ),
        (
            "replace, duplicate row",
            Box::new(|s| {
                s.replace_all(&[(
                    &Selection::Indices(vec![1, -4]),
                    NewArray {
                        name: "a",
                        dtype: DType::Float32,
                        shape: &[2, 2],
                        data: &bytes(5, 16),
                    },
                )])
            }),
        ),
        (
            "mask of the wrong length",
            Box::new(|s| s.drop_rows("a", &Selection::Mask(vec![true, false]))),
        ),
        (
            "save, one name invalid",
            Box::new(|s| {
                s.save(&[
                    NewArray {
                        name: "a",
                        dtype: DType::Float32,
                        shape: &[1, 2],
                        data: &f32_row,
                    },
                    NewArray {
                        name: "../x",
                        dtype: DType::Float32,
                        shape: &[1, 2],
                        data: &f32_row,
                    },
                ])
            }),
        ),
    ];
    for (label, call) in cases {
        let err = call(&mut s).expect_err(label);
        assert!(
            !matches!(err, Error::Io(_) | Error::Corrupt(_)),
            "{label}: {err}"
        );
        assert_eq!(mem.snapshot(), before, "{label} changed files");
        let mut fresh = Store::open(mem.clone()).unwrap();
        assert_eq!(fresh.info("a").unwrap().shape, vec![5, 2], "{label}");
        assert_eq!(fresh.info("i").unwrap().shape, vec![2, 2], "{label}");
    }
    // The same calls, valid, change both arrays in one go.
    s.append_all(&[
        NewArray {
            name: "a",
            dtype: DType::Float32,
            shape: &[1, 2],
            data: &f32_row,
        },
        NewArray {
            name: "i",
            dtype: DType::Float64,
            shape: &[1, 2],
            data: &f64_row,
        },
    ])
    .unwrap();
    s.drop_rows_all(&["a", "i"], &Selection::Indices(vec![0]))
        .unwrap();
    assert_eq!(
        (s.info("a").unwrap().shape[0], s.info("i").unwrap().shape[0]),
        (5, 2)
    );
    let (_, last) = s
        .read_selection("i", &Selection::Indices(vec![-1]))
        .unwrap();
    assert_eq!(last, f64_row);
}

#[test]
fn an_error_mask_is_numpys_index_error() {
    let (_, mut s) = store();
    let err = s
        .read_selection("a", &Selection::Mask(vec![true; 4]))
        .unwrap_err();
    assert!(matches!(err, Error::BadIndex(_)), "{err}");
    let (shape, got) = s
        .read_selection("a", &Selection::Mask(vec![false, true, false, false, true]))
        .unwrap();
    let (_, want) = s
        .read_selection("a", &Selection::Indices(vec![1, 4]))
        .unwrap();
    assert_eq!((shape, got), (vec![2, 2], want));
}

#[test]
fn a_read_only_folder_with_leftover_temporary_files_opens_for_reading() {
    let (mem, _) = store();
    mem.write_file("metadata.npkm.tmp", b"half a catalogue")
        .unwrap();
    mem.write_file("data_a.npkd.tmp", b"half an array").unwrap();
    for kind in [
        std::io::ErrorKind::PermissionDenied,
        std::io::ErrorKind::ReadOnlyFilesystem,
    ] {
        let mut reader = Store::open(RemoveFails {
            inner: mem.clone(),
            path: "",
            kind,
        })
        .unwrap();
        assert_eq!(reader.info("a").unwrap().shape, vec![5, 2]);
        assert!(
            mem.len("data_a.npkd.tmp").unwrap().is_some(),
            "left for the next writer"
        );
    }
    // Any other failure to clean up is still reported.
    assert!(
        Store::open(RemoveFails {
            inner: mem.clone(),
            path: "",
            kind: std::io::ErrorKind::Other
        })
        .is_err()
    );
    Store::open(mem.clone()).unwrap();
    assert!(
        mem.len("data_a.npkd.tmp").unwrap().is_none(),
        "a writer cleans up"
    );
}
