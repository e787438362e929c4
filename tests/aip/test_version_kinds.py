"""The versions of one package keep one kind of AIP: a TT05 AIP_hoso is supplemented or replaced
only by a SIP_hoso, an AIP_tailieu only by a SIP_tailieu, an E-ARK-shaped AIP (from an E-ARK or
a BagIt SIP) only by an E-ARK or BagIt SIP (INGEST-VERSION-KIND-MISMATCH, before any build)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from aip.builder import PreviousVersion
from aip.ingest import ingest
from aip.versions import (
    REPLACE,
    SUPPLEMENT,
    VersionRequest,
    aip_kind,
    previous_version,
    refuse_mixed_kinds,
)
from preservation.errors import RejectedError
from preservation.findings import Report
from preservation.repository import Repository
from sip.samples import make_sample_transfer, minimal_pdf
from sip.tt05_model import PackageKind
from sip.validate import open_sip
from tests.aip.test_versions import make_bag
from tests.helpers import TEST_FONDS, add_test_fonds
from tests.sip import tt05_fixtures as fx
from tests.sip.eark_fixtures import build_package


@pytest.mark.parametrize(("label", "kind"), [
    ("tt05-hoso", "tt05-hoso"), ("bagit+tt05-hoso", "tt05-hoso"),
    ("tt05-tailieu", "tt05-tailieu"), ("bagit+tt05-tailieu", "tt05-tailieu"),
    ("eark", "eark"), ("bagit+eark", "eark"), ("bagit", "eark")])
def test_the_kind_of_aip_each_submission_becomes(label: str, kind: str) -> None:
    assert aip_kind(label) == kind


def _sip(tmp_path: Path, kind: str) -> Path:
    if kind == "hoso":
        return fx.build(tmp_path / "hoso")
    if kind == "tailieu":
        return fx.build(tmp_path / "tailieu", PackageKind.TAILIEU)
    if kind == "eark":
        return build_package(tmp_path / "eark", objid="uuid-0009")
    return make_bag(tmp_path / "bag", {"Phụ lục.pdf": minimal_pdf("Phu luc")})


def _first(repo: Repository, tmp_path: Path, kind: str) -> PreviousVersion:
    add_test_fonds(repo.catalog, fx.FONDS)
    add_test_fonds(repo.catalog)
    source = make_sample_transfer(tmp_path / "v1") if kind == "bagit" else _sip(
        tmp_path / "v1", kind)
    aip_id = ingest(repo.config, source, identity=repo.identity(), catalog=repo.catalog,
                    fonds=TEST_FONDS if kind in ("bagit", "eark") else None).aip_id
    return previous_version(repo.catalog, VersionRequest(SUPPLEMENT, aip_id))[0]


@pytest.mark.parametrize(("before", "after", "refused"), [
    ("hoso", "bagit", True), ("hoso", "eark", True), ("hoso", "tailieu", True),
    ("hoso", "hoso", False),
    ("tailieu", "hoso", True), ("tailieu", "tailieu", False),
    ("bagit", "hoso", True), ("bagit", "tailieu", True),
    ("bagit", "bagit", False), ("bagit", "eark", False),
    ("eark", "bagit", False), ("eark", "hoso", True)])
def test_a_version_of_another_kind_is_refused(repo: Repository, tmp_path: Path, before: str,
                                              after: str, refused: bool) -> None:
    previous = _first(repo, tmp_path, before)
    with open_sip(_sip(tmp_path / "v2", after), tmp_path / "work") as submission:
        assert submission.valid, [(f.code, str(f.location)) for f in submission.report.errors]
        if not refused:
            refuse_mixed_kinds(previous, submission)
            return
        with pytest.raises(RejectedError) as caught:
            refuse_mixed_kinds(previous, submission)
    assert caught.value.code == "INGEST-VERSION-KIND-MISMATCH"
    report = caught.value.report
    assert isinstance(report, Report)
    [finding] = report.findings
    assert finding.code == "INGEST-VERSION-KIND-MISMATCH"
    assert finding.params["aip"] == previous.uuid
    assert finding.message("vi") and finding.fix("vi")


def test_a_replacement_of_another_kind_is_refused_too(repo: Repository, tmp_path: Path) -> None:
    first = _first(repo, tmp_path, "hoso")
    replacing, _ = previous_version(repo.catalog, VersionRequest(REPLACE, first.uuid))
    with (open_sip(_sip(tmp_path / "v2", "bagit"), tmp_path / "work") as submission,
          pytest.raises(RejectedError) as caught):
        refuse_mixed_kinds(replacing, submission)
    assert caught.value.code == "INGEST-VERSION-KIND-MISMATCH"


def test_a_new_package_is_never_refused(repo: Repository, tmp_path: Path) -> None:
    with open_sip(_sip(tmp_path, "bagit"), tmp_path / "work") as submission:
        refuse_mixed_kinds(None, submission)


@pytest.mark.parametrize("after", ["hoso", "bagit"])
def test_a_previous_version_of_unknown_kind_is_refused(repo: Repository, tmp_path: Path,
                                                       after: str) -> None:
    """An AIP rebuilt from a bag without Source-Kind: its kind is unknown, never "" compared
    with the submission's (INGEST-VERSION-KIND-UNKNOWN, whatever the submission)."""
    previous = dataclasses.replace(_first(repo, tmp_path, "hoso"), source_kind="")
    with (open_sip(_sip(tmp_path / "v2", after), tmp_path / "work") as submission,
          pytest.raises(RejectedError) as caught):
        refuse_mixed_kinds(previous, submission)
    assert caught.value.code == "INGEST-VERSION-KIND-UNKNOWN"
    report = caught.value.report
    assert isinstance(report, Report)
    assert [f.code for f in report.findings] == ["INGEST-VERSION-KIND-UNKNOWN"]
