"""Stores laid out the way upstream NumPack 0.7 writes them — including a segmented array
(JSON manifest + segment files) and a legacy header-less bitmap — read and change correctly
through the Python API; and `durable=True` stores behave like the default ones."""

import json
import struct

import numpy as np
import pytest

from numpack import NumPack


def _record(name, shape, data_file, code, itemsize):
    size = int(np.prod(shape)) * itemsize
    out = struct.pack("<I", len(name)) + name.encode()
    out += struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
    out += struct.pack("<I", len(data_file)) + data_file.encode()
    out += struct.pack("<QQBBIQQB", 1_716_000_000_000_000, size, code, 0, 0, 0, 0, 0)
    return out, size


def _write_upstream_store(path, big, ids):
    path.mkdir()
    seg_dir = path / "data_big_segments"
    seg_dir.mkdir()
    # "big" (float64, 7 x 3) split into segments of 3, 3 and 1 rows, as upstream 0.7 does.
    segments = []
    for k, (lo, hi) in enumerate([(0, 3), (3, 6), (6, 7)]):
        rel = f"data_big_segments/seg_{k:06d}.npkd"
        (path / rel).write_bytes(big[lo:hi].astype("<f8").tobytes())
        segments.append({"file": rel, "rows": hi - lo, "bytes": (hi - lo) * 3 * 8})
    (path / "data_big.npkseg").write_text(json.dumps({"version": 1, "segments": segments}, indent=2))
    # "ids" (int64, 70) with a legacy (header-less) bitmap dropping rows 2 and 65.
    (path / "data_ids.npkd").write_bytes(ids.astype("<i8").tobytes())
    words = np.full(2, np.uint64(2**64 - 1), dtype="<u8")
    words[0] &= ~np.uint64(1 << 2)
    words[1] &= ~np.uint64(1 << 1)
    (path / "deleted_ids.npkb").write_bytes(words.tobytes())
    recs = [_record("ids", [70], "data_ids.npkd", 8, 8), _record("big", [7, 3], "data_big.npkseg", 11, 8)]
    header = b"NPKB" + struct.pack("<IQI", 1, sum(s for _, s in recs), len(recs))
    (path / "metadata.npkm").write_bytes(header + b"".join(r for r, _ in recs))


@pytest.fixture
def upstream(tmp_path):
    big = np.arange(21, dtype=np.float64).reshape(7, 3)
    ids = np.arange(70, dtype=np.int64) * 10
    path = tmp_path / "upstream.npk"
    _write_upstream_store(path, big, ids)
    return path, big, np.delete(ids, [2, 65])


def test_segmented_and_legacy_bitmap_read_correctly(upstream):
    path, big, ids = upstream
    with NumPack(path) as npk:
        assert sorted(npk.get_member_list()) == ["big", "ids"]
        np.testing.assert_array_equal(npk.load("big"), big)
        lazy = npk.load("big", lazy=True)
        np.testing.assert_array_equal(lazy[[2, 3, 6]], big[[2, 3, 6]])  # spans segments
        np.testing.assert_array_equal(lazy[::-2], big[::-2])
        np.testing.assert_array_equal(np.asarray(lazy), big)
        np.testing.assert_array_equal(npk.getitem("big", [-1, 0]), big[[-1, 0]])
        np.testing.assert_array_equal(npk.load("ids"), ids)
        np.testing.assert_array_equal(npk.load("ids", lazy=True)[60:], ids[60:])
        assert npk.get_shape("ids") == (68,)


def test_segmented_array_changes_and_becomes_plain(upstream):
    path, big, _ = upstream
    with NumPack(path) as npk:
        npk.replace({"big": np.full((1, 3), -1.0)}, indexes=[4])  # inside the 2nd segment
        big[4] = -1.0
        np.testing.assert_array_equal(npk.load("big"), big)
        npk.append({"big": np.ones((2, 3))})
        big = np.vstack([big, np.ones((2, 3))])
    assert not (path / "data_big.npkseg").exists()
    assert not (path / "data_big_segments").exists()
    with NumPack(path) as npk:
        np.testing.assert_array_equal(npk.load("big"), big)
        assert npk.get_metadata()["arrays"]["big"]["data_file"] == "data_big.npkd"


def test_durable_store_round_trip(tmp_path, rng):
    a = rng.standard_normal((500, 4)).astype(np.float32)
    with NumPack(tmp_path / "d.npk", durable=True) as npk:
        npk.save({"a": a})
        npk.append({"a": a[:10]})
        npk.replace({"a": a[:2] * 3}, indexes=[0, 1])
        npk.drop("a", [5])
    want = np.vstack([a, a[:10]])
    want[:2] = a[:2] * 3
    want = np.delete(want, 5, axis=0)
    with NumPack(tmp_path / "d.npk") as npk:
        np.testing.assert_array_equal(npk.load("a"), want)
