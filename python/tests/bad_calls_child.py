"""The child process of test_bad_calls.py: runs bad calls against one store, reporting each.

Usage: ``python bad_calls_child.py WORKDIR FIRST`` runs the cases from index FIRST on. Each case
prints ``S <i>`` before it starts and ``E <i> ok`` or ``E <i> FAIL <why>`` when done, flushed,
so that the parent sees which case a crash (signal, abort) or a hang happened in, and starts a
new child after it. ``L <n>`` first gives the number of cases.

A case is ``(id, mode, code)``: ``code`` runs with the names of :func:`scope` in scope.
``raise``: the call must raise one of the documented exception types and leave the store
folder byte-for-byte unchanged. ``either``: hostile input a library may accept; if it
raises, as for ``raise``; if not, the code's own asserts check the result against NumPy (and
the store is then put back as it was before the next case).
"""

import os
import shutil
import sys
import traceback
from pathlib import Path

import numpy as np

import numpack
import numpack.io as nio
from numpack import LazyArray, NumPack, NumPackError

#: What the package documents that a bad call raises.
DOCUMENTED = (KeyError, IndexError, ValueError, TypeError, MemoryError, OSError, NumPackError)

#: The store's lock file: its slot is written on every lock, so its bytes are not the store's.
LOCK_FILES = {".numpack.lock"}

BIG = 10**30
HOSTILE_NAMES = {
    "empty": "''",
    "slash": "'a/b'",
    "backslash": "'a\\\\b'",
    "dotdot": "'..'",
    "dot": "'.'",
    "dotdot_path": "'../escape'",
    "nul": "'a\\x00b'",
    "long300": "'x' * 300",
    "long255": "'y' * 255",
    "newline": "'a\\nb'",
    "lone_surrogate": "'\\udc80'",
}
VALID_ODD_NAMES = {
    "unicode": "'données_数据_🙂'",
    "space": "' a b '",
    "leading_dot": "'.hidden'",
    "percent": "'100%'",
    "metadata": "'metadata.npkm'",
    "data_prefix": "'data_f'",
}


#: Package entry paths that would leave the folder they are unpacked into.
EVIL_PATHS = {"dotdot": "../evil", "absolute": "/tmp/evil", "nested": "a/../../evil", "nul": "evil\x00x",
              "backslash": "..\\evil", "empty": "", "dot": "./../evil"}


def package_bytes(entries) -> bytes:
    """An uncompressed ``.npkg`` (docs/FORMAT.md §7) holding ``[(path, data)]``, written here
    independently of the package's own writer so that any path can be put in it."""
    import struct
    import zlib

    out = [b"NPKG", struct.pack("<IBI", 2, 0, len(entries))]
    crc = 0
    for path, data in entries:
        raw = path.encode("utf-8", "surrogatepass")
        out += [struct.pack("<I", len(raw)), raw, struct.pack("<QQ", len(data), 0), data]
        crc = zlib.crc32(struct.pack("<I", zlib.crc32(data)), crc)
    out.append(struct.pack("<I", crc))
    return b"".join(out)


def pristine(root: Path) -> None:
    """The store every case starts from: arrays of several dtypes and ranks, one with dropped
    rows, a 0-d, an empty and a zero-width one."""
    with NumPack(root) as npk:
        npk.save({
            "f": np.arange(18, dtype=np.float32).reshape(6, 3),
            "i": np.arange(5, dtype=np.int64),
            "d": np.arange(8, dtype=np.float64).reshape(4, 2),
            "s": np.array(2.5),
            "e": np.zeros((0, 3), np.float32),
            "b": np.array([True, False, True]),
            "c": np.arange(4, dtype=np.complex64),
        })
        npk.drop("d", [1])


