//! `RowMap::to_physical` against a plain scan of the live flags, for drop patterns that put the
//! row far from where evenly spread drops would (the lookup's first guess): a dropped prefix, a
//! dropped suffix, dense clusters, every other row, and words with a single live bit anywhere.

use numpack_core::RowMap;
use numpack_core::format::bitmap::Bitmap;
use numpack_core::vector::conformance::Rng;

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

/// A map updated in place by `RowMap::drop_rows`, drop after drop, answers every lookup like a
/// plain scan of the live flags (and like the map built afresh from the bitmap): sorted batches
/// of random live rows, some clustered in one word or block, over sizes that end mid-word and
/// mid-block, until few rows are left.
#[test]
fn maps_updated_in_place_agree_with_a_scan() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut next = move || rng.next_u64();
    for rows in [1u64, 63, 64, 65, 511, 512, 513, 1000, 4097, 20_000] {
        let mut b = Bitmap::all_live(rows);
        let mut map = RowMap::from_bitmap(&b);
        let mut live: Vec<u64> = (0..rows).collect();
        while !live.is_empty() {
            // A batch of distinct logical rows: scattered, or a run inside one neighbourhood.
            let want = (next() % 40 + 1).min(live.len() as u64);
            let mut logical: Vec<u64> = if next() % 3 == 0 {
                let start = next() % live.len() as u64;
                (start..(start + want).min(live.len() as u64)).collect()
            } else {
                (0..want).map(|_| next() % live.len() as u64).collect()
            };
            logical.sort_unstable();
            logical.dedup();
            let physical: Vec<u64> = logical.iter().map(|&l| map.to_physical(l)).collect();
            let expected: Vec<u64> = logical.iter().map(|&l| live[l as usize]).collect();
            assert_eq!(physical, expected, "lookups before a drop, {rows} rows");
            for &p in &physical {
                b.drop_row(p).unwrap();
            }
            map.drop_rows(&b, &physical);
            live.retain(|p| physical.binary_search(p).is_err());
            assert_eq!(map.len(), live.len() as u64);
            let fresh = RowMap::from_bitmap(&b);
            for (l, &p) in live.iter().enumerate() {
                assert_eq!(map.to_physical(l as u64), p, "logical {l} of {rows} rows");
                assert_eq!(fresh.to_physical(l as u64), p);
            }
        }
    }
}
