//! The file-system back end keeps the files it writes the catalogue and the journal through open
//! between commits. When something else moves those names between two calls (an open removing
//! leftover temporary files, a killed writer leaving a half-written one under the same name),
//! the next commit must still write and commit its own bytes: checked against a model of live
//! rows, reopened from disk after every step.

use std::fs;
use std::path::{Path, PathBuf};

use numpack_core::{DType, NewArray, Selection, Store};
use numpack_native::fs_io::FsIo;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("npk-reuse-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

/// Every value of `a` as stored, read by a fresh store (as another process would).
fn on_disk(dir: &Path) -> Vec<u32> {
    let mut s = Store::open(FsIo::open(dir).unwrap()).unwrap();
    let (_, bytes) = s.read_selection("a", &Selection::All).unwrap();
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// What a stray writer or an opener may do to the staged names between two of our calls.
fn disturb(dir: &Path, how: usize) {
    let staged = ["metadata.npkm.tmp", "commit.npkj.tmp"];
    match how {
        0 => {}
        // An open elsewhere removed the leftovers.
        1 => staged.iter().for_each(|f| {
            let _ = fs::remove_file(dir.join(f));
        }),
        // ... and a writer killed later left half-written files under the same names.
        2 => staged.iter().for_each(|f| {
            let _ = fs::remove_file(dir.join(f));
            fs::write(dir.join(f), b"NPKJ\x02\0\0\0 half-written").unwrap();
        }),
        // A leftover renamed over the name (a different file, ours unlinked).
        _ => staged.iter().for_each(|f| {
            fs::write(dir.join("x.part"), vec![7u8; 5000]).unwrap();
            fs::rename(dir.join("x.part"), dir.join(f)).unwrap();
        }),
    }
}

#[test]
fn commits_stay_whole_when_the_staged_names_are_moved_between_calls() {
    let dir = temp_dir("moved");
    let n = 3000u32;
    let data: Vec<u8> = (0..n).flat_map(|v| v.to_le_bytes()).collect();
    let mut model: Vec<u32> = (0..n).collect();
    let mut store = Store::open(FsIo::open(&dir).unwrap()).unwrap();
    store
        .save(&[NewArray {
            name: "a",
            dtype: DType::Uint32,
            shape: &[u64::from(n)],
            data: &data,
        }])
        .unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |m: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m as u64) as i64
    };
    for step in 0..40 {
        disturb(&dir, step % 4);
        if step % 5 == 4 {
            // A catalogue-only commit (replace) through the same staged catalogue file.
            let at = next(model.len());
            let v = 1_000_000 + step as u32;
            store
                .replace(
                    "a",
                    &Selection::Indices(vec![at]),
                    DType::Uint32,
                    &[1],
                    &v.to_le_bytes(),
                )
                .unwrap();
            model[at as usize] = v;
        } else {
            let mut picks: Vec<i64> = (0..1 + step % 7).map(|_| next(model.len())).collect();
            store
                .drop_rows("a", &Selection::Indices(picks.clone()))
                .unwrap();
            picks.sort_unstable();
            picks.dedup();
            for &p in picks.iter().rev() {
                model.remove(p as usize);
            }
        }
        assert!(
            !dir.join("commit.npkj").exists(),
            "step {step}: journal left"
        );
        assert_eq!(on_disk(&dir), model, "step {step}");
        let mut out = vec![0u8; model.len() * 4];
        store
            .read_range("a", 0, model.len() as u64, &mut out)
            .unwrap();
        assert_eq!(
            out,
            on_disk(&dir)
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>()
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}
