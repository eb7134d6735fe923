"""numpack.dask on Dask's local threaded scheduler (no distributed): reads, writes, sharded
search and bad input, each against NumPy / the in-memory VectorSearch."""

import os
import signal
import subprocess
import sys
import time

import dask
import dask.array as da
import numpy as np
import pytest
from dask_common import CASES, make_shards, store_with_drops

import numpack.dask as nd
from numpack import NumPack
from numpack.vector_engine import VectorSearch

THREADS = {"scheduler": "threads"}


@pytest.mark.parametrize("dtype,shape", CASES)
def test_from_npk_equals_load(tmp_path, rng, dtype, shape):
    from conftest import random_array

    arr = random_array(rng, dtype, shape)
    live = store_with_drops(tmp_path / "s.npk", "a", arr, rng)
    x = nd.from_npk(tmp_path / "s.npk", "a", chunks=17 if len(shape) else "auto")
    assert x.shape == live.shape and x.dtype == live.dtype
    with NumPack(tmp_path / "s.npk") as npk:
        np.testing.assert_array_equal(npk.load("a"), live)
    np.testing.assert_array_equal(x.compute(**THREADS), live)


def test_from_npk_trailing_chunks_and_graph_holds_no_data(tmp_path, rng):
    arr = rng.standard_normal((50, 6, 4))
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": arr})
    with NumPack(tmp_path / "s.npk") as npk:
        x = nd.from_npk(npk, "a", chunks=(7, 4, 3))  # an open NumPack stands for its folder
    np.testing.assert_array_equal(x.compute(**THREADS), arr)
    np.testing.assert_array_equal(x[10:20, 5, 1:3].compute(**THREADS), arr[10:20, 5, 1:3])
    # The graph holds the path and small tuples only, however big the array.
    import pickle

    big = np.zeros((100_000, 8))
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"big": big})
    g = nd.from_npk(tmp_path / "s.npk", "big", chunks=25_000).__dask_graph__()
    assert len(g) == 4 and len(pickle.dumps(dict(g))) < 10_000


def test_from_npk_refuses_a_changed_store(tmp_path, rng):
    arr = rng.standard_normal((40, 3))
    p = tmp_path / "s.npk"
    with NumPack(p) as npk:
        npk.save({"a": arr, "b": arr})
    x = nd.from_npk(p, "a", chunks=10)
    with NumPack(p) as npk:
        npk.replace({"b": arr[:1] * 2}, [0])  # another array: no effect
    np.testing.assert_array_equal(x.compute(**THREADS), arr)
    for change in (
        lambda n: n.replace({"a": arr[:1] * 2}, [0]),
        lambda n: n.append({"a": arr[:2]}),
        lambda n: n.drop("a", [5]),
        lambda n: n.drop("a"),
    ):
        with NumPack(p) as npk:
            npk.save({"a": arr})
        x = nd.from_npk(p, "a", chunks=10)
        time.sleep(0.002)  # modify times are in microseconds
        with NumPack(p) as npk:
            change(npk)
        with pytest.raises(nd.StoreChangedError, match="changed after the Dask graph was built"):
            x.compute(**THREADS)


def test_from_npk_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError):
        nd.from_npk(tmp_path / "nothing", "a")
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": np.arange(3)})
    with pytest.raises(KeyError):
        nd.from_npk(tmp_path / "s.npk", "missing")
    assert not os.path.exists(tmp_path / "nothing")


@pytest.mark.parametrize("dtype,shape", CASES)
def test_to_npk_round_trip(tmp_path, rng, dtype, shape):
    from conftest import random_array

    arr = random_array(rng, dtype, shape)
    x = da.from_array(arr, chunks=13 if len(shape) else ())
    nd.to_npk(x, tmp_path / "out.npk", "a", **THREADS)
    with NumPack(tmp_path / "out.npk") as npk:
        got = npk.load("a")
        assert got.dtype == arr.dtype and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)
        if len(shape) and shape[0]:
            npk.append({"a": arr[:3]})  # the staged (segmented) array is an ordinary array
            np.testing.assert_array_equal(npk.load("a"), np.concatenate([arr, arr[:3]]))
    assert not [f for f in os.listdir(tmp_path / "out.npk") if f.startswith(".npk_stage_")]


