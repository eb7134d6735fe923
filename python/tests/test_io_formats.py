"""numpack.io converters that need optional packages: HDF5 (h5py), zarr, Parquet / Feather /
Arrow tables (pyarrow), pandas and safetensors. All of them are installed by scripts/setup.sh,
so nothing here is skipped; a missing package is simulated by hiding its module."""

import json
import struct
import sys

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import safetensors.numpy as stnp
import zarr

import numpack.io as nio
from numpack import NumPack

from conftest import DTYPES, random_array
from test_io import assert_same, load_all, writes  # noqa: F401  (writes is a fixture)


def store_with(path, **arrays):
    with NumPack(path) as npk:
        npk.save(arrays)
    return path


SHAPES = [(0,), (7,), (13, 3), (5, 2, 3), ()]


# -- missing optional packages -------------------------------------------------------------------
def _call(fn, tmp_path):
    src = store_with(tmp_path / "s.npk", a=np.arange(4.0))
    (tmp_path / "f.bin").write_bytes(b"\0" * 16)
    f = tmp_path / "f.bin"
    table_like = object()
    calls = {
        "from_hdf5": lambda: nio.from_hdf5(f, tmp_path / "o.npk"),
        "to_hdf5": lambda: nio.to_hdf5(src, tmp_path / "o.h5"),
        "from_zarr": lambda: nio.from_zarr(f, tmp_path / "o.npk"),
        "to_zarr": lambda: nio.to_zarr(src, tmp_path / "o.zarr"),
        "from_parquet": lambda: nio.from_parquet(f, tmp_path / "o.npk"),
        "to_parquet": lambda: nio.to_parquet(src, tmp_path / "o.parquet"),
        "from_feather": lambda: nio.from_feather(f, tmp_path / "o.npk"),
        "to_feather": lambda: nio.to_feather(src, tmp_path / "o.feather"),
        "from_table": lambda: nio.from_table(table_like, tmp_path / "o.npk"),
        "to_table": lambda: nio.to_table(src),
        "to_parquet_table": lambda: nio.to_parquet_table(src),
        "numpy_to_arrow_zero_copy": lambda: nio.numpy_to_arrow_zero_copy(np.arange(3)),
        "from_dataframe": lambda: nio.from_dataframe(table_like, tmp_path / "o.npk"),
        "to_dataframe": lambda: nio.to_dataframe(src),
        "from_safetensors_file": lambda: nio.from_safetensors_file(f, tmp_path / "o.npk"),
        "iter_safetensors": lambda: list(nio.iter_safetensors(f)),
        "get_safetensors_metadata": lambda: nio.get_safetensors_metadata(f),
    }
    return calls[fn]()


@pytest.mark.parametrize("modules,fn", [
    (["h5py"], "from_hdf5"), (["h5py"], "to_hdf5"),
    (["zarr"], "from_zarr"), (["zarr"], "to_zarr"),
    (["pyarrow", "pyarrow.parquet"], "from_parquet"), (["pyarrow", "pyarrow.parquet"], "to_parquet"),
    (["pyarrow"], "from_feather"), (["pyarrow"], "to_feather"), (["pyarrow"], "from_table"),
    (["pyarrow"], "to_table"), (["pyarrow"], "to_parquet_table"), (["pyarrow"], "numpy_to_arrow_zero_copy"),
    (["pandas"], "from_dataframe"), (["pandas"], "to_dataframe"),
    (["safetensors"], "from_safetensors_file"), (["safetensors"], "iter_safetensors"),
    (["safetensors"], "get_safetensors_metadata"),
])
def test_missing_dependency(tmp_path, monkeypatch, modules, fn):
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)  # makes `import m` raise ImportError
    with pytest.raises(nio.DependencyError, match=f"pip install {modules[0]}") as info:
        _call(fn, tmp_path)
    assert isinstance(info.value, ImportError)
    assert not (tmp_path / "o.npk").exists()


