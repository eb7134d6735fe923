"""StreamingVectorSearch over stored arrays: results equal the in-memory search on the same
(logical) rows — with dropped rows, small batches, several threads, stored dtypes other than
the query's, a segmented upstream array, an open NumPack — and stay consistent while another
process appends."""

import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from numpack import NumPack
from numpack.vector_engine import MetricDtypeError, StreamingVectorSearch, VectorSearch

MEM = VectorSearch()
STREAM = StreamingVectorSearch()


def assert_same(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(21)
    emb = rng.standard_normal((12000, 24)).astype(np.float32)
    path = tmp_path / "vec.npk"
    with NumPack(path) as npk:
        npk.save({"emb": emb})
    return path, emb


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2", "l2sq", "kl", "js"])
def test_stream_equals_memory_with_drops_batches_and_threads(store, metric):
    path, emb = store
    if metric in ("kl", "js"):
        emb = np.abs(emb) + 0.01
        with NumPack(path) as npk:
            npk.save({"emb": emb})
    with NumPack(path) as npk:
        npk.drop("emb", [0, 5, 6, 7] + list(range(100, 4000, 2)) + list(range(7000, 7100)))
        live = npk.load("emb")
    rng = np.random.default_rng(1)
    Q = (np.abs(rng.standard_normal((5, 24))) + 0.01).astype(np.float32)
    want1 = MEM.top_k_search(Q[0], live, metric, 10)
    wantq = MEM.multi_query_top_k(Q, live, metric, 10)
    wants = MEM.batch_compute(Q[0], live, metric)
    wantm = MEM.batch_compute(Q, live, metric)
    for bs in (1, 7, 333, 10000, 10**9):
        for threads in (1, 2):
            assert_same(STREAM.streaming_top_k_from_file(Q[0], path, "emb", metric, 10, batch_size=bs, threads=threads), want1)
            assert_same(STREAM.streaming_multi_query_top_k(Q, str(path), "emb", metric, 10, batch_size=bs, threads=threads), wantq)
            if bs in (7, 10000):
                np.testing.assert_array_equal(STREAM.streaming_batch_compute(Q[0], path, "emb", metric, bs, threads=threads), wants)
                np.testing.assert_array_equal(STREAM.streaming_batch_compute(Q, path, "emb", metric, bs, threads=threads), wantm)


def test_returned_indices_are_logical(store):
    path, emb = store
    with NumPack(path) as npk:
        npk.drop("emb", list(range(10)))
    idx, sc = STREAM.streaming_top_k_from_file(emb[20], path, "emb", "l2", 1)
    assert idx.tolist() == [10] and sc[0] == 0.0


def test_via_open_numpack_and_lazy_array(store):
    path, emb = store
    q = emb[77] + 0.1
    with NumPack(path) as npk:
        npk.drop("emb", [1, 2, 3])
        live = npk.load("emb")
        want = MEM.top_k_search(q, live, "cosine", 8)
        assert_same(STREAM.streaming_top_k_from_file(q, npk, "emb", "cosine", 8), want)
        assert_same(MEM.top_k_search(q, npk.load("emb", lazy=True), "cosine", 8), want)
        # a later change made through the same object is seen by the next call
        npk.append({"emb": q[None, :].astype(np.float32)})
        idx, _ = STREAM.streaming_top_k_from_file(q, npk, "emb", "cosine", 1)
        assert idx.tolist() == [len(live)]


@pytest.mark.parametrize("stored,metric", [("float16", "dot"), ("float16", "l2"), ("int8", "cosine"), ("int8", "l2sq"),
                                           ("uint8", "hamming"), ("uint8", "jaccard"), ("float64", "js"), ("int16", "l2"),
                                           ("int64", "dot"), ("uint32", "cosine")])
def test_stored_dtypes(tmp_path, stored, metric):
    rng = np.random.default_rng(8)
    if stored in ("uint8", "int8", "int16", "int64", "uint32"):
        info = np.iinfo(stored)
        data = rng.integers(max(info.min, -1000), min(info.max, 1000), (6000, 32), endpoint=True).astype(stored)
    else:
        data = (np.abs(rng.standard_normal((6000, 32))) + 0.01).astype(stored)
    path = tmp_path / "d.npk"
    with NumPack(path) as npk:
        npk.save({"v": data})
        npk.drop("v", list(range(0, 6000, 5)))
        live = npk.load("v")
    for q in (live[3], live[3].astype(np.float64) + 0.25):
        want = MEM.top_k_search(q, live, metric, 6) if not (metric in ("hamming", "jaccard") and q.dtype.kind == "f") else None
        if want is None:
            with pytest.raises(MetricDtypeError):
                STREAM.streaming_top_k_from_file(q, path, "v", metric, 6, batch_size=100)
            continue
        assert_same(STREAM.streaming_top_k_from_file(q, path, "v", metric, 6, batch_size=100), want)
        np.testing.assert_array_equal(STREAM.streaming_batch_compute(q, path, "v", metric, batch_size=999), MEM.batch_compute(q, live, metric))


def _write_segmented(path, name, arr, cuts):
    """A store as upstream 0.7 writes a big array: a JSON manifest and one file per segment."""
    code = {"float32": 10, "float64": 11, "float16": 9, "int8": 5, "uint8": 1}[arr.dtype.name]
    path.mkdir()
    (path / f"data_{name}_segments").mkdir()
    segs = []
    for k, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:])):
        rel = f"data_{name}_segments/seg_{k:06d}.npkd"
        (path / rel).write_bytes(arr[lo:hi].tobytes())
        segs.append({"file": rel, "rows": hi - lo, "bytes": (hi - lo) * arr.shape[1] * arr.itemsize})
    (path / f"data_{name}.npkseg").write_text(json.dumps({"version": 1, "segments": segs}))
    size = arr.nbytes
    data_file = f"data_{name}.npkseg"
    rec = struct.pack("<I", len(name)) + name.encode()
    rec += struct.pack("<I", 2) + struct.pack("<QQ", *arr.shape)
    rec += struct.pack("<I", len(data_file)) + data_file.encode()
    rec += struct.pack("<QQBBIQQB", 1_716_000_000_000_000, size, code, 0, 0, 0, 0, 0)
    (path / "metadata.npkm").write_bytes(b"NPKB" + struct.pack("<IQI", 1, size, 1) + rec)


