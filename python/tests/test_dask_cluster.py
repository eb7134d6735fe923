"""numpack.dask on a real multi-process cluster: dask.distributed.LocalCluster with two worker
processes of one thread each. Reads, writes, a worker SIGKILLed mid-write, sharded search with
shards pinned to workers; each checked against NumPy / the in-memory VectorSearch."""

import os
import signal
import sys
import time

import cloudpickle
import dask
import dask.array as da
import numpy as np
import pytest
from dask_common import CASES, make_shards, store_with_drops
from distributed import Client, LocalCluster
from distributed.scheduler import KilledWorker

import numpack.dask as nd
from numpack import NumPack
from numpack.vector_engine import VectorSearch

# Worker processes cannot import this test module: ship its helpers by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    # No retries of a task whose worker died: the kill must surface as an error on the client.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
            with Client(cluster) as c:
                yield c


def test_from_npk_equals_load(client, tmp_path, rng):
    from conftest import random_array

    for i, (dtype, shape) in enumerate(CASES):
        arr = random_array(rng, dtype, shape)
        p = tmp_path / f"s{i}.npk"
        live = store_with_drops(p, "a", arr, rng)
        x = nd.from_npk(p, "a", chunks=11 if shape else "auto")
        with NumPack(p) as npk:
            np.testing.assert_array_equal(npk.load("a"), live)
        np.testing.assert_array_equal(client.compute(x).result(), live)


def test_to_npk_round_trip(client, tmp_path, rng):
    from conftest import random_array

    for i, (dtype, shape) in enumerate(CASES):
        arr = random_array(rng, dtype, shape)
        p = tmp_path / f"o{i}.npk"
        nd.to_npk(da.from_array(arr, chunks=9 if shape else ()), p, "a")
        with NumPack(p) as npk:
            np.testing.assert_array_equal(npk.load("a"), arr)
    # A computed source (not a from_array): the chunks are made on the workers.
    x = da.arange(1000, chunks=64).reshape(100, 10) * 3
    nd.to_npk(x, tmp_path / "ar.npk", "a")
    with NumPack(tmp_path / "ar.npk") as npk:
        np.testing.assert_array_equal(npk.load("a"), np.arange(1000).reshape(100, 10) * 3)


def _die_after_staging(block, path, block_info=None):
    """Block 5 kills its worker process once some other part is staged."""
    if block_info[0]["chunk-location"][0] == 5:
        deadline = time.time() + 20
        while time.time() < deadline:
            stages = [d for d in os.listdir(path) if d.startswith(".npk_stage_")]
            if any(os.listdir(os.path.join(path, d)) for d in stages):
                break
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGKILL)
    return block


def test_worker_killed_during_to_npk(client, tmp_path, rng):
    p = tmp_path / "out.npk"
    old = rng.standard_normal((20, 3))
    with NumPack(p) as npk:
        npk.save({"a": old, "b": old[:5]})
    before = sorted(os.listdir(p))
    new = rng.standard_normal((80, 3))
    x = da.from_array(new, chunks=10)
    with pytest.raises(KilledWorker):
        nd.to_npk(x.map_blocks(_die_after_staging, str(p), dtype=x.dtype), p, "a")
    assert sorted(os.listdir(p)) == before
    with NumPack(p) as npk:
        assert npk.keys() == ["a", "b"]
        np.testing.assert_array_equal(npk.load("a"), old)
        np.testing.assert_array_equal(npk.load("b"), old[:5])
    client.wait_for_workers(2, timeout=60)
    nd.to_npk(x, p, "a")
    with NumPack(p) as npk:
        np.testing.assert_array_equal(npk.load("a"), new)


@pytest.mark.parametrize("metric", ["cosine", "l2", "dot", "hamming"])
def test_sharded_top_k(client, tmp_path, rng, metric):
    paths, allv, q = make_shards(str(tmp_path), rng, metric, sizes=(37, 52, 41))
    addrs = sorted(client.scheduler_info()["workers"])
    pins = [addrs[i % len(addrs)] for i in range(len(paths))]
    idx, sc = nd.top_k(q, paths, "vecs", metric, 6, client=client, workers=pins)
    ref_idx, ref_sc = VectorSearch().multi_query_top_k(q, allv, metric, 6)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(sc, ref_sc)
