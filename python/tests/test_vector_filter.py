"""Filtered exact search (``filter=``) against a NumPy oracle on every SIMD tier: the allowed
rows' scores ranked by a full NumPy sort (ties by lower index, NaN last), with masks (all
false, all true, dense, sparse), index lists (unsorted, duplicates, empty, Python lists), one
and many queries, 1 and 2 threads; in memory, over a LazyArray and streamed from a store with
dropped rows (logical indices, dropped rows never returned); and the typed errors."""

import numpy as np
import pytest

from numpack import NumPack
from numpack.vector_engine import StreamingVectorSearch, VectorSearch, set_simd_tier, simd_info

import ml_dtypes  # installed by scripts/setup.sh: bfloat16 must be tested, never skipped

MEM = VectorSearch()
STREAM = StreamingVectorSearch()
TIERS = simd_info()["available"]
CASES = [("float32", m) for m in ("dot", "cosine", "l2", "l2sq", "kl")] + [
    ("float64", "l2"),
    ("float16", "cosine"),
    ("bfloat16", "dot"),
    ("int8", "l2sq"),
    ("int8", "cosine"),
    ("uint8", "hamming"),
    ("uint8", "jaccard"),
]


@pytest.fixture(params=TIERS)
def tier(request):
    set_simd_tier(request.param)
    assert simd_info()["active"] == request.param
    yield request.param
    set_simd_tier("auto")


def make(rng, name, metric, shape):
    if name == "uint8":
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    if name == "int8":
        return rng.integers(-128, 128, size=shape, dtype=np.int8)
    x = rng.random(shape) + 0.01 if metric == "kl" else rng.standard_normal(shape)
    return x.astype(ml_dtypes.bfloat16 if name == "bfloat16" else np.dtype(name))


def oracle(scores, metric, allowed, k):
    """NumPy: the allowed rows ranked by a full sort (best first, ties by lower index, NaN
    last), first k, as (indices, scores)."""
    allowed = np.unique(np.asarray(allowed, dtype=np.int64))
    s = scores[allowed]
    key = -s if metric in ("dot", "cosine") else s
    key = np.where(np.isnan(key), np.inf, key)
    order = np.lexsort((allowed, np.isnan(s), key))[:k]
    return allowed[order].astype(np.uint64), s[order]


