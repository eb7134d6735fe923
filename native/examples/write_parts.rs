//! Where the time of a committed drop and replace of 100 random rows goes, part by part, with
//! the floors of the system calls they are made of (docs/FORMAT.md §5; issue 13).
//!
//! `cargo run --release --no-default-features -p numpack-native --example write_parts [dir [only]]`
//!
//! Prints medians of wall time (µs); run it on an idle machine to compare with the Python rows
//! of `benches/storage_bench.py`. With `only` = `drop` or `replace`, it runs just that call
//! 4000 times (for `perf record`).

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use numpack_core::format::bitmap::Bitmap;
use numpack_core::format::metadata;
use numpack_core::{DType, Io, LockMode, NewArray, RowMap, Selection, Store};
use numpack_native::fs_io::FsIo;

const ROWS: u64 = 1_000_000;
const COLS: u64 = 10;
const REPEAT: usize = 501;

/// A small xorshift generator: the harness needs no crate for random rows.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// `k` distinct values below `n`.
    fn distinct(&mut self, n: u64, k: usize) -> Vec<i64> {
        let mut out: Vec<i64> = Vec::with_capacity(k);
        while out.len() < k {
            let v = (self.next() % n) as i64;
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }
}

/// The median of `REPEAT` runs of `f` (µs), each after `setup`.
fn median<S>(mut setup: impl FnMut() -> S, mut f: impl FnMut(S)) -> f64 {
    let mut ts = Vec::with_capacity(REPEAT);
    for _ in 0..REPEAT {
        let s = setup();
        let t = Instant::now();
        f(s);
        ts.push(t.elapsed().as_secs_f64() * 1e6);
    }
    ts.sort_by(f64::total_cmp);
    ts[REPEAT / 2]
}

fn line(what: &str, us: f64) {
    println!("{what:<58} {us:8.2} µs");
}

fn floors(dir: &Path) {
    let p = |n: &str| dir.join(n);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(p("floor"))
        .unwrap();
    f.write_all_at(&[1u8; 200], 0).unwrap();
    line(
        "floor: flock LOCK_EX + LOCK_UN",
        median(
            || (),
            |()| {
                // SAFETY: flock on a descriptor we own; no memory effects.
                unsafe {
                    libc::flock(f.as_raw_fd(), libc::LOCK_EX);
                    libc::flock(f.as_raw_fd(), libc::LOCK_UN);
                }
            },
        ),
    );
    line(
        "floor: pwrite 64 bytes",
        median(|| (), |()| f.write_all_at(&[2u8; 64], 0).unwrap()),
    );
    line(
        "floor: stat",
        median(
            || (),
            |()| {
                fs::metadata(p("floor")).unwrap();
            },
        ),
    );
    line(
        "floor: open + pwrite 200 bytes + close (existing file)",
        median(
            || (),
            |()| {
                let g = OpenOptions::new().write(true).open(p("floor")).unwrap();
                g.write_all_at(&[3u8; 200], 0).unwrap();
            },
        ),
    );
    line(
        "floor: rename to a free name",
        median(
            || (),
            |()| {
                fs::rename(p("floor"), p("floor2")).unwrap();
                fs::rename(p("floor2"), p("floor")).unwrap();
            },
        ) / 2.0,
    );
    line(
        "floor: create + write 200 bytes + close, then unlink",
        median(
            || (),
            |()| {
                fs::write(p("fresh"), [4u8; 200]).unwrap();
                fs::remove_file(p("fresh")).unwrap();
            },
        ),
    );
    line(
        "floor: rename over an existing file (old inode freed)",
        median(
            || fs::write(p("fresh"), [4u8; 200]).unwrap(),
            |()| fs::rename(p("fresh"), p("victim")).unwrap(),
        ),
    );
    line(
        "floor: pwrite 8 bytes + fdatasync",
        median(
            || (),
            |()| {
                f.write_all_at(&[5u8; 8], 64).unwrap();
                f.sync_data().unwrap();
            },
        ),
    );
    line(
        "floor: fsync of the folder",
        median(|| (), |()| File::open(dir).unwrap().sync_all().unwrap()),
    );
}

