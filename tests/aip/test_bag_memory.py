"""The AIP bag writer and the TT05 AIP keep no per-file list: same objects, same bytes.

``staged()`` spools its objects (equal whatever the in-memory part), ``write_bag`` writes the
manifest in bag-path order without a sorted copy when the payload comes in sorted runs (the same
bytes as from a shuffled payload, which it sorts), a producer's tag file is copied a chunk at a
time, and a TT05 AIP built with tiny spools is byte-identical to one built with the default.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aip import model
from aip import tt05_aip_bag as bag
from aip import tt05_aip_staging as staging_module
from aip.builder import Actors, build_aip
from aip.model import FormatId, PayloadFile, PreviousVersion, ReusableFile
from aip.tt05_aip_bag import (
    FETCH,
    BagIdentity,
    StagedObject,
    staged,
    staged_fields,
    staged_from_fields,
    write_bag,
)
from aip.tt05_aip_staging import copy_file
from preservation.manifest import MANIFEST, TAGMANIFEST
from preservation.repository import Repository
from preservation.signing import SigningIdentity
from preservation.spooled import spooled
from sip.tt05_model import PackageKind
from sip.validate import open_sip
from tests.aip.test_tt05_aip import _sip

PDF = FormatId("fmt/276", "Acrobat PDF 1.7", "1.7", "application/pdf", "signature")


def _payload(count: int) -> list[PayloadFile]:
    """Content numbered in rep1/data (sorted), then metadata files in the builder's order."""
    out = [PayloadFile(f"representations/rep1/data/{n:06d}.pdf", Path(f"/sip/tệp {n}.pdf"),
                       n, f"{n:064x}", "content", f"thư mục/tệp {n}.pdf", PDF)
           for n in range(1, count + 1)]
    for path in ("submission/sip/METS.xml", "submission/sip/renamed/000002.txt",
                 "submission/bagit.txt", "submission/validation-report.json",
                 "metadata/preservation/PREMIS.xml",
                 "representations/rep1/metadata/preservation/PREMIS_rep1.xml",
                 "schemas/mets.xsd", "METS.xml"):
        out.append(PayloadFile(path, Path("/staging/data") / path, len(path),
                               hashlib.sha256(path.encode()).hexdigest(), "metadata",
                               "Ghi chú.txt" if "renamed" in path else None))
    return out


def _previous(payload: Sequence[PayloadFile]) -> PreviousVersion:
    """A previous version holding every third content file (their bytes are reused)."""
    files = tuple(ReusableFile("data/" + p.aip_path, p.size, p.sha256.upper(),
                               f"{uuid.UUID(int=1)}/data/{p.aip_path}", "content")
                  for p in payload[::3] if p.role == "content")
    return PreviousVersion(str(uuid.UUID(int=1)), str(uuid.UUID(int=1)), 1, "urn:uuid:x",
                           "supplement", files)


def test_staged_objects_are_equal_across_the_spool_boundary() -> None:
    payload = _payload(40)
    previous = _previous(payload)
    whole = staged(payload, previous, keep=10_000)
    for keep in (0, 1, 7, 39):
        small = staged(iter(payload), previous, keep=keep)  # any iterable, read once
        assert len(small) == len(payload)
        assert small == whole
        assert list(small) == list(whole)
        assert small[-1] == whole[-1] and small[25] == whole[25]
    reused = [o for o in whole if o.stored_key]
    assert len(reused) == 14 and all(o.source is None for o in reused)
    assert whole[1].source == Path("/sip/tệp 2.pdf") and whole[1].stored_key is None


@pytest.fixture
def identity(repo: Repository) -> SigningIdentity:
    return repo.identity()


IDENT = BagIdentity(
    aip_uuid=str(uuid.UUID(int=2)), package_uuid=str(uuid.UUID(int=1)), version=2,
    previous_uuid=str(uuid.UUID(int=1)), record_status="SUPPLEMENT", fonds_code="H41",
    archive_code="", source_kind="bagit", objid="urn:uuid:x",
    created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), organisation="Lưu trữ", label="Hồ sơ",
    source_name="transfer")


def _tag_files(folder: Path, objects: Sequence[StagedObject], identity: SigningIdentity
               ) -> dict[str, bytes]:
    folder.mkdir()
    tags, tagmanifest, _ = write_bag(folder, objects, IDENT, identity)
    assert tagmanifest.sha256 == hashlib.sha256((folder / TAGMANIFEST).read_bytes()).hexdigest()
    return {t.bag_path: (folder / t.bag_path).read_bytes() for t in [*tags, tagmanifest]}


