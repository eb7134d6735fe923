"""numpack.io: shared helpers, .npy/.npz, CSV/TXT and the zero-copy helpers.

Every round trip compares with the source data through NumPy; the chunked paths are forced
with a tiny ``chunk_size`` and checked by recording what the converters save and append.
"""

import subprocess
import sys
import zipfile

import numpy as np
import pytest

import numpack
import numpack.io as nio
from numpack import LazyArray, NumPack
from numpack.store import NumPack as StoreNumPack

from conftest import DTYPES, random_array


@pytest.fixture
def writes(monkeypatch):
    """Records (kind, name, rows, nbytes) for every save/append a converter makes."""
    log = []
    save, append = StoreNumPack.save, StoreNumPack.append

    def spy_save(self, arrays):
        for k, v in arrays.items():
            a = np.asarray(v)
            log.append(("save", k, a.shape[0] if a.ndim else None, a.nbytes))
        return save(self, arrays)

    def spy_append(self, arrays):
        for k, v in arrays.items():
            a = np.asarray(v)
            log.append(("append", k, a.shape[0], a.nbytes))
        return append(self, arrays)

    monkeypatch.setattr(StoreNumPack, "save", spy_save)
    monkeypatch.setattr(StoreNumPack, "append", spy_append)
    return log


def load_all(path):
    with NumPack(path) as npk:
        return {name: npk.load(name) for name in npk.get_member_list()}


def assert_same(got, want):
    want = np.asarray(want)
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


# -- helpers and the package surface -------------------------------------------------------------
def test_constants_and_error_type():
    assert nio.DEFAULT_CHUNK_SIZE == 100 * 1024 * 1024
    assert nio.LARGE_FILE_THRESHOLD == 1024 ** 3
    assert nio.DEFAULT_BATCH_ROWS == 100_000
    assert issubclass(nio.DependencyError, ImportError)


def test_estimate_chunk_rows():
    assert nio.estimate_chunk_rows((1000, 10), np.float32, 400) == 10
    assert nio.estimate_chunk_rows((1000, 10), np.float32, 1) == 1  # at least one row
    assert nio.estimate_chunk_rows((7, 10), np.float32, 10 ** 9) == 7  # at most the rows
    assert nio.estimate_chunk_rows((10 ** 9,), np.uint8, 10 ** 12) == 10 * nio.DEFAULT_BATCH_ROWS
    assert nio.estimate_chunk_rows((), np.float64) == 1
    assert nio.estimate_chunk_rows((5, 0), np.float64) == nio.DEFAULT_BATCH_ROWS


def test_file_sizes(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 5)
    assert nio.get_file_size(tmp_path / "a") == 10
    assert nio.get_file_size(tmp_path) == 15
    assert nio.get_file_size(tmp_path / "missing") == 0
    assert nio.is_large_file(tmp_path / "a", threshold=9)
    assert not nio.is_large_file(tmp_path / "a", threshold=10)
    assert not nio.is_large_file(tmp_path / "a")


def test_package_functions_are_reexported():
    assert nio.pack is numpack.package.pack
    assert nio.unpack is numpack.package.unpack
    assert nio.get_package_info is numpack.package.get_package_info


def test_exports_and_what_is_left_out():
    for name in nio.__all__:
        assert hasattr(nio, name), name
    for name in ("from_pt", "to_pt", "from_tensor", "to_tensor", "numpy_to_torch_zero_copy",
                 "torch_to_numpy_zero_copy", "from_s3", "to_s3", "from_numpy", "to_numpy",
                 "from_torch", "to_torch", "from_arrow", "to_arrow", "from_pandas", "to_pandas",
                 "from_safetensors", "to_safetensors"):
        assert not hasattr(nio, name), name
    assert nio.from_parquet_file is nio.from_parquet and nio.to_parquet_file is nio.to_parquet
    assert nio.from_feather_file is nio.from_feather and nio.to_feather_file is nio.to_feather


