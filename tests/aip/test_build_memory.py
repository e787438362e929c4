"""The AIP build keeps its per-file records out of memory (issue 4, SCALE): content files,
payload and bag objects are spooled, file UUIDs are checked as sorted bytes, and none of it
changes a byte of the AIP."""

from __future__ import annotations

import itertools
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from aip import model
from aip.builder import Actors, BuiltAip, build_aip
from aip.ingest import ingest
from aip.model import (
    ContentFile,
    FormatId,
    PayloadFile,
    PreviousVersion,
    content_file_fields,
    content_file_from_fields,
    payload_fields,
    payload_from_fields,
    spooled_content_files,
)
from aip.premis_checks import SortedKeys
from aip.versions import SUPPLEMENT, VersionRequest, previous_version
from preservation.repository import Repository
from preservation.spooled import spooled
from sip.samples import minimal_pdf
from sip.validate import open_sip
from tests.aip.test_versions import make_bag
from tests.helpers import TEST_FONDS, add_test_fonds

WHEN = datetime(2026, 5, 4, 9, 30, tzinfo=timezone(timedelta(hours=7)))
AIP = "0b6c6a38-63c4-4b77-a5a4-6bfa3f0e2f11"
PDF = FormatId("fmt/95", "PDF/A-1a", "1a", "application/pdf", "signature", "PRONOM", "v109",
               ("fmt/95", "fmt/354"))


def _content_files() -> list[ContentFile]:
    return [ContentFile(str(uuid.UUID(int=n + 1)), f"representations/rep1/data/{n:06d}.pdf",
                        f"thư mục/tệp {n}.pdf", n * 10, f"{n:064x}",
                        PDF if n % 2 else FormatId(None, basis="not identified"),
                        "application/pdf" if n % 2 else "application/octet-stream")
            for n in range(7)]


def test_content_files_round_trip_through_a_spool() -> None:
    files = _content_files()
    seq = spooled(files, content_file_fields, content_file_from_fields, keep=2)
    assert list(seq) == files and seq == files
    assert seq[-1] == files[-1] and seq[4] == files[4]
    assert seq[3].format.alternatives == ("fmt/95", "fmt/354")
    assert seq[3].format is seq[5].format  # one FormatId per identification, not per file


def test_spooled_content_files_follow_the_module_keep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "KEEP", 3)
    files = _content_files()
    seq = spooled_content_files(iter(files))
    assert seq._spool_of() is not None  # type: ignore[attr-defined]  # past KEEP = 3: spooled
    assert len(seq) == 7 and list(seq) == files
    assert list(itertools.islice(seq, 2, 5)) == files[2:5]


def test_payload_files_round_trip_through_a_spool() -> None:
    payload = [PayloadFile("METS.xml", Path("/staging/METS.xml"), 12, "a" * 64, "metadata"),
               PayloadFile("representations/rep1/data/000001.pdf", None, 10, "b" * 64,
                           "content", "Tờ trình.pdf", PDF, "1111/data/x.pdf"),
               PayloadFile("representations/rep1/data/000002.txt", Path("/sip/b.txt"), 3,
                           "c" * 64, "content", "b.txt", FormatId(None, basis="extension"))]
    seq = spooled(payload, payload_fields, payload_from_fields, keep=1)
    assert list(seq) == payload
    assert isinstance(seq[2].source, Path)


def test_sorted_keys_across_several_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SortedKeys, "RUN", 4)
    monkeypatch.setattr(SortedKeys, "READ", 3)
    keys = [os.urandom(16) for _ in range(23)]
    sorted_keys = SortedKeys(iter(keys), 16)
    assert len(sorted_keys) == 23 and list(sorted_keys) == sorted(keys)
    assert all(k in sorted_keys for k in keys)
    assert b"\0" * 16 not in sorted_keys and b"short" not in sorted_keys
    assert sorted_keys.duplicate() is None
    assert SortedKeys([*keys, keys[7]], 16).duplicate() == keys[7]
    prefix = sorted(keys)[5][:1]
    assert list(sorted_keys.starting_with(prefix)) == [k for k in sorted(keys)
                                                     if k.startswith(prefix)]
    assert list(SortedKeys([], 16)) == []
    with pytest.raises(ValueError):
        SortedKeys([b"x" * 15], 16)