def test_write_bag_writes_the_same_bytes_sorted_in_runs_or_shuffled(
        tmp_path: Path, identity: SigningIdentity, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = _payload(3000)
    objects = list(staged(payload, _previous(payload)))
    expected = _tag_files(tmp_path / "sorted", sorted(objects, key=lambda o: o.bag_path),
                          identity)
    manifest = expected[MANIFEST].decode().splitlines()
    assert len(manifest) == len(objects) and manifest == sorted(manifest, key=lambda line:
                                                                  line.split("  ", 1)[1])
    assert FETCH in expected and "renamed-names.json" in expected
    shuffled = objects[:]
    random.Random(5).shuffle(shuffled)
    spool = spooled(objects, staged_fields, staged_from_fields, keep=100)
    monkeypatch.setattr(bag, "_MERGE_WINDOW", 64)  # windows smaller than the runs
    for name, given in (("runs", objects), ("shuffled", shuffled), ("spooled", spool),
                        ("one-run", sorted(spool, key=lambda o: o.bag_path))):
        assert _tag_files(tmp_path / name, given, identity) == expected, name


def test_runs_are_merged_and_many_runs_are_sorted() -> None:
    objects = list(staged(_payload(50), None))
    size, count, reused, starts = bag._scan(objects)
    assert (size, count, reused) == (sum(o.size for o in objects), len(objects), False)
    assert starts is not None and 1 < len(starts) < 10  # the builder's few runs
    ordered = bag._in_bag_path_order(objects, count, starts)
    assert list(ordered()) == list(ordered()) == sorted(objects, key=lambda o: o.bag_path)
    reverse = objects[::-1]
    assert bag._scan(reverse)[3] is None  # one run per object: sorted as a whole
    assert list(bag._in_bag_path_order(reverse, count, None)()) == sorted(
        objects, key=lambda o: o.bag_path)


def test_a_producer_manifest_is_copied_a_chunk_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = "".join(f"{n:064x}  data/thư mục/tệp {n}.txt\n" for n in range(5000)).encode()
    source = tmp_path / "manifest-sha256.txt"
    source.write_bytes(lines)
    monkeypatch.setattr(staging_module, "CHUNK", 4096)
    item = copy_file(tmp_path / "staging", "submission/manifest-sha256.txt", source)
    assert item.source == tmp_path / "staging" / "data" / "submission" / "manifest-sha256.txt"
    assert item.source.read_bytes() == lines
    assert (item.size, item.sha256) == (len(lines), hashlib.sha256(lines).hexdigest())
    assert item.role == "metadata" and item.aip_path == "submission/manifest-sha256.txt"


def _counting_uuids() -> Iterator[uuid.UUID]:
    n = 0
    while True:
        n += 1
        yield uuid.UUID(int=n)


def _tt05_bag(tmp_path: Path, sip: Path, name: str, identity: SigningIdentity,
              monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    numbers = _counting_uuids()
    monkeypatch.setattr(uuid, "uuid4", lambda: next(numbers))
    with open_sip(sip, tmp_path / f"{name}-work") as sub:
        assert sub.valid
        staging = tmp_path / name
        staging.mkdir()
        built = build_aip(sub, aip_uuid=str(uuid.UUID(int=99)), staging=staging,
                          identity=identity, actors=Actors("Lưu trữ", "archivist"),
                          created=IDENT.created, fonds_code="H41", archive_code="LTLS.NA")
        objects = list(built.objects)
    assert len(objects) > 20
    return {o.bag_path: (o.source.read_bytes() if o.source else b"")
            for o in objects if o.role != "signature"}


def test_a_tt05_aip_is_the_same_with_tiny_spools(
        tmp_path: Path, identity: SigningIdentity, monkeypatch: pytest.MonkeyPatch) -> None:
    sip = _sip(tmp_path, PackageKind.HOSO, extra=5)
    expected = _tt05_bag(tmp_path, sip, "default", identity, monkeypatch)
    monkeypatch.setattr(model, "KEEP", 1)
    assert _tt05_bag(tmp_path, sip, "tiny", identity, monkeypatch) == expected
