"""Fixtures of the storage suite: ``backend`` is every storage kind in turn.

The contract tests in ``test_storage_contract.py`` take ``backend`` and so run once per kind; a
new backend joins the suite by adding its kind to ``KINDS`` and a branch to ``backend``. The S3
kind uses the session's SeaweedFS server (``seaweedfs``, ``s3_url`` from ``tests/s3server.py``,
registered once for the whole suite by ``tests/conftest.py``; registering them again here would
start a second server), started only when an S3 test actually runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from preservation.storage import StorageBackend, open_location

MiB = 1024 * 1024

KINDS = ["file", pytest.param("s3", marks=pytest.mark.s3)]


@pytest.fixture(params=KINDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageBackend]:
    """An empty location of one kind: a fresh directory, or a fresh prefix in the S3 bucket.

    The S3 location switches to multipart from 5 MiB in 5 MiB parts (S3's minimum part size),
    so that a 12 MiB object exercises a 3-part upload without costing much time.
    """
    if request.param == "file":
        root = tmp_path / "store"
        root.mkdir()
        location = open_location(root.as_uri())
        yield location
        location.close()
    else:
        server = request.getfixturevalue("seaweedfs")
        url = request.getfixturevalue("s3_url")
        client = server.client()
        location = open_location(url, client=client, multipart_threshold=5 * MiB, part_size=5 * MiB)
        yield location
        location.close()
        client.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty folder for a filesystem location (a test file may define its own)."""
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture
def payload() -> Callable[..., bytes]:
    """``payload(size, seed=0)``: reproducible pseudo-random bytes, different for each seed."""

    def make(size: int, seed: int = 0) -> bytes:
        return random.Random(seed).randbytes(size)

    return make