def _bag(target: Path) -> Path:
    pdf, other = minimal_pdf("To trinh"), minimal_pdf("Phu luc")
    files = {f"thư mục {n // 3}/tệp {n}.txt": f"nội dung {n}\n".encode() for n in range(6)}
    files |= {"hồ sơ/a.pdf": pdf, "hồ sơ/b.pdf": other, "bản sao/a.pdf": pdf}
    return make_bag(target, files)


def _deterministic_uuids(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = itertools.count(1)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(counter), version=4))


def _build(repo: Repository, source: Path, work: Path, monkeypatch: pytest.MonkeyPatch,
           previous: PreviousVersion | None = None) -> tuple[BuiltAip, dict[str, bytes]]:
    _deterministic_uuids(monkeypatch)
    staging = work / "staging"
    staging.mkdir(parents=True)
    with open_sip(source, work / "sip") as submission:
        assert submission.valid
        built = build_aip(submission, aip_uuid=AIP, staging=staging, identity=repo.identity(),
                          actors=Actors("Lưu trữ lịch sử tỉnh", "osuser"), created=WHEN,
                          fonds_code=TEST_FONDS, previous=previous)
    written = {o.bag_path: o.source.read_bytes() for o in built.objects
               if o.source is not None and o.source.is_relative_to(staging)
               and o.role != "signature"}
    return built, written


def _facts(built: BuiltAip) -> list[tuple[object, ...]]:
    """Everything of the objects but where they are (and the signature's bytes)."""
    return [(o.bag_path, o.size if o.role != "signature" else None,
             o.sha256 if o.role != "signature" else None, o.role, o.original_name, o.format,
             o.stored_key) for o in built.objects]


def _compare_builds(repo: Repository, source: Path, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch,
                    previous: PreviousVersion | None = None) -> BuiltAip:
    big, big_bytes = _build(repo, source, tmp_path / "big", monkeypatch, previous)
    with monkeypatch.context() as small_keep:
        small_keep.setattr(model, "KEEP", 2)
        small_keep.setattr(SortedKeys, "RUN", 2)
        small, small_bytes = _build(repo, source, tmp_path / "small", monkeypatch, previous)
    assert len(small.objects) > 2
    assert {"data/METS.xml", "data/metadata/preservation/PREMIS.xml",
            "data/representations/rep1/metadata/preservation/PREMIS_rep1.xml",
            "manifest-sha256.txt", "tagmanifest-sha256.txt"} <= set(big_bytes)
    assert small_bytes == big_bytes
    assert _facts(small) == _facts(big)
    assert small.description.files == big.description.files
    assert small.description.events == big.description.events
    assert small.objects[-1].role == "signature"
    assert small.objects[-2].bag_path == "tagmanifest-sha256.txt"
    assert small.content_size == big.content_size
    return small


def test_a_build_with_a_small_keep_is_byte_identical(repo: Repository, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    built = _compare_builds(repo, _bag(tmp_path / "bag"), tmp_path, monkeypatch)
    assert len(built.description.files) == 9
    # the unsigned PDFs' event links each PDF's file objects: a.pdf twice, for its two copies
    [unsigned] = [e for e in built.description.events
                  if e.type == "digital signature validation"]
    by_name = {f.uuid: f.original_name for f in built.description.files}
    assert sorted(by_name[u] for u in unsigned.object_uuids) == [
        "bản sao/a.pdf", "bản sao/a.pdf", "hồ sơ/a.pdf", "hồ sơ/a.pdf", "hồ sơ/b.pdf"]


def test_a_supplement_with_a_small_keep_is_byte_identical(
        repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_test_fonds(repo.catalog)
    first = ingest(repo.config, _bag(tmp_path / "v1"), identity=repo.identity(),
                   catalog=repo.catalog, fonds=TEST_FONDS).aip_id
    previous = previous_version(repo.catalog, VersionRequest(SUPPLEMENT, first))[0]
    v2 = make_bag(tmp_path / "v2", {"mới/c.txt": b"c\n", "mới/d.pdf": minimal_pdf("Moi")})
    built = _compare_builds(repo, v2, tmp_path / "build", monkeypatch, previous)
    files = built.description.files
    assert len(files) == 11  # nine carried, two new
    carried = [f for f in files if f.format.basis.startswith("carried")]
    assert len(carried) == 9
    [digest] = [e for e in built.description.events if e.type == "message digest calculation"]
    assert len(digest.object_uuids) == 2  # only the files whose bytes came in this submission
