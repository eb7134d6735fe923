"""Child of ``test_corrupt_stores.py``: opens corrupted copies of seed stores, one case at a
time, under an address-space limit, and reports each case's outcome on stdout (the protocol of
``child_runner.py``).

A case copies one seed store, damages it in one deterministic way (chosen by the case number),
then opens it, reads every array in every way, tries a write and opens it again. Every call
must either work or raise a documented exception; a write that succeeded must leave a store
that opens. Run as ``python corrupt_stores_child.py WORK FIRST``; ``NUMPACK_CORRUPT_CASES``
sets the number of cases and ``NUMPACK_CORRUPT_FIRST`` the number of the first (so that a long
range can be split over several runs).
"""

import itertools
import os
import random
import resource
import shutil
import struct
import sys
from pathlib import Path

import numpy as np

#: Address space a case may use: a hostile file must not make us allocate what it declares.
ADDRESS_SPACE = 4 << 30


def seed_stores(work: Path) -> list:
    """Builds the seed stores once (several dtypes and ranks, dropped rows, 0-d and empty)."""
    from numpack import NumPack

    seeds = []
    for k in range(3):
        root = work / f"seed{k}.npk"
        if not root.exists():
            rng = np.random.default_rng(k)
            with NumPack(root) as npk:
                npk.save({
                    "f": rng.standard_normal((40, 3)).astype(np.float32),
                    "i": np.arange(70, dtype=np.int64) * (k + 1),
                    "h": rng.standard_normal((9, 2, 2)).astype(np.float16),
                    "s": np.array(k + 0.5),
                    "e": np.zeros((0, 4), np.uint8),
                    "z": np.zeros((5, 0), np.int16),
                })
                npk.drop("f", [0, 7, 39])
                if k:
                    npk.drop("i", list(range(0, 70, 3)))
                    npk.append({"f": np.ones((2, 3), np.float32)})
        seeds.append(root)
    return seeds


def dim_offsets(meta: bytes) -> list:
    """Byte offsets of every dimension in a catalogue (its layout: docs/FORMAT.md §2)."""
    out, pos = [], 20
    count = struct.unpack_from("<I", meta, 16)[0]
    for _ in range(count):
        (n,) = struct.unpack_from("<I", meta, pos)
        pos += 4 + n
        (ndim,) = struct.unpack_from("<I", meta, pos)
        if ndim > 64:  # an already damaged catalogue: no dims to find
            raise struct.error(f"{ndim} dimensions")
        pos += 4
        out += [pos + 8 * d for d in range(ndim)]
        pos += 8 * ndim
        (n,) = struct.unpack_from("<I", meta, pos)
        pos += 4 + n + 8 + 8 + 1 + 1 + 4 + 8 + 8 + 1
    return out


