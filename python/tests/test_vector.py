"""numpack.vector_engine in memory: every metric × dtype against SciPy/NumPy on every SIMD tier
this CPU runs, top-k against a full sort (ties by lower index, NaN last), multi-query against
single-query, cdist against SciPy, mixed and awkward inputs, and bad input."""

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.distance import cdist as scipy_cdist
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

from numpack.vector_engine import (
    MetricDtypeError,
    StreamingVectorEngine,
    StreamingVectorSearch,
    VectorEngine,
    VectorSearch,
    set_simd_tier,
    simd_info,
)

import ml_dtypes  # installed by scripts/setup.sh: bfloat16 must be tested, never skipped

BF16 = np.dtype(ml_dtypes.bfloat16)

FLOAT_METRICS = ["dot", "cosine", "l2", "l2sq", "kl", "js"]
INT8_METRICS = ["dot", "cosine", "l2", "l2sq"]
BIT_METRICS = ["hamming", "jaccard"]
FLOAT_DTYPES = ["float32", "float64", "float16", "bfloat16"]
TIERS = simd_info()["available"]
DIMS = [1, 7, 16, 33, 100, 130]


def dtype(name):
    return BF16 if name == "bfloat16" else np.dtype(name)


@pytest.fixture(params=TIERS)
def tier(request):
    set_simd_tier(request.param)
    assert simd_info()["active"] == request.param
    yield request.param
    set_simd_tier("auto")


def make(rng, name, metric, shape):
    """Random vectors of dtype `name` suited to `metric` (positive for kl/js)."""
    if name == "uint8":
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    if name == "int8":
        return rng.integers(-128, 128, size=shape, dtype=np.int8)
    if metric in ("kl", "js"):
        x = rng.random(shape) + 0.01
    else:
        x = rng.standard_normal(shape)
    return x.astype(dtype(name))


def reference(metric, A, B):
    """SciPy / NumPy values in float64 (A: (M, D), B: (N, D)) -> (M, N)."""
    if metric in BIT_METRICS:
        ua, ub = np.unpackbits(A, axis=1).astype(bool), np.unpackbits(B, axis=1).astype(bool)
        d = scipy_cdist(ua, ub, metric)
        return d * ua.shape[1] if metric == "hamming" else d
    a, b = A.astype(np.float64), B.astype(np.float64)
    if metric == "dot":
        return a @ b.T
    if metric == "cosine":
        with np.errstate(invalid="ignore", divide="ignore"):
            sim = 1.0 - scipy_cdist(a, b, "cosine")
        zero = (np.abs(a).sum(1) == 0)[:, None] | (np.abs(b).sum(1) == 0)[None, :]
        return np.where(zero, 0.0, sim)  # SciPy gives NaN for a zero vector; we give 0.0
    if metric == "l2":
        return scipy_cdist(a, b, "euclidean")
    if metric == "l2sq":
        return scipy_cdist(a, b, "sqeuclidean")
    if metric == "kl":
        return np.array([[rel_entr(x, y).sum() for y in b] for x in a])
    if metric == "js":
        return np.array([[jensenshannon(x, y) for y in b] for x in a])
    raise AssertionError(metric)


def tolerance(name, metric, A, B):
    """(rtol, atol) per dtype (METRICS.md: f32 lanes for float16/bfloat16/float32, f64 for
    float64 and kl/js, exact for int8 dot/l2sq and bits)."""
    if metric in BIT_METRICS:
        return 0, 1e-12
    if metric in ("kl", "js"):
        return 1e-9, 1e-12
    if name == "int8":
        return (0, 0) if metric in ("dot", "l2sq") else (1e-12, 1e-12)
    a, b = np.abs(A.astype(np.float64)), np.abs(B.astype(np.float64))
    scale = float((a.sum(axis=1).max() + 1) * (b.max() + 1))
    u = 2.0**-52 if name == "float64" else 2.0**-23
    n = A.shape[1] + 16
    if metric == "cosine":
        return 0, 8 * n * u
    if metric == "l2":
        return 8 * n * u, 8 * n * u * np.sqrt(scale)
    return 8 * n * u, 8 * n * u * scale


