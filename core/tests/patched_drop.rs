//! Row drops that patch the bitmap in place (docs/FORMAT.md §5, step 4): the file they leave is
//! byte for byte the one a whole rewrite gives (so upstream reads it), a journal left by a
//! writer killed after its commit point is finished on open, and the row map updated in place
//! equals the one built from scratch.

use numpack_core::format::bitmap::Bitmap;
use numpack_core::format::journal::{self, Step};
use numpack_core::{DType, Io, MemIo, NewArray, RowMap, Selection, Store};
use proptest::prelude::*;

const ROWS: u64 = 1000;

fn store_with_rows(io: &MemIo) -> Store<MemIo> {
    let mut store = Store::open(io.clone()).unwrap();
    let data: Vec<u8> = (0..ROWS).flat_map(|r| (r as u32).to_le_bytes()).collect();
    store
        .save(&[NewArray {
            name: "a",
            dtype: DType::Uint32,
            shape: &[ROWS],
            data: &data,
        }])
        .unwrap();
    store
}

/// The live values (= original row numbers) the store shows.
fn live(store: &mut Store<MemIo>) -> Vec<u64> {
    let (shape, bytes) = store.read_selection("a", &Selection::All).unwrap();
    assert_eq!(shape[0] as usize * 4, bytes.len());
    bytes
        .chunks_exact(4)
        .map(|c| u64::from(u32::from_le_bytes(c.try_into().unwrap())))
        .collect()
}

/// The bitmap file an independent whole rewrite gives for these live rows.
fn expected_file(model: &[bool]) -> Vec<u8> {
    let mut b = Bitmap::all_live(model.len() as u64);
    for (r, &l) in model.iter().enumerate() {
        if !l {
            b.drop_row(r as u64).unwrap();
        }
    }
    b.encode().unwrap()
}

fn drop_logical(model: &mut [bool], logical: &[i64]) {
    let live: Vec<usize> = (0..model.len()).filter(|&r| model[r]).collect();
    for &l in logical {
        let l = if l < 0 { live.len() as i64 + l } else { l };
        model[live[l as usize]] = false;
    }
}

#[test]
fn patched_drops_leave_the_bytes_of_a_whole_rewrite_and_the_journal_shape() {
    let io = MemIo::new();
    let mut store = store_with_rows(&io);
    let mut model = vec![true; ROWS as usize];
    // The first drop creates the file (a whole write); the later ones patch it.
    let calls: [&[i64]; 5] = [&[3], &[0, 1, 2], &[500, 10, 10, -1], &[63, 64, 65], &[-2]];
    for logical in calls {
        let before = io.snapshot();
        store
            .drop_rows("a", &Selection::Indices(logical.to_vec()))
            .unwrap();
        drop_logical(&mut model, logical);
        let files = io.snapshot();
        assert_eq!(
            files["deleted_a.npkb"],
            expected_file(&model),
            "{logical:?}"
        );
        assert!(!files.contains_key("commit.npkj"));
        if before.contains_key("deleted_a.npkb") {
            // Patched: the retired journal lists the patch, the staged catalogue and its rename.
            let steps = journal::decode(&files["commit.npkj.tmp"]).unwrap();
            let [
                Step::Patch { path, writes },
                Step::WriteFile { path: staged, data },
                Step::Rename { from, to },
            ] = &steps[..]
            else {
                panic!("unexpected journal {steps:?}")
            };
            assert_eq!(
                (path.as_str(), staged.as_str(), from.as_str(), to.as_str()),
                (
                    "deleted_a.npkb",
                    "metadata.npkm.tmp",
                    "metadata.npkm.tmp",
                    "metadata.npkm"
                )
            );
            assert_eq!(data, &files["metadata.npkm"]);
            assert_eq!(writes[0].0, 8, "the dropped count comes first");
            let touched_bytes: usize = writes[1..].iter().map(|(_, b)| b.len()).sum();
            assert!(touched_bytes <= 8 * logical.len(), "only changed words");
            assert!(
                writes[1..]
                    .windows(2)
                    .all(|w| w[0].0 + (w[0].1.len() as u64) < w[1].0),
                "adjacent words merged into one write"
            );
        }
        let want: Vec<u64> = (0..ROWS).filter(|&r| model[r as usize]).collect();
        assert_eq!(live(&mut store), want);
        assert_eq!(live(&mut Store::open(io.clone()).unwrap()), want);
    }
}

