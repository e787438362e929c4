"""Writing two verified copies of a tree with the filesystem backend, against two ``cp -r``.

    python benchmarks/store_copies.py                       # the 10,000-file, 1 GiB transfer
    python benchmarks/store_copies.py --files 2000 --mib 256

The storage part of an ingest alone, in this process, the way ``aip/ingest.py`` drives it (a pool
of 4 threads per location putting objects, each with its SHA-256 known in advance; a ``sync()``;
then every object read back and hashed), in four ways:

- ``immediate, one copy after the other``: the location's default durability (fsync of each
  file and of its directory inside every ``put``), locations written in turn (ingest before
  the write session);
- ``deferred, one after the other``: a location configured ``durability="deferred"`` (no fsync
  inside ``put``; one ``sync()`` per location before the read-back);
- ``session, both at once``: ``put(..., durable=False)`` on default locations (the write
  session), both locations written, synced and read back at the same time;
- ``session + verify_later, both at once``: the same, and the puts do not hash (the kernel copies
  each file; the read-back checks the SHA-256): what ingest does now.

Reference: ``cp -r`` twice then ``sync``, on the same warm-cache tree. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from ingest_vs_cp import cp_twice, warm  # noqa: E402
from transfer import MiB, make_bag  # noqa: E402

from preservation.hashing import sha256_file, sha256_stream  # noqa: E402
from preservation.storage import StorageBackend, open_location  # noqa: E402

WORKERS = 4
#: the objects' keys, as ingest lays out an AIP: ``<uuid>/data/representations/rep1/data/…``
AIP = "0b7e6a2c-5f1d-4e8a-9c3b-2d4f6a8b0c1e"


Object = tuple[str, Path, int, str]

#: name → (location options, put options, locations at the same time)
MODES: dict[str, tuple[dict[str, str], dict[str, bool], bool]] = {
    "immediate, one copy after the other": ({}, {}, False),
    "deferred, one copy after the other": ({"durability": "deferred"}, {}, False),
    "session, both at once": ({}, {"durable": False}, True),
    "session + verify_later, both at once": ({}, {"durable": False, "verify_later": True}, True),
}


def store_and_verify(objects: list[Object], backend: StorageBackend, put_options: dict[str, bool]
                     ) -> tuple[float, float, float]:
    """(put seconds, sync seconds, read-back seconds) for one copy."""
    def put(obj: Object) -> None:
        key, path, size, digest = obj
        with path.open("rb") as stream:
            backend.put(key, stream, size=size, sha256=digest,
                        durable=put_options.get("durable", True),
                        verify_later=put_options.get("verify_later", False))

    def check(obj: Object) -> None:
        key, _, size, digest = obj
        with backend.open(key) as stream:
            if sha256_stream(stream) != (digest, size):
                raise SystemExit(f"{key} read back differently")

    start = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(put, objects))
    put_s = time.perf_counter() - start
    start = time.perf_counter()
    backend.sync()
    sync_s = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(check, objects))
    return put_s, sync_s, time.perf_counter() - start


def two_copies(objects: list[Object], work: Path, mode: str) -> tuple[float, float, str]:
    """Wall seconds for two verified copies in ``mode``, the CPU seconds (user + system) of
    this process meanwhile (other jobs on the machine do not count there), and the parts."""
    location_options, put_options, at_once = MODES[mode]
    backends = []
    for copy in (1, 2):
        root = work / f"copy-{copy}"
        root.mkdir()
        backends.append(open_location(root.as_uri(), **location_options))
    try:
        start, cpu = time.perf_counter(), os.times()
        if at_once:
            with ThreadPoolExecutor(len(backends)) as lanes:
                parts = list(lanes.map(lambda b: store_and_verify(objects, b, put_options),
                                       backends))
        else:
            parts = [store_and_verify(objects, b, put_options) for b in backends]
        total = time.perf_counter() - start
        after = os.times()
        cpu_s = after.user - cpu.user + after.system - cpu.system
    finally:
        for backend in backends:
            backend.close()
        for copy in (1, 2):
            subprocess.run(["chmod", "-R", "u+w", str(work / f"copy-{copy}")], check=True)
            shutil.rmtree(work / f"copy-{copy}")
        os.sync()
    return total, cpu_s, "; ".join(f"put {p:.2f} + sync {s:.2f} + read {r:.2f}"
                                   for p, s, r in parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat cp and every mode (the disk is shared: times vary)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-store-", dir=args.work))
    try:
        tree = make_bag(work / "transfer", args.files, args.mib * MiB)
        files = sorted(p for p in tree.rglob("*") if p.is_file())
        size = warm(files)
        objects = []
        for n, path in enumerate(files):
            digest, length = sha256_file(path)
            key = f"{AIP}/data/representations/rep1/data/{n:06d}{path.suffix}"
            objects.append((key, path, length, digest))
        print(f"{len(files)} files, {size / MiB:.0f} MiB; {os.cpu_count()} CPUs; warm cache; "
              f"load average {os.getloadavg()[0]:.1f}")
        for round_ in range(1, args.rounds + 1):
            reference = cp_twice(tree, work, sync=True)
            print(f"round {round_}: cp -r twice, then sync {reference:7.2f} s")
            for mode in MODES:
                total, cpu_s, parts = two_copies(objects, work, mode)
                print(f"  {mode:<38} {total:7.2f} s  ({total / reference:4.2f}× cp)  "
                      f"CPU {cpu_s:6.2f} s  {parts}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
