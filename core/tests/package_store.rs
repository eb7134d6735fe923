//! `numpack_core::package::{pack, unpack}` over `MemIo`: which files a package holds (one rule,
//! [`holds`]), the catalogue first; what unpacking writes, replaces and leaves alone; and that a
//! bad package or a failed write leaves the target as it was. The expected bytes are the store's
//! own files, read back through `MemIo::snapshot`.
#![cfg(feature = "ruzstd")]

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;

use common::bytes;
use numpack_core::package::{self, Compression, Package, Ruzstd, Writer, holds};
use numpack_core::{DType, Error, Io, LockMode, MemIo, NewArray, Result, Selection, Store};

/// A store with a plain array `a`, an array `b` with dropped rows (a bitmap) and a segmented
/// array `s` (planted: this crate writes plain arrays only), then files no package holds.
fn sample() -> MemIo {
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    let (a, b) = (bytes(1, 24), bytes(2, 140));
    store
        .save(&[
            NewArray {
                name: "a",
                dtype: DType::Float32,
                shape: &[3, 2],
                data: &a,
            },
            NewArray {
                name: "b",
                dtype: DType::Int16,
                shape: &[70],
                data: &b,
            },
        ])
        .unwrap();
    store
        .drop_rows("b", &Selection::Indices(vec![1, 65]))
        .unwrap();
    let mut files = io.snapshot();
    files.insert("data_s_segments/seg_000000.npkd".into(), bytes(3, 8));
    files.insert(
        "data_s.npkseg".into(),
        br#"{"version":1,"segments":[{"file":"data_s_segments/seg_000000.npkd","rows":2,"bytes":8}]}"#.to_vec(),
    );
    // A catalogue record for the segmented array "s" (u8, 2×4), as in tests/corrupt.rs.
    let meta = files.get_mut("metadata.npkm").unwrap();
    meta[16] = 3;
    let total = u64::from_le_bytes(meta[8..16].try_into().unwrap()) + 8;
    meta[8..16].copy_from_slice(&total.to_le_bytes());
    for part in [
        &1u32.to_le_bytes()[..],
        b"s",
        &2u32.to_le_bytes(),
        &2u64.to_le_bytes(),
        &4u64.to_le_bytes(),
        &13u32.to_le_bytes(),
        b"data_s.npkseg",
        &7u64.to_le_bytes(),
        &8u64.to_le_bytes(),
        &[1, 0],
        &[0; 21],
    ] {
        meta.extend_from_slice(part);
    }
    for junk in [
        ".numpack.lock",
        ".numpack.writer",
        "notes.txt",
        "data_a.npkd.tmp",
        "deleted_b.npkb.tmp",
        "metadata.npkm.tmp",
        "data_s_segments/readme.txt",
    ] {
        files.insert(junk.into(), b"junk".to_vec());
    }
    io.restore(files);
    io
}

/// The held files of the sample, as they are in its folder.
fn held(io: &MemIo) -> BTreeMap<String, Vec<u8>> {
    io.snapshot()
        .into_iter()
        .filter(|(p, _)| holds(p))
        .collect()
}

/// Every array's logical bytes, by name.
fn contents<I: Io>(store: &mut Store<I>) -> BTreeMap<String, Vec<u8>> {
    let names = store.names().unwrap();
    names
        .into_iter()
        .map(|n| {
            let bytes = store.read_selection(&n, &Selection::All).unwrap().1;
            (n, bytes)
        })
        .collect()
}

fn pack(io: &MemIo, compression: Compression) -> Vec<u8> {
    let mut store = Store::open(io.clone()).unwrap();
    package::pack(&mut store, Vec::new(), compression, Ruzstd).unwrap()
}

