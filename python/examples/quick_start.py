"""NumPack quick start: save, lazy load, replace, append, drop, reopen, vector search — printing
each step.
Leaves a store with a float32 `embeddings` array and prints its path last."""

import shutil
import sys
import time

import numpy as np

from numpack import NumPack
from numpack.vector_engine import StreamingVectorSearch, VectorSearch

path = sys.argv[1] if len(sys.argv) > 1 else "demo.npk"
shutil.rmtree(path, ignore_errors=True)
rng = np.random.default_rng(0)
emb = rng.standard_normal((10000, 128)).astype(np.float32)


def step(what, t0):
    print(f"{what:<55} {1e3 * (time.perf_counter() - t0):8.3f} ms")


with NumPack(path) as npk:
    t = time.perf_counter(); npk.save({"embeddings": emb}); step(f"save embeddings {emb.shape} float32", t)
    t = time.perf_counter(); data = npk.load("embeddings"); step(f"load -> ndarray {data.shape}", t)
    t = time.perf_counter(); lazy = npk.load("embeddings", lazy=True); step(f"load(lazy=True) -> {lazy!r}", t)
    new_rows = np.ones((3, 128), np.float32)
    t = time.perf_counter(); npk.replace({"embeddings": new_rows}, indices=[0, 1, 2]); step("replace rows [0, 1, 2] with ones", t)
    print(f"  lazy[0, :4] sees the replacement through the mapping: {lazy[0, :4]}")
    more_rows = np.full((5, 128), 2.0, np.float32)
    t = time.perf_counter(); npk.append({"embeddings": more_rows}); step("append 5 rows of twos", t)
    t = time.perf_counter(); npk.drop("embeddings", [0, 1, 2]); step("drop rows [0, 1, 2]", t)
    print(f"  shape now {npk.get_shape('embeddings')}; metadata {npk.get_metadata()['arrays']['embeddings']}")
    t = time.perf_counter(); subset = npk.getitem("embeddings", [100, 200, 300]); step(f"getitem [100, 200, 300] -> {subset.shape}", t)
    npk.update("embeddings")
    print(f"  update (compaction) -> physical shape {npk.get_metadata()['arrays']['embeddings']['shape']}")

with NumPack(path) as npk:
    again = npk.load("embeddings")
    expect = np.concatenate([emb[3:], more_rows])
    assert np.array_equal(again, expect)
    print(f"reopened: {npk!r}, members {npk.get_member_list()}, embeddings {again.shape} {again.dtype}, all rows as expected")

# Vector search: in memory, over the LazyArray in place, and streamed from the store folder.
engine = VectorSearch()
print(f"vector engine: {engine.capabilities()}")
query = emb[42] + 0.01 * rng.standard_normal(128).astype(np.float32)
t = time.perf_counter(); idx, scores = engine.top_k_search(query, again, "cosine", k=5); step("top_k_search cosine k=5 (in memory)", t)
print(f"  indices {idx.tolist()} scores {np.round(scores, 4).tolist()}  (row 42 was logical row 39 after dropping 0..2)")
with NumPack(path) as npk:
    lazy = npk.load("embeddings", lazy=True)
    t = time.perf_counter(); lidx, _ = engine.top_k_search(query, lazy, "cosine", k=5); step("top_k_search over the LazyArray (zero-copy)", t)
    assert np.array_equal(lidx, idx)
t = time.perf_counter(); sidx, _ = StreamingVectorSearch().streaming_top_k_from_file(query, path, "embeddings", "cosine", k=5); step("streaming_top_k_from_file (batches of 10000 rows)", t)
assert np.array_equal(sidx, idx) and idx[0] == 39
queries = emb[100:110]
t = time.perf_counter(); midx, _ = engine.multi_query_top_k(queries, again, "l2", k=3); step(f"multi_query_top_k l2, 10 queries -> {midx.shape}", t)
print(f"  nearest rows of the first query: {midx[0].tolist()}")
print(path)
