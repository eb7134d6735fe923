"""NumPack storage benchmark: 1M x 10 float32 (40 MB), warm page cache, against .npy
(np.load, np.load(mmap_mode='r'/'r+'), load+modify+np.save) and h5py, all in one run.
Prints medians and ratios (peer time / NumPack time: > 1 means NumPack is faster).

    OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= .venv/bin/python benches/storage_bench.py [out_dir] [--only ROWS]

``--only`` runs some rows only, while iterating: a comma-separated list of save, load, lazy,
replace, drop, append, gather (random and sorted 10K rows), cycles.
"""

import os
import shutil
import sys
import time

import numpy as np

from numpack import NumPack
from timing import block_medians, paired_medians

try:
    import h5py
except ImportError:  # pragma: no cover
    h5py = None

ROWS, COLS = 1_000_000, 10
SECTIONS = ("save", "load", "lazy", "replace", "drop", "append", "gather", "cycles")


def parse_args(argv):
    """``[out_dir] [--only a,b]`` -> (out_dir, the sections to run)."""
    out, only = None, set(SECTIONS)
    k = 0
    while k < len(argv):
        if argv[k] == "--only" and k + 1 < len(argv):
            only = {w.strip() for w in argv[k + 1].split(",") if w.strip()}
            unknown = only - set(SECTIONS)
            if unknown:
                sys.exit(f"--only: unknown rows {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
            k += 2
        elif argv[k].startswith("--only="):
            return parse_args(argv[:k] + ["--only", argv[k][7:]] + argv[k + 1:])
        else:
            out = argv[k]
            k += 1
    return out or os.path.join(os.path.dirname(__file__), "..", "bench-out", "storage"), only


OUT, ONLY = parse_args(sys.argv[1:])


def median_time(fn, repeat=15, setup=None):
    ts = []
    for _ in range(repeat):
        arg = setup() if setup else None
        t0 = time.perf_counter()
        fn(arg) if setup else fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def fmt(s):
    return f"{s * 1e3:9.4f} ms"


rows_out = []
targets = []


def target(what, ratio, limit, detail=""):
    """Records an issue-13 storage target: a measured ratio against its limit (lower is better)."""
    targets.append(f"{'ok  ' if ratio <= limit else 'MISS'} {what}: {ratio:.2f}x {detail}".rstrip())


def within_us(seconds, limit_us):
    """A write row's target: ``<= limit_us`` µs, with the measured value and ok/MISS."""
    us = seconds * 1e6
    return f"<= {limit_us} us: {us:.1f} us {'ok' if us <= limit_us else 'MISS'}"


def report(op, ours, peers, target=""):
    line = f"{op:<34} numpack {fmt(ours)}"
    for name, t in peers:
        line += f" | {name} {fmt(t)} ({t / ours:6.2f}x)"
    if target:
        line += f"   [target: {target}]"
    print(line, flush=True)
    rows_out.append((op, ours, peers))


def main():
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        os.environ.pop(var, None)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    npy = os.path.join(OUT, "a.npy")
    h5 = os.path.join(OUT, "a.h5")
    store = os.path.join(OUT, "a.npk")

    dst = np.empty_like(a)
    bw = a.nbytes / median_time(lambda: np.copyto(dst, a))
    bw_fresh = a.nbytes / median_time(lambda: np.copyto(np.empty_like(a), a))
    print(f"memcpy bandwidth: {bw / 1e9:.1f} GB/s into warm memory, {bw_fresh / 1e9:.1f} GB/s into fresh memory "
          f"({a.nbytes / bw * 1e3:.2f} / {a.nbytes / bw_fresh * 1e3:.2f} ms for 40 MB)")

    np.save(npy, a)
    if h5py:
        with h5py.File(h5, "w") as f:
            f.create_dataset("a", data=a, maxshape=(None, COLS), chunks=(8192, COLS))
    npk = NumPack(store)
    npk.open()
    npk.save({"a": a})

    if "save" in ONLY:
        # Save.
        t_np = median_time(lambda: np.save(os.path.join(OUT, "s.npy"), a), 9)
        t_ours = median_time(lambda: npk.save({"s": a}), 9)
        peers = [("np.save", t_np)]
        if h5py:
            def h5save():
                with h5py.File(os.path.join(OUT, "s.h5"), "w") as f:
                    f.create_dataset("a", data=a)
            peers.append(("h5py", median_time(h5save, 5)))
        report("save 40 MB", t_ours, peers, "no slower than np.save")
        npk.drop("s")

    if "load" in ONLY:
        # Full load. Ours and np.load alternate call by call, so both see the same machine state
        # (these VMs are shared and noisy); the issue-13 target is checked in each of 5 rounds.
        for _ in range(3):
            npk.load("a"), np.load(npy)
        rounds = [paired_medians(lambda: npk.load("a"), lambda: np.load(npy), 15) for _ in range(5)]
        t_ours = float(np.median([r[0] for r in rounds]))
        peers = [("np.load", float(np.median([r[1] for r in rounds])))]
        if h5py:
            with h5py.File(h5, "r") as f:
                peers.append(("h5py", median_time(lambda: f["a"][:], 9)))
        report("full load", t_ours, peers, ">= 1.35x np.load")
        ratios = [o / p for o, p in rounds]
        target("full load <= 0.75x np.load, every one of 5 rounds", max(ratios), 0.75,
               f"(worst round; spread {min(ratios):.2f}-{max(ratios):.2f}, median {np.median(ratios):.2f}; rounds "
               + " ".join(f"{r:.2f}" for r in ratios) + ")")

    if "lazy" in ONLY:
        # Lazy load with the store open.
        t_ours = median_time(lambda: npk.load("a", lazy=True), 2001)
        peers = [("np.load mmap r", median_time(lambda: np.load(npy, mmap_mode="r"), 501))]
        if h5py:
            with h5py.File(h5, "r") as f:
                peers.append(("h5py dataset", median_time(lambda: f["a"], 501)))
        report("lazy load (store open)", t_ours, peers, "<= 0.010 ms")

    new = rng.standard_normal((100, COLS)).astype(np.float32)
    idx = lambda: rng.choice(ROWS, 100, replace=False)
    t_replace = None
    if "replace" in ONLY:
        # Replace 100 random rows.
        t_ours = median_time(lambda i: npk.replace({"a": new}, i), 501, idx)
        mm = np.load(npy, mmap_mode="r+")

        def assign(i):
            mm[i] = new
        t_mm = median_time(assign, 501, idx)

        def open_assign(i):
            m = np.load(npy, mmap_mode="r+")
            m[i] = new
        t_mm_open = median_time(open_assign, 101, idx)

        def rewrite(i):
            x = np.load(npy)
            x[i] = new
            np.save(npy, x)
        peers = [("r+ memmap assign", t_mm), ("open r+ + assign", t_mm_open), ("npy load+modify+save", median_time(rewrite, 7, idx))]
        if h5py:
            with h5py.File(h5, "r+") as f:
                d = f["a"]

                def h5replace(i):
                    d[np.sort(i)] = new
                peers.append(("h5py", median_time(h5replace, 21, idx)))
        report("replace 100 random rows", t_ours, peers, within_us(t_ours, 30) + "; within 1.5x of r+ memmap assign")
        target("committed replace of 100 random rows <= 30 us", t_ours * 1e6 / 30, 1.0, f"of the limit ({t_ours * 1e6:.1f} us)")
        t_replace = t_ours
        del mm

    if "drop" in ONLY:
        # Drop 100 random rows (committed), from a copy so that the rows after this one read an
        # array without drops. The first drop writes the bitmap whole; later ones patch its words.
        npk.save({"d": a})
        live = [ROWS]

        def drop(i):
            npk.drop("d", i)
            live[0] -= 100
        t_ours = median_time(drop, 501, lambda: rng.choice(live[0], 100, replace=False))
        mask = np.ones(ROWS, dtype=bool)

        def mask_assign(i):
            mask[i] = False  # an in-memory bitmap, not even a memmap: the floor of flipping bits
        peers = [("numpack replace 100 rows", t_replace)] if t_replace is not None else []
        peers.append(("bool mask assign (memory)", median_time(mask_assign, 501, idx)))
        report("drop 100 random rows", t_ours, peers, within_us(t_ours, 30))
        target("committed drop of 100 random rows <= 30 us", t_ours * 1e6 / 30, 1.0, f"of the limit ({t_ours * 1e6:.1f} us)")
        npk.drop("d")

    if "append" in ONLY:
        # Append 100 rows.
        more = rng.standard_normal((100, COLS)).astype(np.float32)
        t_ours = median_time(lambda: npk.append({"a": more}), 301)

        def npy_append():
            x = np.load(npy)
            np.save(npy, np.concatenate([x, more]))
        peers = [("npy rewrite", median_time(npy_append, 5))]
        if h5py:
            with h5py.File(h5, "r+") as f:
                d = f["a"]

                def h5append():
                    n = d.shape[0]
                    d.resize(n + 100, axis=0)
                    d[n:] = more
                peers.append(("h5py resize", median_time(h5append, 101)))
        report("append 100 rows (incl. commit)", t_ours, peers, "<= 0.1 ms, >= 200x npy rewrite")
        npk.save({"a": a})
        np.save(npy, a)

    if "gather" in ONLY:
        # Random access of 10K rows (unsorted and sorted index lists).
        ridx = lambda: rng.integers(0, ROWS, 10_000)
        sidx = lambda: np.sort(rng.integers(0, ROWS, 10_000))
        lazy = npk.load("a", lazy=True)
        mr = np.load(npy, mmap_mode="r")
        for kind, pick in (("random", ridx), ("sorted", sidx)):
            # Timed in blocks (see block_medians); the ratio timed call by call in turn is
            # printed beside it, as it was measured before.
            t_ours, t_fancy = block_medians(lambda i: npk.getitem("a", i), lambda i: mr[i], 201, pick)
            t_ours_alt, t_fancy_alt = paired_medians(lambda i: npk.getitem("a", i), lambda i: mr[i], 201, pick)
            t_lazy = median_time(lambda i: lazy[i], 201, pick)
            t_fancy_open = median_time(lambda i: np.load(npy, mmap_mode="r")[i], 51, pick)
            peers = [("LazyArray[idx]", t_lazy), ("mmap fancy", t_fancy), ("open mmap + fancy", t_fancy_open)]
            if h5py:
                with h5py.File(h5, "r") as f:
                    d = f["a"]
                    peers.append(("h5py", median_time(lambda i: d[np.unique(i)], 5, pick)))
            report(f"{kind} 10K rows: getitem", t_ours, peers, ">= 2.5x mmap fancy; lazy within 1.2x")
            target(f"{kind} 10K rows <= 0.4x mmap fancy", t_ours / t_fancy, 0.4,
                   f"(timed call by call in turn: {t_ours_alt / t_fancy_alt:.2f}x)")

    if "cycles" in ONLY:
        # 100 load-modify-save cycles.
        small = os.path.join(OUT, "cyc.npy")
        np.save(small, a)

        def normal():
            for _ in range(10):
                x = npk.load("a")
                x[:10] *= 2.0
                npk.save({"a": x})
        t_normal = median_time(normal, 3) * 10

        def batch():
            with npk.batch_mode():
                for _ in range(100):
                    x = npk.load("a")
                    x[:10] *= 2.0
                    npk.save({"a": x})
        t_batch = median_time(batch, 9)

        def writable():
            with npk.writable_batch_mode() as wb:
                for _ in range(100):
                    x = wb.load("a")
                    x[:10] *= 2.0
        t_wb = median_time(writable, 21)

        def npy_cycles():
            for _ in range(10):
                x = np.load(small)
                x[:10] *= 2.0
                np.save(small, x)
        t_npy = median_time(npy_cycles, 3) * 10

        def mm_cycles():
            x = np.load(small, mmap_mode="r+")
            for _ in range(100):
                x[:10] *= 2.0
            del x
        t_mm = median_time(mm_cycles, 21)
        report("100 cycles: batch mode", t_batch, [("numpack plain", t_normal), ("npy load+save", t_npy)], "<= 15 ms incl. flush")
        report("100 cycles: writable batch mode", t_wb, [("np.load r+ loop", t_mm)], "within 1.1x of r+ loop")
    npk.close()
    shutil.rmtree(OUT, ignore_errors=True)
    print("issue-13 storage targets:")
    for line in targets:
        print("  " + line)


if __name__ == "__main__":
    main()
