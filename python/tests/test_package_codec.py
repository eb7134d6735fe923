"""`.npkg` packages through the compiled codec: every dtype round trips; packages whose files the
`zstandard` module compressed (our Python writer before the codec moved to Rust, and upstream's
streaming writer) still open; our zstd frames open in `zstandard` and are as small as its level 3
(the wheel compresses with the C zstd library); hostile packages fail as CorruptStoreError without
leaving anything behind; and no `zstandard` is needed at all. Packages of the pure-Rust codec that
JS writes open here too: native/src/python/package.rs and js/test/cross.test.mjs check that."""

import io
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import zstandard  # the reference zstd, only to make and check frames here

from numpack import CorruptStoreError, NumPack, get_package_info, pack, unpack

from conftest import DTYPES, random_array


def _chain(datas):
    crc = 0
    for data in datas:
        crc = zlib.crc32(struct.pack("<I", zlib.crc32(data)), crc)
    return crc


def _package(code, entries, checksum=None):
    """A package by hand from (path, original_size, compressed_size, payload) entries."""
    out = b"NPKG" + struct.pack("<IBI", 2, code, len(entries))
    for path, original, compressed, payload in entries:
        name = path.encode()
        out += struct.pack("<I", len(name)) + name + struct.pack("<QQ", original, compressed) + payload
    return out + struct.pack("<I", 0 if checksum is None else checksum)


def _zstandard_frame(data, framing):
    if framing == "oneshot":  # our old writer: ZstdCompressor(level=3).compress, content size in the header
        return zstandard.ZstdCompressor(level=3).compress(data)
    buf = io.BytesIO()  # upstream NumPack's writer: a level-3 stream_writer, no content size, 2 MiB window
    with zstandard.ZstdCompressor(level=3).stream_writer(buf, closefd=False) as w:
        w.write(data)
    return buf.getvalue()


def _zstandard_package(root, names, framing):
    """The package our Python writer made before (upstream's layout): a zstd frame per file,
    level 3, unless the frame is not smaller; the checksum chained over the files' CRC-32."""
    entries, datas = [], []
    for name in names:
        data = (root / name).read_bytes()
        frame = _zstandard_frame(data, framing)
        raw = len(frame) >= len(data)
        entries.append((name, len(data), 0 if raw else len(frame), data if raw else frame))
        datas.append(data)
    return _package(1, entries, _chain(datas))


def _entries(raw):
    """(path, original_size, compressed_size, payload) of every entry of a package."""
    (count,) = struct.unpack_from("<I", raw, 9)
    at, out = 13, []
    for _ in range(count):
        (n,) = struct.unpack_from("<I", raw, at)
        path = raw[at + 4:at + 4 + n].decode()
        original, compressed = struct.unpack_from("<QQ", raw, at + 4 + n)
        at += 20 + n
        size = compressed or original
        out.append((path, original, compressed, raw[at:at + size]))
        at += size
    assert at + 4 == len(raw)
    return out


def _store_files(path):
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
            and not p.name.startswith(".")}


@pytest.fixture
def mixed_store(tmp_path, rng):
    """A store like a real one: random float32 rows (zstd gains little), and integer columns."""
    arrays = {
        "emb": rng.standard_normal((2000, 10)).astype(np.float32),
        "ids": np.arange(50_000, dtype=np.int64),
        "cat": rng.integers(0, 1000, 20_000, dtype=np.int32),
        "label": rng.integers(0, 10, 20_000, dtype=np.uint8),
        "flag": rng.integers(0, 2, 999).astype(bool),
    }
    path = tmp_path / "mixed.npk"
    with NumPack(path) as npk:
        npk.save(arrays)
        npk.drop("ids", [0, 7])
    arrays["ids"] = np.delete(arrays["ids"], [0, 7])
    return path, arrays


@pytest.mark.parametrize("compression", [True, False])
def test_every_dtype_round_trips(tmp_path, rng, compression):
    arrays = {dt: random_array(rng, dt, (257, 3)) for dt in DTYPES}
    arrays["scalar"] = np.array(2.5)
    arrays["empty"] = np.zeros((0, 4), dtype=np.int16)
    arrays["zeros"] = np.zeros(100_000, dtype=np.float64)
    src = tmp_path / "all.npk"
    with NumPack(src) as npk:
        npk.save(arrays)
        npk.drop("int64", [0, 5])
    arrays["int64"] = np.delete(arrays["int64"], [0, 5], axis=0)
    pkg = pack(src, tmp_path / "all.npkg", compression=compression)
    info = get_package_info(pkg)
    assert info["compression_name"] == ("zstd" if compression else "none")
    sizes = {f["name"]: f for f in info["files"]}
    assert (sizes["data_zeros.npkd"]["compressed_size"] > 0) == compression
    if compression:
        assert sizes["data_zeros.npkd"]["compressed_size"] < 1000
    out = unpack(pkg, tmp_path / "back.npk")
    assert _store_files(out) == _store_files(src)
    with NumPack(out) as npk:
        for name, want in arrays.items():
            got = npk.load(name)
            assert got.dtype == want.dtype and got.shape == want.shape, name
            np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("framing", ["oneshot", "stream"])
