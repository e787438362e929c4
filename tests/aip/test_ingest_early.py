"""Early copies (aip.ingest_early): the transfer is copied to each filesystem location's private
incoming area while it is validated; an accepted transfer's payload objects are published from
there (``adopt``, no second copy) and read back like any other; a rejected or failed ingest
leaves no copy; a producer's change during the ingest never reaches the archive unnoticed."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import bagit
import pytest

import aip.ingest as ingest_module
from aip.builder import BuiltAip
from aip.ingest import IngestResult, ingest, recover_interrupted
from aip.ingest_early import EarlyCopies
from preservation.audit import audit
from preservation.config import Config, StorageConfig
from preservation.errors import ChecksumMismatchError, RejectedError
from preservation.repository import Repository
from preservation.storage.filesystem import FilesystemBackend
from preservation.storage.incoming import INCOMING
from tests.aip.test_ingest_copies import early_copies, nothing_left
from tests.helpers import add_test_fonds, location_root, tree_digest


def run(repo: Repository, source: Path, config: Config | None = None) -> IngestResult:
    """Ingest with early copies on every location, unless ``config`` says otherwise."""
    return ingest(config or early_copies(repo.config), source, identity=repo.identity(),
                  catalog=repo.catalog, fonds=add_test_fonds(repo.catalog))


class Waiting(EarlyCopies):
    """Early copies that are complete before validation starts (deterministic tests)."""

    started: ClassVar[list[EarlyCopies]] = []

    @classmethod
    def start(cls, locations: Sequence[StorageConfig], source: Path) -> EarlyCopies:
        copies = super().start(locations, source)
        copies.wait()
        cls.started.append(copies)
        return copies


@pytest.fixture
def waiting(monkeypatch: pytest.MonkeyPatch) -> list[EarlyCopies]:
    Waiting.started = []
    monkeypatch.setattr(ingest_module, "EarlyCopies", Waiting)
    return Waiting.started


@pytest.fixture
def adopted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every key published from an early copy."""
    keys: list[str] = []
    real = FilesystemBackend.adopt

    def adopt(self: FilesystemBackend, key: str, path: str, **kw: Any) -> bool:
        done = real(self, key, path, **kw)
        if done:
            keys.append(key)
        return done

    monkeypatch.setattr(FilesystemBackend, "adopt", adopt)
    return keys


def incoming_left(config: Config) -> list[Path]:
    return [location_root(config, i) / INCOMING for i in range(len(config.storage))
            if (location_root(config, i) / INCOMING).exists()]


def payload(transfer: Path) -> dict[str, bytes]:
    return {p.relative_to(transfer / "data").as_posix(): p.read_bytes()
            for p in (transfer / "data").rglob("*") if p.is_file()}


def test_payload_copied_early_is_published_not_written_again(
        repo: Repository, transfer: Path, waiting: list[EarlyCopies],
        adopted: list[str]) -> None:
    files = payload(transfer)
    result = run(repo, transfer)
    [copies] = waiting
    assert copies.copied("copy1") == copies.copied("copy2") > len(files)  # tag files too
    assert result.file_count == len(files)
    # every payload file on both locations came from its early copy, and has its bytes
    assert len(adopted) == 2 * len(files)
    assert all(key.startswith(f"{result.aip_id}/") for key in adopted)
    for index in range(2):
        root = location_root(repo.config, index)
        stored = {k: (root / k).read_bytes() for k in adopted if (root / k).exists()}
        assert sorted(stored.values()) == sorted(files.values())
    assert incoming_left(repo.config) == []
    assert all(a.ok for a in audit(repo.config, repo.catalog, [result.aip_id],
                                   repo.trust_anchors()))


def test_a_rejected_transfer_leaves_no_early_copy_and_is_unchanged(
        repo: Repository, transfer: Path, waiting: list[EarlyCopies]) -> None:
    victim = next(p for p in (transfer / "data").rglob("*") if p.is_file())
    victim.write_bytes(victim.read_bytes() + b"changed")  # no longer what the manifest says
    before = tree_digest(transfer)
    with pytest.raises(RejectedError):
        run(repo, transfer)
    [copies] = waiting
    assert copies.copied("copy1") > 0  # there was something to remove
    assert incoming_left(repo.config) == []
    assert all(not location_root(repo.config, i).exists()
               or list(location_root(repo.config, i).iterdir()) == [] for i in range(2))
    assert tree_digest(transfer) == before


