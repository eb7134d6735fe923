//! `RowMap::to_physical` against a plain scan of the live flags, for drop patterns that put the
//! row far from where evenly spread drops would (the lookup's first guess): a dropped prefix, a
//! dropped suffix, dense clusters, every other row, and words with a single live bit anywhere.

use numpack_core::RowMap;
use numpack_core::format::bitmap::Bitmap;

fn check(rows: u64, dropped: impl Fn(u64) -> bool) {
    let mut b = Bitmap::all_live(rows);
    let mut live = Vec::new();
    for r in 0..rows {
        if dropped(r) {
            b.drop_row(r).unwrap();
        } else {
            live.push(r);
        }
    }
    let map = RowMap::from_bitmap(&b);
    assert_eq!(map.len(), live.len() as u64);
    for (l, &p) in live.iter().enumerate() {
        assert_eq!(map.to_physical(l as u64), p, "logical row {l} of {rows}");
    }
}

#[test]
fn lookups_agree_with_a_scan_whatever_the_drops() {
    let n = 20_000;
    check(n, |r| r < n / 2); // a dropped prefix: rows sit far after the guess
    check(n, |r| r >= n / 3); // a dropped suffix: rows sit far before it
    check(n, |r| (r / 1000) % 3 == 1); // dense clusters
    check(n, |r| r % 2 == 1);
    check(n, |r| r % 64 != (r / 64) % 64); // one live bit per word, at every position
    check(n, |r| r % 64 != 63 - (r / 64) % 64);
    check(n, |r| (r * 2_654_435_761) % 97 < 40); // scattered
    check(130, |r| r != 129); // a single live row past the first words
    check(64 * 5 + 7, |r| r < 64 * 5); // only the rows past the last full word live
}
