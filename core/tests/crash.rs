//! Crash test: an `Io` that "dies" at its k-th mutating call (write, set_len, sync, rename,
//! remove, folder change) and refuses every call after it. For every k of every call in a
//! workload, reopening the files must show exactly the state before or after that call — for
//! `replace`, only the targeted rows may differ from the state before.

mod common;

use std::collections::BTreeMap;

use common::bytes;
use common::crashing::CrashingIo;
use numpack_core::format::segments::{self, Segment};
use numpack_core::{DType, MemIo, NewArray, Result, Selection, Store};

/// Everything a user can observe: names in order, dtype, shape, bytes.
type Logical = Vec<(String, DType, Vec<u64>, Vec<u8>)>;

fn logical(io: &MemIo) -> Logical {
    let mut store = Store::open(io.clone()).expect("the store must open after a crash");
    store
        .infos()
        .unwrap()
        .into_iter()
        .map(|info| {
            let rows = info.shape.first().copied().unwrap_or(1);
            let rb = info.shape.iter().skip(1).product::<u64>() * info.dtype.itemsize();
            let mut out = vec![0u8; (rows * rb) as usize];
            store.read_range(&info.name, 0, rows, &mut out).unwrap();
            (info.name, info.dtype, info.shape, out)
        })
        .collect()
}

type Call = Box<dyn Fn(&mut Store<&CrashingIo>) -> Result<()>>;

fn f32s(seed: u64, n: usize) -> Vec<u8> {
    bytes(seed, n * 4)
}

/// A labelled call, and for `replace` the array and rows it may leave half-written.
type Case = (&'static str, Call, Option<Vec<(&'static str, Vec<u64>)>>);

fn workload() -> Vec<Case> {
    vec![
        (
            "save new",
            Box::new(|s| {
                s.save(&[NewArray {
                    name: "v",
                    dtype: DType::Float32,
                    shape: &[10, 4],
                    data: &f32s(1, 40),
                }])
            }),
            None,
        ),
        (
            "save two",
            Box::new(|s| {
                s.save(&[
                    NewArray {
                        name: "w",
                        dtype: DType::Int64,
                        shape: &[5],
                        data: &bytes(2, 40),
                    },
                    NewArray {
                        name: "v",
                        dtype: DType::Float32,
                        shape: &[12, 4],
                        data: &f32s(3, 48),
                    },
                ])
            }),
            None,
        ),
        (
            "overwrite, same shape",
            Box::new(|s| {
                s.save(&[NewArray {
                    name: "v",
                    dtype: DType::Float32,
                    shape: &[12, 4],
                    data: &f32s(31, 48),
                }])
            }),
            None,
        ),
        (
            "append",
            Box::new(|s| s.append("v", DType::Float32, &[3, 4], &f32s(4, 12))),
            None,
        ),
        (
            "drop rows",
            Box::new(|s| s.drop_rows("v", &Selection::Indices(vec![0, 5, -1]))),
            None,
        ),
        (
            "append with bitmap",
            Box::new(|s| s.append("v", DType::Float32, &[2, 4], &f32s(5, 8))),
            None,
        ),
        (
            "replace",
            Box::new(|s| {
                s.replace(
                    "v",
                    &Selection::Indices(vec![1, 3, 4]),
                    DType::Float32,
                    &[3, 4],
                    &f32s(6, 12),
                )
            }),
            Some(vec![("v", vec![1, 3, 4])]),
        ),
        ("clone", Box::new(|s| s.clone_array("v", "v2")), None),
        ("compact", Box::new(|s| s.compact("v")), None),
        (
            "overwrite changes dtype",
            Box::new(|s| {
                s.save(&[NewArray {
                    name: "w",
                    dtype: DType::Uint8,
                    shape: &[2, 2],
                    data: &[1, 2, 3, 4],
                }])
            }),
            None,
        ),
        ("drop array", Box::new(|s| s.drop_arrays(&["v2"])), None),
        (
            "append to segmented",
            Box::new(|s| s.append("seg", DType::Int16, &[1, 2], &bytes(9, 4))),
            None,
        ),
        (
            "drop rows of segmented",
            Box::new(|s| s.drop_rows("seg", &Selection::Indices(vec![2]))),
            None,
        ),
        (
            "append to two, one segmented",
            Box::new(|s| {
                s.append_all(&[
                    NewArray {
                        name: "v",
                        dtype: DType::Float32,
                        shape: &[2, 4],
                        data: &f32s(10, 8),
                    },
                    NewArray {
                        name: "seg",
                        dtype: DType::Int16,
                        shape: &[1, 2],
                        data: &bytes(11, 4),
                    },
                ])
            }),
            None,
        ),
        (
            "drop rows of two",
            Box::new(|s| s.drop_rows_all(&["v", "seg"], &Selection::Indices(vec![0, -1]))),
            None,
        ),
        (
            "replace in two",
            Box::new(|s| {
                s.replace_all(&[
                    (
                        &Selection::Indices(vec![1]),
                        NewArray {
                            name: "v",
                            dtype: DType::Float32,
                            shape: &[1, 4],
                            data: &f32s(12, 4),
                        },
                    ),
                    (
                        &Selection::Indices(vec![0]),
                        NewArray {
                            name: "w",
                            dtype: DType::Uint8,
                            shape: &[1, 2],
                            data: &[9, 9],
                        },
                    ),
                ])
            }),
            Some(vec![("v", vec![1]), ("w", vec![0])]),
        ),
        (
            "drop rows again (bitmap patched in place)",
            Box::new(|s| s.drop_rows("v", &Selection::Indices(vec![0, 2]))),
            None,
        ),
        (
            "drop rows of two again (both patched)",
            Box::new(|s| s.drop_rows_all(&["v", "seg"], &Selection::Indices(vec![-1]))),
            None,
        ),
        ("reset", Box::new(|s| s.reset()), None),
    ]
}