CASES = [(d, m) for d in FLOAT_DTYPES for m in FLOAT_METRICS] + [("int8", m) for m in INT8_METRICS] + [("uint8", m) for m in BIT_METRICS]


@pytest.mark.parametrize("name,metric", CASES)
def test_metric_by_dtype_matches_scipy_on_every_tier(tier, name, metric):
    rng = np.random.default_rng(hash((name, metric)) % 2**32)
    eng = VectorSearch()
    for dim in DIMS:
        A = make(rng, name, metric, (5, dim))
        B = make(rng, name, metric, (40, dim))
        ref = reference(metric, A, B)
        rtol, atol = tolerance(name, metric, A, B)
        got = eng.cdist(A, B, metric)
        assert got.dtype == np.float64 and got.shape == (5, 40)
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, err_msg=f"cdist {name} {metric} dim {dim} tier {tier}")
        rows = eng.batch_compute(A, B, metric)
        np.testing.assert_allclose(rows, ref, rtol=rtol, atol=atol)
        one = eng.batch_compute(A[0], B, metric)
        assert one.shape == (40,)
        np.testing.assert_allclose(one, ref[0], rtol=rtol, atol=atol)
        pair = eng.compute_metric(A[1], B[3], metric)
        assert isinstance(pair, float)
        np.testing.assert_allclose(pair, ref[1, 3], rtol=rtol, atol=atol)
        # compute, batch_compute and single-query top-k scores are the same kernel.
        assert pair == eng.batch_compute(A[1], B, metric)[3]


def full_sort(scores, metric, k):
    """Best-first order by a full sort: similarity desc / distance asc, ties by lower index, NaN last."""
    key = -scores if metric in ("dot", "cosine") else scores
    order = np.lexsort((np.arange(len(scores)), key))
    return order[:k]


@pytest.mark.parametrize("name,metric", CASES)
def test_top_k_matches_full_sort(tier, name, metric):
    rng = np.random.default_rng(7)
    eng = VectorSearch()
    C = make(rng, name, metric, (3000, 24))
    C[100:110] = C[50]  # exact ties: lower index first
    q = C[50].copy() if name in ("uint8", "int8") else make(rng, name, metric, 24)
    scores = eng.batch_compute(q, C, metric)
    for k in (1, 10, 17):
        idx, sc = eng.top_k_search(q, C, metric, k)
        assert idx.dtype == np.uint64 and sc.dtype == np.float64 and idx.shape == (k,)
        want = full_sort(scores, metric, k)
        np.testing.assert_array_equal(idx, want)
        np.testing.assert_array_equal(sc, scores[want])


def test_ties_rank_by_lower_index_and_nan_last():
    eng = VectorSearch()
    C = np.zeros((8, 4), np.float32)
    C[[1, 3, 6]] = 1.0
    C[2] = np.nan
    q = np.ones(4, np.float32)
    idx, sc = eng.top_k_search(q, C, "dot", 8)
    assert idx.tolist() == [1, 3, 6, 0, 4, 5, 7, 2]
    assert np.isnan(sc[-1])
    idx, _ = eng.top_k_search(q, C, "l2", 8)
    assert idx.tolist() == [1, 3, 6, 0, 4, 5, 7, 2]
    # +inf is an ordinary number.
    C[5] = np.inf
    idx, sc = eng.top_k_search(q, C, "dot", 2)
    assert idx.tolist() == [5, 1] and sc[0] == np.inf


def test_cosine_zero_vector_is_zero():
    eng = VectorSearch()
    assert eng.compute_metric([0.0, 0.0], [1.0, 2.0], "cosine") == 0.0
    assert eng.compute_metric(np.zeros(3, np.int8), np.zeros(3, np.int8), "cosine") == 0.0


