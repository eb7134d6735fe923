"""The CLI's convert round-trips 1 GiB (.npy → store → .npy) in chunks: each direction runs in a
child process that samples its anonymous memory (``RssAnon``, so the store's read-only file
mappings, which the kernel can drop at any time, do not count) and tracks NumPy's allocations
with tracemalloc; the extra memory stays under about two chunks."""

import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np

CHUNK = 32 << 20
TOTAL = 1 << 30

CHILD = textwrap.dedent("""
    import json, sys, threading, time, tracemalloc
    import numpy, numpack, numpack.cli

    def anon():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no RssAnon")

    base = anon()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], anon())
            time.sleep(0.002)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    tracemalloc.start()
    status = numpack.cli.main(sys.argv[1:])
    traced = tracemalloc.get_traced_memory()[1]
    done.set()
    t.join()
    peak[0] = max(peak[0], anon())
    print(json.dumps({"status": status, "anon_extra": peak[0] - base, "traced_peak": traced}))
""")


def _convert(*args):
    p = subprocess.run([sys.executable, "-c", CHILD, "convert", *map(str, args), "--chunk-size", str(CHUNK),
                        "--no-progress", "-q"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def _sha(path, skip=0):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(skip)
        while block := f.read(16 << 20):
            h.update(block)
    return h.hexdigest()


def test_convert_round_trips_1_gib_in_about_two_chunks_of_memory(tmp_path):
    src = tmp_path / "big.npy"
    rows = TOTAL // (64 * 4)
    arr = np.lib.format.open_memmap(src, mode="w+", dtype=np.float32, shape=(rows, 64))
    step = (16 << 20) // (64 * 4)
    for start in range(0, rows, step):
        arr[start:start + step] = np.arange(start * 64, (start + step) * 64, dtype=np.float32).reshape(-1, 64)
    arr.flush()
    header = arr.offset
    del arr
    there = _convert(src, tmp_path / "s.npk", "--name", "big")
    back = _convert(tmp_path / "s.npk", tmp_path / "back.npy", "--name", "big")
    assert _sha(tmp_path / "s.npk" / "data_big.npkd") == _sha(src, header)
    assert np.load(tmp_path / "back.npy", mmap_mode="r").shape == (rows, 64)
    out_header = np.load(tmp_path / "back.npy", mmap_mode="r").offset
    assert _sha(tmp_path / "back.npy", out_header) == _sha(src, header)
    for name, m in (("import", there), ("export", back)):
        print(name, {k: round(v / CHUNK, 2) for k, v in m.items() if k != "status"}, "chunks")
        assert m["anon_extra"] <= 2 * CHUNK, (name, m)
        assert m["traced_peak"] <= 2 * CHUNK, (name, m)