#[test]
fn a_journal_left_after_the_commit_point_is_finished_on_open() {
    let io = MemIo::new();
    let mut store = store_with_rows(&io);
    store.drop_rows("a", &Selection::Indices(vec![7])).unwrap();
    let old = io.snapshot();
    store
        .drop_rows("a", &Selection::Indices(vec![0, 100, 900]))
        .unwrap();
    let new = io.snapshot();
    let journal = new["commit.npkj.tmp"].clone();
    // A writer killed right after the commit point: old bitmap and catalogue, the journal in
    // place, and the old catalogue left in the staging file as an exchange leaves it.
    for staged in [None, Some(old["metadata.npkm"].clone())] {
        let mut files = old.clone();
        files.insert("commit.npkj".into(), journal.clone());
        if let Some(s) = staged {
            files.insert("metadata.npkm.tmp".into(), s);
        }
        let crashed = MemIo::new();
        crashed.restore(files);
        let mut reopened = Store::open(crashed.clone()).unwrap();
        let after = crashed.snapshot();
        assert_eq!(after["deleted_a.npkb"], new["deleted_a.npkb"]);
        assert_eq!(after["metadata.npkm"], new["metadata.npkm"]);
        assert!(!after.contains_key("commit.npkj"));
        assert_eq!(
            live(&mut reopened),
            live(&mut Store::open(io.clone()).unwrap())
        );
    }
}

#[test]
fn stale_or_legacy_bitmaps_are_rewritten_whole() {
    let io = MemIo::new();
    let store = store_with_rows(&io);
    // A legacy bitmap (bare words, row 1 dropped) written by an older tool.
    let mut legacy = Vec::new();
    for w in 0..ROWS.div_ceil(64) {
        let word = if w == 0 { !2u64 } else { u64::MAX };
        let word = if w == ROWS / 64 {
            word & ((1 << (ROWS % 64)) - 1)
        } else {
            word
        };
        legacy.extend_from_slice(&word.to_le_bytes());
    }
    io.write_file("deleted_a.npkb", &legacy).unwrap();
    let mut store2 = Store::open(io.clone()).unwrap();
    store2.drop_rows("a", &Selection::Indices(vec![0])).unwrap();
    let mut model = vec![true; ROWS as usize];
    model[0] = false;
    model[1] = false;
    assert_eq!(io.snapshot()["deleted_a.npkb"], expected_file(&model));
    drop(store);
    // A headered bitmap covering more rows than dim 0 (an append that never committed).
    let mut longer = model.clone();
    longer.extend([true; 64]);
    io.write_file("deleted_a.npkb", &expected_file(&longer))
        .unwrap();
    let mut store3 = Store::open(io.clone()).unwrap();
    store3.drop_rows("a", &Selection::Indices(vec![0])).unwrap();
    model[2] = false;
    assert_eq!(io.snapshot()["deleted_a.npkb"], expected_file(&model));
}

proptest! {
    #[test]
    fn row_map_updated_in_place_equals_the_one_built_from_scratch(
        rows in 1..700u64,
        drops in prop::collection::vec(prop::collection::vec(0..700u64, 0..30), 1..6),
    ) {
        let mut bitmap = Bitmap::all_live(rows);
        let mut map = RowMap::from_bitmap(&bitmap);
        for batch in drops {
            let mut dropped: Vec<u64> =
                batch.into_iter().filter(|&r| r < rows && bitmap.is_live(r)).collect();
            dropped.sort_unstable();
            dropped.dedup();
            for &r in &dropped {
                bitmap.drop_row(r).unwrap();
            }
            map.drop_rows(&bitmap, &dropped);
            let fresh = RowMap::from_bitmap(&bitmap);
            prop_assert_eq!(map.len(), fresh.len());
            prop_assert_eq!(map.physical_rows(), fresh.physical_rows());
            for l in 0..fresh.len() {
                prop_assert_eq!(map.to_physical(l), fresh.to_physical(l));
            }
            prop_assert_eq!(map.physical_runs(0, fresh.len()), fresh.physical_runs(0, fresh.len()));
        }
    }
}