def test_known_values_kl_js():
    eng = VectorSearch()
    assert eng.compute_metric([0.5, 0.5], [0.9, 0.1], "kl") == pytest.approx(0.5108256237659906, rel=1e-14)
    assert eng.compute_metric([0.5, 0.5], [0.9, 0.1], "js") == pytest.approx(0.31898154347735663, rel=1e-14)
    assert eng.compute_metric([1.0, 0.0], [0.0, 1.0], "kl") == np.inf
    assert eng.compute_metric(np.array([1, 0], np.float32), np.array([0, 1], np.float32), "js") == pytest.approx(jensenshannon([1, 0], [0, 1]))


@pytest.mark.parametrize("name,metric", [("float32", "cosine"), ("float32", "l2"), ("float32", "dot"), ("float32", "l2sq"),
                                         ("float64", "l2"), ("float16", "dot"), ("int8", "l2sq"), ("uint8", "hamming"),
                                         ("float32", "kl"), ("float32", "js")])
def test_multi_query_equals_single_query(tier, name, metric):
    rng = np.random.default_rng(11)
    eng = VectorSearch()
    C = make(rng, name, metric, (5000, 40))
    Q = make(rng, name, metric, (23, 40))
    idx, sc = eng.multi_query_top_k(Q, C, metric, 10)
    assert idx.shape == sc.shape == (23, 10) and idx.dtype == np.uint64
    for i in range(len(Q)):
        i1, s1 = eng.top_k_search(Q[i], C, metric, 10)
        np.testing.assert_array_equal(idx[i], i1)
        np.testing.assert_array_equal(sc[i], s1)


def test_every_tier_gives_the_same_results():
    rng = np.random.default_rng(3)
    C = rng.standard_normal((6000, 37)).astype(np.float32)
    Q = rng.standard_normal((9, 37)).astype(np.float32)
    C8 = rng.integers(-128, 128, (6000, 37), dtype=np.int8)
    bits = rng.integers(0, 256, (6000, 16), dtype=np.uint8)
    eng = VectorSearch()
    results = {}
    try:
        for t in TIERS:
            set_simd_tier(t)
            results[t] = [eng.multi_query_top_k(Q, C, m, 10) for m in ("cosine", "l2", "dot")]
            results[t] += [eng.multi_query_top_k(C8[:5], C8, "dot", 10), eng.top_k_search(bits[0], bits, "hamming", 10)]
    finally:
        set_simd_tier("auto")
    base = results[TIERS[0]]
    for t in TIERS[1:]:
        for (i0, s0), (i1, s1) in zip(base, results[t]):
            np.testing.assert_array_equal(i0, i1, err_msg=t)
            np.testing.assert_allclose(s0, s1, rtol=1e-5, atol=1e-5, err_msg=t)


def test_numpack_simd_env_var_in_subprocess():
    code = (
        "import numpy as np, json; from numpack.vector_engine import VectorSearch, simd_info;"
        "r = np.random.default_rng(0).standard_normal((3000, 20)).astype(np.float32);"
        "i, s = VectorSearch().top_k_search(r[0], r, 'l2', 5);"
        "print(json.dumps([simd_info()['active'], simd_info()['note'], i.tolist()]))"
    )
    import json

    outs = {}
    for req in ["scalar"] + TIERS + ["bogus"]:
        env = dict(os.environ, NUMPACK_SIMD=req)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd="/")
        assert r.returncode == 0, r.stderr
        outs[req] = json.loads(r.stdout)
    assert outs["scalar"][0] == "scalar"
    for t in TIERS:
        assert outs[t][0] == t and outs[t][2] == outs["scalar"][2]
    assert outs["bogus"][0] == TIERS[-1] and "bogus" in outs["bogus"][1]


def test_capabilities_names_the_tier():
    text = VectorSearch().capabilities()
    assert text.startswith("CPU: ") and f"tier={simd_info()['active']}" in text
    assert VectorEngine is VectorSearch and StreamingVectorEngine is StreamingVectorSearch