def files(root: Path) -> dict:
    """Every file of the store folder (relative path → bytes), lock file excluded."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root) + "/"] = b""
        for f in filenames:
            if f in LOCK_FILES:
                continue
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def cases():
    """The matrix: ``(id, mode, code)``."""
    out = []

    def raise_(cid, code):
        out.append((cid, "raise", code))

    def either(cid, code):
        out.append((cid, "either", code))

    row = "np.zeros(3, np.float32)"
    rows2 = "np.zeros((2, 3), np.float32)"
    # -- selections, for every call taking one -------------------------------------------------
    bad_indexes = {
        "int_oob": "99", "neg_oob": "-99", "huge": "BIG", "neg_huge": "-BIG", "i64_max": "2**63 - 1",
        "i64_min": "-2**63", "u64_max": "np.array([2**64 - 1], np.uint64)", "list_oob": "[0, 99]",
        "list_huge": "[0, BIG]", "float": "1.5", "float_list": "[0.5]", "nan": "float('nan')",
        "nan_array": "np.array([np.nan])", "str": "'a'", "str_list": "['a']", "none_list": "[None]",
        "bytes": "b'x'", "dict": "{}", "object": "object()", "bool": "True", "np_bool": "np.bool_(True)",
        "mask_short": "[True, False]", "mask_long": "[True] * 99", "mask_2d": "np.ones((6, 3), bool)",
        "mask_0d": "np.array(True)", "nested_ragged": "[[0], [1, 2]]", "step0": "slice(0, 2, 0)",
        "slice_str": "slice('a', 2)", "slice_float": "slice(0.5, 2)", "range_huge": "range(BIG, BIG + 2)",
        "complex": "1j", "set": "{0, 1}",
    }
    for key, idx in bad_indexes.items():
        raise_(f"getitem[{key}]", f"npk.getitem('f', {idx})")
        raise_(f"getitem_dropped[{key}]", f"npk.getitem('d', {idx})")
        raise_(f"replace[{key}]", f"npk.replace({{'f': {row}}}, {idx})")
        raise_(f"drop_rows[{key}]", f"npk.drop('f', {idx})")
        either(f"lazy[{key}]", f"like_numpy(LZ, REF_F, lambda: {idx})")
        either(f"lazy_dropped[{key}]", f"like_numpy(LZD, REF_D, lambda: {idx})")
    for key, idx in {"zero_d_int": "0", "zero_d_slice": "slice(None)", "zero_d_list": "[0]"}.items():
        raise_(f"getitem[{key}]", f"npk.getitem('s', {idx})")
        raise_(f"replace[{key}]", f"npk.replace({{'s': np.array(1.0)}}, {idx})")
        raise_(f"drop_rows[{key}]", f"npk.drop('s', {idx})")
    raise_("getitem[empty_array_0]", "npk.getitem('e', 0)")
    raise_("replace[empty_array_0]", f"npk.replace({{'e': {row}}}, 0)")
    raise_("drop_rows[empty_array_0]", "npk.drop('e', 0)")
    raise_("getitem[no_index]", "npk.getitem('f')")
    raise_("getitem[both_spellings]", "npk.getitem('f', 0, indices=0)")
    raise_("replace[no_index]", f"npk.replace({{'f': {row}}})")
    raise_("replace[both_spellings]", f"npk.replace({{'f': {row}}}, 0, indices=0)")
    raise_("drop[both_spellings]", "npk.drop('f', 0, indices=1)")
    for key, idx in {"too_many": "(0, 0, 0)", "axis1_oob": "(0, 99)", "ellipsis_oob": "(..., 99)",
                     "newaxis_oob": "(None, 99)", "slice_axis1_oob": "(slice(None), 99)",
                     "fancy_2d_oob": "np.array([[0, 9]])", "fancy_2d": "np.array([[0, 2], [-1, 1]])",
                     "mask_then_int": "(np.array([True, False, True, False, True, True]), 1)",
                     "list_of_lists": "[[0, 1], [1, 2]]", "empty_tuple": "()", "float_in_tuple": "(0, 1.5)",
                     "empty_list": "[]", "empty_float_array": "np.array([])", "empty_list_in_tuple": "([], 0)",
                     "mask_nd": "np.eye(6, 3, dtype=bool)", "mask_nd_wrong_axis1": "np.ones((6, 2), bool)",
                     "mask_nd_wrong_axis0": "np.ones((5, 3), bool)", "mask_nd_in_tuple": "(np.eye(6, 3, dtype=bool),)",
                     "newaxis_mask": "(None, np.array([True, False, True, False, True, True]))",
                     "int_array_2d_with_col": "(np.array([[0], [5]]), np.array([1, 2]))", "neg_fancy": "[-1, -6, 0]",
                     "huge_in_tuple": "(BIG, 0)", "object_list": "np.array([1, None], dtype=object)",
                     "uint_fancy": "np.array([5, 0], np.uint8)"}.items():
        either(f"lazy[{key}]", f"like_numpy(LZ, REF_F, lambda: {idx})")
        either(f"lazy_dropped[{key}]", f"like_numpy(LZD, REF_D, lambda: {idx})")
    raise_("lazy_0d[index]", "LZS[0]")
    raise_("lazy_0d[len]", "len(LZS)")
    raise_("lazy_0d[iter]", "iter(LZS).__next__()")
    raise_("lazy.reshape[bad]", "LZ.reshape(7)")
    raise_("lazy.reshape[str]", "LZ.reshape('a')")
    raise_("lazy.vectorized_gather[huge]", "LZ.vectorized_gather([BIG])")
    raise_("lazy.vectorized_gather[oob]", "LZ.vectorized_gather([99])")
    raise_("lazy.vectorized_gather[str]", "LZ.vectorized_gather(['a'])")
    raise_("lazy.parallel_boolean_index[short]", "LZ.parallel_boolean_index([True])")
    raise_("lazy.mega_batch_get_rows[batch0]", "LZ.mega_batch_get_rows([0], 0)")
    raise_("lazy.mega_batch_get_rows[batch_str]", "LZ.mega_batch_get_rows([0], 'a')")
    raise_("lazy.mega_batch_get_rows[huge]", "LZ.mega_batch_get_rows([BIG])")
    raise_("lazy.asarray_no_copy_dropped", "np.asarray(LZD, copy=False)")
    raise_("lazy.add_str", "LZ + 'a'")
    raise_("lazy.astype_no_copy", "LZ.__array__(np.int8, copy=False)")
    # -- values: dtypes, shapes, strides ---------------------------------------------------------
    bad_values = {
        "object": "np.array([object()] * 3)", "str": "np.array(['a', 'b', 'c'])", "bytes": "b'abc'",
        "datetime": "np.array(['2020-01-01'] * 3, 'datetime64[D]')", "structured": "np.zeros(3, 'i4,f4')",
        "ragged": "[[1, 2], [3]]", "none": "None", "huge_int": "[BIG, 0, 0]", "complex": "np.ones(3, np.complex128)",
        "wide": "np.zeros((1, 4), np.float32)", "narrow": "np.zeros((1, 2), np.float32)", "three_d": "np.zeros((1, 3, 1), np.float32)",
        "scalar": "1.0", "nan_scalar": "float('nan')", "set": "{1, 2, 3}", "dict": "{'a': 1}",
        "void": "np.zeros(3, 'V4')",
    }
    for key, v in bad_values.items():
        raise_(f"append[{key}]", f"npk.append({{'f': {v}}})")
        raise_(f"replace_value[{key}]", f"npk.replace({{'f': {v}}}, [0, 1])")
    raise_("append[int_to_float_ok_but_int_target]", "npk.append({'i': np.array([1.5])})")
    raise_("append[huge_int_to_int64]", "npk.append({'i': [BIG]})")
    raise_("append[to_0d]", "npk.append({'s': np.array([1.0])})")
    raise_("append[missing]", f"npk.append({{'nope': {row}}})")
    raise_("append[not_dict]", f"npk.append([('f', {row})])")
    raise_("append[none]", "npk.append(None)")
    # Several arrays in one call: a value that cannot be converted, a missing array, or an error
    # only the core can find (an index out of range or a row width wrong for the second array)
    # is found before any array is written.
    raise_("drop[second_out_of_range]", "npk.drop(['f', 'i'], [5])")
    raise_("drop[second_missing]", "npk.drop(['f', 'nope'], [0])")
    raise_("drop[second_0d]", "npk.drop(['f', 's'], [0])")
    raise_("drop[same_twice]", "npk.drop(['f', 'f'], [0])")
    raise_("drop[mask_wrong_length_for_second]", "npk.drop(['f', 'i'], [True] * 6)")
    raise_("replace[second_out_of_range]", "npk.replace({'f': np.zeros((1, 3), np.float32), 'd': np.zeros((1, 2))}, 4)")
    raise_("replace[second_width]", "npk.replace({'f': np.zeros((1, 3), np.float32), 'd': np.zeros((1, 3))}, 0)")
    raise_("append[second_width]", "npk.append({'f': np.zeros((1, 3), np.float32), 'd': np.zeros((1, 3))})")
    raise_("append[second_uncastable]", f"npk.append({{'f': np.zeros((1, 3), np.float32), 'i': np.array([1.5])}})")
    raise_("append[second_missing]", f"npk.append({{'f': np.zeros((1, 3), np.float32), 'nope': np.zeros(3)}})")
    raise_("append[second_str]", f"npk.append({{'f': np.zeros((1, 3), np.float32), 'i': np.array(['x'])}})")
    raise_("replace[second_uncastable]", f"npk.replace({{'f': {row}, 'i': np.array([1.5])}}, 0)")
    raise_("replace[second_missing]", f"npk.replace({{'f': {row}, 'nope': np.zeros(3)}}, 0)")
    raise_("replace[rows_count]", f"npk.replace({{'f': {rows2}}}, [0, 1, 2])")
    raise_("replace[strided_rows_count]", "npk.replace({'f': np.zeros((4, 6), np.float32)[::2, ::2]}, [0])")
    raise_("replace[empty_value]", "npk.replace({'f': np.zeros((0, 3), np.float32)}, [0])")
    raise_("replace[strided_value_wrong_rows]", "npk.replace({'f': np.zeros((3, 6), np.float32)[:, ::2]}, [0, 1])")
    raise_("append[empty_wrong_width]", "npk.append({'f': np.zeros((0, 4), np.float32)})")
    raise_("append[zero_d_to_rows]", "npk.append({'f': np.float32(1)})")
    raise_("save[zero_size_object]", "npk.save({'f': np.zeros((0, 3), object)})")
    raise_("replace[missing]", f"npk.replace({{'nope': {row}}}, 0)")
    raise_("replace[not_dict]", f"npk.replace([('f', {row})], 0)")
    bad_save = dict(bad_values)
    for k in ("wide", "narrow", "three_d", "scalar", "nan_scalar", "huge_int", "complex"):
        bad_save.pop(k)  # fine as a new whole array
    bad_save["float128"] = "np.zeros(3, np.longdouble)"
    for key, v in bad_save.items():
        raise_(f"save[{key}]", f"npk.save({{'f': {v}}})")
        raise_(f"setitem[{key}]", f"npk['f'] = {v}")
    raise_("save[too_many_dims]", "npk.save({'f': np.zeros((1,) * 65, np.float32)})")
    raise_("save[broadcast_huge]", "npk.save({'f': np.broadcast_to(np.zeros(1), (2**40,))})")
    raise_("save[not_dict]", "npk.save([('f', np.zeros(3))])")
    raise_("save[none]", "npk.save(None)")
    raise_("save[int_key]", "npk.save({1: np.zeros(3)})")
    raise_("save[none_key]", "npk.save({None: np.zeros(3)})")
    raise_("save[bytes_key]", "npk.save({b'x': np.zeros(3)})")
    raise_("save[good_and_bad]", "npk.save({'new': np.zeros(3), 'f': np.array(['x'])})")
    raise_("setitem[int_key]", "npk[1] = np.zeros(3)")
    # -- names -----------------------------------------------------------------------------------
    for key, name in HOSTILE_NAMES.items():
        raise_(f"save_name[{key}]", f"npk.save({{{name}: np.zeros(3)}})")
        raise_(f"clone_to[{key}]", f"npk.clone('i', {name})")
        raise_(f"load_name[{key}]", f"npk.load({name})")
        raise_(f"lazy_name[{key}]", f"npk.load({name}, lazy=True)")
        raise_(f"getitem_name[{key}]", f"npk.getitem({name}, 0)")
        raise_(f"drop_name[{key}]", f"npk.drop({name})")
        raise_(f"drop_rows_name[{key}]", f"npk.drop({name}, 0)")
        raise_(f"shape_name[{key}]", f"npk.get_shape({name})")
        raise_(f"update_name[{key}]", f"npk.update({name})")
        raise_(f"stream_name[{key}]", f"npk.stream_load({name}, 2)")
        raise_(f"append_name[{key}]", f"npk.append({{{name}: np.zeros(3)}})")
        raise_(f"replace_name[{key}]", f"npk.replace({{{name}: np.zeros(3)}}, 0)")
        raise_(f"io_from_npy_name[{key}]", f"nio.from_npy(GOOD_NPY, P, array_name={name})")
    for key, name in VALID_ODD_NAMES.items():
        either(f"save_name[{key}]", f"npk.save({{{name}: np.arange(3)}}); "
               f"assert np.array_equal(npk.load({name}), np.arange(3)); npk.drop({name}, [0]); "
               f"assert np.array_equal(npk.getitem({name}, slice(None)), [1, 2])")
    for call in ("load('nope')", "load('nope', lazy=True)", "getitem('nope', 0)", "get_shape('nope')",
                 "drop('nope')", "drop(['f', 'nope'])", "drop('nope', 0)", "update('nope')", "clone('nope', 'x')",
                 "stream_load('nope')", "replace({'nope': np.zeros(3)}, 0)", "__getitem__('nope')",
                 "__delitem__('nope')"):
        raise_(f"unknown_name[{call}]", f"npk.{call}")
    for call in ("load(1)", "load(None)", "getitem(1, 0)", "get_shape(None)", "drop(1)", "drop(None)",
                 "drop([1])", "update(1)", "clone(1, 'x')", "clone('f', 1)", "stream_load(1)",
                 "has_array(1)", "get_modify_time(1)", "__getitem__(1)", "load(b'f')"):
        raise_(f"name_type[{call}]", f"npk.{call}")
    raise_("clone[exists]", "npk.clone('f', 'i')")
    raise_("clone[self]", "npk.clone('f', 'f')")
    # -- other arguments -------------------------------------------------------------------------
    for key, size in {"zero": "0", "neg": "-1", "str": "'a'", "float": "2.5", "nan": "float('nan')", "none_list": "[None]"}.items():
        raise_(f"stream_load[{key}]", f"list(npk.stream_load('f', {size}))")
    raise_("stream_load[0d]", "list(npk.stream_load('s', 2))")
    raise_("batch_mode.load[unknown]", "with npk.batch_mode():\n    npk.load('nope')")
    raise_("batch_mode.save[bad]", "with npk.batch_mode():\n    npk.save({'f': np.array(['x'])})")
    raise_("writable_batch_mode.load[unknown]", "with npk.writable_batch_mode() as wb:\n    wb.load('nope')")
    raise_("writable_batch_mode.load[name_type]", "with npk.writable_batch_mode() as wb:\n    wb.load(1)")
    # -- calls after close, and strict mode --------------------------------------------------------
    for call in ("save({'x': np.zeros(3)})", "load('f')", "load('f', lazy=True)", "getitem('f', 0)",
                 "replace({'f': np.zeros(3)}, 0)", "append({'f': np.zeros((1, 3))})", "drop('f')", "drop('f', 0)",
                 "reset()", "update('f')", "clone('f', 'x')", "stream_load('f')", "get_shape('f')",
                 "get_member_list()", "keys()", "has_array('f')", "get_modify_time('f')", "get_metadata()",
                 "sync_metadata()", "__getitem__('f')", "__setitem__('x', np.zeros(3))", "__delitem__('f')",
                 "__len__()", "__iter__()", "batch_mode().__enter__()", "writable_batch_mode().__enter__()"):
        raise_(f"closed[{call}]", f"CLOSED.{call}")
        raise_(f"strict_outside[{call}]", f"STRICT.{call}")
    # A LazyArray outlives its store's close, and saves, appends and drops made after it (the
    # module doc): reading it then is no bad call, and must give the rows it was loaded with.
    either("lazy_after_close", "other = NumPack(P); other.open(); lz = other.load('d', lazy=True); other.close(); "
           "assert np.array_equal(lz[:], REF_D) and np.array_equal(lz[[-1, 0]], REF_D[[-1, 0]])")
    either("lazy_after_drop_and_save", "lz = npk.load('d', lazy=True); npk.drop('d'); npk.save({'d': np.zeros(1)}); "
           "assert np.array_equal(np.asarray(lz), REF_D) and np.array_equal(lz[REF_D[:, 0] > 2], REF_D[REF_D[:, 0] > 2])")
    # -- constructor -------------------------------------------------------------------------------
    raise_("NumPack[none]", "NumPack(None)")
    raise_("NumPack[int]", "NumPack(1)")
    raise_("NumPack[file].open", "NumPack(A_FILE).open()")
    raise_("NumPack[nul].open", "NumPack(str(SCRATCH / 'a\\x00b')).open()")
    raise_("NumPack[durable_str].open", "NumPack(SCRATCH / 'new1', durable='yes').open()")
    raise_("NumPack[long_component].open", "NumPack(SCRATCH / ('x' * 300)).open()")
    raise_("NumPack[under_file].open", "NumPack(A_FILE / 'sub').open()")
    raise_("NumPack[corrupt].open", "NumPack(CORRUPT).open()")
    # -- packages ----------------------------------------------------------------------------------
    raise_("pack[missing]", "numpack.pack(SCRATCH / 'missing', SCRATCH / 'o.npkg')")
    raise_("pack[none]", "numpack.pack(None)")
    raise_("pack[file]", "numpack.pack(A_FILE, SCRATCH / 'o.npkg')")
    raise_("unpack[missing]", "numpack.unpack(SCRATCH / 'missing.npkg', SCRATCH / 'out')")
    raise_("unpack[garbage]", "numpack.unpack(A_FILE, SCRATCH / 'out')")
    raise_("unpack[garbage_over_store]", "numpack.unpack(A_FILE, P, overwrite=True)")
    raise_("unpack[over_store_no_overwrite]", "numpack.unpack(GOOD_NPKG, P)")
    raise_("unpack[truncated_over_store]", "numpack.unpack(TRUNC_NPKG, P, overwrite=True)")
    raise_("unpack[none]", "numpack.unpack(None)")
    for key in EVIL_PATHS:
        raise_(f"unpack[evil_path_{key}]", f"try:\n    numpack.unpack(SCRATCH / 'evil_{key}.npkg', SCRATCH / 'out_{key}')\n"
               "finally:\n    assert not (SCRATCH / 'evil').exists() and not (SCRATCH.parent / 'evil').exists()")
        raise_(f"unpack[evil_path_{key}_over_store]", f"numpack.unpack(SCRATCH / 'evil_{key}.npkg', P, overwrite=True)")
    raise_("get_package_info[garbage]", "numpack.get_package_info(A_FILE)")
    raise_("get_package_info[dir]", "numpack.get_package_info(SCRATCH)")
    raise_("get_package_info[truncated]", "numpack.get_package_info(TRUNC_NPKG)")
    raise_("get_package_info[none]", "numpack.get_package_info(None)")
    # -- numpack.io: imports into the store must change nothing when they fail ---------------------
    for key, src in {"missing": "SCRATCH / 'missing.npy'", "garbage": "A_FILE_NPY", "garbage_npz": "A_FILE_NPZ",
                     "wrong_suffix": "A_FILE", "object_npy": "OBJECT_NPY", "none": "None"}.items():
        raise_(f"from_npy[{key}]", f"nio.from_npy({src}, P)")
        raise_(f"from_npy_drop[{key}]", f"nio.from_npy({src}, P, drop_if_exists=True)")
    for key, cs in {"zero": "0", "neg": "-1", "str": "'a'", "float": "2.5", "bool": "True", "nan": "float('nan')"}.items():
        raise_(f"from_npy.chunk_size[{key}]", f"nio.from_npy(GOOD_NPY, P, chunk_size={cs})")
        raise_(f"to_npy.chunk_size[{key}]", f"nio.to_npy(P, SCRATCH / 'o.npy', array_names='f', chunk_size={cs})")
    raise_("from_csv[garbage]", "nio.from_csv(A_FILE_CSV, P)")
    raise_("from_csv[missing]", "nio.from_csv(SCRATCH / 'missing.csv', P)")
    raise_("from_txt[garbage]", "nio.from_txt(A_FILE_CSV, P)")
    raise_("from_hdf5[garbage]", "nio.from_hdf5(A_FILE, P)")
    raise_("from_hdf5[missing]", "nio.from_hdf5(SCRATCH / 'missing.h5', P)")
    raise_("from_zarr[missing]", "nio.from_zarr(SCRATCH / 'missing.zarr', P)")
    raise_("from_zarr[file]", "nio.from_zarr(A_FILE, P)")
    raise_("from_parquet[garbage]", "nio.from_parquet(A_FILE, P)")
    raise_("from_parquet[missing]", "nio.from_parquet(SCRATCH / 'missing.parquet', P)")
    raise_("from_feather[garbage]", "nio.from_feather(A_FILE, P)")
    raise_("from_table[not_table]", "nio.from_table('x', P)")
    raise_("from_parquet_table[not_table]", "nio.from_parquet_table(1, P)")
    raise_("from_dataframe[not_frame]", "nio.from_dataframe('x', P)")
    raise_("from_dataframe[object]", "import pandas as pd; nio.from_dataframe(pd.DataFrame({'a': ['x', 'y']}), P)")
    raise_("from_safetensors_file[garbage]", "nio.from_safetensors_file(A_FILE, P)")
    raise_("from_tensor_dict[object]", "nio.from_tensor_dict({'x': np.array([object()])}, P)")
    raise_("from_tensor_dict[not_dict]", "nio.from_tensor_dict(1, P)")
    raise_("from_tensor_dict[bad_name]", "nio.from_tensor_dict({'a/b': np.zeros(2)}, P)")
    raise_("get_safetensors_metadata[garbage]", "nio.get_safetensors_metadata(A_FILE)")
    raise_("iter_safetensors[garbage]", "list(nio.iter_safetensors(A_FILE))")
    # -- numpack.io: exports from the store must leave it unchanged --------------------------------
    for fn, dst in {"to_npy": "'o.npy'", "to_csv": "'o.csv'", "to_txt": "'o.txt'", "to_hdf5": "'o.h5'",
                    "to_zarr": "'o.zarr'", "to_parquet": "'o.parquet'", "to_feather": "'o.feather'",
                    "to_safetensors_file": "'o.st'"}.items():
        arg = "array_name" if fn in ("to_csv", "to_txt", "to_parquet", "to_feather") else "array_names"
        raise_(f"{fn}[unknown]", f"nio.{fn}(P, SCRATCH / {dst}, {arg}='nope')")
        raise_(f"{fn}[name_type]", f"nio.{fn}(P, SCRATCH / {dst}, {arg}=1)")
        raise_(f"{fn}[missing_store]", f"nio.{fn}(SCRATCH / 'missing', SCRATCH / {dst})")
        raise_(f"{fn}[into_dir_that_is_file]", f"nio.{fn}(P, A_FILE / {dst}, {arg}='f')")
    raise_("to_npy[suffix]", "nio.to_npy(P, SCRATCH / 'o.bin')")
    raise_("to_npy[npy_many]", "nio.to_npy(P, SCRATCH / 'o.npy')")
    raise_("to_csv[many]", "nio.to_csv(P, SCRATCH / 'o.csv')")
    raise_("to_table[unknown]", "nio.to_table(P, 'nope')")
    raise_("to_parquet_table[many]", "nio.to_parquet_table(P)")
    raise_("to_dataframe[unknown]", "nio.to_dataframe(P, 'nope')")
    raise_("to_dataframe[columns]", "nio.to_dataframe(P, 'f', columns=['a'])")
    raise_("to_tensor_dict[unknown]", "nio.to_tensor_dict(P, ['nope'])")
    raise_("to_hdf5[bad_compression]", "nio.to_hdf5(P, SCRATCH / 'o.h5', array_names='f', compression='nope')")
    raise_("to_parquet[bad_compression]", "nio.to_parquet(P, SCRATCH / 'o.parquet', array_name='f', compression='nope')")
    raise_("to_feather[bad_compression]", "nio.to_feather(P, SCRATCH / 'o.feather', array_name='f', compression='nope')")
    raise_("to_zarr[bad_chunks]", "nio.to_zarr(P, SCRATCH / 'o.zarr', array_names='f', chunks=(0, 0))")
    raise_("to_parquet[row_group_0]", "nio.to_parquet(P, SCRATCH / 'o.parquet', array_name='f', row_group_size=0)")
    # -- sizes beyond 64 bits: a value (clamped, or refused with a documented error), never an
    # OverflowError --------------------------------------------------------------------------
    for key, code in {
        "from_npy.chunk_size": "nio.from_npy(GOOD_NPY, P, array_name='g', chunk_size=BIG); "
                               "assert np.array_equal(npk.load('g'), np.load(GOOD_NPY))",
        "to_npy.chunk_size": "nio.to_npy(P, SCRATCH / 'big.npy', array_names='f', chunk_size=BIG); "
                             "assert np.array_equal(np.load(SCRATCH / 'big.npy'), npk.load('f'))",
        "from_csv.skiprows": "nio.from_csv(GOOD_CSV, P, array_name='g', skiprows=BIG)",
        "from_csv.max_rows": "nio.from_csv(GOOD_CSV, P, array_name='g', max_rows=BIG); "
                             "assert np.array_equal(npk.load('g'), [[1.0, 2.0], [3.0, 4.0]])",
        "to_parquet.row_group_size": "nio.to_parquet(P, SCRATCH / 'big.parquet', array_name='f', row_group_size=BIG)",
        "to_zarr.chunks": "nio.to_zarr(P, SCRATCH / 'big.zarr', array_names='i', chunks=(BIG,))",
        "to_hdf5.compression_opts": "nio.to_hdf5(P, SCRATCH / 'big.h5', array_names='f', compression_opts=BIG)",
        "pack.chunk_size": "numpack.pack(P, SCRATCH / 'big.npkg', chunk_size=BIG)",
        "batch_mode.memory_limit": "with npk.batch_mode(memory_limit=BIG):\n    npk.load('f')",
        "lazy.mega_batch_get_rows.batch": "assert len(LZ.mega_batch_get_rows([0, 1], BIG)) == 2",
        "stream_load.huge": "assert np.array_equal(np.concatenate(list(npk.stream_load('f', BIG))), npk.load('f'))",
        "getitem.huge_slice": "assert np.array_equal(npk.getitem('f', slice(-BIG, BIG, BIG)), npk.load('f')[-BIG:BIG:BIG])",
        "drop.huge_slice": "npk.drop('f', slice(BIG, None)); assert npk.get_shape('f') == (6, 3)",
    }.items():
        either(f"huge[{key}]", code)
    # -- numpack.io helpers ------------------------------------------------------------------------
    raise_("get_file_size[none]", "nio.get_file_size(None)")
    raise_("estimate_chunk_rows[str_dtype]", "nio.estimate_chunk_rows((10, 2), 'nope')")
    either("estimate_chunk_rows[huge]", "assert nio.estimate_chunk_rows((10, BIG), 'f4') == 1")
    raise_("to_dlpack[str]", "nio.to_dlpack('x')")
    raise_("from_dlpack[int]", "nio.from_dlpack(1)")
    raise_("numpy_to_arrow_zero_copy[str]", "nio.numpy_to_arrow_zero_copy('x')")
    raise_("numpy_to_arrow_zero_copy[strict_bool]", "nio.numpy_to_arrow_zero_copy(np.ones(3, bool), strict=True)")
    raise_("arrow_to_numpy_zero_copy[int]", "nio.arrow_to_numpy_zero_copy(1)")
    raise_("table_to_numpy_zero_copy[int]", "nio.table_to_numpy_zero_copy(1, 0)")
    raise_("table_to_numpy_zero_copy[column]", "import pyarrow as pa; nio.table_to_numpy_zero_copy(pa.table({'a': [1]}), 'nope')")
    raise_("wrap_for_zero_copy[str]", "nio.wrap_for_zero_copy('x').__dlpack__()")
    # The harness's own check (test_bad_calls.py): extra cases from the environment.
    for k, code in enumerate(filter(None, os.environ.get("BAD_CALLS_EXTRA", "").split("\n#\n"))):
        raise_(f"extra[{k}]", code)
    return out


def like_numpy(lazy: LazyArray, ref: np.ndarray, key) -> None:
    """``lazy[key()]`` must do what NumPy does on the same rows: raise where NumPy raises (a
    documented type, re-raised for the harness to check) or give NumPy's result."""
    try:
        want = ref[key()]
    except (IndexError, ValueError, TypeError):
        lazy[key()]
        raise AssertionError("NumPy raises here, the LazyArray did not")
    got = lazy[key()]
    assert np.asarray(got).shape == np.asarray(want).shape and np.array_equal(got, want), (got, want)


