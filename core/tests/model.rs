//! Model test: random sequences of save / append / replace / drop / compact / clone / reopen on
//! `MemIo`, every dtype and ndim 1–3, compared after each step with a plain in-memory model.
//! Invalid calls (bad index, wrong dtype or width) must fail and change nothing.

mod common;

use common::{Model, ModelArray, assert_matches, bytes, model_get, model_get_mut};
use numpack_core::{DType, Error, MemIo, NewArray, Selection, Store};
use proptest::prelude::*;

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

#[derive(Clone, Debug)]
enum Op {
    Save {
        name: usize,
        dtype: usize,
        row_shape: Vec<u64>,
        rows: u64,
        seed: u64,
    },
    Append {
        name: usize,
        rows: u64,
        seed: u64,
        wrong_dtype: bool,
    },
    Replace {
        name: usize,
        picks: Vec<i64>,
        seed: u64,
    },
    DropRows {
        name: usize,
        picks: Vec<i64>,
    },
    DropSlice {
        name: usize,
        start: Option<i64>,
        stop: Option<i64>,
        step: i64,
    },
    DropArray {
        name: usize,
    },
    Compact {
        name: usize,
    },
    Clone {
        src: usize,
        dst: usize,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let name = 0..NAMES.len();
    prop_oneof![
        3 => (name.clone(), 0..14usize, prop::collection::vec(1..4u64, 0..3), 0..40u64, any::<u64>())
            .prop_map(|(name, dtype, row_shape, rows, seed)| Op::Save { name, dtype, row_shape, rows, seed }),
        3 => (name.clone(), 0..70u64, any::<u64>(), prop::bool::weighted(0.1))
            .prop_map(|(name, rows, seed, wrong_dtype)| Op::Append { name, rows, seed, wrong_dtype }),
        3 => (name.clone(), prop::collection::vec(-50..50i64, 0..6), any::<u64>())
            .prop_map(|(name, picks, seed)| Op::Replace { name, picks, seed }),
        3 => (name.clone(), prop::collection::vec(-50..50i64, 0..6)).prop_map(|(name, picks)| Op::DropRows { name, picks }),
        1 => (name.clone(), prop::option::of(-20..20i64), prop::option::of(-20..20i64), prop_oneof![-3..0i64, 1..4i64])
            .prop_map(|(name, start, stop, step)| Op::DropSlice { name, start, stop, step }),
        1 => name.clone().prop_map(|name| Op::DropArray { name }),
        1 => name.clone().prop_map(|name| Op::Compact { name }),
        1 => (name.clone(), name.clone()).prop_map(|(src, dst)| Op::Clone { src, dst }),
        1 => Just(Op::Reopen),
    ]
}

fn normalize(i: i64, len: usize) -> Option<usize> {
    let r = if i < 0 { i + len as i64 } else { i };
    (0..len as i64).contains(&r).then_some(r as usize)
}

/// Applies `op` to the store and the model; checks that the store fails exactly when the model
/// says the call is invalid.
fn step(store: &mut Store<MemIo>, io: &MemIo, model: &mut Model, op: &Op) {
    match op {
        Op::Save {
            name,
            dtype,
            row_shape,
            rows,
            seed,
        } => {
            let dtype = DType::ALL[*dtype];
            let arr = ModelArray {
                dtype,
                row_shape: row_shape.clone(),
                rows: vec![],
            };
            let rb = arr.row_bytes();
            let data = bytes(*seed, rb * *rows as usize);
            let mut shape = vec![*rows];
            shape.extend_from_slice(row_shape);
            store
                .save(&[NewArray {
                    name: NAMES[*name],
                    dtype,
                    shape: &shape,
                    data: &data,
                }])
                .unwrap();
            let arr = ModelArray {
                rows: data.chunks(rb.max(1)).map(<[u8]>::to_vec).collect(),
                ..arr
            };
            let arr = if rb == 0 {
                ModelArray {
                    rows: vec![vec![]; *rows as usize],
                    ..arr
                }
            } else {
                arr
            };
            match model_get_mut(model, NAMES[*name]) {
                Some(slot) => *slot = arr,
                None => model.push((NAMES[*name].to_string(), arr)),
            }
        }
        Op::Append {
            name,
            rows,
            seed,
            wrong_dtype,
        } => {
            let n = NAMES[*name];
            let Some(arr) = model_get_mut(model, n) else {
                assert!(matches!(
                    store.append(n, DType::Int8, &[1], &[0]),
                    Err(Error::NotFound(_))
                ));
                return;
            };
            let rb = arr.row_bytes();
            let data = bytes(*seed, rb * *rows as usize);
            let mut shape = vec![*rows];
            shape.extend_from_slice(&arr.row_shape);
            if *wrong_dtype {
                // complex128 rows cannot be cast into any non-complex array (same_kind); the
                // bytes are the right length for them, so only the cast refuses the call.
                if !matches!(arr.dtype, DType::Complex64 | DType::Complex128) {
                    let elements = rb / arr.dtype.itemsize() as usize;
                    let data = bytes(*seed, 16 * elements * *rows as usize);
                    assert!(matches!(
                        store.append(n, DType::Complex128, &shape, &data),
                        Err(Error::DtypeMismatch(_))
                    ));
                }
                return;
            }
            store.append(n, arr.dtype, &shape, &data).unwrap();
            if rb > 0 {
                arr.rows.extend(data.chunks(rb).map(<[u8]>::to_vec));
            } else {
                arr.rows.extend(std::iter::repeat_n(vec![], *rows as usize));
            }
        }
        Op::Replace { name, picks, seed } => {
            let n = NAMES[*name];
            let Some(arr) = model_get_mut(model, n) else {
                return;
            };
            let rb = arr.row_bytes();
            let data = bytes(*seed, rb * picks.len());
            let mut shape = vec![picks.len() as u64];
            shape.extend_from_slice(&arr.row_shape);
            let resolved: Option<Vec<usize>> = picks
                .iter()
                .map(|&i| normalize(i, arr.rows.len()))
                .collect();
            let unique = resolved.as_ref().is_some_and(|r| {
                let mut s = r.clone();
                s.sort();
                s.dedup();
                s.len() == r.len()
            });
            let result = store.replace(
                n,
                &Selection::Indices(picks.clone()),
                arr.dtype,
                &shape,
                &data,
            );
            match resolved {
                Some(rows) if unique => {
                    result.unwrap();
                    for (k, r) in rows.into_iter().enumerate() {
                        arr.rows[r] = data[k * rb..(k + 1) * rb].to_vec();
                    }
                }
                _ => assert!(
                    result.is_err(),
                    "replace {picks:?} of {} rows must fail",
                    arr.rows.len()
                ),
            }
        }
        Op::DropRows { name, picks } => {
            let n = NAMES[*name];
            let Some(arr) = model_get_mut(model, n) else {
                assert!(matches!(
                    store.drop_rows(n, &Selection::Indices(picks.clone())),
                    Err(Error::NotFound(_))
                ));
                return;
            };
            let resolved: Option<Vec<usize>> = picks
                .iter()
                .map(|&i| normalize(i, arr.rows.len()))
                .collect();
            let result = store.drop_rows(n, &Selection::Indices(picks.clone()));
            match resolved {
                Some(mut rows) => {
                    result.unwrap();
                    rows.sort();
                    rows.dedup();
                    for r in rows.into_iter().rev() {
                        arr.rows.remove(r);
                    }
                }
                None => assert!(matches!(result, Err(Error::IndexOutOfRange { .. }))),
            }
        }
        Op::DropSlice {
            name,
            start,
            stop,
            step,
        } => {
            let n = NAMES[*name];
            let Some(arr) = model_get_mut(model, n) else {
                return;
            };
            let len = arr.rows.len() as i64;
            // Python's slice semantics, spelled out independently of the store's code.
            let norm = |v: i64| if v < 0 { v + len } else { v };
            let mut keep = vec![true; arr.rows.len()];
            if *step > 0 {
                let lo = start.map_or(0, |s| norm(s).clamp(0, len));
                let hi = stop.map_or(len, |s| norm(s).clamp(0, len));
                let mut i = lo;
                while i < hi {
                    keep[i as usize] = false;
                    i += step;
                }
            } else {
                let hi = start.map_or(len - 1, |s| norm(s).clamp(-1, len - 1));
                let lo = stop.map_or(-1, |s| norm(s).clamp(-1, len - 1));
                let mut i = hi;
                while i > lo {
                    keep[i as usize] = false;
                    i += step;
                }
            }
            store
                .drop_rows(
                    n,
                    &Selection::Slice {
                        start: *start,
                        stop: *stop,
                        step: *step,
                    },
                )
                .unwrap();
            let mut k = keep.into_iter();
            arr.rows.retain(|_| k.next().unwrap());
        }
        Op::DropArray { name } => {
            let n = NAMES[*name];
            let result = store.drop_arrays(&[n]);
            match model.iter().position(|(m, _)| m == n) {
                Some(i) => {
                    result.unwrap();
                    model.remove(i);
                }
                None => assert!(matches!(result, Err(Error::NotFound(_)))),
            }
        }
        Op::Compact { name } => {
            let n = NAMES[*name];
            let result = store.compact(n);
            assert_eq!(result.is_ok(), model_get(model, n).is_some());
        }
        Op::Clone { src, dst } => {
            let (s, d) = (NAMES[*src], NAMES[*dst]);
            let result = store.clone_array(s, d);
            match (model_get(model, s).cloned(), model_get(model, d)) {
                (Some(arr), None) => {
                    result.unwrap();
                    model.push((d.to_string(), arr));
                }
                _ => assert!(result.is_err()),
            }
        }
        Op::Reopen => *store = Store::open(io.clone()).unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        let io = MemIo::new();
        let mut store = Store::open(io.clone()).unwrap();
        let mut model = Model::new();
        for op in &ops {
            step(&mut store, &io, &mut model, op);
            assert_matches(&mut store, &model);
        }
        // A second handle on the same files sees the same thing.
        let mut other = Store::open(io.clone()).unwrap();
        assert_matches(&mut other, &model);
    }
}

#[test]
fn random_row_reads_match_the_model_after_drops() {
    let io = MemIo::new();
    let mut store = Store::open(io).unwrap();
    let data = bytes(7, 1000 * 12);
    store
        .save(&[NewArray {
            name: "x",
            dtype: DType::Int32,
            shape: &[1000, 3],
            data: &data,
        }])
        .unwrap();
    let mut rows: Vec<Vec<u8>> = data.chunks(12).map(<[u8]>::to_vec).collect();
    let drops: Vec<i64> = (0..1000).filter(|i| i % 7 == 0 || i % 64 == 63).collect();
    store
        .drop_rows("x", &Selection::Indices(drops.clone()))
        .unwrap();
    for &d in drops.iter().rev() {
        rows.remove(d as usize);
    }
    let picks: Vec<u64> = (0..500u64)
        .map(|k| (k * 7919) % rows.len() as u64)
        .collect();
    let (_, out) = store
        .read_selection(
            "x",
            &Selection::Indices(picks.iter().map(|&p| p as i64).collect()),
        )
        .unwrap();
    let want: Vec<u8> = picks
        .iter()
        .flat_map(|&p| rows[p as usize].clone())
        .collect();
    assert!(out == want);
    let (shape, sel) = store
        .read_selection(
            "x",
            &Selection::Slice {
                start: Some(-1),
                stop: None,
                step: -3,
            },
        )
        .unwrap();
    let want: Vec<u8> = (0..rows.len())
        .rev()
        .step_by(3)
        .flat_map(|i| rows[i].clone())
        .collect();
    assert_eq!(shape, vec![want.len() as u64 / 12, 3]);
    assert!(sel == want);
    // Whole arrays and step-1 slices take the contiguous-run path; they must agree too.
    let (_, all) = store.read_selection("x", &Selection::All).unwrap();
    assert!(all == rows.concat());
    for (start, stop) in [
        (Some(5), Some(300)),
        (Some(-40), None),
        (None, Some(-900)),
        (Some(700), Some(10)),
    ] {
        let (shape, got) = store
            .read_selection(
                "x",
                &Selection::Slice {
                    start,
                    stop,
                    step: 1,
                },
            )
            .unwrap();
        let n = rows.len() as i64;
        let norm = |v: i64| if v < 0 { (v + n).max(0) } else { v.min(n) };
        let (lo, hi) = (start.map_or(0, norm), stop.map_or(n, norm));
        let want: Vec<u8> = if hi > lo {
            rows[lo as usize..hi as usize].concat()
        } else {
            vec![]
        };
        assert_eq!(shape[0], want.len() as u64 / 12, "{start:?}:{stop:?}");
        assert!(got == want, "{start:?}:{stop:?}");
    }
}
