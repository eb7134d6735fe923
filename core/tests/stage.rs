//! `Store::commit_staged`, `read_range_if` and `open_read_only` (core/src/store/stage.rs):
//! staged parts become an array whole, bad parts change nothing, a crash at any mutating call
//! of the commit leaves the old array or the new one, and checked reads refuse a changed array.

mod common;

use std::collections::BTreeMap;

use common::bytes;
use common::crashing::CrashingIo;
use numpack_core::store::stage::{STAGE_PREFIX, check_part, part_path, stage_root};
use numpack_core::{DType, Error, Io, MemIo, NewArray, Result, Selection, Store};

const W: u64 = 3; // f32 columns
const RB: u64 = W * 4;

/// Staged parts as `commit_staged` takes them: `(path, rows)`.
type Parts = Vec<(String, u64)>;

/// Stages `rows_per_part` rows each (bytes from `seed`) under `dir`; returns parts and bytes.
fn stage(io: &MemIo, dir: &str, rows_per_part: &[u64], seed: u64) -> (Parts, Vec<u8>) {
    let mut parts = Vec::new();
    let mut all = Vec::new();
    io.create_dir(dir).unwrap();
    for (i, &rows) in rows_per_part.iter().enumerate() {
        let data = bytes(seed + i as u64, (rows * RB) as usize);
        let path = format!("{dir}/{i:020}");
        io.write_file(&path, &data).unwrap();
        parts.push((path, rows));
        all.extend_from_slice(&data);
    }
    (parts, all)
}

fn read_all(store: &mut Store<impl Io>, name: &str) -> Vec<u8> {
    let info = store.info(name).unwrap();
    let mut out = vec![0u8; (info.shape[0] * RB) as usize];
    store.read_range(name, 0, info.shape[0], &mut out).unwrap();
    out
}

fn dir(tag: &str) -> String {
    format!("{STAGE_PREFIX}{tag}")
}

#[test]
fn staged_parts_become_the_array_and_replace_it_whole() {
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    let old = bytes(1, (10 * RB) as usize);
    store
        .save(&[NewArray {
            name: "a",
            dtype: DType::Float32,
            shape: &[10, W],
            data: &old,
        }])
        .unwrap();
    store
        .drop_rows("a", &Selection::Indices(vec![2, 3]))
        .unwrap();
    // Plain array with drops → segmented from three parts (one empty).
    let (parts, new) = stage(&io, &dir("x"), &[4, 0, 7], 10);
    store
        .commit_staged("a", DType::Float32, &[11, W], &parts)
        .unwrap();
    assert_eq!(read_all(&mut store, "a"), new);
    assert_eq!(store.info("a").unwrap().physical_shape, vec![11, W]);
    let files = io.snapshot();
    assert!(!files.contains_key("deleted_a.npkb") && !files.contains_key("data_a.npkd"));
    assert!(!files.keys().any(|f| f.starts_with(STAGE_PREFIX)));
    // Reopened from the files alone.
    assert_eq!(read_all(&mut Store::open(io.clone()).unwrap(), "a"), new);
    // Segmented → segmented with fewer parts: the old extra segments go.
    let (parts, newer) = stage(&io, &dir("y"), &[5], 20);
    store
        .commit_staged("a", DType::Float32, &[5, W], &parts)
        .unwrap();
    assert_eq!(read_all(&mut store, "a"), newer);
    let segs: Vec<_> = io
        .snapshot()
        .into_keys()
        .filter(|f| f.starts_with("data_a_segments/"))
        .collect();
    assert_eq!(segs, vec!["data_a_segments/seg_000000.npkd".to_string()]);
    // The result is an ordinary array: appends work (they de-segment it).
    let more = bytes(30, (2 * RB) as usize);
    store.append("a", DType::Float32, &[2, W], &more).unwrap();
    assert_eq!(read_all(&mut store, "a"), [newer, more].concat());
}

#[test]
fn bad_parts_change_nothing() {
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    let (parts, _) = stage(&io, &dir("x"), &[4, 4], 1);
    let before = io.snapshot();
    let cases: Vec<(Parts, Vec<u64>)> = vec![
        (parts.clone(), vec![9, W]), // rows do not add up
        (vec![(parts[0].0.clone(), 5), parts[1].clone()], vec![9, W]), // wrong part length
        (vec![(format!("{}/nope", dir("x")), 4)], vec![4, W]), // missing part
        (vec![("data_b.npkd".into(), 4)], vec![4, W]), // not a staged path
        (vec![(format!("{}/../x", dir("x")), 4)], vec![4, W]), // escapes
    ];
    for (p, shape) in cases {
        let err = store
            .commit_staged("b", DType::Float32, &shape, &p)
            .unwrap_err();
        assert!(
            matches!(err, Error::ShapeMismatch(_) | Error::InvalidArgument(_)),
            "{err}"
        );
        assert_eq!(io.snapshot(), before);
        assert!(!store.contains("b").unwrap());
    }
    assert!(
        store
            .commit_staged("", DType::Float32, &[8, W], &parts)
            .is_err()
    );
    assert!(check_part(&format!("{}/p", dir("x"))).is_ok());
    assert!(check_part(&format!("{}/p.tmp", dir("x"))).is_err());
}