def test_import_needs_no_optional_package():
    code = ("import sys, numpack.io; "
            "print(sorted(m for m in ('h5py', 'zarr', 'pyarrow', 'pandas', 'safetensors') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bad_chunk_size(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            nio.from_npy(tmp_path / "a.npy", tmp_path / "s.npk", chunk_size=bad)


# -- .npy / .npz ------------------------------------------------------------------------------
SHAPES = [(0,), (7,), (13, 3), (5, 2, 3), ()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("chunk_size", [16, nio.DEFAULT_CHUNK_SIZE])
def test_npy_round_trip(tmp_path, rng, dtype, shape, chunk_size):
    a = random_array(rng, dtype, shape)
    np.save(tmp_path / "vectors.npy", a)
    assert nio.from_npy(tmp_path / "vectors.npy", tmp_path / "s.npk", chunk_size=chunk_size) is None
    got = load_all(tmp_path / "s.npk")
    assert list(got) == ["vectors"]  # the file stem
    assert_same(got["vectors"], a)
    nio.to_npy(tmp_path / "s.npk", tmp_path / "out.npy", chunk_size=chunk_size)
    assert_same(np.load(tmp_path / "out.npy"), a)


def test_npy_import_streams_in_chunks(tmp_path, rng, writes):
    a = random_array(rng, "float64", (100, 4))  # 32 bytes a row
    np.save(tmp_path / "a.npy", a)
    nio.from_npy(tmp_path / "a.npy", tmp_path / "s.npk", array_name="x", chunk_size=320)
    assert [w[0] for w in writes] == ["save"] + ["append"] * 9
    assert all(w[1] == "x" and w[2] == 10 and w[3] <= 320 for w in writes)
    assert_same(load_all(tmp_path / "s.npk")["x"], a)
    writes.clear()
    nio.from_npy(tmp_path / "a.npy", tmp_path / "s.npk", array_name="y")
    assert [w[0] for w in writes] == ["save"]


def test_npy_export_streams_in_chunks(tmp_path, rng, monkeypatch):
    a = random_array(rng, "int32", (50, 2))
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a})
    blocks = []
    real = LazyArray.__getitem__

    def spy(self, key):
        out = real(self, key)
        blocks.append((key, out.shape))
        return out

    monkeypatch.setattr(LazyArray, "__getitem__", spy)
    nio.to_npy(tmp_path / "s.npk", tmp_path / "a.npy", chunk_size=40)
    # 40 bytes of 8-byte rows: 5 rows a block, read from one snapshot of the array.
    assert blocks == [(slice(s, s + 5), (5, 2)) for s in range(0, 50, 5)]
    assert_same(np.load(tmp_path / "a.npy"), a)


def test_fortran_ordered_npy(tmp_path, rng):
    a = np.asfortranarray(random_array(rng, "float32", (9, 4)))
    np.save(tmp_path / "f.npy", a)
    nio.from_npy(tmp_path / "f.npy", tmp_path / "s.npk", chunk_size=16)
    assert_same(load_all(tmp_path / "s.npk")["f"], a)


@pytest.mark.parametrize("compressed", [True, False])
@pytest.mark.parametrize("chunk_size", [24, nio.DEFAULT_CHUNK_SIZE])
def test_npz_round_trip(tmp_path, rng, compressed, chunk_size):
    arrays = {
        "emb": random_array(rng, "float32", (20, 3)),
        "ids": random_array(rng, "int64", (20,)),
        "mask": random_array(rng, "bool", (4, 5, 2)),
        "z": random_array(rng, "complex128", (6,)),
        "scalar": np.array(2.5),
    }
    (np.savez_compressed if compressed else np.savez)(tmp_path / "in.npz", **arrays)
    nio.from_npy(tmp_path / "in.npz", tmp_path / "s.npk", array_name="ignored", chunk_size=chunk_size)
    got = load_all(tmp_path / "s.npk")
    assert sorted(got) == sorted(arrays)
    for k, v in arrays.items():
        assert_same(got[k], v)
    nio.to_npy(tmp_path / "s.npk", tmp_path / "out.npz", compressed=compressed, chunk_size=chunk_size)
    with zipfile.ZipFile(tmp_path / "out.npz") as zf:
        want = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
        assert {i.compress_type for i in zf.infolist()} == {want}
    with np.load(tmp_path / "out.npz") as z:
        assert sorted(z.files) == sorted(arrays)
        for k, v in arrays.items():
            assert_same(z[k], v)


def test_npz_member_import_streams(tmp_path, rng, writes):
    a = random_array(rng, "uint16", (64, 2))
    np.savez_compressed(tmp_path / "in.npz", a=a)
    nio.from_npy(tmp_path / "in.npz", tmp_path / "s.npk", chunk_size=64)
    assert [w[2] for w in writes] == [16] * 4 and all(w[3] <= 64 for w in writes)
    assert_same(load_all(tmp_path / "s.npk")["a"], a)


