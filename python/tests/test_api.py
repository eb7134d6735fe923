"""The NumPack API, against a model kept in NumPy."""

import os

import numpy as np
import pytest

import numpack
from numpack import LazyArray, NumPack


def test_quick_start_word_for_word(tmp_path):
    os.chdir(tmp_path)
    new_rows = np.ones((3, 128), np.float32)
    more_rows = np.full((4, 128), 7, np.float32)
    with NumPack("data.npk") as npk:
        npk.save({'embeddings': np.random.rand(10000, 128).astype(np.float32)})
        data = npk.load("embeddings")
        lazy = npk.load("embeddings", lazy=True)
        npk.replace({'embeddings': new_rows}, indices=[0, 1, 2])
        npk.append({'embeddings': more_rows})
        npk.drop('embeddings', [0, 1, 2])
        subset = npk.getitem('embeddings', [100, 200, 300])
    model = np.concatenate([data, more_rows])[3:]
    np.testing.assert_array_equal(subset, model[[100, 200, 300]])
    assert isinstance(lazy, LazyArray) and lazy.shape == (10000, 128)
    np.testing.assert_array_equal(lazy[0], new_rows[0])  # the replace shows through the mapping
    with NumPack("data.npk") as npk:
        np.testing.assert_array_equal(npk.load("embeddings"), model)


def test_batch_modes_word_for_word(npk):
    npk.save({'data': np.ones((50, 4))})
    with npk.batch_mode():
        for i in range(1000):
            arr = npk.load('data')
            arr[:10] *= 2.0
            npk.save({'data': arr})
    expect = np.ones((50, 4))
    expect[:10] = 2.0 ** 1000 if np.isfinite(2.0 ** 1000) else np.inf
    on_disk = NumPack(npk.path)
    on_disk.open()
    np.testing.assert_array_equal(on_disk.load('data'), expect)
    with npk.writable_batch_mode() as wb:
        arr = wb.load('data')
        arr[:10] *= 2.0  # Auto-persisted
    expect[:10] *= 2.0
    np.testing.assert_array_equal(on_disk.load('data'), expect)
    on_disk.close()


def test_batch_mode_flushes_on_exception_and_sees_new_arrays(npk):
    npk.save({'a': np.zeros((10, 3), np.int32)})
    with pytest.raises(RuntimeError):
        with npk.batch_mode():
            a = npk.load('a')
            a[2] = 5
            npk.save({'a': a, 'b': np.arange(4)})
            assert 'b' in npk and npk.get_shape('b') == (4,)
            raise RuntimeError("boom")
    assert npk.load('a')[2].tolist() == [5, 5, 5]
    np.testing.assert_array_equal(npk.load('b'), np.arange(4))
    with npk.batch_mode():
        a = npk.load('a')
        a[:] = 1
        npk.save({'a': a})
        npk.append({'a': np.full((1, 3), 9, np.int32)})  # flushes first
    assert npk.load('a').tolist() == [[1, 1, 1]] * 10 + [[9, 9, 9]]


def test_writable_batch_mode_compacts_dropped_rows(npk):
    npk.save({'a': np.arange(20, dtype=np.float64).reshape(10, 2)})
    npk.drop('a', [0, 5])
    with npk.writable_batch_mode() as wb:
        a = wb.load('a')
        assert a.shape == (8, 2)
        a[0] = -1
    got = npk.load('a')
    assert got.shape == (8, 2) and got[0].tolist() == [-1, -1] and got[4].tolist() == [12, 13]


def test_open_close_reopen_and_context_rules(tmp_path):
    p = tmp_path / "s.npk"
    npk = NumPack(p)
    assert npk.is_closed and "closed" in repr(npk)
    with pytest.raises(numpack.StoreClosedError):
        npk.save({'a': np.arange(3)})
    with pytest.raises(RuntimeError):  # StoreClosedError is a RuntimeError, as upstream's
        npk.load('a')
    npk.open()
    npk.open()
    npk.save({'a': np.arange(3)})
    npk.close()
    npk.close()
    npk.reopen()
    assert npk.load('a').tolist() == [0, 1, 2]
    assert repr(npk) == f"NumPack({str(p)!r}, arrays=1)"
    npk.close()
    with NumPack(p, drop_if_exists=True) as fresh:
        assert fresh.get_member_list() == []
    strict = NumPack(p, strict_context_mode=True)
    strict.open()
    with pytest.raises(RuntimeError):
        strict.get_member_list()
    strict.close()