def scope(root: Path, scratch: Path, npk: NumPack) -> dict:
    """The names the case code sees."""
    closed = NumPack(root)
    strict = NumPack(root, strict_context_mode=True)
    strict.open()
    return {
        "np": np, "numpack": numpack, "nio": nio, "NumPack": NumPack, "LazyArray": LazyArray, "BIG": BIG,
        "P": root, "SCRATCH": scratch, "npk": npk, "CLOSED": closed, "STRICT": strict,
        "like_numpy": like_numpy, "REF_F": npk.load("f"), "REF_D": npk.load("d"),
        "LZ": npk.load("f", lazy=True), "LZD": npk.load("d", lazy=True), "LZS": npk.load("s", lazy=True),
        "A_FILE": scratch / "garbage.bin", "A_FILE_NPY": scratch / "garbage.npy",
        "A_FILE_NPZ": scratch / "garbage.npz", "A_FILE_CSV": scratch / "garbage.csv",
        "OBJECT_NPY": scratch / "object.npy", "GOOD_CSV": scratch / "good.csv", "GOOD_NPY": scratch / "good.npy",
        "GOOD_NPKG": scratch / "good.npkg", "TRUNC_NPKG": scratch / "trunc.npkg", "CORRUPT": scratch / "corrupt.npk",
    }


