"""The ``numpack`` command line (also ``python -m numpack``).

Verbs: ``info``, ``verify``, ``convert``, ``pack``, ``unpack``, ``compact``, ``head`` and
``search``; ``numpack VERB --help`` shows each with an example. Every verb works through the
public Python API (``numpack.NumPack``, ``numpack.io``, ``numpack.pack``…); this module only
parses arguments and prints.

Exit status:

====  ==========================================================================
0     success (``verify``: the store is clean)
1     ``verify`` found problems (listed)
2     bad usage, or the store cannot be read (missing folder, corrupt catalogue)
3     any other error: a missing file or array, an existing target, a bad argument,
      a lock held by another writer, a missing optional package
130   interrupted (Ctrl-C); the store is as it was before the command
====  ==========================================================================

Errors are one line on stderr (``numpack: error: …``), never a traceback.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_UNREADABLE = 2
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130

#: File extensions and the format each means for ``convert``.
FORMATS: Dict[str, str] = {
    ".npk": "npk", ".npy": "npy", ".npz": "npz", ".h5": "hdf5", ".hdf5": "hdf5", ".zarr": "zarr",
    ".parquet": "parquet", ".pq": "parquet", ".feather": "feather", ".arrow": "feather",
    ".safetensors": "safetensors", ".csv": "csv", ".txt": "txt",
}


class CliError(Exception):
    """A user error with its exit status."""

    def __init__(self, message: str, status: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.status = status


# -- helpers -------------------------------------------------------------------------------------
def _progress(args: argparse.Namespace) -> Any:
    """``progress=`` for the library call: on by default when stderr is a terminal and tqdm
    is installed; ``--progress`` insists (and says so if tqdm is missing), ``--no-progress``
    turns it off."""
    if args.progress is False:
        return False
    if args.progress is True:
        return True
    import importlib.util

    return sys.stderr.isatty() and importlib.util.find_spec("tqdm") is not None


def _open_existing(path: str) -> Any:
    """An opened store that must already exist (the CLI never creates one by reading)."""
    from .store import NumPack

    p = Path(path)
    if not p.is_dir():
        raise CliError(f"no NumPack store at {path!r}", EXIT_UNREADABLE)
    npk = NumPack(p)
    npk.open()
    return npk


def _iso(micros: int) -> str:
    return datetime.datetime.fromtimestamp(micros / 1e6, tz=datetime.timezone.utc).isoformat(timespec="seconds")


def _print_table(header: Sequence[str], rows: Sequence[Sequence[Any]], out: Any = None) -> None:
    out = out or sys.stdout
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for i, r in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip(), file=out)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=out)


# -- info ----------------------------------------------------------------------------------------
def _info(store_path: str, only: Optional[str]) -> Tuple[Dict[str, Any], Optional[int]]:
    """What ``info`` prints: per array its shape, dtype, live and dropped rows, bytes on disk
    (data file or segments, and bitmap), reclaimable bytes (dropped rows, and a data-file tail
    past the committed rows), last change; and the store's totals (the JSON), with the store's
    last change (µs since the epoch, None when empty: the text header). The facts are the core's
    (``numpack_core::facts``, the same the npm CLI prints); this only shapes them as JSON."""
    from . import _numpack

    root = Path(store_path)
    if not root.is_dir():
        raise CliError(f"no NumPack store at {store_path!r}", EXIT_UNREADABLE)
    rows, total, reclaimable, last = _numpack.store_facts(str(root), only)
    arrays = [{
        "name": name,
        "shape": list(shape),
        "dtype": dtype,
        "live_rows": live,
        "dropped_rows": dropped,
        "bytes_on_disk": on_disk,
        "reclaimable_bytes": reclaim,
        "last_modified": _iso(modified),
        "files": [f for f, _n in files],
    } for name, dtype, shape, _phys, live, dropped, files, on_disk, reclaim, modified in rows]
    return {
        "store": str(root),
        "arrays": arrays,
        "bytes_on_disk": total,
        "reclaimable_bytes": reclaimable,
    }, last


def cmd_info(args: argparse.Namespace) -> int:
    from ._html import human_bytes

    info, last = _info(args.store, args.name)
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    print(f"{info['store']}: {len(info['arrays'])} array(s), {human_bytes(info['bytes_on_disk'])} on disk, "
          f"{human_bytes(info['reclaimable_bytes'])} reclaimable, last change {_iso(last) if last is not None else '-'}")
    rows = [(a["name"], tuple(a["shape"]), a["dtype"], a["live_rows"], a["dropped_rows"],
             human_bytes(a["bytes_on_disk"]), human_bytes(a["reclaimable_bytes"]), a["last_modified"])
            for a in info["arrays"]]
    _print_table(["name", "shape", "dtype", "live", "dropped", "on disk", "reclaimable", "last change"], rows)
    return EXIT_OK


# -- verify --------------------------------------------------------------------------------------
def _checksums(store_path: str, progress: Any) -> Dict[str, Dict[str, Any]]:
    """SHA-256 of each array's logical bytes (C order), with its dtype and shape: the core's
    (``numpack_core::verify::checksums``, the same the npm CLI saves), read-only, in blocks."""
    from . import _numpack
    from ._progress import native_hook

    with native_hook(progress, "checksums", "B") as hook:
        sums = _numpack.store_checksums(store_path, hook)
    return {name: {"dtype": dtype, "shape": list(shape), "sha256": sha} for name, dtype, shape, sha in sums}


def cmd_verify(args: argparse.Namespace) -> int:
    from . import _numpack
    from .errors import CorruptStoreError

    root = Path(args.store)
    if not root.is_dir():
        raise CliError(f"no NumPack store at {args.store!r}", EXIT_UNREADABLE)
    if args.repair:
        # Exactly a writer's recovery: opening the store for writing finishes a pending commit
        # journal and removes temporary files. Nothing else is touched.
        from .store import NumPack

        try:
            NumPack(root).open()
        except (CorruptStoreError, OSError) as exc:
            raise CliError(f"cannot repair: {exc}", EXIT_UNREADABLE) from exc
    try:
        found = [{"fault": f, "path": p, "message": m} for f, p, m in _numpack.store_verify(str(root))]
    except (CorruptStoreError, OSError) as exc:
        raise CliError(f"unreadable store: {exc}", EXIT_UNREADABLE) from exc
    if args.data or args.save_checksums:
        if any(p["fault"] in ("data", "bitmap", "segments", "journal") for p in found):
            if args.save_checksums:
                raise CliError("the store has problems: fix them before saving checksums", EXIT_PROBLEMS)
        else:
            try:
                sums = _checksums(args.store, _progress(args))
            except CorruptStoreError as exc:
                raise CliError(f"unreadable store: {exc}", EXIT_UNREADABLE) from exc
            if args.save_checksums:
                Path(args.save_checksums).write_text(json.dumps({"arrays": sums}, indent=2))
            if args.data:
                try:
                    saved = json.loads(Path(args.data).read_text())["arrays"]
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    raise CliError(f"cannot read checksums from {args.data!r}: {exc}") from exc
                for name in sorted(set(saved) | set(sums)):
                    if name not in sums:
                        found.append({"fault": "checksum", "path": name, "message": "array is missing"})
                    elif name not in saved:
                        found.append({"fault": "checksum", "path": name, "message": "array is new since the checksums"})
                    elif saved[name] != sums[name]:
                        found.append({"fault": "checksum", "path": name,
                                      "message": f"contents differ from the saved checksum ({saved[name]['sha256'][:12]}… "
                                                 f"→ {sums[name]['sha256'][:12]}…)"})
    if args.json:
        print(json.dumps({"store": str(root), "clean": not found, "problems": found}, indent=2))
    elif found:
        print(f"{root}: {len(found)} problem(s)")
        _print_table(["fault", "file", "problem"], [(p["fault"], p["path"], p["message"]) for p in found])
    else:
        print(f"{root}: clean")
    return EXIT_PROBLEMS if found else EXIT_OK


# -- convert -------------------------------------------------------------------------------------
def _format_of(path: str, given: Optional[str]) -> str:
    if given:
        fmt = given.lower().lstrip(".")
        fmt = {"h5": "hdf5", "pq": "parquet", "arrow": "feather", "store": "npk"}.get(fmt, fmt)
        if fmt not in set(FORMATS.values()):
            raise CliError(f"unknown format {given!r}: one of {', '.join(sorted(set(FORMATS.values())))}",
                           EXIT_UNREADABLE)
        return fmt
    p = Path(path)
    if p.is_dir() and (p / "metadata.npkm").is_file():
        return "npk"
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise CliError(f"cannot tell the format of {path!r} from its extension: pass --from/--to", EXIT_UNREADABLE)
    return fmt


def _names(name: Optional[List[str]]) -> Any:
    return None if not name else (name[0] if len(name) == 1 else name)


def _one(name: Optional[List[str]], what: str) -> Optional[str]:
    if name and len(name) > 1:
        raise CliError(f"{what} holds one array: pass one --name")
    return name[0] if name else None


def cmd_convert(args: argparse.Namespace) -> int:
    from . import io as nio

    src_fmt, dst_fmt = _format_of(args.src, args.from_), _format_of(args.dst, args.to)
    if (src_fmt == "npk") == (dst_fmt == "npk"):
        raise CliError("one side of convert must be a NumPack store (.npk) and the other a file format",
                       EXIT_UNREADABLE)
    common = {"chunk_size": args.chunk_size, "progress": _progress(args)}
    if dst_fmt == "npk":
        imports: Dict[str, Callable[[], Any]] = {
            "npy": lambda: nio.from_npy(args.src, args.dst, array_name=_one(args.name, ".npy"), **common),
            "npz": lambda: nio.from_npy(args.src, args.dst, **common),
            "csv": lambda: nio.from_csv(args.src, args.dst, array_name=_one(args.name, "CSV"), **common),
            "txt": lambda: nio.from_txt(args.src, args.dst, array_name=_one(args.name, "text"), **common),
            "hdf5": lambda: nio.from_hdf5(args.src, args.dst, dataset_names=_names(args.name), **common),
            "zarr": lambda: nio.from_zarr(args.src, args.dst, array_names=_names(args.name), **common),
            "parquet": lambda: nio.from_parquet(args.src, args.dst, array_name=_one(args.name, "Parquet"), **common),
            "feather": lambda: nio.from_feather(args.src, args.dst, array_name=_one(args.name, "Feather"), **common),
            "safetensors": lambda: nio.from_safetensors_file(args.src, args.dst, keys=_names(args.name), **common),
        }
        imports[src_fmt]()
    else:
        if not Path(args.src).is_dir():
            raise CliError(f"no NumPack store at {args.src!r}", EXIT_UNREADABLE)
        if Path(args.dst).exists() and not args.overwrite:
            raise CliError(f"{args.dst!r} exists (pass --overwrite to replace it)")
        exports: Dict[str, Callable[[], Any]] = {
            "npy": lambda: nio.to_npy(args.src, args.dst, array_names=_one(args.name, ".npy"), **common),
            "npz": lambda: nio.to_npy(args.src, args.dst, array_names=_names(args.name), **common),
            "csv": lambda: nio.to_csv(args.src, args.dst, array_name=_one(args.name, "CSV"), **common),
            "txt": lambda: nio.to_txt(args.src, args.dst, array_name=_one(args.name, "text"), **common),
            "hdf5": lambda: nio.to_hdf5(args.src, args.dst, array_names=_names(args.name), **common),
            "zarr": lambda: nio.to_zarr(args.src, args.dst, array_names=_names(args.name), **common),
            "parquet": lambda: nio.to_parquet(args.src, args.dst, array_name=_one(args.name, "Parquet"), **common),
            "feather": lambda: nio.to_feather(args.src, args.dst, array_name=_one(args.name, "Feather"), **common),
            "safetensors": lambda: nio.to_safetensors_file(args.src, args.dst, array_names=_names(args.name), **common),
        }
        exports[dst_fmt]()
    if not args.quiet:
        print(f"{args.src} -> {args.dst}")
    return EXIT_OK


# -- pack / unpack / compact ----------------------------------------------------------------------
def cmd_pack(args: argparse.Namespace) -> int:
    from .package import pack

    out = pack(args.store, args.output, compression=not args.no_compression, overwrite=args.overwrite,
               progress=_progress(args))
    if not args.quiet:
        print(out)
    return EXIT_OK


def cmd_unpack(args: argparse.Namespace) -> int:
    from .package import unpack

    out = unpack(args.package, args.output, overwrite=args.overwrite, verify=not args.no_verify,
                 progress=_progress(args))
    if not args.quiet:
        print(out)
    return EXIT_OK


def cmd_compact(args: argparse.Namespace) -> int:
    npk = _open_existing(args.store)
    try:
        store = npk._check()
        infos = {name: (shape, phys) for name, _d, shape, phys, _f, _m in store.infos()}
        names = args.name or [n for n, (shape, phys) in infos.items() if shape and phys[0] != shape[0]]
        for name in names:
            if name not in infos:
                raise KeyError(name)
            npk.update(name)
            if not args.quiet:
                print(f"compacted {name}")
    finally:
        npk.close()
    return EXIT_OK


# -- head / search -------------------------------------------------------------------------------
def _jsonable(a: np.ndarray) -> Any:
    if a.dtype.kind == "c":
        return np.stack([a.real, a.imag], axis=-1).tolist()
    return a.tolist()


def cmd_head(args: argparse.Namespace) -> int:
    if args.n < 0:
        raise CliError("-n must not be negative")
    npk = _open_existing(args.store)
    try:
        lazy = npk.load(args.name, lazy=True)
        rows = np.asarray(lazy) if lazy.ndim == 0 else lazy[:args.n]
    finally:
        npk.close()
    if args.json:
        print(json.dumps({"name": args.name, "shape": list(lazy.shape), "dtype": lazy.dtype.name,
                          "rows": _jsonable(np.asarray(rows))}))
        return EXIT_OK
    print(f"{args.name}: shape {tuple(lazy.shape)}, {lazy.dtype}")
    with np.printoptions(threshold=1000, edgeitems=5, linewidth=120):
        print(np.asarray(rows))
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from .vector_engine import StreamingVectorSearch

    if not Path(args.store).is_dir():
        raise CliError(f"no NumPack store at {args.store!r}", EXIT_UNREADABLE)
    try:
        query = np.load(args.query, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the query {args.query!r}: {exc}") from exc
    single = query.ndim == 1
    idx, scores = StreamingVectorSearch().streaming_multi_query_top_k(
        query[None, :] if single else query, args.store, args.name, args.metric, args.k, args.batch_size)
    idx, scores = np.atleast_2d(idx), np.atleast_2d(scores)
    results = [{"query": q, "rank": r + 1, "index": int(idx[q, r]), "score": float(scores[q, r])}
               for q in range(idx.shape[0]) for r in range(idx.shape[1])]
    if args.json:
        print(json.dumps({"metric": args.metric, "k": args.k, "results": results}))
        return EXIT_OK
    _print_table(["query", "rank", "index", "score"],
                 [(x["query"], x["rank"], x["index"], f"{x['score']:.6g}") for x in results])
    return EXIT_OK


# -- the parser ----------------------------------------------------------------------------------
def _verb(sub: Any, name: str, func: Callable[[argparse.Namespace], int], summary: str, example: str) -> Any:
    p = sub.add_parser(name, help=summary, description=summary, epilog=f"example:\n  {example}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=func)
    return p


def _progress_flags(p: Any) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show a progress bar (needs tqdm; default: on when stderr is a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The ``numpack`` argument parser (every verb with ``--help`` and an example)."""
    parser = argparse.ArgumentParser(
        prog="numpack", description="Inspect, check, convert and search NumPack stores.",
        epilog="exit status: 0 ok, 1 verify found problems, 2 bad usage or unreadable store, "
               "3 other errors, 130 interrupted.\nexample:\n  numpack info data.npk",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True

    p = _verb(sub, "info", cmd_info, "Arrays of a store: shapes, dtypes, live and dropped rows, bytes on disk, "
              "reclaimable bytes, last change.", "numpack info data.npk embeddings --json")
    p.add_argument("store")
    p.add_argument("name", nargs="?", help="only this array")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = _verb(sub, "verify", cmd_verify, "Check a store's consistency: every file against the catalogue, sizes, "
              "bitmaps, journal, orphan and temporary files. Exit 0 clean, 1 problems, 2 unreadable. Never "
              "writes unless --repair, which does only what a writer's recovery does.",
              "numpack verify data.npk --save-checksums sums.json  &&  numpack verify data.npk --data sums.json")
    p.add_argument("store")
    p.add_argument("--data", metavar="SUMS", help="also compare each array's contents with checksums saved "
                   "by --save-checksums")
    p.add_argument("--save-checksums", metavar="SUMS", help="save each array's SHA-256 to SUMS (JSON)")
    p.add_argument("--repair", action="store_true", help="finish a pending commit and remove temporary files "
                   "(a writer's recovery), then check")
    p.add_argument("--json", action="store_true", help="print JSON")
    _progress_flags(p)

    p = _verb(sub, "convert", cmd_convert, "Convert between a store (.npk) and .npy/.npz/HDF5/zarr/Parquet/"
              "Feather/safetensors/CSV, in chunks (memory stays about one chunk).",
              "numpack convert vectors.npy data.npk --name vectors")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--from", dest="from_", metavar="FORMAT", help="format of SRC (default: from its extension)")
    p.add_argument("--to", metavar="FORMAT", help="format of DST (default: from its extension)")
    p.add_argument("--name", action="append", help="array (or dataset, key) name; repeat for several")
    p.add_argument("--chunk-size", type=int, default=64 << 20, metavar="BYTES", help="bytes per chunk "
                   "(default 64 MiB)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("-q", "--quiet", action="store_true")
    _progress_flags(p)

    p = _verb(sub, "pack", cmd_pack, "Pack a store into one .npkg file.", "numpack pack data.npk -o data.npkg")
    p.add_argument("store")
    p.add_argument("-o", "--output", help="the package (default: STORE with the .npkg suffix)")
    p.add_argument("--no-compression", action="store_true", help="store files raw")
    p.add_argument("--overwrite", action="store_true", help="replace an existing package")
    p.add_argument("-q", "--quiet", action="store_true")
    _progress_flags(p)

    p = _verb(sub, "unpack", cmd_unpack, "Unpack a .npkg file into a store folder.",
              "numpack unpack data.npkg -o restored.npk")
    p.add_argument("package")
    p.add_argument("-o", "--output", help="the store folder (default: PACKAGE with the .npk suffix)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.add_argument("--no-verify", action="store_true", help="skip the checksum")
    p.add_argument("-q", "--quiet", action="store_true")
    _progress_flags(p)

    p = _verb(sub, "compact", cmd_compact, "Rewrite arrays without their dropped rows (all arrays that have "
              "some, or those named).", "numpack compact data.npk embeddings")
    p.add_argument("store")
    p.add_argument("name", nargs="*")
    p.add_argument("-q", "--quiet", action="store_true")

    p = _verb(sub, "head", cmd_head, "Print the first rows of an array.", "numpack head data.npk embeddings -n 5")
    p.add_argument("store")
    p.add_argument("name")
    p.add_argument("-n", type=int, default=10, help="rows (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = _verb(sub, "search", cmd_search, "Top-k search of a stored array for the query vector(s) in a .npy file "
              "(streamed: the array is never loaded whole).",
              "numpack search data.npk embeddings --query q.npy --metric cosine -k 10")
    p.add_argument("store")
    p.add_argument("name")
    p.add_argument("--query", required=True, help=".npy file holding one query (1-D) or several (2-D)")
    p.add_argument("--metric", default="cosine", help="cosine, dot, l2, l2sq, … (default cosine)")
    p.add_argument("-k", type=int, default=10, help="results per query (default 10)")
    p.add_argument("--batch-size", type=int, default=10000, help="rows scored per batch")
    p.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line and returns the exit status (see the module doc).

    >>> import numpy as np, numpack, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with numpack.NumPack(d + "/s.npk") as npk:
    ...     npk.save({"a": np.arange(3)})
    >>> main(["verify", d + "/s.npk"])  # doctest: +ELLIPSIS
    /.../s.npk: clean
    0
    """
    from .errors import CorruptStoreError, LockError, NumPackError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("numpack: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CliError as exc:
        print(f"numpack: error: {exc}", file=sys.stderr)
        return exc.status
    except CorruptStoreError as exc:
        print(f"numpack: error: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except KeyError as exc:
        print(f"numpack: error: no array named {exc.args[0]!r}" if exc.args else "numpack: error: not found",
              file=sys.stderr)
        return EXIT_ERROR
    except (LockError, NumPackError, OSError, ValueError, TypeError, ImportError, IndexError,
            MemoryError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"numpack: error: {msg}", file=sys.stderr)
        return EXIT_ERROR


def run() -> None:
    """The console-script entry point."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C while parsing or printing
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:  # `numpack head … | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_OK)