def test_mapping_protocol_and_metadata(npk):
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    npk.save({'x': a, 'y': np.arange(5, dtype=np.int16)})
    npk['z'] = np.zeros(2, np.complex64)
    assert npk.get_member_list() == ['x', 'y', 'z'] == npk.keys() == list(npk)
    assert len(npk) == 3 and 'x' in npk and 'q' not in npk and npk.has_array('y')
    np.testing.assert_array_equal(npk['x'], a)
    del npk['z']
    assert 'z' not in npk and len(npk) == 2
    npk.drop('y', [0])
    meta = npk.get_metadata()
    assert meta['total_arrays'] == 2 and meta['base_dir'] == str(npk.path)
    assert meta['arrays']['x'] == {'shape': [4, 3], 'data_file': 'data_x.npkd', 'last_modified': meta['arrays']['x']['last_modified'], 'size_bytes': 48, 'dtype': 'Float32'}
    assert meta['arrays']['y']['shape'] == [5] and meta['arrays']['y']['dtype'] == 'Int16'
    assert npk.get_shape('y') == (4,)
    t = npk.get_modify_time('x')
    assert isinstance(t, int) and t > 1_600_000_000_000_000
    assert npk.get_modify_time('nope') is None
    assert npk.get_io_stats() == {"stats_available": False}


def test_drop_whole_array_and_reset_update_clone(npk, rng):
    a = rng.standard_normal((30, 4))
    npk.save({'a': a, 'b': np.arange(3)})
    npk.drop('b')
    assert npk.get_member_list() == ['a']
    with pytest.raises(KeyError):
        npk.drop('b')
    npk.drop('a', slice(0, 30, 3))
    keep = np.delete(a, np.arange(0, 30, 3), axis=0)
    np.testing.assert_array_equal(npk.load('a'), keep)
    npk.clone('a', 'c')
    with pytest.raises(ValueError):
        npk.clone('a', 'c')
    with pytest.raises(KeyError):
        npk.clone('missing', 'd')
    npk.update('a')
    assert npk.get_metadata()['arrays']['a']['shape'] == [20, 4]
    np.testing.assert_array_equal(npk.load('a'), keep)
    np.testing.assert_array_equal(npk.load('c'), keep)
    npk.reset()
    assert npk.get_member_list() == []


def test_getitem_and_stream_load(npk, rng):
    a = rng.standard_normal((25, 3)).astype(np.float32)
    npk.save({'a': a})
    assert npk.getitem('a', 3).shape == (1, 3)
    np.testing.assert_array_equal(npk.getitem('a', -1), a[[-1]])
    np.testing.assert_array_equal(npk.getitem('a', slice(2, 20, 4)), a[2:20:4])
    np.testing.assert_array_equal(npk.getitem('a', slice(None, None, -3)), a[::-3])
    np.testing.assert_array_equal(npk.getitem('a', np.array([4, -2, 4])), a[[4, -2, 4]])
    mask = rng.integers(0, 2, 25).astype(bool)
    np.testing.assert_array_equal(npk.getitem('a', mask), a[mask])
    with pytest.raises(IndexError):
        npk.getitem('a', 25)
    with pytest.raises(KeyError):
        npk.getitem('b', 0)
    blocks = list(npk.stream_load('a', 10))
    assert [b.shape[0] for b in blocks] == [10, 10, 5]
    np.testing.assert_array_equal(np.concatenate(blocks), a)
    assert len(list(npk.stream_load('a'))) == 25
    with pytest.raises(ValueError):
        npk.stream_load('a', 0)


def test_errors_are_specific(npk):
    npk.save({'f': np.zeros((4, 2), np.float32)})
    with pytest.raises(KeyError):
        npk.load('nope')
    with pytest.raises(KeyError):
        npk.append({'nope': np.zeros((1, 2))})
    with pytest.raises(ValueError):
        npk.save([np.zeros(3)])
    with pytest.raises(TypeError):
        npk.save({'s': np.array(['a', 'b'])})
    with pytest.raises(TypeError):
        npk.save({'o': np.array([object()])})
    with pytest.raises(TypeError):  # complex into float32 is not same_kind
        npk.replace({'f': np.zeros((1, 2), np.complex64)}, 0)
    with pytest.raises(TypeError):  # float into int is not same_kind
        npk.save({'i': np.zeros(3, np.int32)})
        npk.append({'i': np.zeros(1, np.float64)})
    with pytest.raises(ValueError):
        npk.append({'f': np.zeros((1, 3), np.float32)})
    with pytest.raises(ValueError):
        npk.replace({'f': np.zeros((2, 2), np.float32)}, [0])
    with pytest.raises(IndexError):
        npk.replace({'f': np.zeros((1, 2), np.float32)}, [7])
    with pytest.raises(ValueError):
        npk.replace({'f': np.zeros((1, 2), np.float32)}, "0")
    for bad in ["", ".", "..", "a/b", "a\\b", "a\x00b", "x" * 300]:
        with pytest.raises(ValueError):
            npk.save({bad: np.zeros(2)})
    assert issubclass(numpack.CorruptStoreError, numpack.NumPackError)
    assert issubclass(numpack.LockError, numpack.NumPackError)