def fixtures(work: Path, base: Path) -> None:
    """Files the cases read (made once per work folder)."""
    scratch = work / "scratch"
    if (scratch / "done").exists():
        return
    scratch.mkdir(parents=True, exist_ok=True)
    junk = bytes(range(256)) * 8
    for name in ("garbage.bin", "garbage.npy", "garbage.npz"):
        (scratch / name).write_bytes(junk)
    (scratch / "garbage.csv").write_text("1,2,x\n3,,4\n\"unterminated\n")
    (scratch / "good.csv").write_text("1,2\n3,4\n")
    np.save(scratch / "object.npy", np.array([object(), 1], dtype=object), allow_pickle=True)
    np.save(scratch / "good.npy", np.arange(6.0).reshape(3, 2))
    numpack.pack(base, scratch / "good.npkg")
    data = (scratch / "good.npkg").read_bytes()
    (scratch / "trunc.npkg").write_bytes(data[: len(data) // 2])
    shutil.copytree(base, scratch / "corrupt.npk")
    meta = scratch / "corrupt.npk" / "metadata.npkm"
    meta.write_bytes(meta.read_bytes()[:10])
    meta_bytes = (base / "metadata.npkm").read_bytes()
    for key, path in EVIL_PATHS.items():
        (scratch / f"evil_{key}.npkg").write_bytes(package_bytes([("metadata.npkm", meta_bytes), (path, b"x" * 8)]))
    (scratch / "done").write_text("")


def main() -> None:
    work, first = Path(sys.argv[1]), int(sys.argv[2])
    base = work / "pristine"
    if not base.exists():
        tmp = work / "pristine.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        pristine(tmp)
        tmp.rename(base)
    fixtures(work, base)
    want = files(base)
    root = work / "store"
    scratch = work / "scratch"
    all_cases = cases()
    print(f"L {len(all_cases)}", flush=True)

    def fresh():
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(base, root)
        npk = NumPack(root)
        npk.open()
        return npk, scope(root, scratch, npk)

    npk, env = fresh()
    for i in range(first, len(all_cases)):
        cid, mode, code = all_cases[i]
        print(f"S {i}", flush=True)
        verdict = "ok"
        raised = None
        try:
            exec(code, dict(env))
        except DOCUMENTED as e:
            raised = e
        except BaseException as e:  # noqa: BLE001 - an undocumented type is the finding
            verdict = f"FAIL undocumented {type(e).__module__}.{type(e).__qualname__}: {e!s:.200}"
            raised = e
        if raised is None and mode == "raise":
            verdict = "FAIL no exception"
        if raised is not None or mode == "raise":
            # Free lazy arrays and views the case made before the folder is read.
            got = files(root)
            if got != want:
                changed = sorted(set(got) ^ set(want) | {k for k in got.keys() & want.keys() if got[k] != want[k]})
                verdict = (verdict if verdict != "ok" else "FAIL") + f" store changed: {changed[:5]}"
        if verdict != "ok" and os.environ.get("BAD_CALLS_TRACE"):
            traceback.print_exception(raised) if raised is not None else None
        print(f"E {i} {verdict}", flush=True)
        if verdict != "ok" or mode == "either" or files(root) != want:
            npk.close()
            npk, env = fresh()
    npk.close()


if __name__ == "__main__":
    main()
