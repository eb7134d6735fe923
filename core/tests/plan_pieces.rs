//! `ReadPlan::rows` (the pieces a read is cut into to run on several threads) against the whole
//! plan: for every selection and every cut, the pieces' spans cover the same bytes of the same
//! files at the same places of the result, each piece stays inside its own rows, and an index
//! out of range is reported by the piece that holds it.

use numpack_core::format::bitmap::Bitmap;
use numpack_core::{ArrayLayout, DType, Error, ReadPlan, RowMap, Selection, Span};

/// A 3-byte-row array over files of `parts` rows, with `dropped` physical rows.
fn layout(parts: &[u64], dropped: &[u64]) -> ArrayLayout {
    let physical: u64 = parts.iter().sum();
    let mut bitmap = Bitmap::all_live(physical);
    for &d in dropped {
        bitmap.drop_row(d).unwrap();
    }
    let rows = RowMap::from_bitmap(&bitmap);
    ArrayLayout {
        dtype: DType::Uint8,
        shape: vec![rows.len(), 3],
        row_bytes: 3,
        parts: parts
            .iter()
            .enumerate()
            .map(|(i, &r)| (format!("f{i}"), r))
            .collect(),
        rows,
    }
}

/// `(part, file offset, result offset)` of every byte a plan's spans cover, in walk order.
fn bytes(plan: &ReadPlan<'_>) -> Result<Vec<(usize, u64, u64)>, Error> {
    let mut out = Vec::new();
    plan.for_each_span(|s: Span| {
        out.extend((0..s.len).map(|k| (s.part, s.offset + k, s.at + k)));
        Ok::<_, Error>(())
    })?;
    Ok(out)
}

#[test]
fn pieces_cover_exactly_the_whole_plan() {
    let cases: [(&[u64], &[u64]); 4] = [
        (&[50], &[]),
        (&[20, 7, 23], &[]),
        (&[20, 7, 23], &[0, 5, 19, 20, 26, 49]),
        (&[300], &[1, 2, 3, 64, 200]),
    ];
    for (parts, dropped) in cases {
        let l = layout(parts, dropped);
        let len = l.rows.len() as i64;
        let sels = [
            Selection::All,
            Selection::Indices(
                (0..2 * len)
                    .map(|i| (i * 13 + 5) % len - (i % 3 == 0) as i64 * len)
                    .collect(),
            ),
            Selection::Indices((0..len).collect()),
            Selection::Indices(vec![]),
            Selection::Slice {
                start: Some(3),
                stop: Some(len - 2),
                step: 1,
            },
            Selection::Slice {
                start: None,
                stop: None,
                step: 3,
            },
            Selection::Slice {
                start: Some(-2),
                stop: None,
                step: -4,
            },
        ];
        for sel in &sels {
            let whole = l.plan(sel).unwrap();
            let rows = whole.shape()[0];
            let want = bytes(&whole).unwrap();
            for pieces in 1..=5u64 {
                let mut got = Vec::new();
                for p in 0..pieces {
                    let (from, to) = (rows * p / pieces, rows * (p + 1) / pieces);
                    let piece = whole.rows(from, to).expect("only masks cannot be cut");
                    assert_eq!(piece.start(), from * 3);
                    assert_eq!(piece.bytes(), (to - from) * 3);
                    assert_eq!(piece.shape(), [to - from, 3]);
                    let b = bytes(&piece).unwrap();
                    assert!(
                        b.iter().all(|&(_, _, at)| at >= from * 3 && at < to * 3),
                        "{sel:?}"
                    );
                    got.extend(b);
                }
                assert_eq!(
                    got, want,
                    "{parts:?} {dropped:?} {sel:?} in {pieces} pieces"
                );
            }
        }
        let mask = Selection::Mask((0..len).map(|i| i % 3 == 0).collect());
        assert!(l.plan(&mask).unwrap().rows(0, 1).is_none());
    }
}

#[test]
fn a_bad_index_fails_only_the_piece_holding_it() {
    let l = layout(&[10, 10], &[3]);
    let sel = Selection::Indices(vec![0, 1, 2, 3, 4, 19, -20, 7]);
    let whole = l.plan(&sel).unwrap();
    assert!(matches!(
        bytes(&whole),
        Err(Error::IndexOutOfRange { index: 19, .. })
    ));
    assert!(bytes(&whole.rows(0, 5).unwrap()).is_ok());
    assert!(matches!(
        bytes(&whole.rows(5, 6).unwrap()),
        Err(Error::IndexOutOfRange { index: 19, .. })
    ));
    assert!(matches!(
        bytes(&whole.rows(6, 8).unwrap()),
        Err(Error::IndexOutOfRange { index: -20, .. })
    ));
    // Cuts past the end are clamped to the plan's rows.
    assert_eq!(whole.rows(7, 100).unwrap().shape(), [1, 3]);
    assert_eq!(whole.rows(100, 200).unwrap().shape(), [0, 3]);
}

#[test]
fn a_piece_reads_its_rows_into_its_own_buffer() {
    let mut store = numpack_core::Store::open(numpack_core::MemIo::new()).unwrap();
    let data: Vec<u8> = (0..60u8).collect();
    let shape = [20u64, 3];
    let new = numpack_core::NewArray {
        name: "a",
        dtype: DType::Uint8,
        shape: &shape,
        data: &data,
    };
    store.save(&[new]).unwrap();
    store.append_all(&[new]).unwrap();
    store
        .drop_rows("a", &Selection::Indices(vec![4, 25]))
        .unwrap();
    let sel = Selection::Indices(vec![37, 0, 20, 21, 22, -1, 5]);
    store
        .with_plan("a", &sel, |io, whole| {
            let all = whole.read_vec(io)?;
            let piece = whole.rows(2, 6).unwrap();
            let mut part = vec![0u8; piece.bytes() as usize];
            piece.read(io, &mut part)?;
            assert_eq!(part, all[6..18]);
            Ok(())
        })
        .unwrap();
}