def damage(root: Path, rng: random.Random) -> str:
    """Damages the store at ``root`` in one way; returns a description."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != ".numpack.lock")
    target = rng.choice(files)
    raw = bytearray(target.read_bytes())
    kind = rng.choice(["flip", "flips", "truncate", "delete", "swap", "garbage", "huge_dim", "journal", "leftover", "extend"])
    if kind == "flip" and raw:
        i = rng.randrange(len(raw))
        raw[i] ^= 1 << rng.randrange(8)
    elif kind == "flips" and raw:
        for _ in range(rng.randint(2, 16)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    elif kind == "truncate":
        raw = raw[: rng.randrange(len(raw) + 1)]
    elif kind == "delete":
        target.unlink()
        return f"delete {target.name}"
    elif kind == "swap":
        other = rng.choice(files)
        target.write_bytes(other.read_bytes())
        return f"swap {target.name} <- {other.name}"
    elif kind == "garbage":
        raw += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == "extend":
        raw += bytes(rng.choice([8, 4096, 1 << 20]))
    elif kind == "huge_dim":
        target = root / "metadata.npkm"
        raw = bytearray(target.read_bytes()) if target.exists() else bytearray()
        try:
            offsets = dim_offsets(bytes(raw))
        except struct.error:  # already damaged: its dims cannot be found
            offsets = []
        if not offsets:
            return "huge_dim skipped"
        at = rng.choice(offsets)
        value = rng.choice([1 << 40, 1 << 62, (1 << 64) - 1, 1 << 36, 1 << 31, 0])
        struct.pack_into("<Q", raw, at, value)
    elif kind == "journal":
        target = root / "commit.npkj"
        steps = [(1, "data_f.npkd", "data_i.npkd"), (2, "metadata.npkm"), (3, "data_f_segments"), (1, "deleted_f.npkb", "deleted_i.npkb")]
        body = bytearray(b"NPKJ" + struct.pack("<II", 1, 0))
        n = 0
        for step in rng.sample(steps, rng.randint(1, len(steps))):
            body.append(step[0])
            for path in step[1:]:
                body += struct.pack("<I", len(path)) + path.encode()
            n += 1
        struct.pack_into("<I", body, 8, n)
        if rng.random() < 0.5 and len(body) > 12:
            body[rng.randrange(12, len(body))] ^= 0xFF
        raw = body
    elif kind == "leftover":
        target = root / rng.choice(["metadata.npkm.tmp", "data_f.npkd.tmp", "deleted_i.npkb.tmp", "commit.npkj.tmp"])
        raw = bytearray(rng.randrange(256) for _ in range(rng.randint(0, 100)))
    target.write_bytes(bytes(raw))
    return f"{kind} {target.name}"


def exercise(root: Path) -> None:
    """Opens, reads every array every way, writes, and reopens; documented errors are fine."""
    from numpack import NumPack

    documented = (KeyError, IndexError, ValueError, TypeError, MemoryError, OSError, __import__("numpack").NumPackError)
    wrote = False
    try:
        with NumPack(root) as npk:
            for name in npk.get_member_list():
                for read in (
                    lambda: npk.load(name),
                    lambda: np.asarray(npk.load(name, lazy=True)[:5]),
                    lambda: npk.getitem(name, [0, -1]),
                    lambda: npk.getitem(name, slice(None, None, -3)),
                    lambda: npk.get_shape(name),
                    lambda: [b.shape for b in itertools.islice(npk.stream_load(name, 16), 8)],
                ):
                    try:
                        read()
                    except documented:
                        pass
            for write in (lambda: npk.drop("i", [0]), lambda: npk.append({"i": np.arange(3, dtype=np.int64)}),
                          lambda: npk.save({"new": np.arange(4.0)})):
                try:
                    write()
                    wrote = True
                except documented:
                    pass
    except documented:
        pass
    if wrote:
        # Nothing a writer produces is refused by a reader.
        with NumPack(root) as npk:
            for name in npk.get_member_list():
                npk.get_shape(name)


def main() -> None:
    work, first = Path(sys.argv[1]), int(sys.argv[2])
    total = int(os.environ.get("NUMPACK_CORRUPT_CASES", "300"))
    # Case numbers (and so the damage done) start here: several runs can split a long range.
    offset = int(os.environ.get("NUMPACK_CORRUPT_FIRST", "0"))
    seeds = seed_stores(work)
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    print(f"L {total}", flush=True)
    for i in range(first, total):
        print(f"S {i}", flush=True)
        rng = random.Random(offset + i)
        root = work / f"case{i % 4}.npk"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(seeds[(offset + i) % len(seeds)], root)
        what = ""
        try:
            for _ in range(1 + ((offset + i) % 3 == 0)):
                what += damage(root, rng) + "; "
            exercise(root)
            verdict = "ok"
        except BaseException as e:  # noqa: BLE001 - every other outcome is the failure reported
            verdict = f"FAIL {what}{type(e).__module__}.{type(e).__name__}: {e}"[:400]
        print(f"E {i} {verdict}", flush=True)


if __name__ == "__main__":
    main()