def test_to_npy_choices_and_errors(tmp_path, rng):
    a, b = random_array(rng, "int8", (4,)), random_array(rng, "float16", (3, 2))
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a, "b": b})
    with pytest.raises(ValueError, match="one array"):
        nio.to_npy(tmp_path / "s.npk", tmp_path / "x.npy")
    assert not (tmp_path / "x.npy").exists()
    nio.to_npy(tmp_path / "s.npk", tmp_path / "b.npy", array_names=["b"])
    assert_same(np.load(tmp_path / "b.npy"), b)
    nio.to_npy(tmp_path / "s.npk", tmp_path / "a.npz", array_names="a")
    with np.load(tmp_path / "a.npz") as z:
        assert z.files == ["a"]
    with pytest.raises(KeyError):
        nio.to_npy(tmp_path / "s.npk", tmp_path / "c.npy", array_names=["nope"])
    with pytest.raises(ValueError):
        nio.to_npy(tmp_path / "s.npk", tmp_path / "c.bin")
    with pytest.raises(FileNotFoundError):
        nio.to_npy(tmp_path / "missing.npk", tmp_path / "c.npy")
    assert not (tmp_path / "missing.npk").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npy", "s.npk"]  # no temp files left


def test_from_npy_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        nio.from_npy(tmp_path / "missing.npy", tmp_path / "s.npk")
    assert not (tmp_path / "s.npk").exists()
    (tmp_path / "a.txt").write_text("1 2")
    with pytest.raises(ValueError):
        nio.from_npy(tmp_path / "a.txt", tmp_path / "s.npk")
    np.save(tmp_path / "a.npy", np.arange(3))
    with pytest.raises(ValueError, match="invalid array name"):
        nio.from_npy(tmp_path / "a.npy", tmp_path / "s.npk", array_name="bad/name")


def test_failed_import_leaves_no_partial_array(tmp_path, rng):
    a = random_array(rng, "float64", (100, 2))
    np.save(tmp_path / "a.npy", a)
    raw = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[: len(raw) - 800])  # 50 rows missing
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"keep": np.arange(3)})
    with pytest.raises(ValueError):
        nio.from_npy(tmp_path / "cut.npy", tmp_path / "s.npk", chunk_size=160)
    assert list(load_all(tmp_path / "s.npk")) == ["keep"]


def test_drop_if_exists(tmp_path, rng):
    a = random_array(rng, "int32", (5,))
    np.save(tmp_path / "a.npy", a)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"old": np.arange(4), "a": np.zeros(2)})
    nio.from_npy(tmp_path / "a.npy", tmp_path / "s.npk")
    got = load_all(tmp_path / "s.npk")
    assert sorted(got) == ["a", "old"]  # added to the store; "a" replaced
    assert_same(got["a"], a)
    nio.from_npy(tmp_path / "a.npy", tmp_path / "s.npk", drop_if_exists=True)
    assert list(load_all(tmp_path / "s.npk")) == ["a"]


def test_return_npk_obj(tmp_path, rng):
    a = random_array(rng, "float32", (6, 2))
    np.save(tmp_path / "a.npy", a)
    npk = nio.from_npy(tmp_path / "a.npy", tmp_path / "s.npk", return_npk_obj=True)
    try:
        assert isinstance(npk, NumPack) and npk.is_opened
        assert_same(npk.load("a"), a)
        npk.save({"b": np.arange(2)})  # still writable
    finally:
        npk.close()
    assert sorted(load_all(tmp_path / "s.npk")) == ["a", "b"]


# -- CSV / TXT -------------------------------------------------------------------------------
TEXT_DTYPES = ["bool", "uint8", "int16", "int32", "int64", "uint64", "float16", "float32", "float64", "complex64"]


@pytest.mark.parametrize("dtype", TEXT_DTYPES)
@pytest.mark.parametrize("shape", [(9,), (11, 3), (1, 4), (0,)], ids=str)
@pytest.mark.parametrize("chunk_size", [10, nio.DEFAULT_CHUNK_SIZE])
def test_csv_round_trip(tmp_path, rng, dtype, shape, chunk_size):
    a = random_array(rng, dtype, shape)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a})
    nio.to_csv(tmp_path / "s.npk", tmp_path / "a.csv", chunk_size=chunk_size)
    nio.from_csv(tmp_path / "a.csv", tmp_path / "t.npk", dtype=dtype, chunk_size=chunk_size)
    assert_same(load_all(tmp_path / "t.npk")["a"], a)


