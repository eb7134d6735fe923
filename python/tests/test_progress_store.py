"""progress= and Ctrl-C on ``NumPack.update`` (compaction) and ``NumPack.clone``: rows copied
are reported up to the live row count, and SIGINT during a big copy raises KeyboardInterrupt
promptly (the copy runs in Rust without the GIL) with every file of the store as before."""

import hashlib
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from numpack import NumPack


def test_update_and_clone_report_rows_to_the_total(tmp_path):
    data = np.arange(3_000_000, dtype=np.int64).reshape(1_500_000, 2)  # 24 MB: three 8 MiB chunks
    dropped = [0, 7, 1_000_000]
    want = np.delete(data, dropped, axis=0)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": data})
        npk.drop("a", dropped)
        seen = []
        npk.clone("a", "b", progress=lambda d, t: seen.append((d, t)))
        assert seen[-1] == (len(want), len(want)) and len(seen) >= 1
        assert all(t == len(want) for _, t in seen) and [d for d, _ in seen] == sorted(d for d, _ in seen)
        np.testing.assert_array_equal(npk.load("b"), want)
        seen.clear()
        npk.update("a", progress=lambda d, t: seen.append((d, t)))
        assert seen[-1] == (len(want), len(want))
        np.testing.assert_array_equal(npk.load("a"), want)
        npk.clone("a", "c", progress=False)
        npk.update("c")  # nothing dropped: nothing to copy
        np.testing.assert_array_equal(npk.load("c"), want)


def test_update_and_clone_show_a_tqdm_bar(tmp_path, capsys):
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": np.arange(100)})
        npk.drop("a", [3])
        npk.update("a", progress=True)
        assert "update a" in capsys.readouterr().err
        npk.clone("a", "b", progress=True)
        assert "clone a" in capsys.readouterr().err
        with pytest.raises(TypeError):
            npk.clone("a", "c", progress="yes")
        assert sorted(npk.keys()) == ["a", "b"]


def _files(root):
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h = hashlib.sha1()
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 24), b""):
                    h.update(block)
            out[str(p.relative_to(root))] = (p.stat().st_size, h.hexdigest())
    return out


@pytest.mark.parametrize("call", ["update", "clone"])
def test_ctrl_c_during_a_big_copy_keeps_the_store(tmp_path, call):
    root = tmp_path / "s.npk"
    with NumPack(root) as npk:
        npk.save({"big": np.ones((100_000_000,), dtype=np.float64)})  # 800 MB
        npk.drop("big", [5])
    before = _files(root)
    staged = root / ("data_big.npkd.tmp" if call == "update" else "data_copy.npkd.tmp")
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, numpack
        with numpack.NumPack(sys.argv[1]) as npk:
            print("go", flush=True)
            try:
                npk.{call}({'"big"' if call == "update" else '"big", "copy"'})
            except KeyboardInterrupt:
                print("interrupted", file=sys.stderr)
            else:
                print("finished", file=sys.stderr)
        """), str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "go"
    deadline = time.monotonic() + 60
    while not (staged.exists() and staged.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.001)  # until the copy is under way
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    latency = time.monotonic() - sent
    assert err.strip() == "interrupted", err
    assert latency < 1.0, latency
    assert _files(root) == before
    with NumPack(root) as npk:
        assert npk.keys() == ["big"] and npk.get_shape("big") == (99_999_999,)
