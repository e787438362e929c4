"""A 5 GiB object through the file and S3 backends: streaming, time and peak memory.

    python benchmarks/large_file.py                 # 5 GiB
    python benchmarks/large_file.py --gib 1         # a quicker look

The object is generated on the fly (1 MiB blocks stamped with their index: never held whole,
never compressible), so the only copy that ever exists is the stored one. Each step runs in its
own process, which reports its own peak RSS (``getrusage``; the SeaweedFS server not counted):

- ``file``: ``put`` into a filesystem location (temp file, SHA-256 checked while streaming, fsync,
  publish), then ``open`` and SHA-256 of the stored object;
- ``s3``: the same into a SeaweedFS bucket on loopback (``tests/s3server.py``), with the backend's
  default multipart settings (objects from 64 MiB go up in 16 MiB parts, each with its SHA-256
  checked by the server), then a streamed download and SHA-256.

Needs 15 GB free where the run happens (checked first; the run is skipped otherwise).
Nothing is asserted: a measurement.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from preservation.hashing import sha256_stream  # noqa: E402
from preservation.storage import StorageBackend, open_location  # noqa: E402
from tests.generated_stream import MiB, digest_of, stream_of  # noqa: E402

GiB = 1024 * MiB
NEEDED_FREE = 15 * 10**9


def put_and_read(backend: StorageBackend, size: int, sha256: str) -> dict[str, float]:
    """Put the generated object, then read it back whole; seconds of each."""
    start = time.perf_counter()
    backend.put("large/object.bin", stream_of(size), size=size, sha256=sha256)
    put = time.perf_counter() - start
    start = time.perf_counter()
    with backend.open("large/object.bin") as stream:
        digest, _ = sha256_stream(stream)
    read = time.perf_counter() - start
    if digest != sha256:
        raise SystemExit("read back a different object")
    return {"put": put, "read": read}


def step(kind: str, size: int, sha256: str, work: Path) -> dict[str, float]:
    """One measured step, in this (child) process."""
    if kind == "file":
        root = work / "file-location"
        root.mkdir()
        backend = open_location(root.as_uri())
        try:
            return put_and_read(backend, size, sha256)
        finally:
            backend.close()
    from tests.s3server import run_seaweedfs

    with run_seaweedfs(work / "seaweedfs") as server:
        bucket = server.create_bucket()
        client = server.client()
        backend = open_location(f"s3://{bucket}/bench", client=client)
        try:
            return put_and_read(backend, size, sha256)
        finally:
            backend.close()
            client.close()


def run_step(kind: str, size: int, sha256: str, work: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--step", kind, "--bytes", str(size), "--sha256", sha256,
         "--work", str(work)], stdout=subprocess.PIPE, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"step {kind} failed")
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=5.0)
    parser.add_argument("--work", type=Path, help="parent folder (default: /tmp)")
    parser.add_argument("--step", choices=("file", "s3"), help=argparse.SUPPRESS)
    parser.add_argument("--bytes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sha256", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=("file", "s3"), help="run one backend only")
    args = parser.parse_args()
    if args.step:
        result = step(args.step, args.bytes, args.sha256, args.work)
        # this process alone (os.wait4 in the parent would also count the SeaweedFS server)
        result["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    parent = args.work or Path(tempfile.gettempdir())
    free = shutil.disk_usage(parent).free
    size = int(args.gib * GiB)
    if free < NEEDED_FREE and args.gib >= 5:
        print(f"skipped: {free / 1e9:.1f} GB free in {parent}, the 5 GiB run needs "
              f"{NEEDED_FREE / 1e9:.0f} GB")
        return
    print(f"object: {size:,} bytes ({size / GiB:.2f} GiB), generated on the fly; "
          f"{free / 1e9:.0f} GB free in {parent}")
    start = time.perf_counter()
    sha256 = digest_of(size)
    print(f"  SHA-256 of the generated stream alone: {time.perf_counter() - start:.1f} s")
    for kind in ("file", "s3"):
        if args.only and kind != args.only:
            continue
        work = Path(tempfile.mkdtemp(prefix=f"bench-large-{kind}-", dir=parent))
        try:
            times = run_step(kind, size, sha256, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        mb = size / 1e6
        print(f"  {kind:<5} put {times['put']:7.1f} s ({mb / times['put']:5.0f} MB/s)   "
              f"read back {times['read']:6.1f} s ({mb / times['read']:5.0f} MB/s)   "
              f"peak RSS {times['rss']:5.0f} MiB")


if __name__ == "__main__":
    main()