def test_to_npk_replaces_and_regions(tmp_path, rng):
    p = tmp_path / "out.npk"
    old = rng.standard_normal((30, 4))
    with NumPack(p) as npk:
        npk.save({"a": old, "keep": old[:2]})
        npk.drop("a", [1, 2])
    new = rng.standard_normal((45, 4)).astype(np.float32)
    nd.to_npk(da.from_array(new, chunks=(7, 2)), p, "a", **THREADS)
    nd.to_npk(da.from_array(new * 2, chunks=(11, 4)), p, "a", **THREADS)  # segmented → segmented
    with NumPack(p) as npk:
        np.testing.assert_array_equal(npk.load("a"), new * 2)
        np.testing.assert_array_equal(npk.load("keep"), old[:2])
    # da.store with explicit regions into one target.
    t = nd.NpkTarget(p, "r", (50, 4), np.float32)
    da.store([da.from_array(new[:20], chunks=8), da.from_array(new[:30], chunks=9)], [t, t],
             regions=[np.s_[0:20, :], np.s_[20:50, :]], lock=False, **THREADS)
    t.commit()
    with NumPack(p) as npk:
        np.testing.assert_array_equal(npk.load("r"), np.concatenate([new[:20], new[:30]]))
    # A target whose regions leave rows unwritten refuses to commit and changes nothing.
    t = nd.NpkTarget(p, "gap", (10, 4), np.float32)
    t[0:4] = new[:4]
    t[6:10] = new[:4]
    with pytest.raises(ValueError, match="do not cover rows 4..6"):
        t.commit()
    t.abort()
    with NumPack(p) as npk:
        assert "gap" not in npk.keys()


def _boom(block, block_info=None):
    if block_info[0]["chunk-location"][0] == 3:
        raise RuntimeError("boom in block 3")
    return block


def test_stage_folders_are_named_by_the_array_name_hash(tmp_path):
    """The core names staging folders (prefix + first 16 hex digits of the name's SHA-256), so
    a writer removes the folders a dead writer of the same array left, and only those."""
    import hashlib

    from numpack import _numpack as _n

    for name in ["a", "b", "x" * 300, "ünï"]:
        want = ".npk_stage_" + hashlib.sha256(name.encode()).hexdigest()[:16] + "_"
        assert _n.dask_stage_root(name) == want
    stale = tmp_path / (_n.dask_stage_root("a") + "dead")
    other = tmp_path / (_n.dask_stage_root("b") + "live")
    stale.mkdir()
    other.mkdir()
    (stale / "00000000000000000000_00000000000000000001").write_bytes(b"1234")
    t = nd.NpkTarget(tmp_path, "a", (2, 1), np.float32)
    assert not stale.exists() and other.exists()
    t[0:2] = np.ones((2, 1), np.float32)
    with pytest.raises(ValueError, match="a staged part covers rows 2..1"):
        _n.dask_stage_part(str(tmp_path), t.stage, 2, 1, np.ones((0, 1), np.float32))
    t.commit()
    with NumPack(tmp_path) as npk:
        np.testing.assert_array_equal(npk.load("a"), np.ones((2, 1), np.float32))


def test_to_npk_failure_leaves_store_as_it_was(tmp_path, rng):
    p = tmp_path / "out.npk"
    old = rng.standard_normal((20, 3))
    with NumPack(p) as npk:
        npk.save({"a": old})
    before = sorted(os.listdir(p))
    x = da.from_array(rng.standard_normal((60, 3)), chunks=10)
    with pytest.raises(RuntimeError, match="boom in block 3"):
        nd.to_npk(x.map_blocks(_boom, dtype=x.dtype), p, "a", **THREADS)
    assert sorted(os.listdir(p)) == before
    with NumPack(p) as npk:
        np.testing.assert_array_equal(npk.load("a"), old)
    nd.to_npk(x, p, "a", **THREADS)
    with NumPack(p) as npk:
        np.testing.assert_array_equal(npk.load("a"), x.compute())


def _boom_first_others_late(block, block_info=None):
    import time

    if block_info[0]["chunk-location"][0] == 0:
        raise RuntimeError("boom in block 0")
    time.sleep(0.2)
    return block


