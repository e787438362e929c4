"""The keyed per-file lookups of an AIP build out of memory (issue 4, SCALE): the TT05 planner's
names and files, the carried paths and records, the reusable objects and the sorted keys of the
PREMIS checks and ingest events move to temporary files past a (lowered) KEEP, and not a byte of
a TT05, an E-ARK or a BagIt AIP changes, a supplement's neither."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest

import sip.content
import sip.submission
from aip import model
from aip.builder import Actors, BuiltAip, build_aip
from aip.model import PreviousVersion, ReusableFile
from aip.premis_checks import SortedKeys
from preservation.repository import Repository
from sip.tt05_model import PackageKind
from sip.validate import open_sip
from tests.aip.test_build_memory import AIP, WHEN
from tests.aip.test_tt05_aip import _sip
from tests.helpers import TEST_FONDS
from tests.sip.eark_fixtures import FILES, build_package

NEXT = "6f1c1f0e-8f3a-4d55-9b7e-2f6f0d9c1a77"


def _deterministic_uuids(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(4)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4))


def _previous(built: BuiltAip, mode: str) -> PreviousVersion:
    """``built`` as the version a new one supplements or replaces."""
    files = tuple(ReusableFile(o.bag_path, o.size, o.sha256, f"{built.uuid}/{o.bag_path}",
                               o.role, o.original_name,
                               o.format.puid if o.format else None,
                               o.format.name if o.format else None)
                  for o in built.objects if o.bag_path.startswith("data/"))
    return PreviousVersion(built.uuid, built.uuid, 1, built.description.objid, mode, files,
                           built.description.source_kind)


def _builds(repo: Repository, source: Path, work: Path, monkeypatch: pytest.MonkeyPatch
            ) -> list[tuple[object, ...]]:
    """A first version, a supplement and a replacement of ``source``: every byte written (the
    signature's but its size) and every object."""
    _deterministic_uuids(monkeypatch)
    out: list[tuple[object, ...]] = []
    with open_sip(source, work / "sip") as submission:
        assert submission.valid, [f.code for f in submission.report.errors]
        first: BuiltAip | None = None
        for n, mode in enumerate((None, "supplement", "replace")):
            previous = None if first is None or mode is None else _previous(first, mode)
            staging = work / f"staging-{n}"
            staging.mkdir(parents=True)
            built = build_aip(submission, aip_uuid=AIP if n == 0 else NEXT, staging=staging,
                              identity=repo.identity(), actors=Actors("Lưu trữ", "osuser"),
                              created=WHEN, fonds_code=TEST_FONDS, archive_code="LTLS.NA",
                              previous=previous)
            written = {str(p.relative_to(staging)): p.read_bytes()
                       for p in sorted(staging.rglob("*")) if p.is_file() and p.suffix != ".p7s"}
            objects = [(o.bag_path, o.role, o.original_name, o.format, o.stored_key,
                        o.sha256 if o.role != "signature" else None) for o in built.objects]
            out.append((written, objects, list(built.description.files),
                        built.description.events))
            first = first or built
    return out


def _same_past_keep(repo: Repository, source: Path, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    reference = _builds(repo, source, tmp_path / "default", monkeypatch)
    with monkeypatch.context() as small:
        for module in (model, sip.content, sip.submission):
            small.setattr(module, "KEEP", 1)
        small.setattr(SortedKeys, "RUN", 3)
        assert _builds(repo, source, tmp_path / "small", monkeypatch) == reference
    return reference


def test_a_tt05_aip_and_its_versions_past_keep_are_byte_identical(
        repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sip = _sip(tmp_path, PackageKind.HOSO, extra=4)
    builds = _same_past_keep(repo, sip, tmp_path, monkeypatch)
    written, objects, files, _ = builds[1]  # the supplement: carried and new documents
    assert any(o[4] for o in objects) and len(files) > 8
    assert "data/representations/rep1/METS.xml" in written


def test_an_eark_aip_and_its_versions_past_keep_are_byte_identical(
        repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = dict(FILES) | {f"representations/rep1/data/tệp {n}.txt": f"{n}\n".encode()
                           for n in range(6)}
    package = build_package(tmp_path / "in", files=files)
    builds = _same_past_keep(repo, package, tmp_path, monkeypatch)
    written, objects, content, _ = builds[1]
    assert len(content) == 14 and any(o[4] for o in objects)  # seven carried, seven new
    assert "data/METS.xml" in written
    assert any(o[0] == "data/submission/sip/METS.xml" for o in objects)


@pytest.mark.parametrize("count", [0, 1, 5, 300, 2000])
def test_sorted_keys_on_disk_answer_as_in_memory(count: int) -> None:
    rng = random.Random(count)
    keys = [bytes([rng.randrange(3)]) + rng.randbytes(3) for _ in range(count)]
    memory = SortedKeys(iter(keys), 4, keep=10**6)
    disk = SortedKeys(iter(keys), 4, keep=0)
    assert list(disk) == list(memory) == sorted(keys) and len(disk) == count
    assert disk.duplicate() == memory.duplicate()
    probes = keys[:40] + [rng.randbytes(4) for _ in range(40)]
    assert [p in disk for p in probes] == [p in memory for p in probes]
    for prefix in (b"\x00", b"\x01\x02", b"", b"\x09"):
        assert list(disk.starting_with(prefix)) == list(memory.starting_with(prefix))
    assert all(disk[i] == memory[i] for i in range(0, count, 13))
    disk.close()
