"""NumPack's exceptions.

Store errors map onto Python's own where one fits: ``KeyError`` (no such array),
``IndexError`` (row out of range), ``ValueError`` (shape or argument mismatch),
``TypeError`` (unsupported or non-castable dtype, wrong argument type), ``MemoryError`` (a
result or buffer that cannot be allocated), ``OSError`` (the file system).
The rest belong to the :class:`NumPackError` family. No call raises anything else for bad
input (``python/tests/test_bad_calls.py`` holds every public call to that).
"""

from ._numpack import CorruptStoreError, LockError, NumPackError

__all__ = ["NumPackError", "CorruptStoreError", "LockError", "StoreClosedError"]


class StoreClosedError(NumPackError, RuntimeError):
    """The NumPack instance is not open (call ``open()`` or use ``with NumPack(...)``)."""
