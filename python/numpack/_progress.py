"""``progress=`` for long calls: a ``tqdm`` bar (optional dependency) or a callable.

``progress`` is ``False``/``None`` (the library default: nothing), ``True`` (a ``tqdm`` bar on
stderr; without ``tqdm`` installed a :class:`numpack.io.DependencyError` says how to get it) or
a callable ``progress(done, total)`` (``total`` None when unknown). Calls driven from Python
(conversions, ``stream_load``) report between chunks through :func:`reporting`/:func:`advance`;
calls that run in Rust get a hook (:func:`native_hook`) that the Rust side calls every ~50 ms
with the GIL taken back, after checking for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Any, Callable, Iterator, Optional

_current: "contextvars.ContextVar[Optional[_Reporter]]" = contextvars.ContextVar("numpack_progress", default=None)


def _tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        from .io._common import DependencyError

        raise DependencyError(
            "progress=True needs the optional package 'tqdm': pip install tqdm "
            "(or pip install 'numpack[progress]')"
        ) from exc
    return tqdm


class _Reporter:
    """Counts work done and shows it on a bar or hands it to a callable."""

    def __init__(self, progress: Any, desc: str, unit: str, total: Optional[int]) -> None:
        self.done = 0
        self.total = total
        self._bar: Any = None
        self._fn: Optional[Callable[[int, Optional[int]], Any]] = None
        if progress is True:
            self._bar = _tqdm()(total=total, desc=desc, unit=unit, unit_scale=True, leave=False)
        elif callable(progress):
            self._fn = progress
        else:
            raise TypeError(f"progress must be True, False, None or a callable, not {progress!r}")

    def update_to(self, done: int, total: Optional[int] = None) -> None:
        if total is not None:
            self.total = total
        self.done = done
        if self._bar is not None:
            if total is not None and self._bar.total != total:
                self._bar.total = total
            self._bar.update(done - self._bar.n)
        elif self._fn is not None:
            self._fn(done, self.total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _wanted(progress: Any) -> bool:
    return progress is not None and progress is not False


@contextlib.contextmanager
def reporting(progress: Any, desc: str, unit: str = "B", total: Optional[int] = None) -> Iterator[Optional[_Reporter]]:
    """Makes a reporter current for the calls made inside the block (none if not ``progress``)."""
    if not _wanted(progress):
        yield None
        return
    rep = _Reporter(progress, desc, unit, total)
    token = _current.set(rep)
    try:
        yield rep
    finally:
        _current.reset(token)
        rep.close()


def advance(amount: int, total: Optional[int] = None) -> None:
    """Adds ``amount`` to the current reporter, if there is one (``total`` if now known)."""
    rep = _current.get()
    if rep is not None:
        rep.update_to(rep.done + int(amount), total)


@contextlib.contextmanager
def native_hook(progress: Any, desc: str, unit: str = "B") -> Iterator[Optional[Callable[[int, int], None]]]:
    """The ``progress(done, total)`` callable a Rust call reports to, or None (the Rust side
    still checks for Ctrl-C every ~50 ms)."""
    with reporting(progress, desc, unit) as rep:
        yield None if rep is None else rep.update_to


def with_progress(desc: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Adds the ``progress=False`` keyword to a converter: bytes of rows moved are reported."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def call(*args: Any, progress: Any = False, **kwargs: Any) -> Any:
            with reporting(progress, desc or fn.__name__):
                return fn(*args, **kwargs)

        return call

    return wrap