@pytest.mark.parametrize("dtype", ["int32", "float64"])
def test_txt_round_trip(tmp_path, rng, dtype):
    a = random_array(rng, dtype, (12, 5))
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"m": a})
    nio.to_txt(tmp_path / "s.npk", tmp_path / "m.txt", chunk_size=50)
    first = (tmp_path / "m.txt").read_text().splitlines()[0]
    assert "," not in first and len(first.split(" ")) == 5
    nio.from_txt(tmp_path / "m.txt", tmp_path / "t.npk", dtype=dtype, chunk_size=50)
    assert_same(load_all(tmp_path / "t.npk")["m"], a)


def test_csv_import_streams(tmp_path, writes):
    rows = np.arange(300, dtype=np.float64).reshape(100, 3)
    np.savetxt(tmp_path / "d.csv", rows, delimiter=",", fmt="%d")
    nio.from_csv(tmp_path / "d.csv", tmp_path / "s.npk", chunk_size=100)
    assert writes[0][0] == "save" and len(writes) > 5
    assert all(w[0] == "append" for w in writes[1:])
    assert_same(load_all(tmp_path / "s.npk")["d"], rows)  # float64 by default


def test_csv_options(tmp_path):
    (tmp_path / "d.csv").write_text("a;b\n# a comment\n1;2\n3;4\n5;6\n7;8\n")
    nio.from_csv(tmp_path / "d.csv", tmp_path / "s.npk", array_name="x", dtype=np.int32, delimiter=";",
                 skiprows=1, max_rows=3, chunk_size=4)
    assert_same(load_all(tmp_path / "s.npk")["x"], np.array([[1, 2], [3, 4], [5, 6]], np.int32))
    nio.from_csv(tmp_path / "d.csv", tmp_path / "s.npk", array_name="y", delimiter=";", skiprows=1,
                 usecols=[1], chunk_size=4)
    assert_same(load_all(tmp_path / "s.npk")["y"], np.array([2.0, 4.0, 6.0, 8.0]))


def test_csv_header_and_fmt(tmp_path):
    a = np.array([[1.5, 2.25], [3.0, 4.0]])
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a})
    nio.to_csv(tmp_path / "s.npk", tmp_path / "a.csv", header="x,y", fmt="%.2f")
    assert (tmp_path / "a.csv").read_text() == "x,y\n1.50,2.25\n3.00,4.00\n"
    nio.from_csv(tmp_path / "a.csv", tmp_path / "t.npk", skiprows=1)
    assert_same(load_all(tmp_path / "t.npk")["a"], a)


def test_csv_errors(tmp_path, rng):
    with pytest.raises(FileNotFoundError):
        nio.from_csv(tmp_path / "missing.csv", tmp_path / "s.npk")
    assert not (tmp_path / "s.npk").exists()
    lines = ["1,2"] * 40 + ["1,2,3"]
    (tmp_path / "ragged.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError):
        nio.from_csv(tmp_path / "ragged.csv", tmp_path / "s.npk", chunk_size=20)
    assert load_all(tmp_path / "s.npk") == {}  # the partial array was dropped
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"cube": random_array(rng, "int8", (2, 2, 2)), "v": np.arange(3)})
    with pytest.raises(ValueError, match="1-D or 2-D"):
        nio.to_csv(tmp_path / "s.npk", tmp_path / "c.csv", array_name="cube")
    with pytest.raises(ValueError, match="pass array_name"):
        nio.to_csv(tmp_path / "s.npk", tmp_path / "c.csv")
    with pytest.raises(KeyError):
        nio.to_csv(tmp_path / "s.npk", tmp_path / "c.csv", array_name="nope")
    assert not (tmp_path / "c.csv").exists()


# -- zero copy -------------------------------------------------------------------------------
def test_dlpack_round_trip_shares_memory():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    back = nio.from_dlpack(nio.to_dlpack(a))
    assert np.shares_memory(a, back)
    assert_same(back, a)
    buf = nio.DLPackBuffer(a)
    assert buf.__dlpack_device__() == (1, 0)
    assert np.shares_memory(np.from_dlpack(buf), a)
    assert np.shares_memory(np.from_dlpack(buf), a)  # an array source can be exported again


