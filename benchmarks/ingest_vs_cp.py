"""Ingest throughput and memory against plain tools, measured in the same run.

    python benchmarks/ingest_vs_cp.py [FILES] [MIB]        (default: 2000 files, 256 MiB)

Generates a transfer of FILES files totalling MIB MiB (random bytes, so nothing compresses),
makes it a BagIt bag, then times, on the same (warm-cache) tree:

- ``cp -r`` twice, to two folders               — the floor for "two copies"
- ``openssl dgst -sha256`` over every file        — the floor for hashing
- bagit-python ``Bag.validate()``                 — the reference BagIt validator
- our ``validate_bag``                            — BagIt validation, all digests in one pass
- ``preservation ingest`` to two file:// locations — validate + identify + build + sign +
  write two copies + read both back, as a separate process (peak RSS measured)

and prints each time and its ratio to the reference. Nothing is asserted: it is a measurement.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bagit  # noqa: E402

from sip.bagit import validate_bag  # noqa: E402


def make_tree(folder: Path, files: int, total: int) -> None:
    rng = random.Random(20261121)
    size = max(1, total // files)
    for i in range(files):
        sub = folder / f"hồ sơ {i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"văn bản {i:06d}.bin").write_bytes(rng.randbytes(size))


def timed(label: str, fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<44} {seconds:8.2f} s")
    return seconds


def main() -> None:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        bag_dir = work / "transfer"
        make_tree(bag_dir, files, mib * 1024 * 1024)
        bagit.make_bag(str(bag_dir), checksums=["sha256"])
        payload = [str(p) for p in (bag_dir / "data").rglob("*") if p.is_file()]
        print(f"transfer: {len(payload)} files, {mib} MiB, in {work}")

        def cp_twice() -> None:
            for n in (1, 2):
                subprocess.run(["cp", "-r", str(bag_dir), str(work / f"cp{n}")], check=True)

        def openssl() -> None:
            for i in range(0, len(payload), 500):
                subprocess.run(["openssl", "dgst", "-sha256", *payload[i:i + 500]],
                               check=True, stdout=subprocess.DEVNULL)

        t_cp = timed("cp -r, twice", cp_twice)
        t_ssl = timed("openssl dgst -sha256, every file", openssl)
        t_bagit = timed("bagit-python Bag.validate()", lambda: bagit.Bag(str(bag_dir)).validate())
        t_ours = timed("our validate_bag", lambda: validate_bag(bag_dir))

        home = work / "archive"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-m", "preservation", "--home", str(home), "init",
                        "--json"], check=True, stdout=subprocess.DEVNULL, env=env)
        t_ingest = timed("preservation ingest (2 copies, verified)", lambda: subprocess.run(
            [sys.executable, "-m", "preservation", "--home", str(home), "ingest",
             str(bag_dir), "--json"], check=True, stdout=subprocess.DEVNULL, env=env))
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        print("ratios (lower is better):")
        print(f"  our validate_bag / openssl dgst          {t_ours / t_ssl:6.2f}")
        print(f"  our validate_bag / bagit-python validate {t_ours / t_bagit:6.2f}")
        print(f"  ingest / (cp -r twice)                   {t_ingest / t_cp:6.2f}")
        print(f"peak RSS of the largest child process: {peak:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
