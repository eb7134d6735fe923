"""The cross-runtime writer lock (docs/FORMAT.md §5): Python and Node writing one store at the same
time lose nothing; a SIGKILLed writer of either runtime leaves nothing that blocks the next
writer; a held lock makes a writer wait, then raise ``LockError`` after ``NUMPACK_LOCK_TIMEOUT``.
A Python writer announces itself in ``.numpack.lock``'s first line; a Node writer holds the
``.numpack.writer`` marker.
Needs ``node`` and the npm package's wasm build (``js/dist``, from scripts/build-wasm.sh)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from numpack import LockError, NumPack

REPO = Path(__file__).resolve().parents[2]
NODE_JS = (REPO / "js" / "src" / "node.js").as_uri()
MARKER = ".numpack.writer"
LOCK = ".numpack.lock"


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not on PATH: the cross-runtime lock tests need it")
    if not (REPO / "js" / "dist" / "wasm" / "numpack_wasm_bg.wasm").is_file():
        pytest.fail("js/dist is missing: run scripts/build-wasm.sh")
    return exe


def node_proc(node, source, *args, env=None):
    """Starts `node` on an ES module that imports the package as `np`."""
    code = f"import * as np from {json.dumps(NODE_JS)};\n" + textwrap.dedent(source)
    return subprocess.Popen([node, "--input-type=module", "-e", code, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def node_file_proc(node, script, *args):
    """Starts `node` on the script file `script`."""
    return subprocess.Popen([node, str(script), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def node_run(node, source, *args, env=None, timeout=60):
    p = node_proc(node, source, *args, env=env)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def wait_ready(p, what="ready"):
    line = p.stdout.readline()
    assert what in line, f"child not ready: {line!r} {p.stderr.read() if p.poll() is not None else ''}"


def marker_pid(store):
    try:
        return int(os.readlink(store / MARKER).split(" ")[2])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def slot_pid(store):
    """The pid of the Python writer announced in the lock file's slot (None when idle)."""
    try:
        words = (store / LOCK).read_bytes()[:64].split(b"\n")[0].decode().rstrip(" ").split(" ")
        return int(words[2]) if words[0] == "npk1" and words[1] == "rs" else None
    except (FileNotFoundError, IndexError, ValueError):
        return None


def new_store(path):
    with NumPack(path) as npk:
        npk.save({"a": np.zeros((1, 2), np.int32)})


def check_tags(rows, counts):
    """Every writer's rows are all there, each writer's in its order; returns how often the
    writer changed from one row to the next (how much the writers interleaved)."""
    rows = [tuple(r) for r in rows.tolist()]
    assert rows[0] == (0, 0)
    for tag, n in counts.items():
        assert [i for t, i in rows[1:] if t == tag] == list(range(n)), f"writer {tag}"
    assert len(rows) == 1 + sum(counts.values())
    return sum(1 for x, y in zip(rows[1:], rows[2:]) if x[0] != y[0])


NODE_APPENDER = """
import fs from 'node:fs';
const [dir, tag, n, go] = process.argv.slice(1);
const s = np.open(dir);
console.log('ready');
while (!fs.existsSync(go)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
for (let i = 0; i < Number(n); i++) s.append('a', { data: new Int32Array([Number(tag), i]), shape: [1, 2] });
s.close();
"""

NODE_LOAD = """
const s = np.open(process.argv[1]);
const { data, shape } = s.load('a');
console.log(JSON.stringify({ shape, rows: Array.from(data) }));
"""