def test_a_change_made_after_the_early_copy_and_validated_fails_at_the_read_back(
        repo: Repository, transfer: Path, waiting: list[EarlyCopies]) -> None:
    """The producer rewrites a file and its manifest after the early copy: validation accepts
    the new bytes, the early copy holds the old ones, the read-back finds it; nothing is
    left."""
    original = Waiting.start.__func__  # type: ignore[attr-defined]

    def start_then_rewrite(cls: type[EarlyCopies], locations: Sequence[StorageConfig],
                           source: Path) -> EarlyCopies:
        copies = original(cls, locations, source)
        victim = next(p for p in (source / "data").rglob("*.pdf"))
        data = bytearray(victim.read_bytes())
        data[-1] ^= 0xFF  # same size: only the SHA-256 can tell
        victim.write_bytes(bytes(data))
        bagit.Bag(str(source)).save(manifests=True)
        return copies

    Waiting.start = classmethod(start_then_rewrite)  # type: ignore[method-assign,assignment]
    try:
        with pytest.raises(ChecksumMismatchError, match="read back"):
            run(repo, transfer)
    finally:
        Waiting.start = classmethod(original)  # type: ignore[method-assign,assignment]
    assert repo.catalog.aip_ids() == []
    assert incoming_left(repo.config) == []
    nothing_left(repo, repo.config, set())


def test_a_change_after_validation_is_not_stored_the_validated_bytes_are(
        repo: Repository, transfer: Path, waiting: list[EarlyCopies],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the early copy complete, a producer's change after validation does not reach the
    archive: the copy made before holds the bytes validated, and the read-back confirms them.
    (Without early copies the read-back fails such an ingest: test_ingest_copies.py.)"""
    files = payload(transfer)
    real_build = ingest_module._build

    def build_then_change(*args: Any) -> BuiltAip:
        built = real_build(*args)
        victim = next(o.source for o in built.objects if o.role == "content" and o.size > 8)
        assert victim is not None
        victim.write_bytes(b"X" * victim.stat().st_size)
        return built

    monkeypatch.setattr(ingest_module, "_build", build_then_change)
    result = run(repo, transfer)
    digests = {hashlib.sha256(d).hexdigest() for d in files.values()}
    stored = {f.sha256 for f in repo.catalog.files(result.aip_id) if f.role == "content"}
    assert stored == digests
    assert all(a.ok for a in audit(repo.config, repo.catalog, [result.aip_id],
                                   repo.trust_anchors()))


def test_by_default_nothing_is_copied_before_the_verdict(
        repo: Repository, transfer: Path, waiting: list[EarlyCopies],
        adopted: list[str]) -> None:
    config = repo.config  # early_copies unset: off
    result = run(repo, transfer, config)
    [copies] = waiting  # complete before validation: none at all
    assert [copies.copied(s.name) for s in config.storage] == [0, 0]
    assert adopted == []
    assert result.file_count == len(payload(transfer))


def test_no_early_copy_into_a_location_inside_the_transfer_nor_from_a_zip(
        tmp_path: Path, transfer: Path) -> None:
    inside = transfer / "store"
    inside.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    on = {"early_copies": True}
    locations = [StorageConfig("in", inside.as_uri(), on),
                 StorageConfig("out", outside.as_uri(), on)]
    copies = EarlyCopies.start(locations, transfer)
    try:
        copies.wait()
        assert copies.copied("in") == 0 and copies.copied("out") > 0
        assert not (inside / INCOMING).exists()
    finally:
        copies.close()
    assert list(outside.iterdir()) == []
    archive = tmp_path / "transfer.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("bagit.txt", "BagIt-Version: 1.0\n")
    zipped = EarlyCopies.start(locations, archive)
    zipped.close()
    assert list(outside.iterdir()) == []


def test_early_copies_a_killed_ingest_left_are_swept(repo: Repository, transfer: Path) -> None:
    """A killed ingest's incoming area (its lock free) goes with the next ingest's sweep, and
    with ``recover_interrupted``; neither touches anything else."""
    for index in range(2):  # swept whether or not the locations take early copies now
        dead = location_root(repo.config, index) / INCOMING / "killed"
        (dead / "data").mkdir(parents=True)
        (dead / "data" / "file.pdf").write_bytes(b"%PDF-")
    recover_interrupted(repo.config, repo.catalog)
    assert incoming_left(repo.config) == []
    dead = location_root(repo.config, 0) / INCOMING / "killed"
    dead.mkdir(parents=True)
    result = run(repo, transfer)
    assert incoming_left(repo.config) == []
    assert repo.catalog.aip(result.aip_id) is not None


def test_early_copies_are_a_location_option_off_by_default(repo: Repository,
                                                             tmp_path: Path) -> None:
    assert all("early_copies" not in s.options for s in repo.config.storage)
    assert FilesystemBackend(repo.config.storage[0].url).early_copies is False
    on = early_copies(repo.config)
    assert FilesystemBackend(on.storage[0].url, **on.storage[0].options).early_copies is True
    source = tmp_path / "folder"
    source.mkdir()
    (source / "f").write_bytes(b"x")
    for config, made in ((repo.config, False), (on, True)):
        copies = EarlyCopies.start(config.storage, source)
        copies.wait()
        assert [copies.copied(s.name) for s in config.storage] == [int(made)] * 2
        assert (location_root(config, 0) / INCOMING).exists() is made
        copies.close()
        assert not (location_root(config, 0) / INCOMING).exists()