def test_segmented_upstream_array(tmp_path):
    rng = np.random.default_rng(5)
    arr = rng.standard_normal((5000, 16)).astype(np.float32)
    path = tmp_path / "seg.npk"
    _write_segmented(path, "big", arr, [0, 1000, 1003, 4096, 5000])
    Q = rng.standard_normal((3, 16)).astype(np.float32)
    for metric in ("cosine", "l2"):
        assert_same(STREAM.streaming_top_k_from_file(Q[0], path, "big", metric, 10, batch_size=512), MEM.top_k_search(Q[0], arr, metric, 10))
        assert_same(STREAM.streaming_multi_query_top_k(Q, path, "big", metric, 10, batch_size=512), MEM.multi_query_top_k(Q, arr, metric, 10))
        np.testing.assert_array_equal(STREAM.streaming_batch_compute(Q, path, "big", metric), MEM.batch_compute(Q, arr, metric))
    with NumPack(path) as npk:
        npk.drop("big", list(range(990, 1010)) + [4095, 4096])
        live = npk.load("big")
        assert_same(STREAM.streaming_top_k_from_file(Q[1], npk, "big", "dot", 10, batch_size=64), MEM.top_k_search(Q[1], live, "dot", 10))
        assert_same(MEM.multi_query_top_k(Q, npk.load("big", lazy=True), "l2sq", 4), MEM.multi_query_top_k(Q, live, "l2sq", 4))


