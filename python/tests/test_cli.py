"""The ``numpack`` command line, run as a child process (``python -m numpack`` and the console
script) against real stores, including corrupted ones: every verb, its exit status, one-line
errors (never a traceback), and ``verify`` finding each injected fault class."""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from numpack import NumPack, get_package_info
from test_upstream_layout import _write_upstream_store


def run(*args, check=None):
    """``(status, stdout, stderr)`` of ``python -m numpack ARGS``."""
    p = subprocess.run([sys.executable, "-m", "numpack", *map(str, args)], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert "Traceback" not in p.stderr, p.stderr
    if check is not None:
        assert p.returncode == check, (p.returncode, p.stdout, p.stderr)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "s.npk"
    with NumPack(path) as npk:
        npk.save({"vec": np.arange(40, dtype=np.float32).reshape(10, 4), "ids": np.arange(7, dtype=np.int64)})
        npk.drop("vec", [2, 5, 7])
    return path


def _files(root):
    """Every file's bytes (the lock file excepted: taking a reader's lock may touch it)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".numpack.lock")}


def test_every_verb_has_help_with_an_example():
    status, out, _ = run("--help", check=0)
    verbs = ["info", "verify", "convert", "pack", "unpack", "compact", "head", "search"]
    for verb in verbs:
        assert verb in out
        _, vout, _ = run(verb, "--help", check=0)
        assert "example:" in vout and f"numpack {verb}" in vout


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "numpack"
    assert script.is_file()
    p = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("numpack ")


def test_info_reports_rows_bytes_and_reclaimable(store):
    _, out, _ = run("info", store, "--json", check=0)
    info = json.loads(out)
    arrays = {a["name"]: a for a in info["arrays"]}
    vec = arrays["vec"]
    assert vec["shape"] == [7, 4] and vec["dtype"] == "float32"
    assert (vec["live_rows"], vec["dropped_rows"]) == (7, 3)
    assert vec["bytes_on_disk"] == (store / "data_vec.npkd").stat().st_size + (store / "deleted_vec.npkb").stat().st_size
    assert vec["reclaimable_bytes"] == 3 * 4 * 4
    assert arrays["ids"]["reclaimable_bytes"] == 0 and arrays["ids"]["dropped_rows"] == 0
    assert info["bytes_on_disk"] == sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    _, one, _ = run("info", store, "ids", "--json", check=0)
    assert [a["name"] for a in json.loads(one)["arrays"]] == ["ids"]
    _, table, _ = run("info", store, check=0)
    assert "vec" in table and "(7, 4)" in table and "reclaimable" in table
    status, _, err = run("info", store, "nope")
    assert status == 3 and err.strip() == "numpack: error: no array named 'nope'"
    status, _, err = run("info", store.parent / "missing.npk")
    assert status == 2 and err.count("\n") == 1 and not (store.parent / "missing.npk").exists()


def test_info_counts_segments_tails_and_writes_nothing(store, tmp_path):
    # An uncommitted append's tail is reclaimable; a leftover temporary file stays (info only reads).
    with open(store / "data_ids.npkd", "ab") as f:
        f.write(b"\0" * 40)
    (store / "data_vec.npkd.tmp").write_bytes(b"half")
    before = _files(store)
    info = json.loads(run("info", store, "--json", check=0)[1])
    assert _files(store) == before
    ids = {a["name"]: a for a in info["arrays"]}["ids"]
    assert (ids["bytes_on_disk"], ids["reclaimable_bytes"]) == (7 * 8 + 40, 40)
    assert info["reclaimable_bytes"] == 3 * 4 * 4 + 40
    assert info["bytes_on_disk"] == sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    _, text, _ = run("info", store, check=0)
    assert "last change 20" in text.splitlines()[0]

    up = tmp_path / "up.npk"
    _write_upstream_store(up, np.arange(21.0).reshape(7, 3), np.arange(70))
    arrays = {a["name"]: a for a in json.loads(run("info", up, "--json", check=0)[1])["arrays"]}
    segs = sorted(str(p.relative_to(up)) for p in (up / "data_big_segments").iterdir())
    assert arrays["big"]["files"] == ["data_big.npkseg", *segs]
    assert arrays["big"]["bytes_on_disk"] == sum((up / f).stat().st_size for f in arrays["big"]["files"])
    assert (arrays["big"]["live_rows"], arrays["big"]["reclaimable_bytes"]) == (7, 0)
    assert (arrays["ids"]["live_rows"], arrays["ids"]["dropped_rows"], arrays["ids"]["reclaimable_bytes"]) == (68, 2, 16)
    (up / "metadata.npkm").write_bytes(b"NPKB garbage")
    status, _, err = run("info", up)
    assert status == 2 and err.count("\n") == 1


def test_head_prints_the_first_logical_rows(store):
    _, out, _ = run("head", store, "vec", "-n", "3", "--json", check=0)
    got = json.loads(out)
    expect = np.delete(np.arange(40, dtype=np.float32).reshape(10, 4), [2, 5, 7], axis=0)[:3]
    assert got["shape"] == [7, 4] and np.array_equal(np.array(got["rows"], np.float32), expect)
    _, text, _ = run("head", store, "ids", check=0)
    assert "[0 1 2 3 4 5 6]" in text


def test_compact_drops_reclaimable_bytes(store):
    run("compact", store, check=0)
    info = json.loads(run("info", store, "--json", check=0)[1])
    assert info["reclaimable_bytes"] == 0
    with NumPack(store) as npk:
        np.testing.assert_array_equal(npk.load("vec"),
                                      np.delete(np.arange(40, dtype=np.float32).reshape(10, 4), [2, 5, 7], axis=0))
    assert run("compact", store, "nope")[0] == 3


def test_pack_and_unpack(store, tmp_path):
    _, out, _ = run("pack", store, "-o", tmp_path / "p.npkg", check=0)
    assert Path(out.strip()) == tmp_path / "p.npkg"
    assert get_package_info(tmp_path / "p.npkg")["file_count"] == 4
    status, _, err = run("pack", store, "-o", tmp_path / "p.npkg")
    assert status == 3 and "exists" in err
    run("pack", store, "-o", tmp_path / "p.npkg", "--overwrite", "--no-compression", check=0)
    run("unpack", tmp_path / "p.npkg", "-o", tmp_path / "r.npk", check=0)
    with NumPack(tmp_path / "r.npk") as a, NumPack(store) as b:
        for name in b:
            np.testing.assert_array_equal(a[name], b[name])
    assert run("unpack", tmp_path / "p.npkg", "-o", tmp_path / "r.npk")[0] == 3
    (tmp_path / "bad.npkg").write_bytes(b"NPKG" + b"\x00" * 20)
    status, _, err = run("unpack", tmp_path / "bad.npkg", "-o", tmp_path / "bad.npk")
    assert status == 2 and not (tmp_path / "bad.npk").exists()
    assert run("pack", tmp_path / "missing.npk")[0] == 3


def test_search_matches_a_numpy_reference(tmp_path, rng):
    base = rng.standard_normal((500, 16)).astype(np.float32)
    with NumPack(tmp_path / "v.npk") as npk:
        npk.save({"emb": base})
    q = rng.standard_normal((2, 16)).astype(np.float32)
    np.save(tmp_path / "q.npy", q)
    _, out, _ = run("search", tmp_path / "v.npk", "emb", "--query", tmp_path / "q.npy", "--metric", "cosine",
                    "-k", "5", "--json", check=0)
    res = json.loads(out)["results"]
    b64, q64 = base.astype(np.float64), q.astype(np.float64)
    sims = (q64 @ b64.T) / np.linalg.norm(q64, axis=1)[:, None] / np.linalg.norm(b64, axis=1)[None, :]
    for qi in range(2):
        got = [r for r in res if r["query"] == qi]
        assert [r["index"] for r in got] == list(np.argsort(-sims[qi], kind="stable")[:5])
        np.testing.assert_allclose([r["score"] for r in got], np.sort(sims[qi])[::-1][:5], rtol=1e-5)
    np.save(tmp_path / "q1.npy", q[0])
    _, table, _ = run("search", tmp_path / "v.npk", "emb", "--query", tmp_path / "q1.npy", "-k", "3", check=0)
    assert len(table.strip().splitlines()) == 2 + 3
    assert run("search", tmp_path / "v.npk", "emb", "--query", tmp_path / "q.npy", "--metric", "nope")[0] == 3
    assert run("search", tmp_path / "v.npk", "emb", "--query", tmp_path / "missing.npy")[0] == 3


FORMATS = [".npy", ".npz", ".csv", ".txt", ".h5", ".zarr", ".parquet", ".feather", ".safetensors"]


@pytest.mark.parametrize("ext", FORMATS)
def test_convert_round_trips_each_format(tmp_path, rng, ext):
    data = rng.standard_normal((1000, 3))
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"m": data})
    out = tmp_path / f"m{ext}"
    run("convert", tmp_path / "s.npk", out, "--name", "m", "--chunk-size", "4096", check=0)
    run("convert", out, tmp_path / "back.npk", "--name", "m", "--chunk-size", "4096", check=0)
    with NumPack(tmp_path / "back.npk") as npk:
        np.testing.assert_array_equal(npk.load("m"), data)
    status, _, err = run("convert", tmp_path / "s.npk", out, "--name", "m")
    assert status == 3 and "exists" in err
    run("convert", tmp_path / "s.npk", out, "--name", "m", "--overwrite", check=0)


def test_convert_usage_errors(tmp_path):
    assert run("convert", tmp_path / "a.npy", tmp_path / "b.csv")[0] == 2
    assert run("convert", tmp_path / "a.xyz", tmp_path / "b.npk")[0] == 2
    assert run("convert", tmp_path / "missing.npy", tmp_path / "b.npk")[0] == 3
    assert run("convert", tmp_path / "a", tmp_path / "b", "--from", "npy", "--to", "nope")[0] == 2
    assert run("bogus")[0] == 2


# -- verify ------------------------------------------------------------------------------------------
def _verify(path, *extra):
    status, out, err = run("verify", path, "--json", *extra)
    return status, (json.loads(out) if out.strip() else None), err


def test_verify_a_clean_store_writes_nothing(store, tmp_path):
    before = _files(store)
    status, report, _ = _verify(store)
    assert status == 0 and report["clean"] and report["problems"] == []
    assert _files(store) == before
    _, text, _ = run("verify", store, check=0)
    assert "clean" in text


def _journal(path):
    (path / "commit.npkj").write_bytes(b"NPKJ" + struct.pack("<II", 1, 0))


FAULTS = {
    "journal": lambda p: _journal(p),
    "data": lambda p: os.truncate(p / "data_ids.npkd", 20),
    "bitmap": lambda p: (p / "deleted_vec.npkb").write_bytes(b"\x01\x02\x03"),
    "orphan": lambda p: (p / "data_ghost.npkd").write_bytes(b"12345678"),
    "temp": lambda p: (p / "data_vec.npkd.tmp").write_bytes(b"half"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_verify_finds_each_injected_fault(store, fault):
    FAULTS[fault](store)
    before = _files(store)
    status, report, _ = _verify(store)
    assert status == 1 and not report["clean"]
    assert [p["fault"] for p in report["problems"]] == [fault]
    assert _files(store) == before  # never writes
    _, text, _ = run("verify", store)
    assert fault in text and "1 problem" in text


def test_verify_finds_segment_faults_and_orphan_segments(tmp_path):
    path = tmp_path / "up.npk"
    _write_upstream_store(path, np.arange(21.0).reshape(7, 3), np.arange(70))
    assert _verify(path)[0] == 0
    (path / "data_big_segments" / "seg_000009.npkd").write_bytes(b"x" * 24)
    status, report, _ = _verify(path)
    assert status == 1 and [(p["fault"], p["path"]) for p in report["problems"]] == [
        ("orphan", "data_big_segments/seg_000009.npkd")]
    os.truncate(path / "data_big_segments" / "seg_000001.npkd", 8)
    faults = [p["fault"] for p in _verify(path)[1]["problems"]]
    assert faults == ["segments"]  # its segment files belong to the broken array, not orphans


def test_verify_unreadable_stores_exit_2(tmp_path, store):
    status, _, err = run("verify", tmp_path / "missing.npk")
    assert status == 2 and err.startswith("numpack: error:") and err.count("\n") == 1
    (store / "metadata.npkm").write_bytes(b"NPKB garbage")
    status, _, err = run("verify", store)
    assert status == 2 and "unreadable" in err


def test_verify_repair_does_a_writers_recovery(store):
    _journal(store)
    (store / "data_vec.npkd.tmp").write_bytes(b"half")
    (store / "data_ghost.npkd").write_bytes(b"12345678")
    status, report, _ = _verify(store, "--repair")
    # The journal and temporary file are gone; an orphan is no writer's business and stays.
    assert status == 1 and [p["fault"] for p in report["problems"]] == ["orphan"]
    assert not (store / "commit.npkj").exists() and not (store / "data_vec.npkd.tmp").exists()
    assert (store / "data_ghost.npkd").exists()


def test_verify_data_checksums(store, tmp_path):
    sums = tmp_path / "sums.json"
    run("verify", store, "--save-checksums", sums, check=0)
    assert _verify(store, "--data", sums)[0] == 0
    saved = json.loads(sums.read_text())["arrays"]
    import hashlib
    with NumPack(store) as npk:
        assert saved["ids"]["sha256"] == hashlib.sha256(npk.load("ids").tobytes()).hexdigest()
    raw = bytearray((store / "data_ids.npkd").read_bytes())
    raw[8] ^= 0xFF  # silent bit rot: sizes stay right
    (store / "data_ids.npkd").write_bytes(bytes(raw))
    status, report, _ = _verify(store)
    assert status == 0  # the structure is fine...
    status, report, _ = _verify(store, "--data", sums)
    assert status == 1 and [(p["fault"], p["path"]) for p in report["problems"]] == [("checksum", "ids")]
    # The checksums read the store read-only: a leftover temporary file is reported, not removed.
    (store / "data_vec.npkd.tmp").write_bytes(b"half")
    before = _files(store)
    status, report, _ = _verify(store, "--data", sums)
    assert status == 1 and [p["fault"] for p in report["problems"]] == ["temp", "checksum"]
    assert _files(store) == before
