"""The dict protocol on NumPack and the Jupyter (HTML) views of a store and a LazyArray."""

import html.parser

import numpy as np
import pytest

from numpack import NumPack


def test_the_dict_protocol_matches_a_dict_model(tmp_path, rng):
    model = {}
    with NumPack(tmp_path / "d.npk") as npk:
        for step in range(40):
            name = f"a{rng.integers(0, 6)}"
            if rng.random() < 0.3 and name in model:
                del npk[name]
                del model[name]
            else:
                arr = rng.standard_normal((int(rng.integers(0, 5)), 3))
                npk[name] = arr
                model[name] = arr
            assert len(npk) == len(model)
            assert sorted(npk) == sorted(model)
            for key in ("a0", "a3", "nope", 3):
                assert (key in npk) == (key in model)
        for name, arr in model.items():
            np.testing.assert_array_equal(npk[name], arr)
        with pytest.raises(KeyError):
            npk["nope"]
        with pytest.raises(KeyError):
            del npk["nope"]
    with NumPack(tmp_path / "d.npk") as npk:  # saves through npk[...] = are committed
        assert sorted(npk) == sorted(model)


class _Cells(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self._in = [], False

    def handle_starttag(self, tag, attrs):
        self._in = tag in ("td", "th")

    def handle_endtag(self, tag):
        self._in = False

    def handle_data(self, data):
        if self._in:
            self.cells.append(data)


def _cells(text):
    p = _Cells()
    p.feed(text)
    return p.cells


def test_store_html_lists_arrays_shapes_dtypes_sizes(tmp_path):
    with NumPack(tmp_path / "h.npk") as npk:
        npk.save({"vec": np.zeros((1000, 8), np.float32), "<b>": np.arange(3, dtype=np.int16)})
        npk.drop("vec", [0, 1])
        cells = _cells(npk._repr_html_())
        assert cells[:5] == ["name", "shape", "dtype", "dropped rows", "size"]
        rows = [cells[i:i + 5] for i in range(5, len(cells), 5)]
        assert rows == [["vec", "(998, 8)", "float32", "2", f"{998 * 32 / 1024:.1f} KiB"],
                        ["<b>", "(3,)", "int16", "0", "6 B"]]
        assert "<b>" not in npk._repr_html_().split("<tbody>")[1].replace("<b>NumPack", "")  # escaped
        lazy = npk.load("vec", lazy=True)
        lcells = _cells(lazy._repr_html_())
        assert lcells == ["shape", "dtype", "size", "(998, 8)", "float32", f"{998 * 32 / 1024:.1f} KiB"]
        assert "<pre>" in lazy._repr_html_()
    assert "closed" in npk._repr_html_()
