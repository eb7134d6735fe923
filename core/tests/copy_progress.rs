//! The progress hook of compaction and clone: rows copied, monotone, ending at the live row
//! count; an error from it stops the copy before the commit, so the store (every file) is as
//! before and the error is returned.

use numpack_core::progress::cancelled;
use numpack_core::store::NewArray;
use numpack_core::{DType, Error, MemIo, Selection, Store};

/// 3 M int64 rows (24 MiB: three 8 MiB copy chunks) with rows 1, 5 and 2 000 000 dropped.
fn store() -> (MemIo, Store<MemIo>) {
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    let data: Vec<u8> = (0..3_000_000u64).flat_map(|r| r.to_le_bytes()).collect();
    store
        .save(&[NewArray {
            name: "a",
            dtype: DType::Int64,
            shape: &[3_000_000],
            data: &data,
        }])
        .unwrap();
    store
        .drop_rows("a", &Selection::Indices(vec![1, 5, 2_000_000]))
        .unwrap();
    (io, store)
}

fn interrupted(e: &Error) -> bool {
    matches!(e, Error::Io(e) if e.kind() == std::io::ErrorKind::Interrupted)
}

#[test]
fn compact_and_clone_report_rows_and_a_hook_error_changes_nothing() {
    let live = 3_000_000 - 3;
    for clone in [false, true] {
        let (io, mut store) = store();
        let before = io.snapshot();
        let mut calls = 0;
        let mut stop_second = |_: u64, _: u64| {
            calls += 1;
            if calls == 2 { Err(cancelled()) } else { Ok(()) }
        };
        let err = if clone {
            store.clone_array_with("a", "b", &mut stop_second)
        } else {
            store.compact_with("a", &mut stop_second)
        }
        .unwrap_err();
        assert!(interrupted(&err), "{err}");
        assert_eq!(io.snapshot(), before, "clone={clone}: files changed");
        assert_eq!(store.names().unwrap(), ["a"]);
        assert_eq!(Store::open(io.clone()).unwrap().names().unwrap(), ["a"]);

        let mut seen = Vec::new();
        let mut record = |d: u64, t: u64| {
            seen.push((d, t));
            Ok(())
        };
        if clone {
            store.clone_array_with("a", "b", &mut record).unwrap();
        } else {
            store.compact_with("a", &mut record).unwrap();
        }
        assert!(seen.len() >= 3, "{seen:?}");
        assert_eq!(seen.last(), Some(&(live, live)));
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0 && w[1].1 == live));
        let name = if clone { "b" } else { "a" };
        let mut got = vec![0u8; live as usize * 8];
        store.read_range(name, 0, live, &mut got).unwrap();
        let want: Vec<u8> = (0..3_000_000u64)
            .filter(|r| ![1, 5, 2_000_000].contains(r))
            .flat_map(|r| r.to_le_bytes())
            .collect();
        assert_eq!(got, want);
    }
}