def test_threads_do_not_change_results():
    rng = np.random.default_rng(5)
    C = rng.standard_normal((20000, 32)).astype(np.float32)
    Q = rng.standard_normal((7, 32)).astype(np.float32)
    eng = VectorSearch()
    for m in ("cosine", "l2sq"):
        base = eng.top_k_search(Q[0], C, m, 10, threads=1)
        multi = eng.multi_query_top_k(Q, C, m, 10, threads=1)
        for t in (None, 0, 2, 3):
            r = eng.top_k_search(Q[0], C, m, 10, threads=t)
            np.testing.assert_array_equal(r[0], base[0])
            np.testing.assert_array_equal(r[1], base[1])
            rm = eng.multi_query_top_k(Q, C, m, 10, threads=t)
            np.testing.assert_array_equal(rm[0], multi[0])
        np.testing.assert_array_equal(eng.cdist(Q, C, m, threads=1), eng.cdist(Q, C, m, threads=2))
        np.testing.assert_array_equal(eng.batch_compute(Q[0], C, m, threads=1), eng.batch_compute(Q[0], C, m, threads=2))
    assert np.array_equal(VectorSearch(threads=1).top_k_search(Q[0], C, "dot", 3)[0], eng.top_k_search(Q[0], C, "dot", 3)[0])


def test_any_array_like_contiguous_or_not():
    rng = np.random.default_rng(9)
    eng = VectorSearch()
    C = rng.standard_normal((500, 64)).astype(np.float32)
    q = C[3].copy()
    want = eng.top_k_search(q, C, "cosine", 5)
    strided = np.zeros((500, 128), np.float32)
    strided[:, ::2] = C
    fortran = np.asfortranarray(C)
    big_endian = C.astype(">f4")
    for cand in (strided[:, ::2], fortran, big_endian, C.tolist()):
        got = eng.top_k_search(q, cand, "cosine", 5)
        if isinstance(cand, list):  # a list becomes float64: the f32 query values, computed in f64
            np.testing.assert_array_equal(got[0], eng.top_k_search(q.astype(np.float64), C.astype(np.float64), "cosine", 5)[0])
        else:
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
    # the query as a list, a strided view, int64 k, numpy scalar k
    got = eng.top_k_search(strided[3, ::2], C, "cosine", np.int64(5))
    np.testing.assert_array_equal(got[0], want[0])
    got = eng.top_k_search(q.tolist(), C, "cosine", np.uint8(5))
    np.testing.assert_array_equal(got[0], want[0])  # float64 query cast to the float32 candidates
    # metric names are case-insensitive with upstream aliases
    for alias in ("COSINE", " cos ", "cosine_similarity"):
        np.testing.assert_array_equal(eng.top_k_search(q, C, alias, 5)[0], want[0])
    np.testing.assert_array_equal(eng.top_k_search(q, C, "Inner_Product", 5)[0], eng.top_k_search(q, C, "dot", 5)[0])
    np.testing.assert_array_equal(eng.top_k_search(q, C, "euclidean", 5)[1], eng.top_k_search(q, C, "l2", 5)[1])


