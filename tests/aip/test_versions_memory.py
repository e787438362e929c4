"""A supplement of a large previous version with flat memory (issue 4, SCALE): the previous
version's files and its documents as its rep1 METS ties them are spooled past a (lowered)
:data:`aip.model.KEEP`, the planner's lookups of them are DiskMaps, and not a byte of the new
version changes, whether the ties come from that METS or from the names."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest

from aip import model
from aip.builder import Actors, build_aip
from aip.tt05_aip_plan import PreviousTt05
from aip.versions import SUPPLEMENT, VersionRequest, previous_version
from preservation.findings_spool import SpooledSequence
from preservation.repository import Repository
from sip.validate import open_sip
from tests.aip.test_supplement_documents import supplement_sip, v1  # noqa: F401 - fixture
from tests.sip import tt05_fixtures as fx


def test_the_previous_version_is_spooled_past_keep(repo: Repository, v1: str,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    request = VersionRequest(SUPPLEMENT, v1)
    big, _ = previous_version(repo.catalog, request, repo.config)
    monkeypatch.setattr(model, "KEEP", 1)
    small, _ = previous_version(repo.catalog, request, repo.config)
    assert isinstance(small, PreviousTt05) and isinstance(big, PreviousTt05)
    assert isinstance(small.files, SpooledSequence)
    assert isinstance(small.documents, SpooledSequence)
    # past KEEP = 1 both went to their temporary files; with the default, neither did
    assert small.files._spool_of() is not None and small.documents._spool_of() is not None
    assert big.files._spool_of() is None  # type: ignore[union-attr]
    assert small.files == big.files and len(small.files) > 3
    assert small.documents == big.documents and len(small.documents) == 3


def _supplements(repo: Repository, v1: str, tmp_path: Path,  # noqa: F811
                 monkeypatch: pytest.MonkeyPatch, keep: int) -> dict[str, bytes]:
    """The supplement of ``v1`` with the ties from its METS and by names: every byte written
    but the signature's."""
    monkeypatch.setattr(model, "KEEP", keep)
    rng = random.Random(11)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4))
    out: dict[str, bytes] = {}
    sip = supplement_sip(tmp_path / f"sip-{keep}")
    with open_sip(sip, tmp_path / f"work-{keep}") as sub:
        assert sub.valid
        for how, config in (("mets", repo.config), ("names", None)):
            previous, _ = previous_version(repo.catalog, VersionRequest(SUPPLEMENT, v1), config)
            staging = tmp_path / f"staging-{keep}-{how}"
            staging.mkdir()
            build_aip(sub, aip_uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                      staging=staging, identity=repo.identity(),
                      actors=Actors("Lưu trữ (test)", "archivist"), created=fx.CREATED,
                      fonds_code=fx.FONDS, previous=previous)
            out.update({f"{how}/{p.relative_to(staging)}": p.read_bytes()
                        for p in sorted(staging.rglob("*"))
                        if p.is_file() and p.suffix != ".p7s"})
    return out


def test_a_supplement_past_keep_is_byte_for_byte_the_same(
        repo: Repository, v1: str, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _supplements(repo, v1, tmp_path, monkeypatch, 10_000)
    assert any(name.endswith("representations/rep1/METS.xml") for name in expected)
    assert _supplements(repo, v1, tmp_path, monkeypatch, 1) == expected