#[test]
fn checked_reads_refuse_a_changed_array() {
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    let data = bytes(1, (6 * RB) as usize);
    let save = |s: &mut Store<MemIo>, d: &[u8]| {
        s.save(&[NewArray {
            name: "a",
            dtype: DType::Float32,
            shape: &[6, W],
            data: d,
        }])
        .unwrap()
    };
    save(&mut store, &data);
    let info = store.info("a").unwrap();
    let mut out = vec![0u8; (2 * RB) as usize];
    assert!(store.read_range_if("a", &info, 1, 2, &mut out).unwrap());
    assert_eq!(out, data[RB as usize..(3 * RB) as usize]);
    let layout = |s: &mut Store<MemIo>| s.with_layout_if("a", &info, |_, l| Ok(l.shape)).unwrap();
    assert_eq!(layout(&mut store), Some(vec![6, W]));
    // Another process drops a row: the identity differs, nothing is read.
    let mut other = Store::open(io.clone()).unwrap();
    other.drop_rows("a", &Selection::Indices(vec![0])).unwrap();
    let mut out2 = vec![7u8; (2 * RB) as usize];
    assert!(!store.read_range_if("a", &info, 1, 2, &mut out2).unwrap());
    assert_eq!(out2, vec![7u8; (2 * RB) as usize]);
    assert_eq!(layout(&mut store), None);
    other.drop_arrays(&["a"]).unwrap();
    assert!(!store.read_range_if("a", &info, 1, 2, &mut out2).unwrap());
}

/// MemIo whose writes all fail, as a back end over object storage.
struct ReadOnly(MemIo);

fn ro() -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::ReadOnlyFilesystem,
        "read-only",
    ))
}

impl Io for ReadOnly {
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.0.read_at(path, offset, buf)
    }
    fn write_at(&self, _: &str, _: u64, _: &[u8]) -> Result<()> {
        Err(ro())
    }
    fn len(&self, path: &str) -> Result<Option<u64>> {
        self.0.len(path)
    }
    fn set_len(&self, _: &str, _: u64) -> Result<()> {
        Err(ro())
    }
    fn sync(&self, _: &str) -> Result<()> {
        Err(ro())
    }
    fn rename(&self, _: &str, _: &str) -> Result<()> {
        Err(ro())
    }
    fn remove(&self, _: &str) -> Result<()> {
        Err(ro())
    }
    fn create_dir(&self, _: &str) -> Result<()> {
        Err(ro())
    }
    fn remove_dir(&self, _: &str) -> Result<()> {
        Err(ro())
    }
    fn list(&self, dir: &str) -> Result<Vec<String>> {
        self.0.list(dir)
    }
    fn catalogue_stamp(&self) -> Result<Option<u64>> {
        self.0.catalogue_stamp()
    }
    fn now_micros(&self) -> u64 {
        self.0.now_micros()
    }
}

#[test]
fn read_only_open_reads_and_refuses_writes() {
    let io = MemIo::new();
    let data = bytes(3, (5 * RB) as usize);
    Store::open(io.clone())
        .unwrap()
        .save(&[NewArray {
            name: "a",
            dtype: DType::Float32,
            shape: &[5, W],
            data: &data,
        }])
        .unwrap();
    // A leftover temporary file would make a writable open remove it: read-only leaves it.
    io.write_file("data_z.npkd.tmp", b"junk").unwrap();
    let mut store = Store::open_read_only(ReadOnly(io.clone())).unwrap();
    assert_eq!(read_all(&mut store, "a"), data);
    let err = store.drop_arrays(&["a"]).unwrap_err();
    assert!(matches!(err, Error::Io(ref e) if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem));
    assert_eq!(read_all(&mut store, "a"), data);
    // An unfinished commit cannot be finished read-only: a clear error, not stale data.
    io.write_file("commit.npkj", b"x").unwrap();
    assert!(matches!(
        Store::open_read_only(ReadOnly(io.clone())),
        Err(Error::Locked(_))
    ));
}