def test_mixed_dtypes_follow_the_documented_rule():
    rng = np.random.default_rng(4)
    eng = VectorSearch()
    C = rng.standard_normal((300, 16)).astype(np.float16)
    q64 = rng.standard_normal(16)
    # float query, float candidates: the query is cast to the candidates' dtype
    np.testing.assert_array_equal(eng.batch_compute(q64, C, "dot"), eng.batch_compute(q64.astype(np.float16), C, "dot"))
    # ...unless it overflows: then both in float64
    big = q64.copy()
    big[0] = 1e6
    np.testing.assert_allclose(eng.batch_compute(big, C, "dot"), C.astype(np.float64) @ big, rtol=1e-12)
    # int8 candidates: an exactly representable query keeps int8, anything else meets in float64
    C8 = rng.integers(-128, 128, (300, 16), dtype=np.int8)
    qi = rng.integers(-128, 128, 16)
    np.testing.assert_array_equal(eng.batch_compute(qi, C8, "dot"), C8.astype(np.int64) @ qi)
    qf = qi + 0.5
    np.testing.assert_allclose(eng.batch_compute(qf, C8, "dot"), C8.astype(np.float64) @ qf, rtol=1e-12)
    # other integer types are computed in float64
    C16 = rng.integers(-1000, 1000, (300, 16)).astype(np.int16)
    np.testing.assert_allclose(eng.batch_compute(qi.astype(np.int32), C16, "l2sq"), ((C16.astype(np.float64) - qi) ** 2).sum(1), rtol=1e-12)
    # uint8 bits from a 0/255 integer list
    bits = rng.integers(0, 256, (50, 4), dtype=np.uint8)
    assert eng.compute_metric([255, 0, 0, 0], np.zeros(4, np.uint8), "hamming") == 8.0
    with pytest.raises(MetricDtypeError):  # two int64 lists meet in float64: no bit metrics
        eng.compute_metric([255, 0, 0, 0], [0, 0, 0, 0], "hamming")
    assert eng.batch_compute([0, 0, 0, 0], bits, "hamming").shape == (50,)


def _reference_compute_dtype(q, cand):
    """The mixed-dtype rule as NumPy computes it (the Python implementation before the rule
    moved into the core, kept here as the independent model of docs/METRICS.md)."""
    engine = {"float32", "float64", "float16", "bfloat16", "int8", "uint8"}
    own = lambda d: np.dtype(d.name) if d.name in engine else np.dtype(np.float64)  # noqa: E731
    ce, qe = own(cand), own(q.dtype)
    if qe == ce or q.size == 0:
        return ce
    q64 = q.astype(np.float64)
    if ce.name in {"float16", "bfloat16", "float32", "float64"}:
        with np.errstate(over="ignore", invalid="ignore"):
            back = q.astype(ce).astype(np.float64)
        return np.dtype(np.float64) if (np.isinf(back) & np.isfinite(q64)).any() else ce
    info = np.iinfo(ce)
    with np.errstate(invalid="ignore"):
        fits = np.isfinite(q64).all() and q64.min() >= info.min and q64.max() <= info.max and (q64 == np.round(q64)).all()
    return ce if fits else np.dtype(np.float64)


def test_compute_dtype_is_the_core_rule_and_equals_the_numpy_model():
    from numpack.vector_engine import _compute_dtype

    rng = np.random.default_rng(99)
    names = ["float64", "float32", "float16", "bfloat16", "int8", "uint8", "int16", "int32", "int64", "uint16", "uint64"]
    seen = set()
    for _ in range(60):
        for qn in names:
            scale = float(10.0 ** rng.integers(-2, 7))
            raw = rng.standard_normal(rng.integers(0, 6)) * scale
            if rng.random() < 0.3:
                raw = np.round(raw)
            if rng.random() < 0.1 and raw.size:
                raw[0] = rng.choice([np.nan, np.inf, -np.inf, 65520.0, 65519.0, 3.5e38, 128.0, -129.0, 255.0])
            with np.errstate(all="ignore"):
                q = raw.astype(dtype(qn)) if dtype(qn).kind != "f" and qn != "bfloat16" else raw.astype(dtype(qn))
            for cn in names:
                want = _reference_compute_dtype(q, dtype(cn))
                got = _compute_dtype(q, dtype(cn))
                assert got == want, (qn, cn, q, got, want)
                seen.add((qn, cn, want.name))
    # Both outcomes of the rule were exercised for every narrower candidate type.
    for cn in ("float16", "bfloat16", "float32", "int8", "uint8"):
        assert (("float64", cn, cn) in seen) and (("float64", cn, "float64") in seen), cn