def test_to_npk_tasks_still_running_after_a_failure_leave_nothing(tmp_path, rng):
    # The threaded scheduler raises at the first failed task while others still run; their
    # late part writes must not bring the staging folder back.
    from concurrent.futures import ThreadPoolExecutor

    p = tmp_path / "out.npk"
    with NumPack(p) as npk:
        npk.save({"a": np.zeros((2, 3))})
    before = sorted(os.listdir(p))
    x = da.from_array(rng.standard_normal((80, 3)), chunks=10)
    with ThreadPoolExecutor(8) as pool:
        with pytest.raises(RuntimeError, match="boom in block 0"):
            nd.to_npk(x.map_blocks(_boom_first_others_late, dtype=x.dtype), p, "a", scheduler="threads", pool=pool)
        time.sleep(0.5)
    assert sorted(os.listdir(p)) == before
    with NumPack(p) as npk:
        np.testing.assert_array_equal(npk.load("a"), np.zeros((2, 3)))


KILL_CHILD = r"""
import sys, time
import dask.array as da, numpy as np
import numpack.dask as nd
def slow(b, block_info=None):
    if block_info[0]["chunk-location"][0] == 7:
        time.sleep(60)
    return b
x = da.from_array(np.arange(80 * 3, dtype=np.float64).reshape(80, 3), chunks=10)
nd.to_npk(x.map_blocks(slow, dtype=x.dtype), sys.argv[1], "a", scheduler="threads", num_workers=2)
"""


def test_to_npk_killed_process_leaves_store_as_it_was(tmp_path, rng):
    """The threaded scheduler's 'worker killed': the whole writing process gets SIGKILL while
    some parts are staged; the store is unchanged and a retry succeeds (and clears the
    leftovers)."""
    p = tmp_path / "out.npk"
    old = rng.standard_normal((20, 3))
    with NumPack(p) as npk:
        npk.save({"a": old})
    child = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(p)])
    deadline = time.time() + 60
    staged = []
    while time.time() < deadline and len(staged) < 3:
        stages = [d for d in os.listdir(p) if d.startswith(".npk_stage_")]
        staged = [f for d in stages for f in os.listdir(p / d)] if stages else []
        time.sleep(0.05)
    assert staged, "the child staged nothing"
    child.send_signal(signal.SIGKILL)
    child.wait()
    with NumPack(p) as npk:
        assert npk.keys() == ["a"]
        np.testing.assert_array_equal(npk.load("a"), old)
    assert nd.from_npk(p, "a").compute(**THREADS).shape == old.shape
    x = da.from_array(np.arange(80 * 3, dtype=np.float64).reshape(80, 3), chunks=10)
    nd.to_npk(x, p, "a", **THREADS)
    with NumPack(p) as npk:
        np.testing.assert_array_equal(npk.load("a"), x.compute())
    assert not [d for d in os.listdir(p) if d.startswith(".npk_stage_")]


@pytest.mark.parametrize("metric", ["cosine", "l2", "dot", "hamming"])
def test_top_k_equals_vector_search(tmp_path, rng, metric):
    paths, allv, q = make_shards(str(tmp_path), rng, metric)
    for k in (1, 5, 200):
        idx, sc = nd.top_k(q, paths, "vecs", metric, k)
        ref_idx, ref_sc = VectorSearch().multi_query_top_k(q, allv, metric, k)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(sc, ref_sc)
    i1, s1 = nd.top_k(q[0], paths, "vecs", metric, 4)
    r1 = VectorSearch().multi_query_top_k(q[0], allv, metric, 4)
    np.testing.assert_array_equal(i1, r1[0])
    np.testing.assert_array_equal(s1, r1[1])