def test_casting_byte_order_and_layouts(npk):
    npk.save({'f': np.zeros((3, 2), np.float32)})
    npk.replace({'f': np.array([[1.5, 2.5]], np.float64)}, 1)  # same_kind: float64 -> float32
    npk.replace({'f': [7, 8]}, -1)  # one row given for one index
    assert npk.load('f').tolist() == [[0, 0], [1.5, 2.5], [7, 8]]
    big = np.arange(12, dtype='>i4').reshape(3, 4)
    fortran = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    strided = np.arange(40, dtype=np.int16).reshape(5, 8)[::2, 1::3]
    npk.save({'big': big, 'fortran': fortran, 'strided': strided, 'scalar': np.array(3.5)})
    for name, want in [('big', big), ('fortran', fortran), ('strided', strided)]:
        got = npk.load(name)
        assert got.dtype.isnative and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)
    assert npk.load('big').dtype == np.int32
    scalar = npk.load('scalar')
    assert scalar.shape == () and scalar == 3.5
    npk.append({'big': np.array([[1, 2, 3, 4]], dtype='>i8')})  # same_kind int64 -> int32
    assert npk.load('big')[-1].tolist() == [1, 2, 3, 4]


def test_lazy_array_protocols(npk, rng):
    a = rng.standard_normal((40, 3)).astype(np.float32)
    npk.save({'a': a})
    lazy = npk.load('a', lazy=True)
    assert (lazy.shape, lazy.dtype, lazy.ndim, lazy.size, lazy.itemsize, lazy.nbytes, len(lazy)) == (a.shape, a.dtype, 2, a.size, 4, a.nbytes, 40)
    view = np.asarray(lazy)
    assert not view.flags.writeable and not view.flags.owndata  # zero-copy over the mapping
    np.testing.assert_array_equal(view, a)
    np.testing.assert_array_equal(lazy + 1, a + 1)
    np.testing.assert_array_equal(2 * lazy, 2 * a)
    np.testing.assert_array_equal(lazy > 0, a > 0)
    np.testing.assert_array_equal(-lazy, -a)
    np.testing.assert_array_equal(np.sqrt(np.abs(lazy)), np.sqrt(np.abs(a)))
    np.testing.assert_array_equal(lazy.reshape(-1), a.reshape(-1))
    np.testing.assert_array_equal(lazy.reshape((3, 40)), a.reshape(3, 40))
    np.testing.assert_array_equal(lazy.T, a.T)
    c = lazy.copy()
    c[0] = 0
    assert c.flags.writeable and lazy[0, 0] == a[0, 0]
    np.testing.assert_array_equal(np.stack(list(lazy)), a)
    del lazy
    import gc

    gc.collect()
    npk.save({'a': np.zeros(2)})  # the file is replaced; the old view must stay readable
    np.testing.assert_array_equal(view, a)
    npk.close()
    np.testing.assert_array_equal(view.sum(), a.sum())


def test_threads_share_one_store(npk):
    import threading

    npk.save({'a': np.zeros((0, 4), np.int64)})
    errors = []

    def work(k):
        try:
            for i in range(50):
                npk.append({'a': np.full((1, 4), k * 1000 + i, np.int64)})
                npk.load('a', lazy=True)[-1]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = npk.load('a')[:, 0]
    assert sorted(got.tolist()) == sorted(k * 1000 + i for k in range(4) for i in range(50))


def test_zero_width_rows_read_in_every_path(npk):
    """Issue 9 item 6 on the Python read paths: rows of zero bytes read back as NumPy has them
    (there is no data to copy, and no walk over rows: 2^40 of them read at once)."""
    a = np.zeros((5, 0), np.float32)
    huge = np.zeros((2**40, 0), np.int8)
    npk.save({'z': a, 'h': huge})
    keys = [slice(None), slice(1, 4), slice(None, None, -2), [0, -1, 2], np.array([True, False, True, True, False])]
    assert npk.load('z').shape == (5, 0)
    lazy = npk.load('z', lazy=True)
    for key in keys:
        want = a[key]
        assert npk.getitem('z', key).shape == want.shape, key
        assert lazy[key].shape == want.shape, key
    assert [b.shape for b in npk.stream_load('z', 2)] == [(2, 0), (2, 0), (1, 0)]
    assert npk.getitem('h', slice(None, None, 2)).shape == (2**39, 0)
    assert npk.getitem('h', [-1, 0]).shape == (2, 0)
    with pytest.raises(IndexError):
        npk.getitem('h', [2**40])
    assert npk.load('h').shape == (2**40, 0)