def test_python_and_node_appending_at_once_lose_no_rows(tmp_path, node):
    path = tmp_path / "s.npk"
    new_store(path)
    n_node, n_py = 200, 1000
    go = tmp_path / "go"
    p = node_proc(node, NODE_APPENDER, path, 1, n_node, go)
    wait_ready(p)
    with NumPack(path) as npk:
        go.touch()
        # Python keeps appending until Node is done (at least n_py rows), so the writers overlap
        # however fast either side runs on a given machine.
        n_py_done = 0
        while n_py_done < n_py or (p.poll() is None and n_py_done < 100 * n_py):
            npk.append({"a": np.array([[2, n_py_done]], np.int32)})
            n_py_done += 1
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        switches = check_tags(npk.load("a"), {1: n_node, 2: n_py_done})
    assert switches >= 10, f"the writers hardly overlapped ({switches} switches): the test proves nothing"
    # The store opens in Node too, with the same rows.
    code, out, err = node_run(node, NODE_LOAD, path)
    assert code == 0, err
    got = json.loads(out)
    assert got["shape"] == [1 + n_node + n_py_done, 2]
    with NumPack(path) as npk:
        assert got["rows"] == npk.load("a").ravel().tolist()
    assert not [f for f in os.listdir(path) if f.startswith(MARKER)]


PY_APPENDER = """
import sys, numpy as np
from numpack import NumPack
with NumPack(sys.argv[1]) as npk:
    i = 0
    while True:
        npk.append({'a': np.array([[3, i]], np.int32)})
        i += 1
        if i == 5:
            print('ready', flush=True)
"""