# -- HDF5 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_hdf5_round_trip(tmp_path, rng, dtype, shape):
    a = random_array(rng, dtype, shape)
    src = store_with(tmp_path / "s.npk", a=a, b=random_array(rng, dtype, (3,)))
    nio.to_hdf5(src, tmp_path / "d.h5", chunk_size=24)
    with h5py.File(tmp_path / "d.h5", "r") as h5:
        assert sorted(h5.keys()) == ["a", "b"]
        assert_same(np.asarray(h5["a"][()]), a)
    nio.from_hdf5(tmp_path / "d.h5", tmp_path / "t.npk", chunk_size=24)
    got = load_all(tmp_path / "t.npk")
    assert sorted(got) == ["a", "b"]
    assert_same(got["a"], a)


def test_hdf5_streams_both_ways(tmp_path, rng, writes):
    a = random_array(rng, "float32", (40, 4))  # 16 bytes a row
    with h5py.File(tmp_path / "d.h5", "w") as h5:
        h5["x"] = a
    nio.from_hdf5(tmp_path / "d.h5", tmp_path / "s.npk", chunk_size=160)
    assert [w[:3] for w in writes] == [("save", "x", 10)] + [("append", "x", 10)] * 3
    nio.to_hdf5(tmp_path / "s.npk", tmp_path / "e.h5", compression=None, chunk_size=160)
    with h5py.File(tmp_path / "e.h5", "r") as h5:
        assert h5["x"].compression is None
        assert_same(h5["x"][()], a)


def test_hdf5_groups_and_names(tmp_path, rng):
    a, b, c = (random_array(rng, "int16", (4, 2)) for _ in range(3))
    with h5py.File(tmp_path / "d.h5", "w") as h5:
        h5["top"] = a
        h5["exp/run1/w"] = b
        h5["exp/v"] = c
    nio.from_hdf5(tmp_path / "d.h5", tmp_path / "s.npk")
    assert list(load_all(tmp_path / "s.npk")) == ["top"]  # datasets directly in the group
    nio.from_hdf5(tmp_path / "d.h5", tmp_path / "g.npk", group="/exp")
    assert list(load_all(tmp_path / "g.npk")) == ["v"]
    nio.from_hdf5(tmp_path / "d.h5", tmp_path / "n.npk", dataset_names=["run1/w", "v"], group="exp")
    got = load_all(tmp_path / "n.npk")
    assert sorted(got) == ["run1.w", "v"]
    assert_same(got["run1.w"], b)
    with pytest.raises(KeyError):
        nio.from_hdf5(tmp_path / "d.h5", tmp_path / "x.npk", dataset_names=["nope"])
    with pytest.raises(KeyError):
        nio.from_hdf5(tmp_path / "d.h5", tmp_path / "x.npk", group="/nope")
    with pytest.raises(FileNotFoundError):
        nio.from_hdf5(tmp_path / "missing.h5", tmp_path / "x.npk")
    nio.to_hdf5(tmp_path / "n.npk", tmp_path / "o.h5", array_names=["v"], group="/deep/er")
    with h5py.File(tmp_path / "o.h5", "r") as h5:
        assert_same(h5["deep/er/v"][()], c)
        assert list(h5["deep/er"].keys()) == ["v"]
    with pytest.raises(KeyError):
        nio.to_hdf5(tmp_path / "n.npk", tmp_path / "p.h5", array_names=["nope"])
    assert not (tmp_path / "p.h5").exists()


def test_hdf5_drop_if_exists_and_return_npk_obj(tmp_path, rng):
    a = random_array(rng, "float64", (5, 2))
    with h5py.File(tmp_path / "d.h5", "w") as h5:
        h5["a"] = a
    store_with(tmp_path / "s.npk", old=np.arange(2))
    npk = nio.from_hdf5(tmp_path / "d.h5", tmp_path / "s.npk", return_npk_obj=True)
    try:
        assert npk.is_opened and sorted(npk.get_member_list()) == ["a", "old"]
    finally:
        npk.close()
    assert nio.from_hdf5(tmp_path / "d.h5", tmp_path / "s.npk", drop_if_exists=True) is None
    assert list(load_all(tmp_path / "s.npk")) == ["a"]