#[test]
fn a_crash_anywhere_in_the_commit_leaves_old_or_new() {
    // Old: a segmented array of two parts (itself made by a staged commit).
    let base = MemIo::new();
    let (p0, old) = stage(&base, &dir("old"), &[3, 4], 1);
    Store::open(base.clone())
        .unwrap()
        .commit_staged("a", DType::Float32, &[7, W], &p0)
        .unwrap();
    let (parts, new) = stage(&base, &dir("new"), &[2, 2, 2], 50);
    let files: BTreeMap<String, Vec<u8>> = base.snapshot();
    let mut saw_new = false;
    for fail_at in 1.. {
        let io = MemIo::new();
        io.restore(files.clone());
        let crashing = CrashingIo::new(io.clone(), fail_at);
        let result = Store::open(&crashing)
            .and_then(|mut s| s.commit_staged("a", DType::Float32, &[6, W], &parts));
        let got = read_all(&mut Store::open(io.clone()).unwrap(), "a");
        assert!(
            got == old || got == new,
            "crash at call {fail_at}: mixed state"
        );
        saw_new |= got == new;
        if result.is_ok() {
            assert_eq!(got, new);
            break;
        }
    }
    assert!(saw_new);
}

/// Writes rows `start..stop` (bytes from `seed`) where `part_path` puts them; returns the bytes.
fn stage_rows(io: &MemIo, stage: &str, start: u64, stop: u64, seed: u64) -> Vec<u8> {
    let data = bytes(seed, ((stop - start) * RB) as usize);
    io.write_file(&part_path(stage, start, stop).unwrap(), &data)
        .unwrap();
    data
}

#[test]
fn a_stage_folder_commits_when_its_parts_cover_every_row_once() {
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    let stage = format!("{}run1", stage_root("a"));
    io.create_dir(&stage).unwrap();
    // Written out of order, with an empty part and a part still being written (.tmp).
    let b = stage_rows(&io, &stage, 4, 9, 2);
    let a = stage_rows(&io, &stage, 0, 4, 1);
    stage_rows(&io, &stage, 9, 9, 3);
    io.write_file(
        &format!("{stage}/00000000000000000009_00000000000000000012.tmp"),
        b"x",
    )
    .unwrap();
    let c = stage_rows(&io, &stage, 9, 12, 4);
    store
        .commit_stage("a", DType::Float32, &[12, W], &stage)
        .unwrap();
    assert_eq!(read_all(&mut store, "a"), [a, b, c].concat());
}

#[test]
fn a_stage_folder_with_a_gap_an_overlap_or_a_short_end_changes_nothing() {
    let cases: Vec<(Vec<(u64, u64)>, &str)> = vec![
        (vec![(0, 4), (6, 10)], "do not cover rows 4..6"),
        (vec![(0, 4), (3, 10)], "do not cover rows 4..3"),
        (vec![(0, 4), (0, 10)], "do not cover rows 4..0"),
        (vec![(0, 4), (4, 8)], "end at row 8, the array has 10"),
        (vec![(0, 4), (4, 12)], "end at row 12, the array has 10"),
        (vec![], "end at row 0, the array has 10"),
    ];
    for (spans, want) in cases {
        let io = MemIo::new();
        let mut store = Store::open(io.clone()).unwrap();
        let stage = format!("{}run", stage_root("g"));
        io.create_dir(&stage).unwrap();
        for (i, &(a, b)) in spans.iter().enumerate() {
            stage_rows(&io, &stage, a, b, i as u64);
        }
        let before = io.snapshot();
        let err = store
            .commit_stage("g", DType::Float32, &[10, W], &stage)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        assert!(err.to_string().contains(want), "{spans:?}: {err}");
        assert_eq!(io.snapshot(), before);
        assert!(!store.contains("g").unwrap());
    }
    // A folder that is gone, or not a staging folder, is refused the same way.
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    for stage in [
        format!("{STAGE_PREFIX}gone"),
        "data".to_string(),
        format!("{STAGE_PREFIX}x/.."),
    ] {
        let err = store
            .commit_stage("g", DType::Float32, &[10, W], &stage)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{stage}: {err}");
    }
}

#[test]
fn part_paths_name_their_rows_and_stage_roots_differ_per_array() {
    let root = stage_root("a");
    assert!(root.starts_with(STAGE_PREFIX) && root.ends_with('_'));
    assert_eq!(root.len(), STAGE_PREFIX.len() + 17);
    assert!(
        root[STAGE_PREFIX.len()..root.len() - 1]
            .bytes()
            .all(|c| c.is_ascii_hexdigit())
    );
    assert_eq!(root, stage_root("a"));
    assert_ne!(root, stage_root("b"));
    // Long or odd names still give a short single-component folder name.
    assert_eq!(stage_root(&"x/".repeat(500)).len(), root.len());
    let stage = format!("{root}w");
    assert_eq!(
        part_path(&stage, 3, 7).unwrap(),
        format!("{stage}/00000000000000000003_00000000000000000007")
    );
    assert!(part_path(&stage, 7, 3).is_err());
    assert!(part_path("elsewhere", 0, 1).is_err());
    assert!(part_path(&format!("{stage}/deeper"), 0, 1).is_err());
}