def stop_while_holding(path):
    """A Python writer stopped (SIGSTOP) while it holds the store lock: a child appending in a
    loop, stopped at a moment when its record is announced in the lock file."""
    child = subprocess.Popen([sys.executable, "-c", PY_APPENDER, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    wait_ready(child)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert child.poll() is None, child.stderr.read()
        if slot_pid(path) == child.pid:
            os.kill(child.pid, signal.SIGSTOP)
            if slot_pid(path) == child.pid:
                return child
            os.kill(child.pid, signal.SIGCONT)
    child.kill()
    pytest.fail("never caught the child holding the lock")


NODE_APPEND_ONE = """
const t = Date.now();
try {
  np.open(process.argv[1]).append('a', { data: new Int32Array([4, 0]), shape: [1, 2] });
  console.log(JSON.stringify({ ok: true, ms: Date.now() - t, end: Date.now() }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: e.name, locked: e instanceof np.StoreLockedError, message: e.message, ms: Date.now() - t }));
}
"""


def committed_tags(path):
    with NumPack(path) as npk:
        rows = npk.load("a")
    return {t: int((rows[:, 0] == t).sum()) for t in np.unique(rows[:, 0]).tolist() if t}


def test_killed_python_writer_blocks_neither_node_nor_python(tmp_path, node):
    path = tmp_path / "s.npk"
    new_store(path)
    # 1. A Python writer that holds the lock: Node waits, then raises StoreLockedError.
    child = stop_while_holding(path)
    code, out, err = node_run(node, NODE_APPEND_ONE, path, env={"NUMPACK_LOCK_TIMEOUT": "0.3"})
    assert code == 0, err
    r = json.loads(out)
    assert r["ok"] is False and r["locked"] is True, r
    assert f"pid {child.pid} (native/Python) on this host" in r["message"], r
    assert LOCK in r["message"], r
    assert r["ms"] >= 300, r
    assert marker_pid(path) is None, "the Node writer withdrew its marker"
    # 2. Killed while holding it (left unreaped: a zombie): its record stays in the lock file,
    # and the next Node writer goes ahead.
    child.send_signal(signal.SIGKILL)
    time.sleep(0.05)
    assert slot_pid(path) == child.pid
    code, out, err = node_run(node, NODE_APPEND_ONE, path, env={"NUMPACK_LOCK_TIMEOUT": "10"})
    assert code == 0, err
    r = json.loads(out)
    assert r["ok"] is True and r["ms"] < 5000, r
    child.wait()
    assert marker_pid(path) is None
    # 3. The same again, with a Python writer (still unreaped) next.
    n3 = committed_tags(path)[3]  # (at least the 5 before 'ready')
    child = stop_while_holding(path)
    child.send_signal(signal.SIGKILL)
    time.sleep(0.05)
    t = time.monotonic()
    with NumPack(path) as npk:
        npk.append({"a": np.array([[5, 0]], np.int32)})
        rows = npk.load("a")
    assert time.monotonic() - t < 5
    child.wait()
    assert marker_pid(path) is None and slot_pid(path) is None
    # Every row the killed writers committed is there, in order, and the store opens in Node.
    assert rows[0].tolist() == [0, 0]
    threes = rows[rows[:, 0] == 3, 1].tolist()
    assert threes[:n3] == list(range(n3)) and threes[n3:] == list(range(len(threes) - n3))
    assert rows[rows[:, 0] == 4].tolist() == [[4, 0]] and rows[-1].tolist() == [5, 0]
    code, out, err = node_run(node, NODE_LOAD, path)
    assert code == 0, err
    assert json.loads(out)["rows"] == rows.ravel().tolist()
    assert not [f for f in os.listdir(path) if f.startswith(MARKER)]


def test_node_waits_for_a_python_holder(tmp_path, node):
    path = tmp_path / "s.npk"
    new_store(path)
    child = stop_while_holding(path)
    try:
        p = node_proc(node, NODE_APPEND_ONE, path, env={"NUMPACK_LOCK_TIMEOUT": "30"})
        time.sleep(0.7)
        assert p.poll() is None, "the Node writer did not wait for the Python holder"
        assert marker_pid(path) in (None, p.pid)
        resumed = time.time()
        os.kill(child.pid, signal.SIGCONT)  # it releases the lock (then takes it again, in turn)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        r = json.loads(out)
        # Node's append finished only after the stopped Python holder was resumed (same clock).
        assert r["ok"] is True and r["end"] >= int(resumed * 1000), (r, resumed)
    finally:
        child.kill()
        child.wait()
    assert committed_tags(path)[4] == 1


# The lock holder the JS lock tests run too (see its header): prints `ready` once it holds.
NODE_HOLDER = REPO / "js" / "test" / "lock_holder.mjs"


def test_python_waits_for_a_node_holder(tmp_path, node):
    path = tmp_path / "s.npk"
    new_store(path)
    # (Opening takes the exclusive lock too, to clear what a killed writer left: open first.)
    go = tmp_path / "go"
    with NumPack(path) as npk:
        holder = node_file_proc(node, NODE_HOLDER, path, go)
        wait_ready(holder)
        try:
            # The holder keeps the lock until `go` appears: a reader (no marker) gets through.
            assert npk.get_shape("a") == (1, 2)
            assert holder.poll() is None
            go.touch()
            npk.append({"a": np.array([[6, 0]], np.int32)})
            assert (tmp_path / "go.released").exists(), "the append did not wait for the Node holder"
            assert slot_pid(path) is None, "the Python writer withdrew its record"
            assert marker_pid(path) is None
            assert npk.load("a").tolist() == [[0, 0], [6, 0]]
            assert holder.wait(timeout=30) == 0
        finally:
            holder.kill()


def test_lock_timeout_raises_lock_error_and_a_killed_node_holder_blocks_nobody(tmp_path, node, monkeypatch):
    path = tmp_path / "s.npk"
    new_store(path)
    with NumPack(path) as npk:
        holder = node_file_proc(node, NODE_HOLDER, path)
        try:
            wait_ready(holder)
            monkeypatch.setenv("NUMPACK_LOCK_TIMEOUT", "0.3")
            t = time.monotonic()
            with pytest.raises(LockError, match=rf"pid {holder.pid} \(Node\) on this host.*NUMPACK_LOCK_TIMEOUT"):
                npk.append({"a": np.array([[7, 0]], np.int32)})
            assert time.monotonic() - t >= 0.3
            assert npk.get_shape("a") == (1, 2)
            # Killed while holding it (not yet reaped): the next Python writer goes ahead.
            holder.send_signal(signal.SIGKILL)
            time.sleep(0.05)
            monkeypatch.setenv("NUMPACK_LOCK_TIMEOUT", "10")
            t = time.monotonic()
            npk.append({"a": np.array([[7, 1]], np.int32)})
            assert time.monotonic() - t < 5
            assert npk.load("a").tolist() == [[0, 0], [7, 1]]
            holder.wait(timeout=30)
        finally:
            holder.kill()
    assert not [f for f in os.listdir(path) if f.startswith(MARKER)]