def filters(rng, n):
    """(name, filter as passed, allowed rows) of every shape."""
    dense = rng.random(n) < 0.7
    sparse = rng.random(n) < 0.01
    dup = rng.integers(0, n, size=n // 4)
    dense90, dense99 = rng.random(n) < 0.9, rng.random(n) < 0.99
    half = rng.random(n) < 0.5
    # Allowed runs starting and ending on either side of 64-row words and 256-row chunks.
    edges = np.zeros(n, bool)
    for a, b in ((60, 70), (250, 262), (255, 257), (511, 513), (1000, 1300), (n - 65, n)):
        edges[a:b] = True
    return [
        ("all-false mask", np.zeros(n, bool), []),
        ("all-true mask", np.ones(n, bool), np.arange(n)),
        ("dense mask", dense, np.flatnonzero(dense)),
        ("50 % mask", half, np.flatnonzero(half)),
        ("90 % mask", dense90, np.flatnonzero(dense90)),
        ("99 % mask", dense99, np.flatnonzero(dense99)),
        ("word and chunk edges mask", edges, np.flatnonzero(edges)),
        ("strided mask", np.repeat(dense90, 2)[::2], np.flatnonzero(dense90)),
        ("sparse mask", sparse, np.flatnonzero(sparse)),
        ("duplicates", dup, dup),
        ("python list", [n - 1, 3, 3, 0], [0, 3, n - 1]),
        ("uint32 indices", np.array([5, 2], np.uint32), [2, 5]),
        ("empty list", [], []),
        ("run", np.arange(100, min(n, 900)), np.arange(100, min(n, 900))),
    ]


def check(got, want, what):
    np.testing.assert_array_equal(got[0], want[0], err_msg=f"{what}: indices")
    np.testing.assert_array_equal(got[1], want[1], err_msg=f"{what}: scores")


@pytest.mark.parametrize("name,metric", CASES)
def test_filtered_matches_numpy_oracle_on_every_tier(tier, name, metric):
    rng = np.random.default_rng(hash((name, metric)) % 2**32)
    n, dim = 5000, 24
    C = make(rng, name, metric, (n, dim))
    Q = make(rng, name, metric, (3, dim))
    scores = MEM.batch_compute(Q, C, metric)
    ref = VectorSearch().batch_compute(Q.astype(np.float64), C.astype(np.float64), metric) if name != "uint8" else None
    if ref is not None:  # the scores the oracle ranks are NumPy-close to float64 ones
        np.testing.assert_allclose(scores, ref, rtol=1e-2, atol=1e-2 * np.abs(ref).max())
    for fname, f, allowed in filters(rng, n):
        for k in (1, 10, n + 5):
            for threads in (1, 2):
                what = f"{tier} {name} {metric} {fname} k={k} threads={threads}"
                got1 = MEM.top_k_search(Q[0], C, metric, k, threads=threads, filter=f)
                want = oracle(scores[0], metric, allowed, k)
                check(got1, want, what + " single")
                gotm = MEM.multi_query_top_k(Q, C, metric, k, threads=threads, filter=f)
                assert gotm[0].shape == (3, len(want[0]))
                for qi in range(3):
                    check((gotm[0][qi], gotm[1][qi]), oracle(scores[qi], metric, allowed, k), f"{what} multi q{qi}")


def test_large_sparse_and_dense_filters_with_threads():
    rng = np.random.default_rng(5)
    n, dim = 200_000, 32
    C = rng.standard_normal((n, dim)).astype(np.float32)
    q = rng.standard_normal(dim).astype(np.float32)
    scores = MEM.batch_compute(q, C, "l2")
    for p in (0.001, 0.01, 0.3, 0.95):
        mask = rng.random(n) < p
        want = oracle(scores, "l2", np.flatnonzero(mask), 10)
        for threads in (1, 2):
            check(MEM.top_k_search(q, C, "l2", 10, threads=threads, filter=mask), want, f"p={p} mask")
            check(MEM.top_k_search(q, C, "l2", 10, threads=threads, filter=np.flatnonzero(mask)[::-1]), want, f"p={p} idx")


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(21)
    emb = rng.standard_normal((12000, 24)).astype(np.float32)
    path = tmp_path / "vec.npk"
    with NumPack(path) as npk:
        npk.save({"emb": emb, "emb16": emb.astype(np.float16), "emb64": emb.astype(np.float64)})
        drops = [0, 5, 6, 7] + list(range(100, 4000, 2)) + list(range(7000, 7100))
        for name in ("emb", "emb16", "emb64"):
            npk.drop(name, drops)
    return path


@pytest.mark.parametrize("array", ["emb", "emb16", "emb64"])
def test_filtered_stream_and_lazy_with_drops(store, array):
    path = store
    with NumPack(path) as npk:
        live = npk.load(array)
        lazy = npk.load(array, lazy=True)
        n = len(live)
        rng = np.random.default_rng(3)
        Q = rng.standard_normal((4, 24)).astype(np.float32)
        for fname, f, allowed in filters(rng, n):
            for metric in ("cosine", "l2"):
                scores = MEM.batch_compute(Q, live, metric)
                want1 = oracle(scores[0], metric, allowed, 10)
                check(MEM.top_k_search(Q[0], lazy, metric, 10, filter=f), want1, f"lazy {array} {fname}")
                for bs in (7, 10000):
                    for threads in (1, 2):
                        what = f"stream {array} {fname} {metric} bs={bs} threads={threads}"
                        got = STREAM.streaming_top_k_from_file(Q[0], path, array, metric, 10, bs, threads=threads, filter=f)
                        check(got, want1, what)
                        assert got[0].size == 0 or got[0].max() < n  # logical indices only
                        gotm = STREAM.streaming_multi_query_top_k(Q, npk, array, metric, 10, bs, threads=threads, filter=f)
                        for qi in range(4):
                            check((gotm[0][qi], gotm[1][qi]), oracle(scores[qi], metric, allowed, 10), f"{what} q{qi}")


def test_filter_errors():
    C = np.ones((10, 4), np.float32)
    q = np.ones(4, np.float32)
    for bad in ([10], [-1], [0, 99], np.array([2**64 - 1], np.uint64)):
        with pytest.raises(IndexError):
            MEM.top_k_search(q, C, "dot", 3, filter=bad)
    with pytest.raises(IndexError):
        MEM.multi_query_top_k(C[:2], C, "dot", 3, filter=np.ones(9, bool))
    with pytest.raises(IndexError):
        MEM.top_k_search(q, C, "dot", 3, filter=np.ones(11, bool))
    with pytest.raises(ValueError):
        MEM.top_k_search(q, C, "dot", 3, filter=np.ones((2, 5), bool))
    with pytest.raises(TypeError):
        MEM.top_k_search(q, C, "dot", 3, filter=[0.5, 1.5])
    with pytest.raises(ValueError):
        MEM.top_k_search(q, C, "dot", 0, filter=[1])
    idx, sc = MEM.top_k_search(q, C, "dot", 3, filter=[])
    assert idx.shape == (0,) and idx.dtype == np.uint64 and sc.dtype == np.float64


# -- norm cache (VectorSearch.prepare) -----------------------------------------------------------
@pytest.mark.parametrize("name", ["float32", "float64", "float16", "bfloat16", "int8", "uint8"])
def test_prepared_candidates_give_the_plain_results_on_every_tier(tier, name):
    rng = np.random.default_rng(11)
    metrics = ["hamming", "jaccard"] if name == "uint8" else ["cosine", "l2", "l2sq", "dot"]
    C = make(rng, name, "dot", (6000, 40))
    C[7] = C[8]  # a tie
    if name not in ("int8", "uint8"):
        C[100, 3] = np.inf
        C[101, 0] = np.nan
        C[102] = 0
    prepared = MEM.prepare(C)
    assert prepared.shape == C.shape and prepared.dtype == C.dtype and len(prepared) == len(C)
    if name != "uint8":
        np.testing.assert_allclose(prepared.norms_squared()[:5], (C[:5].astype(np.float64) ** 2).sum(1), rtol=1e-2)
    for metric in metrics:
        for qi in range(3):
            q = C[qi * 50] if qi == 0 else make(rng, name, "dot", 40)
            for k in (1, 10, 6005):
                for threads in (1, 2):
                    want = MEM.top_k_search(q, C, metric, k, threads=threads)
                    check(MEM.top_k_search(q, prepared, metric, k, threads=threads), want, f"{tier} {name} {metric} k={k}")
        for nq in (37, 3):  # 37: two whole AVX-512 query vectors and a quad vector
            Q = make(rng, name, "dot", (nq, 40))
            for threads in (1, 2):
                want = MEM.multi_query_top_k(Q, C, metric, 5, threads=threads)
                check(MEM.multi_query_top_k(Q, prepared, metric, 5, threads=threads), want, f"{name} {metric} multi nq={nq}")
        np.testing.assert_array_equal(MEM.batch_compute(Q, prepared, metric), MEM.batch_compute(Q, C, metric))
        f = rng.random(len(C)) < 0.3
        check(MEM.top_k_search(Q[0], prepared, metric, 5, filter=f), MEM.top_k_search(Q[0], C, metric, 5, filter=f), f"{name} {metric} filtered")


def test_bf16_copy_gives_the_plain_results_on_every_tier(tier):
    rng = np.random.default_rng(21)
    base = rng.standard_normal((6, 128)).astype(np.float32)
    # Rows equal to a few bases up to 1e-5 relative (identical bfloat16 copies), then odd rows.
    C = (base[np.arange(20_000) % 6] * (1 + 1e-5 * rng.standard_normal((20_000, 128)))).astype(np.float32)
    C[:5000] = rng.standard_normal((5000, 128))
    C[7] = C[8]  # a tie
    C[100, 3], C[101, 0], C[103, 5], C[104, 1] = np.inf, np.nan, np.finfo(np.float32).max, 1e-40
    C[102] = 0
    prepared = MEM.prepare(C, bf16_copy=True)
    assert prepared.bf16_copy and not MEM.prepare(C).bf16_copy
    clean = C.copy()
    clean[100:105] = rng.standard_normal((5, 128))
    clean_prepared = MEM.prepare(clean, bf16_copy=True)
    for metric in ("dot", "cosine", "l2", "l2sq"):
        for q in (C[6001], rng.standard_normal(128).astype(np.float32), C[50]):
            for k in (1, 10):
                for threads in (1, 2):
                    want = MEM.top_k_search(q, C, metric, k, threads=threads)
                    check(MEM.top_k_search(q, prepared, metric, k, threads=threads), want, f"{tier} bf16 copy {metric} k={k}")
            # And against NumPy in float64 (an independent oracle), on the rows without the
            # hostile values: the ten best scores.
            X, qd = clean.astype(np.float64), q.astype(np.float64)
            score = {"dot": X @ qd, "cosine": (X @ qd) / np.maximum(np.linalg.norm(X, axis=1) * np.linalg.norm(qd), 1e-300),
                     "l2": np.linalg.norm(X - qd, axis=1), "l2sq": ((X - qd) ** 2).sum(1)}[metric]
            best = np.sort(score)[::-1][:10] if metric in ("dot", "cosine") else np.sort(score)[:10]
            got_i, got_s = MEM.top_k_search(q, clean_prepared, metric, 10)
            np.testing.assert_allclose(got_s, best, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(score[got_i.astype(np.int64)], best, rtol=1e-4, atol=1e-4)
        # Several queries (on the AMX and scalar tiers: scored from the copy by the tile
        # kernel, rescored from float32): 3, and 37 (two 16-query tiles and a remainder) with
        # near-duplicates, a zero query and random ones; then against NumPy in float64.
        Q = np.concatenate([C[[6001, 50, 7]], np.zeros((1, 128), np.float32), rng.standard_normal((33, 128)).astype(np.float32)])
        for Qs in (Q[:3], Q):
            for threads in (1, 2):
                want = MEM.multi_query_top_k(Qs, C, metric, 5, threads=threads)
                check(MEM.multi_query_top_k(Qs, prepared, metric, 5, threads=threads), want, f"{tier} {metric} copy multi nq={len(Qs)}")
        Qd = Q[4:].astype(np.float64)
        for (got_i, got_s), qd in zip(zip(*MEM.multi_query_top_k(Q[4:], clean_prepared, metric, 10)), Qd):
            X = clean.astype(np.float64)
            score = {"dot": X @ qd, "cosine": (X @ qd) / (np.linalg.norm(X, axis=1) * np.linalg.norm(qd)),
                     "l2": np.linalg.norm(X - qd, axis=1), "l2sq": ((X - qd) ** 2).sum(1)}[metric]
            best = np.sort(score)[::-1][:10] if metric in ("dot", "cosine") else np.sort(score)[:10]
            np.testing.assert_allclose(score[np.asarray(got_i, dtype=np.int64)], best, rtol=1e-4, atol=1e-4)
        # Filtered searches do not read the copy: the same results still.
        f = rng.random(len(C)) < 0.3
        check(MEM.top_k_search(Q[0], prepared, metric, 5, filter=f), MEM.top_k_search(Q[0], C, metric, 5, filter=f), f"{metric} copy filtered")


def test_bf16_copy_of_other_dtypes_is_a_typed_error():
    for dt in (np.float64, np.float16, np.int8, np.uint8):
        with pytest.raises(TypeError, match="float32"):
            MEM.prepare(np.ones((4, 3), dtype=dt), bf16_copy=True)


def test_prepared_with_another_compute_dtype_is_searched_without_the_cache():
    rng = np.random.default_rng(4)
    C = rng.standard_normal((3000, 16)).astype(np.float16)
    prepared = MEM.prepare(C)
    q = np.full(16, 1e6)  # overflows float16: both are computed in float64 (the dtype rule)
    check(MEM.top_k_search(q, prepared, "l2", 5), MEM.top_k_search(q, C, "l2", 5), "float64 fallback")


# -- the persistent worker pool ------------------------------------------------------------------
def _os_threads():
    import os

    return len(os.listdir("/proc/self/task"))  # Linux, where the wheel is tested


def test_workers_persist_across_calls():
    rng = np.random.default_rng(8)
    C = rng.standard_normal((50_000, 16)).astype(np.float32)
    q = C[3]
    want = MEM.top_k_search(q, C, "l2", 5, threads=1)
    check(MEM.top_k_search(q, C, "l2", 5, threads=2), want, "warm-up")
    before = _os_threads()
    for _ in range(20):
        check(MEM.top_k_search(q, C, "l2", 5, threads=2), want, "pooled")
        MEM.multi_query_top_k(C[:4], C, "cosine", 5, threads=2)
    assert _os_threads() == before  # no thread is started per call


def test_concurrent_callers_share_the_pool_correctly():
    import threading

    rng = np.random.default_rng(12)
    C = rng.standard_normal((60_000, 24)).astype(np.float32)
    Q = rng.standard_normal((8, 24)).astype(np.float32)
    want = [MEM.top_k_search(q, C, "cosine", 7, threads=1) for q in Q]
    errors = []

    def worker(i):
        try:
            for _ in range(5):
                check(MEM.top_k_search(Q[i], C, "cosine", 7, threads=2), want[i], f"thread {i}")
        except Exception as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(len(Q))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
