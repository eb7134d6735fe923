"""progress= and Ctrl-C on the streaming search calls (``StreamingVectorSearch``): rows scanned
are reported up to the stored row count, results equal those without a hook (numpy as the
reference), and SIGINT during a long scan raises KeyboardInterrupt promptly, with the store
untouched (a search only reads)."""

import time

import numpy as np
import pytest
from interrupt import interrupt_child

from numpack import NumPack
from numpack.vector_engine import StreamingVectorSearch


def test_streaming_calls_report_rows_to_the_total(tmp_path):
    rng = np.random.default_rng(5)
    emb = rng.standard_normal((5000, 16)).astype(np.float32)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"emb": emb})
        npk.drop("emb", [3, 4000])
    live = np.delete(emb, [3, 4000], axis=0).astype(np.float64)
    q = rng.standard_normal((2, 16)).astype(np.float32)
    s = StreamingVectorSearch(threads=2)
    calls = {
        "top_k": lambda p: s.streaming_top_k_from_file(q[0], tmp_path / "s.npk", "emb", "dot", 5, 700, progress=p),
        "multi": lambda p: s.streaming_multi_query_top_k(q, tmp_path / "s.npk", "emb", "dot", 5, 700, progress=p),
        "scores": lambda p: s.streaming_batch_compute(q, tmp_path / "s.npk", "emb", "dot", 700, progress=p),
    }
    want = live @ q.astype(np.float64).T  # (N, 2)
    for name, call in calls.items():
        seen = []
        got = call(lambda d, t: seen.append((d, t)))
        assert seen[-1] == (len(live), len(live)), name
        assert all(t == len(live) and 0 <= d <= t for d, t in seen), name
        if name == "scores":
            np.testing.assert_allclose(got, want.T, rtol=1e-5, atol=1e-5)
        else:
            idx = np.atleast_2d(got[0])
            for qi in range(idx.shape[0]):
                order = np.argsort(-want[:, qi], kind="stable")[:5]
                np.testing.assert_array_equal(idx[qi], order)
        np.testing.assert_array_equal(np.asarray(call(False)[0] if name != "scores" else call(False)),
                                      np.asarray(got[0] if name != "scores" else got))
    with pytest.raises(TypeError):
        calls["top_k"]("yes")


@pytest.mark.parametrize("call", ["top_k", "multi", "scores"])
def test_ctrl_c_stops_a_streaming_search_promptly(tmp_path, call):
    root = tmp_path / "s.npk"
    with NumPack(root) as npk:
        npk.save({"emb": np.ones((2_000_000, 128), dtype=np.float32)})  # 1 GB
    def files():  # the lock file is rewritten by every open; data and metadata must not be
        return sorted((p.name, p.stat().st_size, None if p.name == ".numpack.lock" else p.stat().st_mtime_ns)
                      for p in root.iterdir())

    before = files()
    # Each call scans for seconds here: js (logarithms per element) for one query, l2 for 256.
    expr = {
        "top_k": 's.streaming_top_k_from_file(q[0], d, "emb", "js", 10, 1000, progress=tick)',
        "multi": 's.streaming_multi_query_top_k(q, d, "emb", "l2", 10, 1000, progress=tick)',
        "scores": 's.streaming_batch_compute(q[0], d, "emb", "js", 1000, progress=tick)',
    }[call]
    started = tmp_path / "started"
    setup = """
        import sys, pathlib, time, numpy as np
        from numpack.vector_engine import StreamingVectorSearch
        d = pathlib.Path(sys.argv[1])
        s = StreamingVectorSearch(threads=2)
        q = np.ones((256, 128), dtype=np.float32)
        def tick(done, total):
            if done > 0:
                (d.parent / "started").touch()
        """
    # Signalled 0.1 s after the first progress report: well inside the scan.
    seen = []
    def under_way():
        if started.exists() and not seen:
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() - seen[0] > 0.1
    err, latency = interrupt_child(setup, expr, str(root), under_way)
    assert err == "interrupted", err
    assert latency < 1.0, latency
    assert files() == before
