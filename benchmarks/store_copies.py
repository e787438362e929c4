"""Writing two verified copies of a tree with the filesystem backend, against two ``cp -r``.

    python benchmarks/store_copies.py                       # the 10,000-file, 1 GiB transfer
    python benchmarks/store_copies.py --files 2000 --mib 256

The storage part of an ingest alone, in this process, the way ``aip/ingest.py`` drives it (a pool
of 4 threads putting objects, each with its SHA-256 known in advance; then every object read back
and hashed), for both durability modes of ``FilesystemBackend``:

- ``immediate`` (default): fsync of each file and of its directory inside every ``put``;
- ``deferred``: no fsync inside ``put``; one ``sync()`` per location before the read-back (the
  point where an ingest may rely on the copy).

Reference: ``cp -r`` twice then ``sync``, on the same warm-cache tree. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
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


def store_and_verify(objects: list[tuple[str, Path, int, str]], backend: StorageBackend
                     ) -> tuple[float, float, float]:
    """(put seconds, sync seconds, read-back seconds) for one copy."""
    def put(obj: tuple[str, Path, int, str]) -> None:
        key, path, size, digest = obj
        with path.open("rb") as stream:
            backend.put(key, stream, size=size, sha256=digest)

    def check(obj: tuple[str, Path, int, str]) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-store-", dir=args.work))
    try:
        tree = make_bag(work / "transfer", args.files, args.mib * MiB)
        files = sorted(p for p in tree.rglob("*") if p.is_file())
        size = warm(files)
        objects = []
        for n, path in enumerate(files):
            digest, length = sha256_file(path)
            key = f"{hashlib.sha256(str(path).encode()).hexdigest()[:8]}/data/{n:06d}.bin"
            objects.append((key, path, length, digest))
        print(f"{len(files)} files, {size / MiB:.0f} MiB; {os.cpu_count()} CPUs; warm cache")
        reference = cp_twice(tree, work, sync=True)
        print(f"  cp -r twice, then sync                     {reference:7.2f} s")
        for mode in ("immediate", "deferred"):
            total = 0.0
            parts = []
            for copy in (1, 2):
                root = work / f"{mode}-{copy}"
                root.mkdir()
                backend = open_location(root.as_uri(), durability=mode)
                try:
                    put_s, sync_s, read_s = store_and_verify(objects, backend)
                finally:
                    backend.close()
                total += put_s + sync_s + read_s
                parts.append(f"put {put_s:.2f} + sync {sync_s:.2f} + read {read_s:.2f}")
            print(f"  two copies, {mode:<9} {total:7.2f} s  ({total / reference:4.2f}× cp)  "
                  + "; ".join(parts))
            for copy in (1, 2):
                subprocess.run(["chmod", "-R", "u+w", str(work / f"{mode}-{copy}")], check=True)
                shutil.rmtree(work / f"{mode}-{copy}")
            os.sync()
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
