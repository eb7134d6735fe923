//! The progress hook of packing and unpacking: it sees monotone byte counts ending at the
//! total, and an error from it stops the operation with nothing changed (no package written
//! through, the unpacked-into store as before, no staged files left).

use numpack_core::package::{self, Compression, Ruzstd};
use numpack_core::progress::cancelled;
use numpack_core::store::NewArray;
use numpack_core::{DType, Error, Io, MemIo, Store};

fn store_with(arrays: &[(&str, u64)]) -> MemIo {
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    for (i, (name, rows)) in arrays.iter().enumerate() {
        let data: Vec<u8> = (0..rows * 8)
            .map(|b| (b as u8).wrapping_mul(i as u8 + 1))
            .collect();
        store
            .save(&[NewArray {
                name,
                dtype: DType::Int64,
                shape: &[*rows],
                data: &data,
            }])
            .unwrap();
    }
    io
}

#[test]
fn pack_and_unpack_report_bytes_and_stop_on_a_hook_error() {
    let src = store_with(&[("a", 100), ("b", 3000), ("c", 7)]);
    let files: u64 = src
        .snapshot()
        .iter()
        .filter(|(p, _)| package::holds(p))
        .map(|(_, d)| d.len() as u64)
        .sum();
    let mut store = Store::open(src.clone()).unwrap();
    let mut seen = Vec::new();
    let pkg = package::pack_with(
        &mut store,
        Vec::new(),
        Compression::Zstd,
        Ruzstd,
        &mut |d: u64, t: u64| {
            seen.push((d, t));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen.last(), Some(&(files, files)));
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 == files));
    // Cancelled after the first file: an error, and the sink is never handed back.
    let mut calls = 0;
    let err = package::pack_with(
        &mut store,
        Vec::new(),
        Compression::Zstd,
        Ruzstd,
        &mut |_: u64, _: u64| {
            calls += 1;
            if calls == 2 { Err(cancelled()) } else { Ok(()) }
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::Io(e) if e.kind() == std::io::ErrorKind::Interrupted));

    // Unpacking over an existing store, cancelled before the last file: the store is as before.
    let dst = store_with(&[("old", 5)]);
    let before = dst.snapshot();
    for stop_at in 1..=9 {
        // Steps 1-4 come while decoding, 5-8 before staging each file, 9 after the last.
        let mut calls = 0;
        let result = package::unpack_with(
            &pkg,
            true,
            &Ruzstd,
            || Ok(dst.clone()),
            &mut |_: u64, _: u64| {
                calls += 1;
                if calls == stop_at {
                    Err(cancelled())
                } else {
                    Ok(())
                }
            },
        );
        assert!(result.is_err(), "stop at {stop_at}");
        assert_eq!(dst.snapshot(), before, "stop at {stop_at}");
    }
    let mut seen = Vec::new();
    let io = package::unpack_with(
        &pkg,
        true,
        &Ruzstd,
        || Ok(dst.clone()),
        &mut |d: u64, t: u64| {
            seen.push((d, t));
            Ok(())
        },
    )
    .unwrap();
    // Each file's bytes count twice: decoded, then written.
    assert_eq!(seen.last(), Some(&(2 * files, 2 * files)));
    assert_eq!(seen.len(), 9);
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
    let mut back = Store::open(io).unwrap();
    assert_eq!(back.names().unwrap(), ["a", "b", "c"]);
    assert!(dst.list("").unwrap().iter().all(|f| !f.ends_with(".tmp")));
}
