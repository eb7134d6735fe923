"""progress= on long calls (a callable, a tqdm bar, a clear error without tqdm) and Ctrl-C:
a long call interrupted by SIGINT raises KeyboardInterrupt promptly, also while Rust runs
without the GIL, and leaves the store (and the file system) as before the call."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from interrupt import interrupt_child

from numpack import NumPack, pack, unpack
from numpack import io as nio


def _many_arrays(path, count, rows, seed=0):
    rng = np.random.default_rng(seed)
    with NumPack(path) as npk:
        for i in range(count):
            npk.save({f"a{i:03d}": rng.random((rows, 64))})
    return path


def test_pack_and_unpack_report_bytes(tmp_path):
    src = _many_arrays(tmp_path / "s.npk", 5, 100)
    seen = []
    out = pack(src, progress=lambda done, total: seen.append((done, total)))
    files = [p for p in src.iterdir() if p.name == "metadata.npkm" or p.name.startswith("data_")]
    total = sum(p.stat().st_size for p in files)
    assert seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    seen.clear()
    unpack(out, tmp_path / "r.npk", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (2 * total, 2 * total)  # each file's bytes count twice: decoded, then written


def test_stream_load_and_conversions_report(tmp_path):
    data = np.arange(10_000, dtype=np.float64).reshape(2500, 4)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"m": data})
        seen = []
        blocks = list(npk.stream_load("m", 1000, progress=lambda d, t: seen.append((d, t))))
        assert [len(b) for b in blocks] == [1000, 1000, 500]
        assert seen == [(1000, 2500), (2000, 2500), (2500, 2500)]
    seen = []
    nio.to_npy(tmp_path / "s.npk", tmp_path / "m.npy", array_names="m", chunk_size=32_000,
               progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (data.nbytes, data.nbytes) and len(seen) >= 3
    seen = []
    nio.from_npy(tmp_path / "m.npy", tmp_path / "b.npk", chunk_size=32_000, progress=lambda d, t: seen.append(d))
    assert seen[-1] == data.nbytes and len(seen) == 3  # 80 kB in chunks of 32 kB


def test_progress_true_uses_tqdm_and_says_when_it_is_missing(tmp_path, monkeypatch, capsys):
    src = _many_arrays(tmp_path / "s.npk", 2, 10)
    pack(src, tmp_path / "bar.npkg", progress=True)
    assert "pack" in capsys.readouterr().err  # tqdm writes its bar on stderr
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(nio.DependencyError, match="pip install tqdm"):
        pack(src, tmp_path / "none.npkg", progress=True)
    assert not (tmp_path / "none.npkg").exists()
    with pytest.raises(TypeError):
        pack(src, tmp_path / "bad.npkg", progress="yes")
    pack(src, tmp_path / "off.npkg", progress=False)


def test_ctrl_c_stops_pack_promptly_and_leaves_no_package(tmp_path):
    _many_arrays(tmp_path / "s.npk", 300, 1000)  # 300 files of 512 KiB: pack takes seconds
    err, latency = interrupt_child("""
        import sys, pathlib, numpack
        d = pathlib.Path(sys.argv[1])
        """, 'numpack.pack(d / "s.npk", d / "p.npkg", progress=lambda d, t: None)',
        str(tmp_path), lambda: (tmp_path / "p.npkg.tmp").exists())
    assert err == "interrupted"
    assert latency < 1.0, latency
    assert not (tmp_path / "p.npkg").exists() and not (tmp_path / "p.npkg.tmp").exists()


def test_ctrl_c_during_unpack_keeps_the_old_store(tmp_path):
    src = _many_arrays(tmp_path / "s.npk", 300, 1000)
    pack(src, tmp_path / "p.npkg", compression=False)
    with NumPack(tmp_path / "old.npk") as npk:
        npk.save({"keep": np.arange(5)})
    before = {p.name: p.read_bytes() for p in (tmp_path / "old.npk").iterdir() if p.is_file()}
    err, latency = interrupt_child("""
        import sys, pathlib, numpack
        d = pathlib.Path(sys.argv[1])
        """, 'numpack.unpack(d / "p.npkg", d / "old.npk", overwrite=True)',
        str(tmp_path), lambda: any(p.name.endswith(".tmp") for p in (tmp_path / "old.npk").iterdir()))
    assert err == "interrupted", err
    assert latency < 1.0, latency
    after = {p.name: p.read_bytes() for p in (tmp_path / "old.npk").iterdir() if p.is_file()}
    assert after == before
    with NumPack(tmp_path / "old.npk") as npk:
        assert npk.keys() == ["keep"]


def test_ctrl_c_during_an_import_leaves_no_partial_array(tmp_path):
    big = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float64, shape=(20_000_000,))
    big[:] = 1.0
    del big
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"keep": np.arange(3)})
    err, latency = interrupt_child("""
        import sys, pathlib, numpack.io as nio
        d = pathlib.Path(sys.argv[1])
        """, 'nio.from_npy(d / "big.npy", d / "s.npk", chunk_size=1 << 20)',
        str(tmp_path), lambda: (tmp_path / "s.npk" / "data_big.npkd").exists() or
            any(p.name.startswith("data_big") for p in (tmp_path / "s.npk").iterdir()))
    assert err == "interrupted", err
    assert latency < 1.0, latency
    with NumPack(tmp_path / "s.npk") as npk:
        assert npk.keys() == ["keep"]


def test_ctrl_c_in_the_cli_exits_130_with_one_line(tmp_path):
    _many_arrays(tmp_path / "s.npk", 300, 1000)
    child = subprocess.Popen([sys.executable, "-m", "numpack", "pack", str(tmp_path / "s.npk"), "-o",
                              str(tmp_path / "p.npkg"), "--no-progress"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "p.npkg.tmp").exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # until the package is being written
    time.sleep(0.2)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, (child.returncode, err)
    assert err == "numpack: interrupted\n"
    assert not (tmp_path / "p.npkg").exists() and not (tmp_path / "p.npkg.tmp").exists()


def test_the_cli_shows_a_bar_by_default_on_a_terminal_only(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    _many_arrays(tmp_path / "s.npk", 3, 100)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal has a size
    p = subprocess.run([sys.executable, "-m", "numpack", "pack", str(tmp_path / "s.npk"), "-o",
                        str(tmp_path / "tty.npkg")], stdout=subprocess.PIPE, stderr=slave, timeout=120)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert p.returncode == 0 and b"pack" in shown and b"B/s" in shown
    piped = subprocess.run([sys.executable, "-m", "numpack", "pack", str(tmp_path / "s.npk"), "-o",
                            str(tmp_path / "pipe.npkg")], capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == ""