def test_dlpack_capsule_is_single_use():
    a = np.arange(4, dtype=np.int64)
    buf = nio.DLPackBuffer(a.__dlpack__())
    assert np.shares_memory(np.from_dlpack(buf), a)
    with pytest.raises(BufferError):
        np.from_dlpack(buf)
    with pytest.raises(TypeError):
        nio.from_dlpack(object())


def test_read_only_and_lazy_arrays_export(tmp_path):
    a = np.arange(6, dtype=np.float64)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a})
        lazy = npk.load("a", lazy=True)
        view = np.asarray(lazy)
        back = nio.from_dlpack(nio.to_dlpack(view))
        assert np.shares_memory(back, view)
        assert_same(back, a)
        zc = nio.wrap_for_zero_copy(lazy)
        assert_same(zc.to_numpy(), a)


def test_numpy_to_arrow_zero_copy():
    import pyarrow as pa
    a = np.arange(10, dtype=np.float32)
    arr = nio.numpy_to_arrow_zero_copy(a)
    assert isinstance(arr, pa.Array) and arr.type == pa.float32()
    assert np.shares_memory(arr.to_numpy(zero_copy_only=True), a)
    m = np.arange(24, dtype=np.int16).reshape(4, 3, 2)
    nested = nio.numpy_to_arrow_zero_copy(m)
    assert len(nested) == 4 and nested.type.list_size == 3 and nested.type.value_type.list_size == 2
    back = nio.arrow_to_numpy_zero_copy(nested)
    assert_same(back, m)
    assert np.shares_memory(back, m)
    b = np.array([True, False, True])
    assert nio.numpy_to_arrow_zero_copy(b).to_pylist() == [True, False, True]  # copied
    with pytest.raises(ValueError):
        nio.numpy_to_arrow_zero_copy(b, strict=True)
    with pytest.raises(ValueError):
        nio.numpy_to_arrow_zero_copy(np.arange(10.0)[::2], strict=True)
    assert nio.numpy_to_arrow_zero_copy(np.arange(10.0)[::2]).to_pylist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    with pytest.raises(TypeError):
        nio.numpy_to_arrow_zero_copy(np.ones(2, np.complex64))
    with pytest.raises(ValueError):
        nio.numpy_to_arrow_zero_copy(np.array(1.0))


def test_arrow_to_numpy_zero_copy():
    import pyarrow as pa
    arr = pa.array(np.arange(5, dtype=np.int64))
    out = nio.arrow_to_numpy_zero_copy(arr)
    assert_same(out, np.arange(5, dtype=np.int64))
    assert out.ctypes.data == arr.buffers()[1].address
    nulls = pa.array([1.0, None, 3.0])
    with pytest.raises(ValueError):
        nio.arrow_to_numpy_zero_copy(nulls, strict=True)
    np.testing.assert_array_equal(nio.arrow_to_numpy_zero_copy(nulls), [1.0, np.nan, 3.0])
    chunked = pa.chunked_array([[1, 2], [3]])
    with pytest.raises(ValueError):
        nio.arrow_to_numpy_zero_copy(chunked, strict=True)
    assert_same(nio.arrow_to_numpy_zero_copy(chunked), np.array([1, 2, 3], dtype=np.int64))
    table = pa.table({"x": np.arange(3, dtype=np.float32), "y": np.arange(3, dtype=np.uint8)})
    assert_same(nio.table_to_numpy_zero_copy(table, "x"), np.arange(3, dtype=np.float32))
    assert_same(nio.table_to_numpy_zero_copy(table, 1), np.arange(3, dtype=np.uint8))
    with pytest.raises(KeyError):
        nio.table_to_numpy_zero_copy(table, "z")


def test_zero_copy_array():
    a = np.arange(8, dtype=np.float64).reshape(4, 2)
    zc = nio.ZeroCopyArray(a)
    assert zc.shape == (4, 2) and zc.dtype == np.float64 and len(zc) == 4 and zc.nbytes == 64
    assert zc.to_numpy() is a
    assert np.shares_memory(np.asarray(zc), a)
    assert not np.shares_memory(np.array(zc, copy=True), a)
    assert np.shares_memory(np.from_dlpack(zc), a)
    assert np.shares_memory(nio.from_dlpack(zc.to_dlpack()), a)
    assert_same(nio.arrow_to_numpy_zero_copy(zc.to_arrow()), a)
    assert "ZeroCopyArray" in repr(zc)
    with pytest.raises(TypeError):
        nio.ZeroCopyArray(np.array(["a", object()], dtype=object))