def test_fractional_query_on_int8_is_float64_as_in_node():
    # issue 9 item 2: the same numbers Node must give (js/test/vector.test.mjs).
    eng = VectorSearch()
    C8 = np.array([[1, 2], [-3, 4], [100, 100], [-128, 127]], np.int8)
    idx, sc = eng.top_k_search([0.4, 0.6], C8, "dot", 4)
    assert idx.tolist() == [2, 3, 0, 1]
    np.testing.assert_allclose(sc, C8.astype(np.float64)[[2, 3, 0, 1]] @ [0.4, 0.6], rtol=0, atol=1e-12)
    assert eng.compute_metric([200, -300], np.array([1, 2], np.int8), "dot") == -400.0


def test_huge_keyword_integers_are_value_errors():
    """issue 9 item 17: every integer keyword of the vector engine, beyond what the module holds,
    is a documented ValueError (never OverflowError); non-integers are TypeError."""
    from numpack.vector_engine import StreamingVectorSearch

    eng = VectorSearch()
    C = np.ones((4, 3), np.float32)
    q = np.ones(3, np.float32)
    calls = [
        lambda **kw: eng.compute_metric(q, q, "dot", **kw),
        lambda **kw: eng.batch_compute(q, C, "dot", **kw),
        lambda **kw: eng.top_k_search(q, C, "dot", 1, **kw),
        lambda **kw: eng.multi_query_top_k(C, C, "dot", 1, **kw),
        lambda **kw: eng.cdist(C, C, "dot", **kw),
    ]
    for huge in (2**63, 2**70, 10**30):
        for call in calls:
            with pytest.raises(ValueError) as e:
                call(threads=huge)
            assert not isinstance(e.value, OverflowError)
        with pytest.raises(ValueError):
            VectorSearch(threads=huge)
        with pytest.raises(ValueError):
            StreamingVectorSearch(threads=huge)
    for bad in (1.5, "2", np.bool_(True), True):
        with pytest.raises(TypeError):
            eng.top_k_search(q, C, "dot", 1, threads=bad)
    # k beyond N is clipped (documented), whatever its size.
    assert eng.top_k_search(q, C, "dot", 2**70)[0].shape == (4,)
    assert eng.top_k_search(q, C, "dot", np.uint64(2**64 - 1))[0].shape == (4,)


def test_k_larger_than_n_is_clipped():
    eng = VectorSearch()
    C = np.eye(3, dtype=np.float32)
    idx, sc = eng.top_k_search(C[0], C, "dot", 10)
    assert idx.tolist() == [0, 1, 2] and sc.tolist() == [1.0, 0.0, 0.0]
    idx, sc = eng.multi_query_top_k(C, C, "l2", 2**40)
    assert idx.shape == (3, 3)


