"""Ingest accepts TT05, E-ARK and BagIt SIPs (folder or ZIP) and refuses an invalid one with the
same report as `preservation sip validate`."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from aip.ingest import ingest
from policies.formats import load_format_policy
from preservation.catalog import Catalog
from preservation.cli import main
from preservation.config import Config
from preservation.errors import RejectedError
from preservation.findings import Report
from preservation.repository import Repository
from sip.create import create_sip
from sip.samples import make_sample_sip_source
from sip.tt05_model import PackageKind
from sip.validate import ValidationOptions, open_sip
from tests.helpers import TEST_FONDS, add_test_fonds, location_root, tree_digest
from tests.sip.eark_fixtures import FILES, build_package


@pytest.fixture(autouse=True)
def fonds(repo: Repository) -> None:
    """The fonds of the sample TT05 SIP (H41) and the one E-ARK SIPs are ingested into."""
    add_test_fonds(repo.catalog, "H41", "Phông Văn phòng UBND tỉnh")
    add_test_fonds(repo.catalog)


def tt05_zip(tmp_path: Path) -> Path:
    src, catalogue = make_sample_sip_source(tmp_path / "producer")
    report = Report("create")
    out = create_sip(src, catalogue, PackageKind.HOSO, tmp_path / "sip.zip", fonds_code="H41",
                     agency="Văn phòng UBND tỉnh Nghệ An", report=report)
    assert out is not None, [(f.code, str(f.location)) for f in report.findings]
    return out


def unzip(archive: Path, target: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(target)
    (top,) = list(target.iterdir())
    return top


def test_a_tt05_zip_is_ingested_with_its_metadata_kept(repo: Repository, config: Config,
                                                      tmp_path: Path) -> None:
    archive = tt05_zip(tmp_path)
    before = archive.read_bytes()
    result = ingest(config, archive, identity=repo.identity(), catalog=repo.catalog)
    assert archive.read_bytes() == before
    aip = repo.catalog.aip(result.aip_id)
    assert aip is not None
    assert aip.source_kind == "tt05-hoso"
    assert aip.label == "Hồ sơ về công tác lưu trữ năm 2025 (demo)"
    files = {f.path: f for f in repo.catalog.files(result.aip_id)}
    content = [f for f in files.values() if f.role == "content"]
    assert len(content) == 2 and all(f.puid for f in content)
    for kept in ("METS.xml", "metadata/descriptive/EAD.xml", "representations/rep1/METS.xml",
                 "schemas/ead_doc.xsd"):
        assert f"data/submission/sip/{kept}" in files, sorted(files)
    # the copies hold the producer's METS byte for byte
    with zipfile.ZipFile(archive) as zf:
        top = zf.namelist()[0].split("/")[0]
        mets = zf.read(f"{top}/METS.xml")
    root = location_root(config, 0)
    assert (root / result.aip_id / "data/submission/sip/METS.xml").read_bytes() == mets
    # the extraction folder is gone
    assert not any((config.work_dir / "sip").glob("*/*")) if (config.work_dir / "sip").exists() \
        else True


def test_an_invalid_tt05_sip_is_refused_with_the_validators_report(
        repo: Repository, config: Config, tmp_path: Path) -> None:
    folder = unzip(tt05_zip(tmp_path), tmp_path / "unzipped")
    data = next((folder / "representations/rep1/data").iterdir())
    data.write_bytes(data.read_bytes() + b"\n% changed after packaging\n")
    before = tree_digest(folder)
    with open_sip(folder, tmp_path / "work") as sub:
        expected = sorted((f.code, str(f.location)) for f in sub.report.findings)
        assert not sub.valid
    with pytest.raises(RejectedError) as caught:
        ingest(config, folder, identity=repo.identity(), catalog=repo.catalog)
    report = caught.value.report
    assert isinstance(report, Report)
    assert sorted((f.code, str(f.location)) for f in report.findings) == expected
    assert {"CSIP69-SIZE-MISMATCH", "CSIP71-CHECKSUM-MISMATCH"} <= report.codes()
    assert tree_digest(folder) == before
    assert list(repo.catalog.aips()) == []
    for loc in (0, 1):
        assert not any(location_root(config, loc).iterdir())
    saved = sorted(config.reports_dir.glob("sip-*.json"))
    assert saved and json.loads(saved[-1].read_text(encoding="utf-8"))["valid"] is False


def test_cli_validate_and_ingest_give_the_same_findings(home: Path, tmp_path: Path) -> None:
    folder = unzip(tt05_zip(tmp_path), tmp_path / "unzipped")
    ead = folder / "metadata/descriptive/EAD.xml"
    ead.write_text(ead.read_text(encoding="utf-8").replace(
        "<maintenance>01</maintenance>", "<maintenance>99</maintenance>"), encoding="utf-8")
    runner = CliRunner()
    validated = runner.invoke(main, ["--home", str(home), "sip", "validate", str(folder),
                                     "--json"])
    assert validated.exit_code == 1, validated.output
    ingested = runner.invoke(main, ["--home", str(home), "ingest", str(folder), "--json"])
    assert ingested.exit_code == 1, ingested.output
    codes_v = sorted(f["code"] for f in json.loads(validated.output)["findings"])
    codes_i = sorted(f["code"] for f in json.loads(ingested.output)["report"]["findings"])
    assert codes_v == codes_i
    assert "TT05-FIELD-CODE" in codes_v  # the changed maintenance code, found by both


def test_an_eark_sip_is_ingested(repo: Repository, config: Config, tmp_path: Path) -> None:
    package = build_package(tmp_path, objid="uuid-0001")
    result = ingest(config, package, identity=repo.identity(), catalog=repo.catalog,
                    fonds=TEST_FONDS)
    aip = repo.catalog.aip(result.aip_id)
    assert aip is not None and aip.source_kind == "eark"
    files = {f.path: f for f in repo.catalog.files(result.aip_id)}
    content = [f for f in files.values() if f.role == "content"]
    assert [f.original_name for f in content] == ["report.txt"]
    for kept in ("METS.xml", "metadata/descriptive/dc.xml", "documentation/readme.txt"):
        assert f"data/submission/sip/{kept}" in files


def test_an_archive_policy_decides_which_formats_an_eark_sip_may_hold(
        repo: Repository, config: Config, tmp_path: Path) -> None:
    files = dict(FILES)
    files["representations/rep1/data/record.xml"] = b"<?xml version='1.0'?><record/>\n"
    package = build_package(tmp_path, objid="uuid-0002", files=files)
    with pytest.raises(RejectedError) as caught:
        ingest(config, package, identity=repo.identity(), catalog=repo.catalog,
               fonds=TEST_FONDS)
    assert isinstance(caught.value.report, Report)
    assert "FMT-NOT-ACCEPTED" in caught.value.report.codes()  # XML is not in TT05's list
    policy = tmp_path / "formats.toml"
    policy.write_text('name = "E-ARK test policy"\n[rules]\nunidentified = "warning"\n'
                      '[[group]]\nname = "text"\nformats = [\n'
                      '  { puid = "fmt/101", name = "Extensible Markup Language 1.0" },\n'
                      '  { puid = "x-fmt/111", name = "Plain Text File" },\n]\n',
                      encoding="utf-8")
    options = ValidationOptions(format_policy=load_format_policy(policy))
    result = ingest(config, package, identity=repo.identity(), catalog=repo.catalog,
                    options=options, fonds=TEST_FONDS)
    assert repo.catalog.aip(result.aip_id) is not None


def test_catalog_is_untouched_by_a_rejected_zip(repo: Repository, config: Config,
                                                tmp_path: Path) -> None:
    bomb = tmp_path / "evil.zip"
    with zipfile.ZipFile(bomb, "w") as zf:
        zf.writestr("../../escape.txt", b"x")
    with pytest.raises(RejectedError):
        ingest(config, bomb, identity=repo.identity(), catalog=repo.catalog)
    assert not (tmp_path / "escape.txt").exists()
    assert isinstance(repo.catalog, Catalog) and list(repo.catalog.aips()) == []


def test_a_killed_ingests_zip_extraction_is_swept_by_the_next_ingest(
        repo: Repository, config: Config, tmp_path: Path) -> None:
    import os
    import time

    stale = config.work_dir / "sip" / "0b5e4a1c-dead-4bee-8a11-000000000000"
    (stale / "package-x").mkdir(parents=True)
    (stale / ".lock").touch()  # its ingest is gone: nobody holds the lock
    (stale / "package-x" / "big.bin").write_bytes(b"x" * 1024)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    ingest(config, tt05_zip(tmp_path), identity=repo.identity(), catalog=repo.catalog)
    assert not stale.exists()
    assert list((config.work_dir / "sip").iterdir()) == []
