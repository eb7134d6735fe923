"""Upstream NumPack 0.7's public API, as its users call it (checked against its published source):
pack/unpack with target= and overwrite=, get_package_info, packages of stores with dropped rows,
from_csv/to_csv with header=, return_npk_obj=, DLPack on what load returns, strict context mode
and closed-store messages, nested batch_mode(), empty arrays in writable_batch_mode()."""

import numpy as np
import pytest

import numpack
from numpack import NumPack, get_package_info, pack, unpack
from numpack import io as nio


def _store(path, **arrays):
    with NumPack(path) as npk:
        npk.save(arrays)
    return path


def test_pack_and_unpack_take_target_and_overwrite(tmp_path):
    src = _store(tmp_path / "s.npk", a=np.arange(10))
    out = pack(src, target=tmp_path / "out")
    assert out == tmp_path / "out.npkg" and out.is_file()  # a target without suffix gets .npkg
    with pytest.raises(FileExistsError):
        pack(src, target=out)
    before = out.read_bytes()
    _store(src, a=np.arange(20))
    assert pack(src, target=out, overwrite=True) == out and out.read_bytes() != before
    restored = unpack(out, target=tmp_path / "r.npk")
    with pytest.raises(FileExistsError):
        unpack(out, target=restored)
    assert unpack(source=out, target=restored, overwrite=True) == restored
    with NumPack(restored) as npk:
        np.testing.assert_array_equal(npk.load("a"), np.arange(20))
    # Our earlier keyword names still work.
    assert pack(input_path=src, output_path=tmp_path / "k.npkg") == tmp_path / "k.npkg"


def test_missing_sources_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        pack(tmp_path / "missing.npk")
    with pytest.raises(FileNotFoundError):
        unpack(tmp_path / "missing.npkg")
    with pytest.raises(FileNotFoundError):
        get_package_info(tmp_path / "missing.npkg")
    assert not (tmp_path / "missing.npk").exists() and not (tmp_path / "missing.npkg").exists()


def test_package_info_reports_a_compression_ratio(tmp_path):
    src = _store(tmp_path / "s.npk", zeros=np.zeros(50_000), noise=np.random.default_rng(0).random(1000))
    info = get_package_info(pack(src))
    files = {f["name"]: f for f in info["files"]}
    assert set(files) == {"metadata.npkm", "data_zeros.npkd", "data_noise.npkd"}
    stored = sum(f["compressed_size"] or f["original_size"] for f in files.values())
    original = sum(f["original_size"] for f in files.values())
    assert original == sum((src / n).stat().st_size for n in files)
    assert info["total_original_size"] == original and info["total_compressed_size"] == stored
    assert info["compression_ratio"] == pytest.approx(stored / original) and info["compression_ratio"] < 0.2
    raw = get_package_info(pack(src, tmp_path / "raw.npkg", compression=False))
    assert raw["compression_name"] == "none" and raw["compression_ratio"] == 1.0


def test_packages_keep_dropped_rows_dropped(tmp_path):
    rows = np.arange(40.0).reshape(10, 4)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": rows, "b": np.arange(5)})
        npk.drop("a", [0, 3, 9])
    restored = unpack(pack(tmp_path / "s.npk"), tmp_path / "r.npk")
    with NumPack(restored) as npk:
        np.testing.assert_array_equal(npk.load("a"), np.delete(rows, [0, 3, 9], axis=0))
        np.testing.assert_array_equal(npk.load("a", lazy=True)[:], np.delete(rows, [0, 3, 9], axis=0))
        assert npk.get_shape("a") == (7, 4)
        npk.update("a")
        np.testing.assert_array_equal(npk.load("a"), np.delete(rows, [0, 3, 9], axis=0))