def test_packages_compressed_by_zstandard_open(mixed_store, tmp_path, framing):
    path, arrays = mixed_store
    names = sorted(_store_files(path), key=lambda n: n != "metadata.npkm")
    raw = _zstandard_package(path, names, framing)
    pkg = tmp_path / "old.npkg"
    pkg.write_bytes(raw)
    info = get_package_info(pkg)
    assert info["version"] == 2 and info["compression"] == 1 and info["compression_name"] == "zstd"
    assert [f["name"] for f in info["files"]] == names
    for f, (_, original, compressed, _) in zip(info["files"], _entries(raw)):
        assert (f["original_size"], f["compressed_size"]) == (original, compressed)
    assert sum(f["compressed_size"] > 0 for f in info["files"]) >= 4  # the frames are really read
    out = unpack(pkg, tmp_path / "old.npk")
    assert _store_files(out) == _store_files(path)
    with NumPack(out) as npk:
        for name, want in arrays.items():
            np.testing.assert_array_equal(npk.load(name), want, err_msg=name)


def test_our_frames_open_in_zstandard(mixed_store, tmp_path):
    path, _ = mixed_store
    raw = pack(path, tmp_path / "new.npkg").read_bytes()
    files = _store_files(path)
    entries = _entries(raw)
    assert sum(1 for e in entries if e[2]) >= 3
    for name, original, compressed, payload in entries:
        want = files[name]
        assert original == len(want)
        if compressed:
            # The content size is in the frame header: no max_output_size needed.
            assert zstandard.ZstdDecompressor().decompress(payload) == want, name
            assert compressed < original
        else:
            assert payload == want
    assert struct.unpack_from("<I", raw, len(raw) - 4)[0] == _chain(files[e[0]] for e in entries)


def test_compresses_like_zstd_level_3(tmp_path, rng):
    """The wheel's frames are the C library's level 3: as small as `zstandard`'s (the same
    library), where the pure-Rust encoder's fastest level made 0.355 of an int64 arange."""
    arrays = {
        "ids": np.arange(1_000_000, dtype=np.int64),
        "cat": rng.integers(0, 1000, 300_000, dtype=np.int32),
        "emb": rng.standard_normal((20_000, 10)).astype(np.float32),
        "noise": rng.integers(0, 256, 5 << 20, dtype=np.uint8),  # over 4 MiB: stored raw
    }
    src = tmp_path / "s.npk"
    with NumPack(src) as npk:
        npk.save(arrays)
    raw = pack(src, tmp_path / "s.npkg").read_bytes()
    entries = {e[0]: e for e in _entries(raw)}
    level3 = zstandard.ZstdCompressor(level=3)
    for name in ("ids", "cat", "emb"):
        _, original, compressed, payload = entries[f"data_{name}.npkd"]
        reference = len(level3.compress(arrays[name].tobytes()))
        assert 0 < compressed <= reference * 1.01 + 64, (name, compressed, reference)
        assert zstandard.ZstdDecompressor().decompress(payload) == arrays[name].tobytes(), name
    assert entries["data_ids.npkd"][2] < 0.14 * arrays["ids"].nbytes
    assert entries["data_noise.npkd"][2] == 0
    out = unpack(tmp_path / "s.npkg", tmp_path / "back.npk")
    with NumPack(out) as npk:
        for name, want in arrays.items():
            np.testing.assert_array_equal(npk.load(name), want, err_msg=name)


def test_get_package_info(mixed_store, tmp_path):
    path, _ = mixed_store
    pkg = pack(path, tmp_path / "i.npkg")
    info = get_package_info(pkg)
    assert set(info) == {"version", "compression", "compression_name", "file_count", "files",
                         "total_original_size", "total_compressed_size", "compression_ratio"}
    assert (info["version"], info["compression"], info["file_count"]) == (2, 1, len(_store_files(path)))
    assert info["files"][0]["name"] == "metadata.npkm"
    for f in info["files"]:
        assert set(f) == {"name", "original_size", "compressed_size", "actual_size"}
        assert f["original_size"] == (path / f["name"]).stat().st_size
        assert f["actual_size"] == (f["compressed_size"] or f["original_size"])
    assert info["total_original_size"] == sum(f["original_size"] for f in info["files"])
    assert info["total_compressed_size"] == sum(f["actual_size"] for f in info["files"])
    assert info["compression_ratio"] == info["total_compressed_size"] / info["total_original_size"] < 0.9
    assert pkg.stat().st_size == 13 + 4 + sum(20 + len(f["name"]) + f["actual_size"] for f in info["files"])