def test_top_k_bad_input(tmp_path, rng):
    paths, allv, q = make_shards(str(tmp_path), rng, "l2", sizes=(10, 12, 9))
    for p in (paths[0], paths[2]):
        with NumPack(p) as npk:
            npk.save({"other": allv[:3]})
    with pytest.raises(KeyError, match="shard 1"):
        nd.top_k(q, paths, "other", "l2", 3)
    wide = tmp_path / "wide.npk"
    with NumPack(wide) as npk:
        npk.save({"vecs": np.zeros((4, 9), np.float32)})
    with pytest.raises(ValueError, match="shard 3"):
        nd.top_k(q, paths + [wide], "vecs", "l2", 3)
    other_dtype = tmp_path / "f64.npk"
    with NumPack(other_dtype) as npk:
        npk.save({"vecs": np.zeros((4, 8), np.float64)})
    with pytest.raises(ValueError, match="float64"):
        nd.top_k(q, paths + [other_dtype], "vecs", "l2", 3)
    with pytest.raises(ValueError, match="client"):
        nd.top_k(q, paths, "vecs", "l2", 3, workers=[None] * 3)


def test_split_shards_then_top_k(tmp_path, rng):
    v = rng.standard_normal((101, 8)).astype(np.float32)
    p = tmp_path / "big.npk"
    with NumPack(p) as npk:
        npk.save({"vecs": v})
        npk.drop("vecs", [0, 50])
    live = np.delete(v, [0, 50], axis=0)
    outs = [tmp_path / f"s{i}.npk" for i in range(3)]
    assert nd.split_shards(p, "vecs", outs, batch_rows=16) == [33, 33, 33]
    np.testing.assert_array_equal(da.concatenate([nd.from_npk(o, "vecs") for o in outs]).compute(**THREADS), live)
    idx, sc = nd.top_k(v[:4], outs, "vecs", "cosine", 7)
    ref = VectorSearch().multi_query_top_k(v[:4], live, "cosine", 7)
    np.testing.assert_array_equal(idx, ref[0])
    np.testing.assert_array_equal(sc, ref[1])


def test_progress_bar_sees_our_tasks(tmp_path, rng, capsys):
    from dask.diagnostics import ProgressBar

    arr = rng.standard_normal((100, 4))
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": arr})
    with ProgressBar(minimum=0, dt=0.001):
        got = nd.from_npk(tmp_path / "s.npk", "a", chunks=10).sum(axis=0).compute(**THREADS)
        nd.to_npk(da.from_array(arr, chunks=25), tmp_path / "s.npk", "b", **THREADS)
    np.testing.assert_allclose(got, arr.sum(axis=0))
    assert "100%" in capsys.readouterr().out


def test_numpack_dask_is_the_only_importer_of_dask():
    code = "import sys, numpack, numpack.vector_engine, numpack.remote; assert 'dask' not in sys.modules, 'dask imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_remote_reads_fetch_only_the_rows_asked_for(tmp_path, rng):
    """Through the read-only Io over fsspec: the catalogue and bitmap once per open, then one
    byte range per run of live rows asked for, nothing else (fsspec's memory filesystem,
    recording every call)."""
    from fsspec.implementations.memory import MemoryFileSystem

    from numpack import _numpack
    from numpack.remote import publish

    class Recording(MemoryFileSystem):
        calls = []

        def cat_file(self, path, start=None, end=None, **kw):
            self.calls.append((path.rsplit("/", 1)[-1], start, end))
            return super().cat_file(path, start=start, end=end, **kw)

    arr = rng.standard_normal((1000, 16)).astype(np.float32)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": arr})
        npk.drop("a", [105])
    live = np.delete(arr, [105], axis=0)
    fs = Recording(skip_instance_cache=True)
    publish(tmp_path / "s.npk", "memory://rec/s.npk")
    Recording.calls.clear()
    store = _numpack.RemoteStore(fs, "/rec/s.npk", "memory://rec/s.npk")
    opened = [c[0] for c in Recording.calls]
    assert sorted(opened) == ["deleted_a.npkb", "metadata.npkm"]
    Recording.calls.clear()
    ident = store.info("a")
    got = store.read_rows_if("a", ident, 100, 110)
    np.testing.assert_array_equal(got, live[100:110])
    rb = 16 * 4
    # Live rows 100..110 are physical 100..104 and 106..110: two runs, two ranges.
    assert Recording.calls == [("data_a.npkd", 100 * rb, 105 * rb), ("data_a.npkd", 106 * rb, 111 * rb)]
    with pytest.raises(OSError, match="read-only"):
        store.drop_arrays(["a"])