#[test]
fn holds_is_one_rule_for_every_file_name() {
    for path in [
        "metadata.npkm",
        "data_a.npkd",
        "data_a.b.npkd",
        "deleted_a.npkb",
        "data_a.npkseg",
        "data_a_segments/seg_000000.npkd",
        "data_名.npkd",
    ] {
        assert!(holds(path), "{path}");
    }
    for path in [
        ".numpack.lock",
        ".numpack.writer",
        ".numpack.writer.want",
        "commit.npkj",
        "commit.npkj.tmp",
        "metadata.npkm.tmp",
        "data_a.npkd.tmp",
        "deleted_a.npkb.tmp",
        "data_a.npkseg.tmp",
        "notes.txt",
        "a.npkd",
        "deleted_a.npkd",
        "data_a.npkb",
        "data_a_segments/seg_000000.npkd.tmp",
        "data_a_segments/notes.txt",
        "other/seg.npkd",
        "data_a_segments/x/seg.npkd",
        "",
    ] {
        assert!(!holds(path), "{path}");
    }
}

#[test]
fn a_package_holds_the_store_files_catalogue_first() {
    let io = sample();
    let want = held(&io);
    assert_eq!(want.len(), 6);
    for compression in [Compression::None, Compression::Zstd] {
        let pkg = pack(&io, compression);
        let parsed = Package::parse(&pkg).unwrap();
        assert_eq!(parsed.compression(), compression);
        let paths: Vec<&str> = parsed.entries().iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            [
                "metadata.npkm",
                "data_a.npkd",
                "data_b.npkd",
                "data_s.npkseg",
                "data_s_segments/seg_000000.npkd",
                "deleted_b.npkb",
            ]
        );
        let got: BTreeMap<String, Vec<u8>> = parsed
            .files_with(true, &Ruzstd)
            .unwrap()
            .into_iter()
            .map(|(p, d)| (p.to_string(), d.into_owned()))
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn unpack_restores_the_store_and_nothing_else() {
    let io = sample();
    let want = contents(&mut Store::open(io.clone()).unwrap());
    assert_eq!(want["b"].len(), 136, "b's dropped rows are not read");
    assert_eq!(want["s"], bytes(3, 8));
    for compression in [Compression::None, Compression::Zstd] {
        let out =
            package::unpack(&pack(&io, compression), true, &Ruzstd, || Ok(MemIo::new())).unwrap();
        assert_eq!(out.snapshot(), held(&io), "no staged file is left");
        assert_eq!(contents(&mut Store::open(out).unwrap()), want);
    }
}

#[test]
fn unpack_over_a_store_replaces_it() {
    // The target: `b` without drops would read as dropped if its old bitmap stayed.
    let target = MemIo::new();
    let mut old = Store::open(target.clone()).unwrap();
    old.save(&[
        NewArray {
            name: "x",
            dtype: DType::Uint8,
            shape: &[4],
            data: &[1, 2, 3, 4],
        },
        NewArray {
            name: "b",
            dtype: DType::Int16,
            shape: &[3],
            data: &[0; 6],
        },
    ])
    .unwrap();
    old.drop_rows("b", &Selection::Indices(vec![0])).unwrap();
    target.write_file("notes.txt", b"mine").unwrap();
    let src = MemIo::new();
    let mut store = Store::open(src.clone()).unwrap();
    let b = bytes(9, 10);
    store
        .save(&[NewArray {
            name: "b",
            dtype: DType::Int16,
            shape: &[5],
            data: &b,
        }])
        .unwrap();
    let pkg = package::pack(&mut store, Vec::new(), Compression::Zstd, Ruzstd).unwrap();
    let out = package::unpack(&pkg, true, &Ruzstd, || Ok(target.clone())).unwrap();
    let files = out.snapshot();
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["data_b.npkd", "metadata.npkm", "notes.txt"]
    );
    assert_eq!(files["notes.txt"], b"mine");
    let mut store = Store::open(out).unwrap();
    assert_eq!(store.names().unwrap(), ["b"]);
    assert_eq!(store.read_selection("b", &Selection::All).unwrap().1, b);
}

#[test]
fn entries_no_store_holds_are_skipped() {
    let mut w = Writer::new(Vec::new(), Compression::None, 4, Ruzstd).unwrap();
    for (path, data) in [
        ("metadata.npkm", &b""[..]),
        (".numpack.lock", b"x"),
        ("commit.npkj", b"y"),
        ("data_a.npkd.tmp", b"z"),
    ] {
        w.add(path, data).unwrap();
    }
    let out = package::unpack(&w.finish().unwrap(), true, &Ruzstd, || Ok(MemIo::new())).unwrap();
    assert_eq!(
        out.snapshot().into_keys().collect::<Vec<_>>(),
        ["metadata.npkm"]
    );
}

