"""Fixtures shared by the whole suite: ../shared, a repository home, a sample transfer, S3."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from preservation.config import Config
from preservation.repository import Repository, init_repository
from sip.samples import make_sample_transfer
from tests.s3server import s3_bucket, s3_lock_bucket, s3_url, seaweedfs  # noqa: F401

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (schemas and peer corpora); tests that need it skip when it is absent."""
    if not (SHARED / "schemas" / "mets.xsd").is_file():
        pytest.skip(f"../shared is not present at {SHARED}: the official schemas and corpora "
                    "used as independent oracles are missing")
    return SHARED


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh repository home with the embedded default (two folders, SQLite, test identity)."""
    path = tmp_path / "archive"
    init_repository(path, name="Lưu trữ lịch sử tỉnh (test)")
    return path


@pytest.fixture
def repo(home: Path) -> Iterator[Repository]:
    with Repository.open(home) as repository:
        yield repository


@pytest.fixture
def config(repo: Repository) -> Config:
    return repo.config


@pytest.fixture
def transfer(tmp_path: Path) -> Path:
    """A producer's BagIt bag with Vietnamese names (NFC and NFD) and a PDF."""
    return make_sample_transfer(tmp_path / "transfer")


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every os.fsync call (the calls still happen)."""
    calls: list[int] = []
    real = os.fsync

    def recording(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return calls