# -- zarr ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_zarr_round_trip(tmp_path, rng, dtype, shape):
    a = random_array(rng, dtype, shape)
    src = store_with(tmp_path / "s.npk", a=a)
    nio.to_zarr(src, tmp_path / "d.zarr", chunk_size=24)
    assert_same(np.asarray(zarr.open_group(str(tmp_path / "d.zarr"), mode="r")["a"][()]), a)
    nio.from_zarr(tmp_path / "d.zarr", tmp_path / "t.npk", chunk_size=24)
    assert_same(load_all(tmp_path / "t.npk")["a"], a)


def test_zarr_streams_groups_and_single_arrays(tmp_path, rng, writes):
    a = random_array(rng, "int32", (30, 2))  # 8 bytes a row
    b = random_array(rng, "uint8", (6,))
    root = zarr.open_group(str(tmp_path / "d.zarr"), mode="w")
    root.create_array("a", shape=a.shape, dtype=a.dtype, chunks=(7, 2))[:] = a
    root.require_group("sub").create_array("b", shape=b.shape, dtype=b.dtype)[:] = b
    nio.from_zarr(tmp_path / "d.zarr", tmp_path / "s.npk", chunk_size=80)
    assert [w[:3] for w in writes] == [("save", "a", 10)] + [("append", "a", 10)] * 2
    assert list(load_all(tmp_path / "s.npk")) == ["a"]
    nio.from_zarr(tmp_path / "d.zarr", tmp_path / "g.npk", group="sub")
    assert_same(load_all(tmp_path / "g.npk")["b"], b)
    nio.from_zarr(tmp_path / "d.zarr", tmp_path / "n.npk", array_names=["sub/b", "a"])
    got = load_all(tmp_path / "n.npk")
    assert sorted(got) == ["a", "sub.b"]
    assert_same(got["sub.b"], b)
    lone = zarr.open_array(str(tmp_path / "lone.zarr"), mode="w", shape=a.shape, dtype=a.dtype)
    lone[:] = a
    nio.from_zarr(tmp_path / "lone.zarr", tmp_path / "l.npk")
    assert_same(load_all(tmp_path / "l.npk")["lone"], a)
    with pytest.raises(KeyError):
        nio.from_zarr(tmp_path / "d.zarr", tmp_path / "x.npk", array_names=["nope"])
    with pytest.raises(FileNotFoundError):
        nio.from_zarr(tmp_path / "missing.zarr", tmp_path / "x.npk")


def test_to_zarr_options(tmp_path, rng):
    a = random_array(rng, "float32", (20, 3))
    src = store_with(tmp_path / "s.npk", a=a, b=np.arange(5))
    nio.to_zarr(src, tmp_path / "d.zarr", array_names=["a"], group="g", chunks=(4, 3))
    grp = zarr.open_group(str(tmp_path / "d.zarr"), mode="r")["g"]
    assert list(grp.array_keys()) == ["a"] and grp["a"].chunks == (4, 3)
    assert_same(grp["a"][:], a)
    store_with(src, a=a[:5])  # exporting again replaces the zarr array
    nio.to_zarr(src, tmp_path / "d.zarr", array_names="a", group="g")
    assert_same(zarr.open_group(str(tmp_path / "d.zarr"), mode="r")["g/a"][:], a[:5])


# -- Parquet / Feather / tables ----------------------------------------------------------------
ARROW_DTYPES = [d for d in DTYPES if not d.startswith("complex")]