def test_bad_input_raises_clear_errors():
    eng = VectorSearch()
    C = np.ones((4, 3), np.float32)
    q = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="k must be at least 1"):
        eng.top_k_search(q, C, "dot", 0)
    with pytest.raises(ValueError):
        eng.multi_query_top_k(C, C, "dot", -1)
    with pytest.raises(TypeError):
        eng.top_k_search(q, C, "dot", 1.5)
    with pytest.raises(TypeError):
        eng.top_k_search(q, C, "dot", True)
    with pytest.raises(ValueError, match="no candidate"):
        eng.top_k_search(q, np.empty((0, 3), np.float32), "dot", 1)
    with pytest.raises(ValueError, match="no candidate"):
        eng.multi_query_top_k(C, np.empty((0, 3), np.float32), "dot", 1)
    assert eng.batch_compute(q, np.empty((0, 3), np.float32), "dot").shape == (0,)
    assert eng.cdist(C, np.empty((0, 3), np.float32), "l2").shape == (4, 0)
    with pytest.raises(ValueError, match="dimension mismatch"):
        eng.top_k_search(np.ones(4, np.float32), C, "dot", 1)
    with pytest.raises(ValueError, match="dimension mismatch"):
        eng.multi_query_top_k(np.ones((2, 4), np.float32), C, "dot", 1)
    with pytest.raises(ValueError, match="dimension mismatch"):
        eng.compute_metric([1, 2], [1, 2, 3], "dot")
    with pytest.raises(ValueError, match="dimension mismatch"):
        eng.batch_compute(np.ones(4, np.float32), C, "dot")
    with pytest.raises(ValueError, match="unknown metric"):
        eng.top_k_search(q, C, "manhattan", 1)
    with pytest.raises(TypeError):
        eng.top_k_search(q, C, None, 1)
    for metric, a in (("hamming", C), ("cosine", C.astype(np.uint8)), ("kl", C.astype(np.int8)), ("js", C.astype(np.int8))):
        with pytest.raises(MetricDtypeError) as e:
            eng.top_k_search(a[0], a, metric, 1)
        assert isinstance(e.value, TypeError) and isinstance(e.value, ValueError)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        eng.batch_compute(np.float32(1.0), C, "dot")
    with pytest.raises(ValueError, match="2-D"):
        eng.top_k_search(q, np.ones((2, 2, 3), np.float32), "dot", 1)
    with pytest.raises(ValueError, match="1-D"):
        eng.top_k_search(C, C, "dot", 1)
    with pytest.raises(ValueError):
        eng.multi_query_top_k(np.ones((2, 2, 3)), C, "dot", 1)
    with pytest.raises(ValueError):
        eng.compute_metric(C, C, "dot")
    with pytest.raises(ValueError):
        eng.cdist(q, C, "dot")
    for bad in (C.astype(bool), C.astype(np.complex64), np.array([["a", "b", "c"]])):
        with pytest.raises(TypeError):
            eng.top_k_search(q, bad, "dot", 1)
    with pytest.raises(ValueError, match="threads"):
        eng.top_k_search(q, C, "dot", 1, threads=-1)
    with pytest.raises(ValueError, match="no query"):
        eng.multi_query_top_k(np.empty((0, 3), np.float32), C, "dot", 1)


def test_nan_and_inf_are_documented_results():
    eng = VectorSearch()
    C = np.array([[1.0, 2.0], [np.nan, 0.0], [np.inf, 0.0], [0.5, 0.5]])
    s = eng.batch_compute([1.0, 0.0], C, "l2")
    assert np.isnan(s[1]) and s[2] == np.inf
    idx, sc = eng.top_k_search([1.0, 0.0], C, "l2", 4)
    assert idx.tolist() == [3, 0, 2, 1]
    idx, _ = eng.multi_query_top_k([[1.0, 0.0]], C, "cosine", 4)
    assert idx[0, -1] in (1, 2)  # NaN (nan and inf/inf) scores rank last


def test_lazy_array_candidates_are_searched_in_place(tmp_path):
    from numpack import NumPack

    rng = np.random.default_rng(2)
    C = rng.standard_normal((9000, 20)).astype(np.float32)
    Q = rng.standard_normal((4, 20)).astype(np.float32)
    eng = VectorSearch()
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"emb": C})
        lazy = npk.load("emb", lazy=True)
        for m in ("cosine", "l2"):
            np.testing.assert_array_equal(eng.top_k_search(Q[0], lazy, m, 7)[0], eng.top_k_search(Q[0], C, m, 7)[0])
            np.testing.assert_array_equal(eng.multi_query_top_k(Q, lazy, m, 7)[1], eng.multi_query_top_k(Q, C, m, 7)[1])
            np.testing.assert_array_equal(eng.batch_compute(Q, lazy, m), eng.batch_compute(Q, C, m))
        npk.drop("emb", list(range(0, 9000, 3)))
        lazy = npk.load("emb", lazy=True)
        live = npk.load("emb")
        for m in ("dot", "l2sq"):
            np.testing.assert_array_equal(eng.top_k_search(Q[1], lazy, m, 9)[0], eng.top_k_search(Q[1], live, m, 9)[0])
            np.testing.assert_array_equal(eng.cdist(Q, lazy, m), eng.cdist(Q, live, m))
