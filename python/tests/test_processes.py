"""Crash safety, several writing processes, and hostile stores (each in a subprocess, so a
crash shows up as an exit code instead of taking pytest down)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from numpack import NumPack


def run(code, *args, timeout=120):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def test_killed_writer_loses_nothing_acknowledged(tmp_path):
    path = tmp_path / "s.npk"
    r = run("""
        import os, sys, numpy as np
        from numpack import NumPack
        npk = NumPack(sys.argv[1]); npk.open()
        npk.save({'a': np.arange(100, dtype=np.int64).reshape(50, 2), 'b': np.ones(3)})
        npk.append({'a': np.full((5, 2), -1, np.int64)})
        npk.replace({'a': np.full((2, 2), 7, np.int64)}, [0, -1])
        npk.drop('a', [1])
        npk.drop('b')
        npk.save({'c': np.arange(4, dtype=np.float32)})
        with npk.writable_batch_mode() as wb:
            wb.load('c')[0] = 42
        with npk.batch_mode():
            c = npk.load('c'); c[1] = 43; npk.save({'c': c})
        print('acknowledged', flush=True)
        os._exit(0)
    """, path)
    assert r.returncode == 0, r.stderr
    model = np.concatenate([np.arange(100).reshape(50, 2), np.full((5, 2), -1)])
    model[[0, -1]] = 7
    model = np.delete(model, 1, axis=0)
    with NumPack(path) as npk:
        assert npk.get_member_list() == ['a', 'c']
        np.testing.assert_array_equal(npk.load('a'), model)
        assert npk.load('c').tolist() == [42, 43, 2, 3]


DROPPER = """
import sys, numpy as np
from numpack import NumPack
path = sys.argv[1]
rng = np.random.default_rng(7)
with NumPack(path) as npk:
    for n in range(1, 4000):  # 20000 rows, 5 per drop: the last call leaves 5 rows
        live = npk.get_shape('a')[0]
        npk.drop('a', rng.choice(live, 5, replace=False))
        print(n, flush=True)
"""


def _drops_model(rows, calls):
    """The row ids left after the first ``calls`` drops of DROPPER (same seeded choices)."""
    rng = np.random.default_rng(7)
    ids = np.arange(rows)
    states = [ids]
    for _ in range(calls):
        ids = np.delete(ids, rng.choice(len(ids), 5, replace=False))
        states.append(ids)
    return states


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.45])
def test_killed_dropper_keeps_every_acknowledged_drop_and_opens(tmp_path, delay):
    # Drops after the first patch the bitmap in place (docs/FORMAT.md §5): a writer killed at
    # any point must leave the state after its last acknowledged drop, or after the one in flight.
    import signal
    import time
    path = tmp_path / "s.npk"
    rows = 20000
    with NumPack(path) as npk:
        npk.save({'a': np.arange(rows, dtype=np.int64)})
    p = subprocess.Popen([sys.executable, "-c", DROPPER, str(path)], stdout=subprocess.PIPE, text=True)
    acked = 0
    deadline = time.time() + 60
    while acked < 3 and time.time() < deadline:  # wait until the patched path is running
        line = p.stdout.readline()
        if not line:
            break
        acked = int(line)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    out, _ = p.communicate(timeout=60)
    for line in out.split():
        acked = int(line)
    assert acked >= 3, "the child never got going"
    states = _drops_model(rows, acked + 1)
    with NumPack(path) as npk:
        got = npk.load('a')
    assert any(np.array_equal(got, s) for s in states[acked:acked + 2]), (acked, len(got))


WRITER = """
import sys, numpy as np
from numpack import NumPack
path, k = sys.argv[1], int(sys.argv[2])
with NumPack(path) as npk:
    for i in range(40):
        npk.append({'shared': np.array([[k, i]], dtype=np.int64)})
        npk.save({f'own_{k}_{i % 5}': np.full(3, i, dtype=np.int32)})
        assert npk.load('shared', lazy=True).shape[0] >= i + 1