@pytest.mark.parametrize("dtype", ARROW_DTYPES)
@pytest.mark.parametrize("shape", [(0,), (9,), (11, 3), (6, 2, 3), (0, 2, 2)], ids=str)
@pytest.mark.parametrize("fmt", ["parquet", "feather"])
def test_parquet_feather_round_trip(tmp_path, rng, dtype, shape, fmt):
    a = random_array(rng, dtype, shape)
    src = store_with(tmp_path / "s.npk", a=a)
    to_fn, from_fn = (nio.to_parquet, nio.from_parquet) if fmt == "parquet" else (nio.to_feather, nio.from_feather)
    path = tmp_path / f"data.{fmt}"
    to_fn(src, path, chunk_size=40)
    from_fn(path, tmp_path / "t.npk", chunk_size=40)
    assert_same(load_all(tmp_path / "t.npk")["data"], a)  # named after the file stem


def test_exported_tables_are_plain_arrow(tmp_path, rng):
    v = random_array(rng, "float64", (8,))
    m = random_array(rng, "int32", (8, 3))
    c = random_array(rng, "uint8", (8, 2, 2))
    src = store_with(tmp_path / "s.npk", v=v, m=m, c=c)
    nio.to_parquet(src, tmp_path / "v.parquet", array_name="v")
    assert pq.read_table(tmp_path / "v.parquet").column_names == ["data"]
    assert_same(pq.read_table(tmp_path / "v.parquet")["data"].to_numpy(), v)
    nio.to_feather(src, tmp_path / "m.feather", array_name="m", compression=None)
    t = feather.read_table(tmp_path / "m.feather")
    assert t.column_names == ["col0", "col1", "col2"]
    assert_same(t["col2"].to_numpy(), m[:, 2])
    nio.to_parquet(src, tmp_path / "c.parquet", array_name="c", compression="zstd")
    meta = pq.read_schema(tmp_path / "c.parquet").metadata
    assert json.loads(meta[b"numpack.row_shape"]) == [2, 2]


def test_parquet_streams_both_ways(tmp_path, rng, writes):
    a = random_array(rng, "float32", (100, 2))  # 8 bytes a row
    pq.write_table(pa.table({"x": a[:, 0], "y": a[:, 1]}), tmp_path / "d.parquet", row_group_size=30)
    nio.from_parquet(tmp_path / "d.parquet", tmp_path / "s.npk", array_name="a", chunk_size=200)
    assert writes[0][:3] == ("save", "a", 25) and len(writes) == 4
    assert_same(load_all(tmp_path / "s.npk")["a"], a)
    nio.to_parquet(tmp_path / "s.npk", tmp_path / "o.parquet", chunk_size=200, row_group_size=5)
    assert pq.ParquetFile(tmp_path / "o.parquet").metadata.num_row_groups == 20  # 4 blocks of 25 rows
    nio.to_feather(tmp_path / "s.npk", tmp_path / "o.feather", chunk_size=200)
    writes.clear()
    nio.from_feather(tmp_path / "o.feather", tmp_path / "f.npk", chunk_size=80)
    assert [w[2] for w in writes] == [10, 10, 5] * 4  # each 25-row record batch, cut to 10 rows
    assert_same(load_all(tmp_path / "f.npk")["o"], a)


def test_columns_and_common_dtype(tmp_path):
    table = pa.table({"i": np.arange(5, dtype=np.int32), "f": np.linspace(0, 1, 5).astype(np.float32),
                      "u": np.arange(5, dtype=np.uint8)})
    pq.write_table(table, tmp_path / "d.parquet")
    feather.write_feather(table, tmp_path / "d.feather")
    for fn, path in ((nio.from_parquet, "d.parquet"), (nio.from_feather, "d.feather")):
        fn(tmp_path / path, tmp_path / "s.npk", array_name="all")
        fn(tmp_path / path, tmp_path / "s.npk", array_name="two", columns=["u", "i"])
        fn(tmp_path / path, tmp_path / "s.npk", array_name="one", columns=["f"])
        got = load_all(tmp_path / "s.npk")
        want = np.stack([np.arange(5), np.linspace(0, 1, 5).astype(np.float32), np.arange(5)], axis=1)
        assert_same(got["all"], want.astype(np.float64))  # int32 + float32 -> float64
        assert_same(got["two"], np.stack([np.arange(5), np.arange(5)], axis=1).astype(np.int32))
        assert_same(got["one"], np.linspace(0, 1, 5).astype(np.float32))
        with pytest.raises(KeyError):
            fn(tmp_path / path, tmp_path / "s.npk", columns=["nope"])