fn main() {
    let dir: PathBuf = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join("npk-write-parts"),
        PathBuf::from,
    );
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let floor_dir = dir.join("floors");
    fs::create_dir_all(&floor_dir).unwrap();
    if std::env::args().nth(2).is_none() {
        floors(&floor_dir);
    }

    let only = std::env::args().nth(2);
    let store_dir = dir.join("store");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let data: Vec<u8> = (0..ROWS * COLS * 4).map(|i| i as u8).collect();
    let mut store = Store::open(FsIo::open(&store_dir).unwrap()).unwrap();
    store
        .save(&[NewArray {
            name: "a",
            dtype: DType::Float32,
            shape: &[ROWS, COLS],
            data: &data,
        }])
        .unwrap();
    store.drop_rows("a", &Selection::Indices(vec![0])).unwrap();

    let row = vec![7u8; (COLS * 4) as usize * 100];
    if let Some(only) = only {
        for _ in 0..4000 {
            let sel = Selection::Indices(rng.distinct(ROWS / 2, 100));
            match only.as_str() {
                "drop" => store.drop_rows("a", &sel).unwrap(),
                _ => store
                    .replace("a", &sel, DType::Float32, &[100, COLS], &row)
                    .unwrap(),
            }
        }
        return;
    }
    let io = store.io();
    line(
        "part: lock + unlock (exclusive, with the announcement)",
        median(
            || (),
            |()| {
                io.lock(LockMode::Exclusive).unwrap();
                io.unlock();
            },
        ),
    );
    line(
        "part: catalogue stamp (one stat)",
        median(
            || (),
            |()| {
                io.catalogue_stamp().unwrap();
            },
        ),
    );
    let records = vec![metadata::ArrayRecord {
        name: "a".into(),
        shape: vec![ROWS, COLS],
        data_file: "data_a.npkd".into(),
        last_modified: 1,
        dtype: DType::Float32,
    }];
    let catalogue = metadata::encode(&records).unwrap();
    line(
        "part: catalogue write + exchange into place",
        median(
            || (),
            |()| {
                io.write_file("metadata.npkm.tmp", &catalogue).unwrap();
                io.replace_catalogue("metadata.npkm.tmp", "metadata.npkm")
                    .unwrap();
            },
        ),
    );
    let journal = vec![9u8; 2200];
    line(
        "part: 2 KB journal staged, renamed in, renamed back",
        median(
            || (),
            |()| {
                io.write_file("commit.npkj.tmp", &journal).unwrap();
                io.rename("commit.npkj.tmp", "commit.npkj").unwrap();
                io.rename("commit.npkj", "commit.npkj.tmp").unwrap();
            },
        ),
    );
    let mut bitmap = Bitmap::all_live(ROWS);
    for r in rng.distinct(ROWS, 1000) {
        bitmap.drop_row(r as u64).unwrap();
    }
    line(
        "part: bitmap encode (whole file bytes)",
        median(|| (), |()| drop(bitmap.encode().unwrap())),
    );
    line(
        "part: row map rebuilt from the bitmap",
        median(|| (), |()| drop(RowMap::from_bitmap(&bitmap))),
    );
    let map = RowMap::from_bitmap(&bitmap);
    line(
        "part: 100 random logical rows to physical (1000 dropped)",
        median(
            || rng.distinct(ROWS - 1000, 100),
            |rows| {
                let sum: u64 = rows.iter().map(|&l| map.to_physical(l as u64)).sum();
                std::hint::black_box(sum);
            },
        ),
    );

    line(
        "store: replace 100 random rows (committed)",
        median(
            || Selection::Indices(rng.distinct(ROWS - 100_000, 100)),
            |sel| {
                store
                    .replace("a", &sel, DType::Float32, &[100, COLS], &row)
                    .unwrap()
            },
        ),
    );
    line(
        "store: drop 100 random rows (committed)",
        median(
            || Selection::Indices(rng.distinct(ROWS - 100_000, 100)),
            |sel| store.drop_rows("a", &sel).unwrap(),
        ),
    );
    drop(store);
    let _ = fs::remove_dir_all(&dir);
}