def test_stream_errors(store, tmp_path):
    path, emb = store
    q = emb[0]
    with pytest.raises(FileNotFoundError):
        STREAM.streaming_top_k_from_file(q, tmp_path / "missing.npk", "emb", "l2", 1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        STREAM.streaming_top_k_from_file(q, tmp_path / "empty", "emb", "l2", 1)
    assert not (tmp_path / "empty" / "metadata.npkm").exists()
    with pytest.raises(KeyError):
        STREAM.streaming_top_k_from_file(q, path, "nope", "l2", 1)
    with pytest.raises(ValueError, match="k must be at least 1"):
        STREAM.streaming_top_k_from_file(q, path, "emb", "l2", 0)
    with pytest.raises(ValueError, match="batch_size"):
        STREAM.streaming_top_k_from_file(q, path, "emb", "l2", 1, batch_size=0)
    with pytest.raises(ValueError, match="dimension mismatch"):
        STREAM.streaming_top_k_from_file(q[:5], path, "emb", "l2", 1)
    with pytest.raises(ValueError, match="unknown metric"):
        STREAM.streaming_top_k_from_file(q, path, "emb", "nope", 1)
    with pytest.raises(MetricDtypeError):
        STREAM.streaming_top_k_from_file(q, path, "emb", "hamming", 1)
    with NumPack(path) as npk:
        npk.save({"flat": np.arange(10.0), "flags": np.ones((4, 3), bool), "none": np.empty((0, 24), np.float32)})
    with pytest.raises(ValueError, match="2-D"):
        STREAM.streaming_top_k_from_file(q[:1], path, "flat", "l2", 1)
    with pytest.raises(TypeError):
        STREAM.streaming_top_k_from_file(np.ones(3), path, "flags", "l2", 1)
    with pytest.raises(ValueError, match="no candidate"):
        STREAM.streaming_top_k_from_file(q, path, "none", "l2", 1)
    assert STREAM.streaming_batch_compute(q, path, "none", "l2").shape == (0,)
    k_big = STREAM.streaming_top_k_from_file(q, path, "emb", "l2", 10**12)
    assert len(k_big[0]) == len(emb)


APPENDER = """
import sys, time, numpy as np
from numpack import NumPack
path, rounds, block = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
q = np.fromfile(sys.argv[4], dtype=np.float32)
with NumPack(path) as npk:
    print("ready", flush=True)
    for i in range(rounds):
        npk.append({"emb": np.tile(q * (1 + i), (block, 1)).astype(np.float32)})
        if i % 3 == 0:
            time.sleep(0.002)
"""


def test_stream_huge_keyword_integers_are_value_errors(store):
    """issue 9 item 17: threads / batch_size beyond 2**63 - 1 are ValueError, not OverflowError."""
    path, C = store
    s = StreamingVectorSearch()
    q = C[0]
    calls = [
        lambda **kw: s.streaming_top_k_from_file(q, path, "emb", "dot", 3, **kw),
        lambda **kw: s.streaming_multi_query_top_k(C[:2], path, "emb", "dot", 3, **kw),
        lambda **kw: s.streaming_batch_compute(q, path, "emb", "dot", **kw),
    ]
    for call in calls:
        for kw in ({"threads": 2**70}, {"batch_size": 2**70}, {"threads": 2**63}, {"batch_size": 10**30}):
            with pytest.raises(ValueError) as e:
                call(**kw)
            assert not isinstance(e.value, OverflowError), kw
        for kw in ({"batch_size": 1.5}, {"batch_size": True}, {"threads": "1"}):
            with pytest.raises(TypeError):
                call(**kw)
    # The largest accepted values work (the batch is the whole array, threads are capped by rows).
    idx, _ = s.streaming_top_k_from_file(q, path, "emb", "dot", 3, batch_size=2**63 - 1, threads=2**63 - 1)
    np.testing.assert_array_equal(idx, s.streaming_top_k_from_file(q, path, "emb", "dot", 3)[0])


def test_consistent_while_another_process_appends(store, tmp_path):
    path, emb = store
    n0, block, rounds = len(emb), 50, 60
    q = emb[123] * 0.5
    qfile = tmp_path / "q.bin"
    q.astype(np.float32).tofile(qfile)
    proc = subprocess.Popen([sys.executable, "-c", APPENDER, str(path), str(rounds), str(block), str(qfile)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    seen = []
    while proc.poll() is None:
        seen.append(STREAM.streaming_top_k_from_file(q, path, "emb", "cosine", 5, batch_size=700))
        seen.append(STREAM.streaming_top_k_from_file(q, path, "emb", "l2", 5, batch_size=700))
    assert proc.wait() == 0
    with NumPack(path) as npk:
        final = npk.load("emb")
    assert len(final) == n0 + rounds * block
    # every result is the exact top-k of some committed prefix n0 + j·block of the rows
    prefixes = [n0 + j * block for j in range(rounds + 1)]
    for r, metric in zip(seen, ["cosine", "l2"] * len(seen)):
        top = int(r[0].max())
        j0 = max(0, (top + 1 - n0 + block - 1) // block)
        ok = any(np.array_equal(MEM.top_k_search(q, final[:p], metric, 5)[0], r[0]) for p in prefixes[j0:])
        assert ok, (metric, r)
    assert len(seen) >= 2


def test_readme_vector_engine_section_word_for_word(tmp_path, monkeypatch):
    """The seed README's Vector Engine snippet, verbatim, on real data: results must agree with
    a NumPy brute force."""
    from numpack import NumPack

    rng = np.random.default_rng(7)
    candidates = rng.standard_normal((2000, 32)).astype(np.float32)
    queries = rng.standard_normal((5, 32)).astype(np.float32)
    query = queries[0]
    monkeypatch.chdir(tmp_path)
    with NumPack("vectors.npk") as npk:
        npk.save({"embeddings": candidates})

    # --- verbatim from the README ---
    from numpack.vector_engine import VectorSearch, StreamingVectorSearch

    # In-memory search
    engine = VectorSearch()
    indices, scores = engine.top_k_search(query, candidates, 'cosine', k=10)

    # Multi-query batch (30-50% faster)
    all_indices, all_scores = engine.multi_query_top_k(queries, candidates, 'cosine', k=10)

    # Streaming from file (for large datasets)
    streaming = StreamingVectorSearch()
    indices, scores = streaming.streaming_top_k_from_file(
        query, 'vectors.npk', 'embeddings', 'cosine', k=10
    )
    # --- end of the README snippet ---

    norms = np.linalg.norm(candidates.astype(np.float64), axis=1)
    cos = candidates.astype(np.float64) @ queries.T.astype(np.float64) / norms[:, None] / np.linalg.norm(queries.astype(np.float64), axis=1)
    want = np.argsort(-cos[:, 0], kind="stable")[:10]
    np.testing.assert_array_equal(indices, want)
    np.testing.assert_allclose(scores, cos[want, 0], rtol=1e-5)
    assert all_indices.shape == (5, 10) and all_scores.shape == (5, 10)
    for q in range(5):
        np.testing.assert_array_equal(all_indices[q], np.argsort(-cos[:, q], kind="stable")[:10])
