"""Large objects stream through both backends with bounded memory.

A real 5 GiB object takes minutes to write and read back, too long for the test suite; it is
measured by ``benchmarks/large_file.py`` (numbers in docs/benchmarks.md). Here the same code
paths run on smaller objects, with the memory bound made visible:

- file backend: a few hundred MiB streamed from a generator in a child process whose address
  space (``RLIMIT_AS``) leaves far less room than the object's size — buffering the object
  whole would fail with ``MemoryError`` (the child proves the limit bites);
- S3 backend (SeaweedFS): the multipart threshold and part size lowered to S3's 5 MiB minimum,
  so a 48 MiB stream goes up in 10 parts, each checked by the server; ``tracemalloc`` shows the
  Python heap never held much more than a couple of parts.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from preservation.hashing import sha256_stream
from preservation.storage import open_location
from preservation.storage.s3 import S3Backend
from tests.generated_stream import GeneratedStream, MiB, digest_of

if TYPE_CHECKING:
    from tests.s3server import SeaweedFS

ROOT = Path(__file__).resolve().parents[2]


def test_generated_stream_is_reproducible_and_sized() -> None:
    size = 3 * MiB + 123
    a = io.BufferedReader(GeneratedStream(size)).read()
    b = io.BufferedReader(GeneratedStream(size)).read()
    assert len(a) == size and a == b
    assert a[:MiB] != a[MiB:2 * MiB]  # blocks differ: no periodic content


CHILD = textwrap.dedent('''
    import hashlib, io, json, resource, sys
    sys.path.insert(0, sys.argv[1])
    from tests.generated_stream import GeneratedStream, digest_of
    from preservation.hashing import sha256_stream
    from preservation.storage import open_location

    root, size, headroom = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    expected = digest_of(size)
    backend = open_location("file://" + root)
    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + headroom, resource.RLIM_INFINITY))
    try:
        bytearray(size)
        limit_bites = False
    except MemoryError:
        limit_bites = True
    info = backend.put("big/object.bin", io.BufferedReader(GeneratedStream(size)), size=size,
                       sha256=expected)
    with backend.open("big/object.bin") as stream:
        digest, count = sha256_stream(stream)
    print(json.dumps({"limit_bites": limit_bites, "size": info.size, "read": count,
                      "digest_ok": digest == expected}))
''')


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and RLIMIT_AS")
def test_file_backend_streams_an_object_larger_than_its_memory(tmp_path: Path) -> None:
    size = 320 * MiB
    headroom = 96 * MiB  # far less than the object: it cannot be held whole
    store = tmp_path / "store"
    store.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), str(store), str(size), str(headroom)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result == {"limit_bites": True, "size": size, "read": size, "digest_ok": True}
    assert (store / "big" / "object.bin").stat().st_size == size


@pytest.mark.s3
def test_s3_multipart_streams_with_bounded_memory(seaweedfs: SeaweedFS, s3_url: str) -> None:
    size = 48 * MiB + 17  # 10 parts of 5 MiB, the last one short
    part = 5 * MiB
    expected = digest_of(size)
    client = seaweedfs.client()
    backend = open_location(s3_url, client=client, multipart_threshold=part, part_size=part)
    assert isinstance(backend, S3Backend)
    try:
        tracemalloc.start()
        try:
            backend.put("big/object.bin", io.BufferedReader(GeneratedStream(size)), size=size,
                        sha256=expected)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # one part read, its joined copy, and boto3's request: a few parts, never the object
        assert peak < 4 * part
        name = f"{s3_url.split('/', 3)[3]}/big/object.bin"
        raw = client.head_object(Bucket=backend.bucket, Key=name)
        assert raw["ETag"].strip('"').endswith("-10")  # really a 10-part upload
        head = backend.head("big/object.bin")
        assert head is not None and (head.size, head.sha256) == (size, expected)
        with backend.open("big/object.bin") as stream:
            assert sha256_stream(stream) == (expected, size)
    finally:
        backend.close()
        client.close()
