"""Jupyter views (``_repr_html_``) of a store and of a LazyArray: small escaped HTML tables."""

from __future__ import annotations

import html
from typing import Any, Optional, Sequence, Tuple


def human_bytes(n: int) -> str:
    """``n`` bytes in the largest binary unit that keeps it at least 1 (``1.5 KiB``).

    >>> human_bytes(0), human_bytes(1536), human_bytes(3 * 1024 ** 3)
    ('0 B', '1.5 KiB', '3.0 GiB')
    """
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


_STYLE = "border-collapse:collapse;font-family:monospace;font-size:12px"
_CELL = "padding:2px 8px;border:1px solid #ccc;text-align:left"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f'<th style="{_CELL}">{html.escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{html.escape(str(c))}</td>' for c in row) + "</tr>" for row in rows
    )
    return f'<table style="{_STYLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def store_html(path: str, arrays: Optional[Sequence[Tuple[str, Tuple[int, ...], str, int, int]]],
               error: Optional[str] = None) -> str:
    """A store: its path, then one row per array ``(name, shape, dtype, dropped rows, bytes)``."""
    title = f"<b>NumPack</b> <code>{html.escape(path)}</code>"
    if error is not None:
        return f"<div>{title}: {html.escape(error)}</div>"
    if arrays is None:
        return f"<div>{title} (closed)</div>"
    rows = [(n, s, d, dropped, human_bytes(b)) for n, s, d, dropped, b in arrays]
    count = f"{len(rows)} array" + ("" if len(rows) == 1 else "s")
    return f"<div>{title}, {count}{_table(['name', 'shape', 'dtype', 'dropped rows', 'size'], rows)}</div>"


def lazy_html(shape: Tuple[int, ...], dtype: Any, nbytes: int, preview: Optional[str]) -> str:
    """A LazyArray: shape, dtype and size, and a short text preview of its first rows."""
    table = _table(["shape", "dtype", "size"], [(shape, dtype, human_bytes(nbytes))])
    pre = "" if preview is None else f"<pre>{html.escape(preview)}</pre>"
    return f"<div><b>LazyArray</b>{table}{pre}</div>"