def test_table_conversion_errors(tmp_path):
    pq.write_table(pa.table({"s": ["a", "b"]}), tmp_path / "s.parquet")
    with pytest.raises(TypeError):
        nio.from_parquet(tmp_path / "s.parquet", tmp_path / "x.npk")
    pq.write_table(pa.table({"i": pa.array([1, None], pa.int64())}), tmp_path / "n.parquet")
    with pytest.raises(ValueError, match="nulls"):
        nio.from_parquet(tmp_path / "n.parquet", tmp_path / "x.npk")
    assert load_all(tmp_path / "x.npk") == {}
    pq.write_table(pa.table({"f": pa.array([1.5, None], pa.float64())}), tmp_path / "f.parquet")
    nio.from_parquet(tmp_path / "f.parquet", tmp_path / "x.npk")
    np.testing.assert_array_equal(load_all(tmp_path / "x.npk")["f"], [1.5, np.nan])
    with pytest.raises(FileNotFoundError):
        nio.from_parquet(tmp_path / "missing.parquet", tmp_path / "y.npk")
    with pytest.raises(FileNotFoundError):
        nio.from_feather(tmp_path / "missing.feather", tmp_path / "y.npk")
    assert not (tmp_path / "y.npk").exists()
    src = store_with(tmp_path / "s.npk", z=np.ones(3, np.complex64), a=np.arange(3))
    with pytest.raises(TypeError):
        nio.to_parquet(src, tmp_path / "z.parquet", array_name="z")
    assert not (tmp_path / "z.parquet").exists()
    with pytest.raises(ValueError, match="pass array_name"):
        nio.to_feather(src, tmp_path / "z.feather")
    with pytest.raises(TypeError):
        nio.from_table([1, 2], tmp_path / "y.npk")


@pytest.mark.parametrize("kind", ["table", "batch", "array", "chunked"])
def test_from_table_inputs(tmp_path, rng, kind):
    v = random_array(rng, "int64", (12,))
    data = {"table": pa.table({"v": v}), "batch": pa.record_batch({"v": v}), "array": pa.array(v),
            "chunked": pa.chunked_array([v[:5], v[5:]])}[kind]
    nio.from_table(data, tmp_path / "s.npk", chunk_size=16)
    assert_same(load_all(tmp_path / "s.npk")["data"], v)


def test_table_round_trips(tmp_path, rng):
    m = random_array(rng, "float32", (10, 4))
    c = random_array(rng, "int16", (10, 3, 2))
    src = store_with(tmp_path / "s.npk", m=m, c=c)
    t = nio.to_table(src, array_name="m")
    assert isinstance(t, pa.Table) and t.column_names == ["col0", "col1", "col2", "col3"]
    npk = nio.from_table(t, tmp_path / "t.npk", array_name="m2", return_npk_obj=True)
    try:
        assert_same(npk.load("m2"), m)
    finally:
        npk.close()
    pt = nio.to_parquet_table(src, array_name="c")
    pq.write_table(pt, tmp_path / "c.parquet")
    nio.from_parquet_table(pq.read_table(tmp_path / "c.parquet"), tmp_path / "t.npk", array_name="c2", chunk_size=12)
    assert_same(load_all(tmp_path / "t.npk")["c2"], c)
    with pytest.raises(ValueError, match="pass array_name"):
        nio.to_table(src)
    with pytest.raises(KeyError):
        nio.to_table(src, array_name="nope")


