"""progress= and Ctrl-C on ``NumPack.update`` (compaction) and ``NumPack.clone``: rows copied
are reported up to the live row count, and SIGINT during a big copy raises KeyboardInterrupt
promptly (the copy runs in Rust without the GIL) with every file of the store as before."""

import hashlib

import numpy as np
import pytest
from interrupt import interrupt_child

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
    setup = """
        import sys, numpack
        npk = numpack.NumPack(sys.argv[1])
        npk.open()
        """
    call_src = f"npk.{call}(" + ('"big"' if call == "update" else '"big", "copy"') + ")"
    # Signalled once the copy is under way (its staged file has bytes).
    err, latency = interrupt_child(setup, call_src, str(root),
                                   lambda: staged.exists() and staged.stat().st_size > 0)
    assert err == "interrupted", err
    assert latency < 1.0, latency
    assert _files(root) == before
    with NumPack(root) as npk:
        assert npk.keys() == ["big"] and npk.get_shape("big") == (99_999_999,)