def test_csv_header_and_return_npk_obj(tmp_path):
    data = np.arange(12.0).reshape(4, 3)
    src = _store(tmp_path / "s.npk", m=data)
    nio.to_csv(src, tmp_path / "m.csv", header=True)
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert lines[0] == "# col0,col1,col2" and len(lines) == 5
    npk = nio.from_csv(tmp_path / "m.csv", tmp_path / "back.npk", return_npk_obj=True)
    try:
        assert npk.is_opened
        np.testing.assert_array_equal(npk.load("m"), data)
    finally:
        npk.close()
    (tmp_path / "named.csv").write_text("x,y,z\n" + "\n".join(",".join(map(str, r)) for r in data) + "\n")
    with pytest.raises(ValueError):
        nio.from_csv(tmp_path / "named.csv", tmp_path / "bad.npk")  # the header is not numbers
    nio.from_csv(tmp_path / "named.csv", tmp_path / "named.npk", header=0)
    with NumPack(tmp_path / "named.npk") as npk:
        np.testing.assert_array_equal(npk.load("named"), data)
    nio.to_csv(src, tmp_path / "plain.csv", header=False)
    assert (tmp_path / "plain.csv").read_text().splitlines()[0] == "0,1,2"
    for fn, path in ((nio.from_npy, tmp_path / "a.npy"),):
        np.save(path, data)
        obj = fn(path, tmp_path / "ret.npk", return_npk_obj=True)
        assert isinstance(obj, NumPack) and obj.is_opened
        np.testing.assert_array_equal(obj.load("a"), data)
        obj.close()


def test_dlpack_on_eager_and_lazy_loads(tmp_path):
    data = np.arange(24, dtype=np.float32).reshape(6, 4)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": data})
        eager = npk.load("a")
        back = np.from_dlpack(eager)
        assert np.shares_memory(back, eager)
        lazy = npk.load("a", lazy=True)
        assert lazy.__dlpack_device__() == (1, 0)
        view = np.from_dlpack(lazy)
        np.testing.assert_array_equal(view, data)
        assert np.shares_memory(view, np.asarray(lazy))  # zero-copy over the mapping
        assert not view.flags.writeable
        # The zero-copy helpers take a LazyArray too.
        np.testing.assert_array_equal(nio.from_dlpack(nio.to_dlpack(np.asarray(lazy))), data)
        npk.drop("a", [1])
        dropped = npk.load("a", lazy=True)
        np.testing.assert_array_equal(np.from_dlpack(dropped), np.delete(data, 1, axis=0))
        with pytest.raises(BufferError):
            dropped.__dlpack__(copy=False, max_version=(1, 0))


def test_closed_and_strict_messages_use_upstreams_words(tmp_path):
    npk = NumPack(tmp_path / "s.npk")
    with pytest.raises(RuntimeError, match="is not opened or has been closed"):
        npk.load("a")
    strict = NumPack(tmp_path / "s.npk", strict_context_mode=True)
    strict.open()
    with pytest.raises(RuntimeError, match="is in strict context mode"):
        strict.get_member_list()
    with strict:
        assert strict.get_member_list() == []
    strict.close()
    assert issubclass(numpack.StoreClosedError, numpack.NumPackError)


def test_nested_batch_mode_writes_on_leaving_and_joins_the_outer(tmp_path):
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": np.zeros(5)})
        with npk.batch_mode():
            a = npk.load("a")
            a[0] = 1
            npk.save({"a": a})
            with npk.batch_mode():
                inner = npk.load("a")
                assert inner is a  # the nested block shares the outer cache
                inner[1] = 2
                npk.save({"a": inner})
            with NumPack(tmp_path / "s.npk") as other:  # written when the inner block was left
                np.testing.assert_array_equal(other.load("a"), [1, 2, 0, 0, 0])
            a[2] = 3
            npk.save({"a": a})
        np.testing.assert_array_equal(npk.load("a"), [1, 2, 3, 0, 0])


def test_empty_arrays_in_writable_batch_mode(tmp_path):
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"e": np.zeros((0, 3), np.float32), "f": np.ones(4)})
        with npk.writable_batch_mode() as wb:
            e = wb.load("e")
            assert e.shape == (0, 3) and e.dtype == np.float32
            f = wb.load("f")
            f[:] = 7
        assert npk.get_shape("e") == (0, 3)
        np.testing.assert_array_equal(npk.load("f"), np.full(4, 7.0))