def test_hostile_compressed_packages_fail_cleanly(tmp_path):
    data = bytes(range(256)) * 40
    frame = zstandard.ZstdCompressor(level=3).compress(data)
    good = _package(1, [("data_a.npkd", len(data), len(frame), frame)], _chain([data]))
    (tmp_path / "good.npkg").write_bytes(good)
    assert (unpack(tmp_path / "good.npkg", tmp_path / "good.npk") / "data_a.npkd").read_bytes() == data
    bomb_data = bytes(10 << 20)
    bomb = zstandard.ZstdCompressor(level=3).compress(bomb_data)
    stream_bomb = _zstandard_frame(bomb_data, "stream")
    flipped = bytearray(frame)
    flipped[len(flipped) // 2] ^= 0x55
    cases = {
        "bomb": _package(1, [("data_a.npkd", 100, len(bomb), bomb)], _chain([bomb_data[:100]])),
        "bomb without content size": _package(1, [("data_a.npkd", 100, len(stream_bomb), stream_bomb)], 0),
        "short": _package(1, [("data_a.npkd", len(data) + 1, len(frame), frame)], _chain([data])),
        "impossible ratio": _package(1, [("data_a.npkd", 1 << 40, len(frame), frame)], 0),
        "zstd in a none package": _package(0, [("data_a.npkd", len(data), len(frame), frame)], _chain([data])),
        "flipped frame": _package(1, [("data_a.npkd", len(data), len(frame), bytes(flipped))], _chain([data])),
        "zlib, upstream's fallback": _package(1, [("data_a.npkd", len(data), len(zlib.compress(data)), zlib.compress(data))],
                                              _chain([data])),
        "frame then junk": _package(1, [("data_a.npkd", len(data), len(frame) + 3, frame + b"abc")], _chain([data])),
        "escape": _package(1, [("../x.npkd", len(data), len(frame), frame)], _chain([data])),
        "nested": _package(1, [("sub/x.npkd", len(data), len(frame), frame)], _chain([data])),
    }
    for name, raw in cases.items():
        bad = tmp_path / "bad.npkg"
        bad.write_bytes(raw)
        with pytest.raises(CorruptStoreError):
            unpack(bad, tmp_path / "out.npk")
        assert not (tmp_path / "out.npk").exists(), name
        if name in ("impossible ratio", "zstd in a none package", "escape", "nested"):
            with pytest.raises(CorruptStoreError):
                get_package_info(bad)
    # verify=False skips only the checksum.
    (tmp_path / "sum.npkg").write_bytes(_package(1, [("data_a.npkd", len(data), len(frame), frame)], 12345))
    with pytest.raises(CorruptStoreError, match="checksum"):
        unpack(tmp_path / "sum.npkg", tmp_path / "s1.npk")
    assert (unpack(tmp_path / "sum.npkg", tmp_path / "s2.npk", verify=False) / "data_a.npkd").read_bytes() == data


def test_pack_leaves_no_temporary_file_on_failure(mixed_store, tmp_path):
    path, _ = mixed_store
    (path / "data_gone.npkd").mkdir()  # a name a package holds, that cannot be read as a file
    out = tmp_path / "x.npkg"
    with pytest.raises(IsADirectoryError):
        pack(path, out)
    assert not out.exists() and not (tmp_path / "x.npkg.tmp").exists()
    with pytest.raises(FileNotFoundError):
        pack(tmp_path / "nowhere", out)
    assert not (tmp_path / "nowhere").exists() and not out.exists()


def test_no_zstandard_module_is_needed(mixed_store, tmp_path):
    path, arrays = mixed_store
    code = """
import sys, warnings
sys.modules["zstandard"] = None  # import zstandard now fails
warnings.simplefilter("error")
import numpy as np
from numpack import NumPack, get_package_info, pack, unpack
src, work = sys.argv[1], sys.argv[2]
pkg = pack(src, work + "/z.npkg", compression=True)
assert get_package_info(pkg)["compression_name"] == "zstd"
with NumPack(unpack(pkg, work + "/z.npk")) as n:
    print(int(n.load("ids").sum()))
"""
    out = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == int(arrays["ids"].sum())
