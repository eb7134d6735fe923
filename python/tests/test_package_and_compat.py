"""`.npkg` packages (pack / unpack / get_package_info) and upstream's extra LazyArray methods."""

import struct
import zlib

import numpy as np
import pytest

from numpack import CorruptStoreError, NumPack, get_package_info, pack, unpack


@pytest.fixture
def store(tmp_path, rng):
    a = rng.standard_normal((300, 5)).astype(np.float32)
    b = np.arange(40, dtype=np.int64)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a, "b": b})
        npk.drop("b", [0, 39])
    return tmp_path / "s.npk", a, np.delete(b, [0, 39])


def test_pack_unpack_round_trip(store, tmp_path):
    path, a, b = store
    pkg = pack(path, tmp_path / "s.npkg", compression=False)
    info = get_package_info(pkg)
    assert info["compression_name"] == "none" and info["file_count"] == 4
    assert {f["name"] for f in info["files"]} == {"metadata.npkm", "data_a.npkd", "data_b.npkd", "deleted_b.npkb"}
    assert info["total_original_size"] == sum((path / f["name"]).stat().st_size for f in info["files"])
    out = unpack(pkg, tmp_path / "copy.npk")
    with NumPack(out) as npk:
        np.testing.assert_array_equal(npk.load("a"), a)
        np.testing.assert_array_equal(npk.load("b"), b)
    for f in info["files"]:
        assert (out / f["name"]).read_bytes() == (path / f["name"]).read_bytes()
    with pytest.raises(FileExistsError):
        unpack(pkg, tmp_path / "copy.npk")


def test_package_layout_is_upstreams_v2(store, tmp_path):
    path, _, _ = store
    raw = pack(path, tmp_path / "s.npkg", compression=False).read_bytes()
    assert raw[:4] == b"NPKG"
    version, compression, count = struct.unpack_from("<IBI", raw, 4)
    assert (version, compression) == (2, 0)
    at, chain = 13, 0
    for _ in range(count):
        (n,) = struct.unpack_from("<I", raw, at)
        name = raw[at + 4:at + 4 + n].decode()
        original, compressed = struct.unpack_from("<QQ", raw, at + 4 + n)
        data = raw[at + 20 + n:at + 20 + n + original]
        assert compressed == 0 and data == (path / name).read_bytes()
        chain = zlib.crc32(struct.pack("<I", zlib.crc32(data)), chain)
        at += 20 + n + original
    assert struct.unpack_from("<I", raw, at)[0] == chain and at + 4 == len(raw)


def test_corrupt_and_hostile_packages_are_rejected(store, tmp_path):
    path, _, _ = store
    raw = bytearray(pack(path, tmp_path / "s.npkg", compression=False).read_bytes())
    bad = tmp_path / "bad.npkg"
    for cut in (0, 3, 12, 40, len(raw) - 1):
        bad.write_bytes(bytes(raw[:cut]))
        with pytest.raises(CorruptStoreError):
            unpack(bad, tmp_path / f"cut{cut}")
    flipped = bytearray(raw)
    flipped[-10] ^= 0xFF  # inside the last file's data
    bad.write_bytes(bytes(flipped))
    with pytest.raises(CorruptStoreError, match="checksum"):
        unpack(bad, tmp_path / "flip")
    # An entry whose path climbs out of the folder.
    evil = b"NPKG" + struct.pack("<IBI", 2, 0, 1)
    name = b"../escape.npkd"
    evil += struct.pack("<I", len(name)) + name + struct.pack("<QQ", 1, 0) + b"x"
    evil += struct.pack("<I", zlib.crc32(struct.pack("<I", zlib.crc32(b"x"))))
    bad.write_bytes(evil)
    with pytest.raises(CorruptStoreError, match="leave"):
        unpack(bad, tmp_path / "evil")
    assert not (tmp_path / "escape.npkd").exists()


def test_upstream_lazy_array_extras(npk, rng):
    a = rng.standard_normal((50, 3))
    npk.save({"a": a})
    npk.drop("a", [0])
    want = a[1:]
    with npk.load("a", lazy=True) as lazy:
        np.testing.assert_array_equal(lazy.vectorized_gather([3, -1]), want[[3, -1]])
        mask = np.arange(49) % 3 == 0
        np.testing.assert_array_equal(lazy.parallel_boolean_index(mask), want[mask])
        np.testing.assert_array_equal(lazy.boolean_index_smart(mask), want[mask])
        rows = lazy.mega_batch_get_rows([5, 6, 7], batch_size=2)
        assert len(rows) == 3 and all(np.array_equal(r, want[i]) for r, i in zip(rows, [5, 6, 7]))
        assert lazy.choose_optimal_algorithm(mask) == "adaptive"
        assert lazy.choose_optimal_algorithm(np.zeros(49, bool)) == "sparse"
        lazy.intelligent_warmup("sequential")
    npk.sync_metadata()


def test_zstd_packages_round_trip(store, tmp_path):
    path, a, b = store
    pkg = pack(path, tmp_path / "z.npkg", compression=True)
    info = get_package_info(pkg)
    assert info["compression_name"] == "zstd"
    # Incompressible float data is stored raw; the int64 range compresses.
    sizes = {f["name"]: f for f in info["files"]}
    assert sizes["data_b.npkd"]["compressed_size"] > 0
    with NumPack(unpack(pkg, tmp_path / "z.npk")) as npk:
        np.testing.assert_array_equal(npk.load("a"), a)
        np.testing.assert_array_equal(npk.load("b"), b)


def test_unpack_over_a_store_replaces_it_and_pack_leaves_junk_out(tmp_path):
    src, dst = tmp_path / "src.npk", tmp_path / "dst.npk"
    with NumPack(src) as npk:
        npk.save({"b": np.arange(5)})
    with NumPack(dst) as npk:
        npk.save({"b": np.zeros(9, np.int64), "x": np.ones(3)})
        npk.drop("b", [0])  # a bitmap that would hide a row of the unpacked b if it stayed
    (src / "notes.txt").write_text("not a store file")
    (src / "data_b.npkd.tmp").write_bytes(b"staged")
    (dst / "notes.txt").write_text("mine")
    pkg = pack(src)
    assert [f["name"] for f in get_package_info(pkg)["files"]] == ["metadata.npkm", "data_b.npkd"]
    unpack(pkg, dst, overwrite=True)
    with NumPack(dst) as npk:
        assert npk.keys() == ["b"]
        np.testing.assert_array_equal(npk.load("b"), np.arange(5))
    assert (dst / "notes.txt").read_text() == "mine"
    assert not (dst / "deleted_b.npkb").exists() and not (dst / "data_x.npkd").exists()
    assert not [p for p in dst.iterdir() if p.name.endswith(".tmp")]