"""


def test_concurrent_writers_lose_no_row_and_no_array(tmp_path):
    path = tmp_path / "s.npk"
    with NumPack(path) as npk:
        npk.save({'shared': np.zeros((0, 2), np.int64)})
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(k)], stderr=subprocess.PIPE, text=True) for k in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with NumPack(path) as npk:
        rows = {tuple(r) for r in npk.load('shared').tolist()}
        assert rows == {(k, i) for k in range(4) for i in range(40)}
        assert npk.get_shape('shared') == (160, 2)
        names = set(npk.get_member_list())
        assert names == {'shared'} | {f'own_{k}_{j}' for k in range(4) for j in range(5)}
        for k in range(4):
            assert npk.load(f'own_{k}_4').tolist() == [39] * 3


def test_reader_sees_other_process_commits(tmp_path):
    path = tmp_path / "s.npk"
    with NumPack(path) as npk:
        npk.save({'a': np.zeros(4)})
        assert npk.load('a').tolist() == [0] * 4
        r = run("""
            import sys, numpy as np
            from numpack import NumPack
            with NumPack(sys.argv[1]) as n:
                n.replace({'a': [5.0]}, 1); n.append({'a': [6.0]}); n.save({'b': np.ones(2)})
        """, path)
        assert r.returncode == 0, r.stderr
        assert npk.load('a').tolist() == [0, 5, 0, 0, 6]
        assert npk.get_member_list() == ['a', 'b']


HOSTILE = """
import sys, numpy as np, numpack
from numpack import NumPack
try:
    with NumPack(sys.argv[1]) as npk:
        for name in npk.get_member_list():
            npk.load(name); np.asarray(npk.load(name, lazy=True)); npk.getitem(name, [0])
except (numpack.NumPackError, KeyError, ValueError, TypeError, IndexError, OSError) as e:
    print(type(e).__name__, e)
    sys.exit(3)
sys.exit(0)
"""


def _good_store(path):
    with NumPack(path) as npk:
        npk.save({'a': np.arange(60, dtype=np.float32).reshape(20, 3), 'b': np.arange(5, dtype=np.int8)})
        npk.drop('a', [1, 2])


def _mutations(path):
    meta = path / "metadata.npkm"
    raw = meta.read_bytes()
    yield "truncated metadata", lambda: meta.write_bytes(raw[: len(raw) // 2])
    yield "empty metadata", lambda: meta.write_bytes(b"")
    yield "bad magic", lambda: meta.write_bytes(b"XXXX" + raw[4:])
    yield "huge count", lambda: meta.write_bytes(raw[:16] + b"\xff\xff\xff\xff" + raw[20:])
    yield "random bytes", lambda: meta.write_bytes(np.random.default_rng(0).bytes(len(raw)))
    yield "flipped tail", lambda: meta.write_bytes(raw[:-9] + bytes(b ^ 0xFF for b in raw[-9:]))
    yield "truncated data", lambda: (path / "data_a.npkd").write_bytes(b"\0" * 7)
    yield "missing data", lambda: (path / "data_b.npkd").unlink()
    yield "truncated bitmap", lambda: (path / "deleted_a.npkb").write_bytes(b"\1\2\3")
    yield "garbage bitmap", lambda: (path / "deleted_a.npkb").write_bytes(b"\xff" * 40)
    yield "garbage journal", lambda: (path / "commit.npkj").write_bytes(b"\x00garbage" * 8)
    yield "metadata is a folder", lambda: (meta.unlink(), meta.mkdir())
    for i in range(0, len(raw), max(1, len(raw) // 24)):
        yield f"byte {i} flipped", (lambda i=i: meta.write_bytes(raw[:i] + bytes([raw[i] ^ 0x5A]) + raw[i + 1:]))


def test_hostile_stores_raise_never_crash(tmp_path):
    base = tmp_path / "base.npk"
    _good_store(base)
    import shutil

    outcomes = {}
    for k, (what, mutate) in enumerate(_mutations(base)):
        path = tmp_path / f"h{k}.npk"
        shutil.copytree(base, path)
        mutate_copy = [m for w, m in _mutations(path) if w == what][0]
        mutate_copy()
        r = run(HOSTILE, path)
        assert r.returncode in (0, 3), f"{what}: exit {r.returncode}\n{r.stderr}"
        outcomes[what] = r.returncode
    assert outcomes["truncated metadata"] == 3 and outcomes["bad magic"] == 3
    assert outcomes["truncated data"] == 3 and outcomes["missing data"] == 3


def test_hostile_names_raise_never_crash(tmp_path):
    r = run("""
        import sys, numpy as np
        from numpack import NumPack
        bad = ['', '.', '..', '../x', '/abs', 'a/b', 'a\\\\b', 'a\\x00b', 'x' * 1000, '\\n']
        with NumPack(sys.argv[1]) as npk:
            npk.save({'ok': np.zeros(2)})
            for name in bad:
                for call in (lambda: npk.save({name: np.zeros(2)}), lambda: npk.load(name),
                             lambda: npk.load(name, lazy=True), lambda: npk.drop(name),
                             lambda: npk.getitem(name, 0), lambda: npk.clone('ok', name)):
                    try:
                        call()
                    except (ValueError, KeyError):
                        pass
            assert npk.get_member_list() == ['ok'], npk.get_member_list()
        import os
        assert sorted(os.listdir(sys.argv[1])) == ['.numpack.lock', 'data_ok.npkd', 'metadata.npkm'], os.listdir(sys.argv[1])
    """, tmp_path / "s.npk")
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "x").exists()