/// Adds a segmented int16 array `seg` (5 rows of 2) the way upstream 0.7 writes one.
fn plant_segmented(io: &MemIo) {
    let mut store = Store::open(io.clone()).unwrap();
    store
        .save(&[NewArray {
            name: "seg",
            dtype: DType::Int16,
            shape: &[5, 2],
            data: &bytes(8, 20),
        }])
        .unwrap();
    let mut files: BTreeMap<String, Vec<u8>> = io.snapshot();
    let data = files.remove("data_seg.npkd").unwrap();
    let segs = vec![
        Segment {
            file: "data_seg_segments/seg_000000.npkd".into(),
            rows: 3,
        },
        Segment {
            file: "data_seg_segments/seg_000001.npkd".into(),
            rows: 2,
        },
    ];
    files.insert(segs[0].file.clone(), data[..12].to_vec());
    files.insert(segs[1].file.clone(), data[12..].to_vec());
    files.insert(
        "data_seg.npkseg".into(),
        segments::encode(&segs, 4).into_bytes(),
    );
    let meta = files.get_mut("metadata.npkm").unwrap();
    let needle = b"data_seg.npkd";
    let at = meta
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    // Same length, so the record stays valid: "data_seg.npkd" -> "data_seg.npkseg" needs +2 bytes.
    let mut patched = meta[..at - 4].to_vec();
    patched.extend_from_slice(&(needle.len() as u32 + 2).to_le_bytes());
    patched.extend_from_slice(b"data_seg.npkseg");
    patched.extend_from_slice(&meta[at + needle.len()..]);
    *meta = patched;
    io.restore(files);
    assert_eq!(
        logical(io).iter().find(|a| a.0 == "seg").unwrap().3,
        bytes(8, 20)
    );
}

fn crashing(files: &BTreeMap<String, Vec<u8>>) -> CrashingIo {
    let io = CrashingIo::new(MemIo::new(), usize::MAX);
    io.inner.restore(files.clone());
    io
}

/// Whether `seen` equals `before` except inside the rows `rows` of the arrays `name` listed.
fn only_rows_differ(before: &Logical, seen: &Logical, replaced: &[(&str, Vec<u64>)]) -> bool {
    before.len() == seen.len()
        && before.iter().zip(seen).all(|(b, s)| {
            if b.0 != s.0 || b.1 != s.1 || b.2 != s.2 {
                return false;
            }
            let Some((_, rows)) = replaced.iter().find(|(name, _)| *name == b.0) else {
                return b.3 == s.3;
            };
            let rb = b.3.len() / b.2[0] as usize;
            (0..b.2[0] as usize).all(|r| {
                rows.contains(&(r as u64)) || b.3[r * rb..(r + 1) * rb] == s.3[r * rb..(r + 1) * rb]
            })
        })
}

#[test]
fn every_crash_point_leaves_the_state_before_or_after() {
    let base = MemIo::new();
    let mut checked = 0;
    for (i, (label, call, replaced)) in workload().into_iter().enumerate() {
        if i == 11 {
            plant_segmented(&base);
        }
        let before_files = base.snapshot();
        let before = logical(&base);
        // The call without a crash gives the "after" state and the number of mutating calls.
        let clean = crashing(&before_files);
        let mut store = Store::open(&clean).unwrap();
        let opened = clean.calls.get();
        call(&mut store).unwrap_or_else(|e| panic!("{label}: {e}"));
        let after = logical(&clean.inner);
        if label == "compact" {
            assert_ne!(
                before_files.keys().collect::<Vec<_>>(),
                clean.inner.snapshot().keys().collect::<Vec<_>>(),
                "compact must remove the bitmap"
            );
        } else {
            assert!(before != after, "{label} must change something");
        }
        let total = clean.calls.get() - opened;
        assert!(total > 0);
        for k in 1..=total {
            let io = crashing(&before_files);
            let mut store = Store::open(&io).unwrap();
            io.fail_at.set(io.calls.get() + k);
            let result = call(&mut store);
            assert!(
                result.is_err(),
                "{label}: a crash at call {k} of {total} must surface as an error"
            );
            let seen = logical(&io.inner);
            let ok = seen == before
                || seen == after
                || replaced
                    .as_ref()
                    .is_some_and(|r| only_rows_differ(&before, &seen, r));
            assert!(
                ok,
                "{label}: a crash at call {k} of {total} left a state that is neither before nor after"
            );
            // Reopening also finished any half-applied commit: no journal or temporary file is left.
            let leftovers: Vec<String> = io
                .inner
                .snapshot()
                .into_keys()
                .filter(|f| f.ends_with(".tmp") || f.starts_with("commit."))
                .collect();
            assert!(
                leftovers.is_empty(),
                "{label}: {leftovers:?} left after recovery"
            );
            checked += 1;
        }
        base.restore(clean.inner.snapshot());
    }
    assert!(checked > 40, "only {checked} crash points were exercised");
}