#[test]
fn a_bad_package_never_opens_the_target() {
    let pkg = pack(&sample(), Compression::Zstd);
    let opened = Cell::new(false);
    let open = || {
        opened.set(true);
        Ok(MemIo::new())
    };
    for bad in [
        pkg[..pkg.len() - 1].to_vec(),
        [&pkg[..pkg.len() - 4], &[0; 4][..]].concat(),
        b"NPKG".to_vec(),
    ] {
        let Err(err) = package::unpack(&bad, true, &Ruzstd, open) else {
            panic!("a bad package was unpacked");
        };
        assert!(matches!(err, Error::Corrupt(_)), "{err}");
    }
    assert!(!opened.get());
    // Without verification, only the checksum is not checked.
    let wrong_sum = [&pkg[..pkg.len() - 4], &[0; 4][..]].concat();
    assert!(package::unpack(&wrong_sum, false, &Ruzstd, || Ok(MemIo::new())).is_ok());
}

#[test]
fn a_folder_without_a_catalogue_is_not_packed() {
    let io = MemIo::new();
    io.write_file("data_a.npkd", b"rows").unwrap();
    let mut store = Store::open(io).unwrap();
    let err = package::pack(&mut store, Vec::new(), Compression::None, Ruzstd).unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound),
        "{err}"
    );
}

/// `MemIo` whose whole-file writes of `path` fail: a full disk part-way through an unpack.
struct WriteFails {
    inner: MemIo,
    path: &'static str,
}

impl Io for WriteFails {
    fn read_at(&self, p: &str, o: u64, b: &mut [u8]) -> Result<()> {
        self.inner.read_at(p, o, b)
    }
    fn write_at(&self, p: &str, o: u64, d: &[u8]) -> Result<()> {
        self.inner.write_at(p, o, d)
    }
    fn write_file(&self, p: &str, d: &[u8]) -> Result<()> {
        if p == self.path {
            return Err(Error::Io(std::io::Error::other("disk full")));
        }
        self.inner.write_file(p, d)
    }
    fn len(&self, p: &str) -> Result<Option<u64>> {
        self.inner.len(p)
    }
    fn set_len(&self, p: &str, l: u64) -> Result<()> {
        self.inner.set_len(p, l)
    }
    fn sync(&self, p: &str) -> Result<()> {
        self.inner.sync(p)
    }
    fn rename(&self, f: &str, t: &str) -> Result<()> {
        self.inner.rename(f, t)
    }
    fn remove(&self, p: &str) -> Result<()> {
        self.inner.remove(p)
    }
    fn create_dir(&self, d: &str) -> Result<()> {
        self.inner.create_dir(d)
    }
    fn remove_dir(&self, d: &str) -> Result<()> {
        self.inner.remove_dir(d)
    }
    fn list(&self, d: &str) -> Result<Vec<String>> {
        self.inner.list(d)
    }
    fn catalogue_stamp(&self) -> Result<Option<u64>> {
        self.inner.catalogue_stamp()
    }
    fn now_micros(&self) -> u64 {
        self.inner.now_micros()
    }
    fn lock(&self, m: LockMode) -> Result<()> {
        self.inner.lock(m)
    }
}

#[test]
fn a_failed_unpack_leaves_the_target_as_it_was() {
    let pkg = pack(&sample(), Compression::None);
    let target = MemIo::new();
    let mut old = Store::open(target.clone()).unwrap();
    old.save(&[NewArray {
        name: "x",
        dtype: DType::Uint8,
        shape: &[2],
        data: &[7, 8],
    }])
    .unwrap();
    let before = target.snapshot();
    for path in [
        "data_b.npkd.tmp",
        "metadata.npkm.tmp",
        "data_s_segments/seg_000000.npkd.tmp",
    ] {
        let io = WriteFails {
            inner: target.clone(),
            path,
        };
        let Err(err) = package::unpack(&pkg, true, &Ruzstd, || Ok(io)) else {
            panic!("{path}: the unpack went through");
        };
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(target.snapshot(), before, "{path}");
    }
}
