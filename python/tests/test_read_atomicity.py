"""Every read call sees one committed state, never a mix of two (issue 9, item 4).

One process alternates between two states of the array ``v``, either by ``save`` (10 rows of
1.0, 20 rows of 2.0) or by ``append`` and ``drop`` (10 rows of 1.0; 10 rows of 2.0 appended;
the first 10 dropped; 10 rows of 1.0 appended; the first 10 dropped again, and so on: four
logical states over a file that keeps growing and a deletion bitmap that changes on every
commit, so logical rows move to other physical rows); another
loops over every read form for a few seconds and checks each result against what NumPy
gives on one of the two committed states. Before the fix, ``getitem(name,
slice(...))`` read the row count and the rows under two separate locks and returned, now and
then, 10 rows of 2.0: a state never committed.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from numpack import NumPack

SECONDS = 2.5

WRITER = """
import sys, time, numpy as np
from numpack import NumPack
path, stop_file, mode = sys.argv[1], sys.argv[2], sys.argv[3]
import os
states = [np.full((10, 4), 1.0), np.full((20, 4), 2.0)]
with NumPack(path) as npk:
    i = 0
    while not os.path.exists(stop_file):
        if mode == 'save':
            npk.save({'v': states[i % 2]})
        elif i % 2 == 0:
            npk.append({'v': np.full((10, 4), 2.0 if i % 4 == 0 else 1.0)})
        else:
            npk.drop('v', slice(0, 10))
        i += 1
print(i)
"""

# The reader: each read form with the two committed states as NumPy arrays; a result must be
# what NumPy gives on one of them (or the error NumPy gives on one of them).
READER = """
import sys, time, numpy as np
import numpack.io
from numpack import NumPack
path, seconds, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
STATES = [np.full((10, 4), 1.0), np.full((20, 4), 2.0)]
if mode != 'save':
    ones, twos = np.full((10, 4), 1.0), np.full((10, 4), 2.0)
    STATES = [ones, np.concatenate([ones, twos]), twos, np.concatenate([twos, ones])]
MASK10 = np.ones(10, dtype=bool)
MASK10[3] = False

def forms(npk):
    yield 'getitem slice(None)', lambda: npk.getitem('v', slice(None)), lambda s: s[:]
    yield 'getitem slice(0, 15)', lambda: npk.getitem('v', slice(0, 15)), lambda s: s[0:15]
    yield 'getitem slice(None, None, 2)', lambda: npk.getitem('v', slice(None, None, 2)), lambda s: s[::2]
    yield 'getitem slice(-12, None, -3)', lambda: npk.getitem('v', slice(-12, None, -3)), lambda s: s[-12::-3]
    yield 'getitem mask', lambda: npk.getitem('v', MASK10), lambda s: s[MASK10]
    yield 'getitem list', lambda: npk.getitem('v', [0, -1, 5]), lambda s: s[[0, -1, 5]]
    yield 'getitem int -11', lambda: npk.getitem('v', -11), lambda s: s[[-11]]
    yield 'load', lambda: npk.load('v'), lambda s: s
    yield '__getitem__', lambda: npk['v'], lambda s: s
    yield 'get_shape', lambda: np.zeros(npk.get_shape('v')), lambda s: np.zeros(s.shape)
    yield 'lazy', lambda: np.asarray(npk.load('v', lazy=True)), lambda s: s
    yield 'lazy[::3]', lambda: npk.load('v', lazy=True)[::3], lambda s: s[::3]
    yield 'stream_load', lambda: np.concatenate(list(npk.stream_load('v', 3))), lambda s: s
    yield 'io.to_npy', lambda: exported(), lambda s: s

def exported():
    # An export streams 3-row blocks (chunk_size 96 bytes) and writes the header first.
    out = path + '.npy'
    numpack.io.to_npy(path, out, array_names='v', chunk_size=96)
    return np.load(out)

def outcome(f):
    try:
        return ('ok', f())
    except IndexError:
        return ('IndexError', None)

def matches(got, expected):
    kind, value = got
    if kind != expected[0]:
        return False
    return kind != 'ok' or (value.shape == expected[1].shape and np.array_equal(value, expected[1]))

bad, calls = [], 0
with NumPack(path) as npk:
    cases = list(forms(npk))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for label, read, model in cases:
            got = outcome(read)
            calls += 1
            if not any(matches(got, outcome(lambda: model(s))) for s in STATES):
                shape = None if got[1] is None else got[1].shape
                first = None if got[1] is None or got[1].size == 0 else got[1].flat[0]
                bad.append((label, got[0], shape, first))
print(calls, len(bad))
for b in bad[:20]:
    print(*b)
sys.exit(1 if bad else 0)
"""


@pytest.mark.parametrize("mode", ["save", "append_drop"])
def test_every_read_form_sees_one_committed_state(tmp_path, mode):
    path = tmp_path / "s.npk"
    stop = tmp_path / "stop"
    with NumPack(path) as npk:
        npk.save({'v': np.full((10, 4), 1.0)})
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), str(path), str(stop), mode],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        reader = subprocess.run([sys.executable, "-c", textwrap.dedent(READER), str(path), str(SECONDS), mode],
                                capture_output=True, text=True, timeout=60 + SECONDS)
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert int(out.split()[0]) > 10, "the writer committed too few states to race with"
    assert reader.returncode == 0, f"reads that match no committed state:\n{reader.stdout}{reader.stderr}"
    calls = int(reader.stdout.split()[0])
    assert calls > 100, reader.stdout