def test_arrow_drop_if_exists(tmp_path):
    pq.write_table(pa.table({"x": np.arange(3.0)}), tmp_path / "d.parquet")
    store_with(tmp_path / "s.npk", old=np.arange(2))
    nio.from_parquet(tmp_path / "d.parquet", tmp_path / "s.npk")
    assert sorted(load_all(tmp_path / "s.npk")) == ["d", "old"]
    nio.from_parquet(tmp_path / "d.parquet", tmp_path / "s.npk", drop_if_exists=True)
    assert list(load_all(tmp_path / "s.npk")) == ["d"]


# -- pandas ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint32", "int64", "float32", "float64", "complex128"])
def test_dataframe_round_trip(tmp_path, rng, dtype):
    a = random_array(rng, dtype, (25, 3))
    df = pd.DataFrame(a, columns=["x", "y", "z"])
    nio.from_dataframe(df, tmp_path / "s.npk", chunk_size=40)
    assert_same(load_all(tmp_path / "s.npk")["data"], a)
    back = nio.to_dataframe(tmp_path / "s.npk", columns=["x", "y", "z"])
    pd.testing.assert_frame_equal(back, df)
    assert list(nio.to_dataframe(tmp_path / "s.npk").columns) == ["col0", "col1", "col2"]


def test_dataframe_details(tmp_path, rng, writes):
    df = pd.DataFrame({"a": np.arange(10, dtype=np.int32), "b": np.linspace(0, 1, 10)})
    npk = nio.from_dataframe(df, tmp_path / "s.npk", array_name="frame", chunk_size=48, return_npk_obj=True)
    try:
        assert [w[2] for w in writes] == [3, 3, 3, 1]
        assert_same(npk.load("frame"), df.to_numpy())
    finally:
        npk.close()
    nio.from_dataframe(df.iloc[:0], tmp_path / "e.npk")
    assert load_all(tmp_path / "e.npk")["data"].shape == (0, 2)
    store_with(tmp_path / "v.npk", v=np.arange(4.0))
    assert list(nio.to_dataframe(tmp_path / "v.npk")["data"]) == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(TypeError):
        nio.from_dataframe(pd.DataFrame({"s": ["a", "b"]}), tmp_path / "x.npk")
    with pytest.raises(TypeError):
        nio.from_dataframe(np.arange(3), tmp_path / "x.npk")
    store_with(tmp_path / "c.npk", c=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError):
        nio.to_dataframe(tmp_path / "c.npk")
    with pytest.raises(ValueError):
        nio.to_dataframe(tmp_path / "s.npk", columns=["only_one"])
    nio.from_dataframe(df, tmp_path / "s.npk", drop_if_exists=True)
    assert list(load_all(tmp_path / "s.npk")) == ["data"]


# -- safetensors -----------------------------------------------------------------------------
ST_DTYPES = [d for d in DTYPES if d != "complex128"]


