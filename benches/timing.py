"""Timing helpers the benchmark scripts share: a side and its peer timed in the same minutes,
so a noisy neighbour slows both alike."""

import time

import numpy as np


def paired_medians(ours, peer, repeat, setup=None):
    """Medians of `ours` and `peer`, called alternately (each on its own argument from `setup`,
    so neither finds the other's rows in cache; who goes first alternates too), so that a
    noisy neighbour slows both alike."""
    a, b = [], []
    for k in range(repeat):
        pair = ((ours, a), (peer, b)) if k % 2 == 0 else ((peer, b), (ours, a))
        for fn, ts in pair:
            arg = (setup(),) if setup else ()
            t0 = time.perf_counter()
            fn(*arg)
            ts.append(time.perf_counter() - t0)
    return float(np.median(a)), float(np.median(b))


def block_medians(ours, peer, repeat, setup, block=10):
    """Medians of `ours` and `peer` timed in blocks: one untimed call, then `block` timed calls
    of one side, then the same for the other (who goes first alternates), until each has
    `repeat` timed calls, each on its own argument from `setup`.

    Why blocks for the gathers: the two sides read two different 40 MB files, and a call of
    one evicts the other's rows and page-table entries from the caches, so timed call by call
    in turn (``paired_medians``) each side pays for the other's last call (LazyArray[idx] went
    from 67 to 95 us that way). A program gathering from one array does not pay that, so each
    side is timed after a call of its own; blocks still interleave the two over the same
    minutes, so a noisy neighbour slows both alike."""
    a, b = [], []
    k = 0
    while len(a) < repeat or len(b) < repeat:
        sides = ((ours, a), (peer, b)) if k % 2 == 0 else ((peer, b), (ours, a))
        for fn, ts in sides:
            fn(setup())
            for _ in range(min(block, repeat - len(ts))):
                arg = setup()
                t0 = time.perf_counter()
                fn(arg)
                ts.append(time.perf_counter() - t0)
        k += 1
    return float(np.median(a)), float(np.median(b))
