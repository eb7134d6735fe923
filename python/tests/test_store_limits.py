"""Regression tests of issue 9's store items as a Python user meets them: sizes and counts at
the edges (items 5, 7, 8, 9, 11) and read-only folders (item 12). Each risky call runs in a
child process, so an abort or a hang fails the test instead of killing pytest."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from numpack import NumPack


def run(code, *args, timeout=120):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def files(root):
    return {p: open(os.path.join(root, p), "rb").read() for p in sorted(os.listdir(root)) if p != ".numpack.lock"}


def test_huge_zero_width_arrays_give_typed_errors_and_change_nothing(tmp_path):
    """Item 5: these calls aborted the interpreter (a 128 GiB allocation)."""
    r = run("""
        import sys, numpy as np
        from numpack import NumPack
        with NumPack(sys.argv[1]) as npk:
            npk.save({'h': np.zeros((2**40, 0), np.int8)})
            for call, kind in ((lambda: npk.drop('h', [0]), ValueError),
                               (lambda: npk.drop('h', slice(None)), ValueError),
                               (lambda: npk.replace({'h': np.zeros((2**40, 0), np.int8)}, slice(None)), MemoryError)):
                try:
                    call()
                except kind as e:
                    print(type(e).__name__)
                else:
                    raise SystemExit('no error')
            assert npk.get_shape('h') == (2**40, 0)
    """, tmp_path / "s.npk")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ValueError", "ValueError", "MemoryError"]


def test_a_catalogue_declaring_huge_rows_opens_at_once(tmp_path):
    """Items 5 and 9: 2^40 declared rows beside a bitmap of 10 rows with one dropped row."""
    root = tmp_path / "s.npk"
    with NumPack(root) as npk:
        npk.save({"h": np.zeros((10, 0), np.int8)})
        npk.drop("h", [3])
    with NumPack(tmp_path / "big.npk") as big:
        big.save({"h": np.zeros((2**40, 0), np.int8)})
    shutil.copy(tmp_path / "big.npk" / "metadata.npkm", root / "metadata.npkm")
    r = run("""
        import sys, time
        from numpack import NumPack
        t = time.time()
        with NumPack(sys.argv[1]) as npk:
            print(npk.get_shape('h'), npk.load('h').shape, npk.getitem('h', [-1]).shape)
        assert time.time() - t < 5
    """, root, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{(2**40 - 1, 0)} {(2**40 - 1, 0)} (1, 0)"


def test_a_writer_killed_during_reset_of_many_arrays_leaves_a_store_that_opens(tmp_path):
    """Item 7: a killed reset of 3,000 arrays with 200-byte names left a 1.3 MB journal that
    every later open refused."""
    seed = tmp_path / "seed.npk"
    with NumPack(seed) as npk:
        npk.save({f"{i:0>200}": np.arange(3, dtype=np.int8) for i in range(3000)})
    for delay in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.6):
        root = tmp_path / f"s{delay}.npk"
        shutil.copytree(seed, root)
        child = subprocess.Popen([sys.executable, "-c", "import sys; from numpack import NumPack\n"
                                  "with NumPack(sys.argv[1]) as n: n.reset()", str(root)])
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        with NumPack(root) as npk:  # before or after the reset, never refused
            assert len(npk.get_member_list()) in (0, 3000)


def test_a_save_over_the_catalogue_limit_is_refused_and_changes_nothing(tmp_path):
    """Item 8: one save of 66,000 arrays with long names and 64-d shapes succeeded and then the
    store never opened again (a 69 MB catalogue against the readers' 64 MiB limit)."""
    root = tmp_path / "s.npk"
    with NumPack(root) as npk:
        npk.save({"keep": np.arange(3.0)})
        before = files(root)
        one = np.zeros((1,) * 64, np.int8)
        with pytest.raises(ValueError, match="catalogue"):
            npk.save({f"{i:0>238}": one for i in range(66_000)})
        assert files(root) == before
    with NumPack(root) as npk:
        assert npk.get_member_list() == ["keep"]


def test_the_longest_accepted_name_works_for_every_operation(tmp_path):
    """Item 11: names of 239–240 bytes were accepted but could not have rows dropped."""
    name = "n" * 238
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({name: np.arange(10.0)})
        npk.drop(name, [1, 2])
        npk.append({name: np.arange(2.0)})
        npk.replace({name: np.array([7.0])}, 0)
        npk.update(name)
        assert np.array_equal(npk.load(name), [7, 3, 4, 5, 6, 7, 8, 9, 0, 1])
        npk.drop(name)
        for too_long in ("n" * 239, "é" * 120):
            with pytest.raises(ValueError, match="238 bytes"):
                npk.save({too_long: np.arange(3.0)})


def test_a_read_only_store_with_leftover_temporary_files_opens_for_reading(tmp_path):
    """Item 12: open() failed with EROFS because it tried to remove a leftover ``*.tmp``. The
    store is bind-mounted read-only in a private mount namespace (``unshare -rm``)."""
    src = tmp_path / "src.npk"
    with NumPack(src) as npk:
        npk.save({"a": np.arange(6.0).reshape(3, 2)})
        npk.drop("a", [1])
    (src / "metadata.npkm.tmp").write_bytes(b"half a catalogue")
    (src / "data_a.npkd.tmp").write_bytes(b"half an array")
    ro = tmp_path / "ro"
    ro.mkdir()
    script = textwrap.dedent("""
        import sys, numpy as np
        from numpack import NumPack
        with NumPack(sys.argv[1]) as npk:
            print(npk.load('a').tolist())
        try:
            with NumPack(sys.argv[1]) as npk:
                npk.save({'b': np.arange(2.0)})
        except OSError as e:
            print('write refused:', type(e).__name__)
    """)
    cmd = (f"mount --bind {src} {ro} && mount -o remount,bind,ro {ro} && "
           f"{sys.executable} -c \"$SCRIPT\" {ro}")
    r = subprocess.run(["unshare", "-rm", "sh", "-c", cmd], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "SCRIPT": script})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "[[0.0, 1.0], [4.0, 5.0]]"
    assert lines[1].startswith("write refused:"), r.stdout
    assert (src / "data_a.npkd.tmp").exists(), "a reader must not clean up"
