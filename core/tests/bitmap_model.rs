//! Model test of the deletion bitmap and the row map built on it: random row counts, drops,
//! resizes and encode/decode round trips against a plain `Vec<bool>` of live flags. Also checks
//! that huge declared row counts cost only what is held (no per-row allocation or scan).

use numpack_core::format::bitmap::{Bitmap, MAX_BITMAP_ROWS};
use numpack_core::{Error, RowMap};
use proptest::prelude::*;

fn check(b: &Bitmap, model: &[bool]) {
    assert_eq!(b.rows(), model.len() as u64);
    for (r, &live) in model.iter().enumerate() {
        assert_eq!(b.is_live(r as u64), live, "row {r}");
    }
    let live: Vec<u64> = (0..model.len() as u64)
        .filter(|&r| model[r as usize])
        .collect();
    assert_eq!(b.live_rows(), live.len() as u64);
    let map = RowMap::from_bitmap(b);
    assert_eq!(map.len(), live.len() as u64);
    for (l, &p) in live.iter().enumerate() {
        assert_eq!(map.to_physical(l as u64), p);
    }
    for start in [0, live.len() / 3, live.len() / 2] {
        let count = (live.len() - start) as u64;
        let runs = map.physical_runs(start as u64, count);
        let flat: Vec<u64> = runs.iter().flat_map(|&(s, n)| s..s + n).collect();
        assert_eq!(flat, live[start..], "runs from {start}");
        assert!(
            runs.windows(2).all(|w| w[0].0 + w[0].1 < w[1].0),
            "runs are maximal and ordered"
        );
    }
    // What a writer encodes, a reader decodes to the same flags.
    let again = Bitmap::decode(&b.encode().unwrap(), model.len() as u64).unwrap();
    assert_eq!(
        (0..model.len() as u64)
            .map(|r| again.is_live(r))
            .collect::<Vec<_>>(),
        model
    );
}

proptest! {
    #[test]
    fn bitmap_and_row_map_agree_with_a_model(
        rows in 0..400u64,
        ops in prop::collection::vec((any::<bool>(), 0..500u64), 0..40),
    ) {
        let mut b = Bitmap::all_live(rows);
        let mut model = vec![true; rows as usize];
        check(&b, &model);
        for (resize, x) in ops {
            if resize {
                b.resize(x);
                model.resize(x as usize, true);
            } else {
                b.drop_row(x).unwrap();
                if let Some(f) = model.get_mut(x as usize) {
                    *f = false;
                }
            }
            check(&b, &model);
        }
    }
}

#[test]
fn shorter_file_than_shape_leaves_the_rest_live_without_allocating_it() {
    let mut small = Bitmap::all_live(10);
    small.drop_row(3).unwrap();
    let bytes = small.encode().unwrap();
    // A catalogue declaring 2^40 rows: decoding holds one word, the map answers in O(1).
    let b = Bitmap::decode(&bytes, 1 << 40).unwrap();
    assert_eq!(b.words().len(), 1);
    assert_eq!(b.live_rows(), (1 << 40) - 1);
    let map = RowMap::from_bitmap(&b);
    assert_eq!(map.to_physical(3), 4);
    assert_eq!(map.to_physical((1 << 40) - 2), (1 << 40) - 1);
    assert_eq!(
        map.physical_runs(0, (1 << 40) - 1),
        vec![(0, 3), (4, (1 << 40) - 4)]
    );
    // The writer refuses a bitmap readers would refuse, before allocating it.
    assert!(matches!(b.encode(), Err(Error::InvalidArgument(_))));
    let mut at_limit = Bitmap::all_live(MAX_BITMAP_ROWS + 1);
    at_limit.drop_row(0).unwrap();
    assert!(at_limit.encode().is_err());
}