@pytest.mark.parametrize("dtype", ST_DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_safetensors_round_trip(tmp_path, rng, dtype, shape):
    a = random_array(rng, dtype, shape)
    b = random_array(rng, "float64", (3, 2))
    src = store_with(tmp_path / "s.npk", a=a, b=b)
    nio.to_safetensors_file(src, tmp_path / "m.safetensors", chunk_size=16)
    loaded = stnp.load_file(str(tmp_path / "m.safetensors"))  # the reference reader agrees
    assert sorted(loaded) == ["a", "b"]
    assert_same(loaded["a"], a)
    assert_same(loaded["b"], b)
    nio.from_safetensors_file(tmp_path / "m.safetensors", tmp_path / "t.npk", chunk_size=16)
    got = load_all(tmp_path / "t.npk")
    assert_same(got["a"], a)
    assert_same(got["b"], b)


def test_safetensors_golden_bytes(tmp_path):
    src = store_with(tmp_path / "s.npk", w=np.array([1, 2], np.int16), b=np.array([True]))
    nio.to_safetensors_file(src, tmp_path / "g.safetensors", metadata={"k": "v"})
    header = b'{"__metadata__":{"k":"v"},"w":{"dtype":"I16","shape":[2],"data_offsets":[0,4]},' \
             b'"b":{"dtype":"BOOL","shape":[1],"data_offsets":[4,5]}}'
    header += b" " * (-len(header) % 8)
    want = struct.pack("<Q", len(header)) + header + b"\x01\x00\x02\x00" + b"\x01"
    assert (tmp_path / "g.safetensors").read_bytes() == want


def test_safetensors_import_streams_and_selects(tmp_path, rng, writes):
    w = random_array(rng, "float32", (32, 4))  # 16 bytes a row
    stnp.save_file({"layer.w": w, "layer.b": np.arange(4, dtype=np.float32)}, str(tmp_path / "m.safetensors"),
                   metadata={"format": "np"})
    nio.from_safetensors_file(tmp_path / "m.safetensors", tmp_path / "s.npk", keys=["layer.w"], chunk_size=128)
    assert [w_[:3] for w_ in writes] == [("save", "layer.w", 8)] + [("append", "layer.w", 8)] * 3
    assert list(load_all(tmp_path / "s.npk")) == ["layer.w"]
    assert_same(load_all(tmp_path / "s.npk")["layer.w"], w)
    meta = nio.get_safetensors_metadata(tmp_path / "m.safetensors")
    assert meta["metadata"] == {"format": "np"}
    assert meta["tensors"]["layer.w"] == {"shape": [32, 4], "dtype": "F32"}
    assert dict(nio.iter_safetensors(tmp_path / "m.safetensors", keys="layer.b"))["layer.b"].tolist() == [0, 1, 2, 3]
    assert sorted(k for k, _ in nio.iter_safetensors(tmp_path / "m.safetensors")) == ["layer.b", "layer.w"]
    with pytest.raises(KeyError):
        nio.from_safetensors_file(tmp_path / "m.safetensors", tmp_path / "x.npk", keys=["nope"])
    with pytest.raises(FileNotFoundError):
        nio.from_safetensors_file(tmp_path / "missing.safetensors", tmp_path / "x.npk")


def test_safetensors_export_options_and_errors(tmp_path, rng):
    a = random_array(rng, "int32", (5, 2))
    src = store_with(tmp_path / "s.npk", a=a, z=np.ones(2, np.complex128))
    nio.to_safetensors_file(src, tmp_path / "a.safetensors", array_names=["a"], metadata={"m": "1"})
    assert nio.get_safetensors_metadata(tmp_path / "a.safetensors")["metadata"] == {"m": "1"}
    with pytest.raises(TypeError):
        nio.to_safetensors_file(src, tmp_path / "z.safetensors")
    with pytest.raises(TypeError):
        nio.to_safetensors_file(src, tmp_path / "z.safetensors", array_names=["a"], metadata={"m": 1})
    with pytest.raises(KeyError):
        nio.to_safetensors_file(src, tmp_path / "z.safetensors", array_names=["nope"])
    assert not (tmp_path / "z.safetensors").exists()


def test_tensor_dicts(tmp_path, rng):
    tensors = {"w": random_array(rng, "float16", (4, 4)), "b": random_array(rng, "int8", (4,))}
    npk = nio.from_tensor_dict(tensors, tmp_path / "s.npk", return_npk_obj=True)
    try:
        assert sorted(npk.get_member_list()) == ["b", "w"]
    finally:
        npk.close()
    back = nio.to_tensor_dict(tmp_path / "s.npk")
    assert sorted(back) == ["b", "w"]
    for k in tensors:
        assert_same(back[k], tensors[k])
    assert list(nio.to_tensor_dict(tmp_path / "s.npk", array_names=["w"])) == ["w"]
    nio.from_tensor_dict({"x": [1.0, 2.0]}, tmp_path / "s.npk", drop_if_exists=True)
    assert list(nio.to_tensor_dict(tmp_path / "s.npk")) == ["x"]
    with pytest.raises(TypeError):
        nio.from_tensor_dict([np.arange(2)], tmp_path / "s.npk")
    with pytest.raises(KeyError):
        nio.to_tensor_dict(tmp_path / "s.npk", array_names=["nope"])
