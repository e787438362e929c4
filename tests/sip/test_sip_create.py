"""``sip create``: folder + catalogue → TT05 SIP ZIP; nothing written on errors; SRC untouched."""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from lxml import etree

from preservation.cli.commands_sip_create import create_cmd
from preservation.cli.runtime import AppContext
from preservation.config import CONFIG_NAME, ValidationConfig
from preservation.errors import NotFoundError, UsageError
from preservation.findings import Report, Severity
from preservation.xmlsafe import parse_bytes, validate
from sip.create import create_sip
from sip.samples import minimal_pdf
from sip.tt05_model import PackageKind
from sip.validate import ValidationOptions
from tests.helpers import tree_digest
from tests.sip.test_catalogue import (
    HEADER,
    Row,
    catalogue_rows,
    vietnamese,
    write_csv,
    write_xlsx,
)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    for n in (1, 2):
        # real PDFs: sip create runs the content checks on what it builds
        (folder / f"vb{n}.pdf").write_bytes(minimal_pdf(f"document {n}"))
    return folder


def run(src: Path, catalogue: Path, out: Path,
        kind: PackageKind = PackageKind.HOSO) -> tuple[Path | None, Report]:
    report = Report(catalogue.name)
    result = create_sip(src, catalogue, kind, out, fonds_code="H41",
                        agency="UBND tỉnh Nghệ An", report=report)
    return result, report


def extract(zip_path: Path, into: Path) -> Path:
    """Unpack the SIP and return its single top folder."""
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        tops = {n.split("/", 1)[0] for n in names}
        assert len(tops) == 1
        assert names == sorted(names)
        archive.extractall(into)
    return into / tops.pop()


def errors(report: Report) -> list[str]:
    return [f.code for f in report.findings if f.severity is Severity.ERROR]


@pytest.mark.parametrize("fmt", ["csv", "xlsx-vi"])
def test_creates_a_sip_zip(tmp_path: Path, src: Path, fmt: str, shared_dir: Path) -> None:
    before = tree_digest(src)
    rows = catalogue_rows()
    catalogue = (write_csv(tmp_path / "c.csv", rows) if fmt == "csv"
                 else write_xlsx(tmp_path / "c.xlsx", vietnamese(rows)))
    out = tmp_path / "out" / "sip.zip"
    result, report = run(src, catalogue, out)
    assert result == out and report.findings == []
    assert sorted(p.name for p in out.parent.iterdir()) == ["sip.zip"]  # no work folder left
    assert tree_digest(src) == before
    package = extract(out, tmp_path / "x")
    assert package.name.startswith("uuid-")
    data = package / "representations/rep1/data"
    assert sorted(p.name for p in data.iterdir()) == [
        "000.00.00.H41.2025.05.1.pdf", "000.00.00.H41.2025.05.2.pdf"]
    assert (data / "000.00.00.H41.2025.05.2.pdf").read_bytes() == (src / "vb2.pdf").read_bytes()
    schema = etree.XMLSchema(etree.parse(str(shared_dir / "schemas" / "mets.xsd")))
    for mets in ("METS.xml", "representations/rep1/METS.xml"):
        tree = parse_bytes((package / mets).read_bytes())
        assert schema.validate(tree), schema.error_log
        assert validate(tree, "mets") == []
    root = parse_bytes((package / "METS.xml").read_bytes()).getroot()
    assert root.get("OBJID") == package.name


def _tt05_available() -> bool:
    return importlib.util.find_spec("sip.tt05") is not None


@pytest.mark.skipif(not _tt05_available(), reason="the TT05 validator (sip/tt05.py) is missing")
@pytest.mark.parametrize("kind", list(PackageKind))
def test_created_sip_validates_clean(tmp_path: Path, src: Path, kind: PackageKind) -> None:
    from sip.package import PackageTree
    from sip.tt05 import validate_tt05

    if kind is PackageKind.HOSO:
        rows = catalogue_rows()
    else:
        rows = [["level", "fileCode", "title", "source", "docId", "typeName", "issuedDate",
                 "organName", "subject", "language", "numberOfPage", "mode", "confidenceLevel",
                 "process", "file"],
                ["lo", "000.00.00.H41.2025.010000001", "Lô tài liệu", "0", *[""] * 11]]
        for n in (1, 2):
            rows.append(["vanban", "", "", "", f"VB.{n}", "07", "01/02/2025", "Sở Nội vụ",
                         "Thông báo", "01", "1", "01", "01", "0", f"vb{n}.pdf"])
    out = tmp_path / "sip.zip"
    result, report = run(src, write_csv(tmp_path / "c.csv", rows), out, kind)
    assert result == out, report.findings
    package = extract(out, tmp_path / "x")
    tt05 = Report(package.name)
    validate_tt05(PackageTree(package), tt05)
    assert errors(tt05) == [], [f.to_dict() for f in tt05.errors]
    if importlib.util.find_spec("sip.eark") is None:
        pytest.skip("the E-ARK validator (sip/eark.py) is missing")
    from sip.eark import validate_eark

    eark = Report(package.name)
    validate_eark(PackageTree(package), eark, tt05=True)
    assert errors(eark) == [], [f.to_dict() for f in eark.errors]


def _file(rows: list[Row], row: int, value: str) -> None:
    rows[row - 1][HEADER.index("file")] = value


@pytest.mark.parametrize(("value", "code"), [
    ("khong-co.pdf", "CATALOGUE-FILE-MISSING"),
    ("vb1.pdf", "CATALOGUE-FILE-TWICE"),
    ("../secret.pdf", "CATALOGUE-FILE-UNSAFE"),
    ("/etc/passwd", "CATALOGUE-FILE-UNSAFE"),
    ("sub", "CATALOGUE-FILE-NOT-REGULAR"),
    ("link.pdf", "CATALOGUE-FILE-NOT-REGULAR"),
])
def test_file_problems_write_nothing(tmp_path: Path, src: Path, value: str, code: str) -> None:
    (src / "sub").mkdir()
    (src / "link.pdf").symlink_to(src / "vb2.pdf")
    before = tree_digest(src)
    rows = catalogue_rows()
    _file(rows, 4, value)
    out = tmp_path / "out" / "sip.zip"
    result, report = run(src, write_csv(tmp_path / "c.csv", rows), out)
    assert result is None
    found = [(f.location.line, f.params.get("column")) for f in report.findings if f.code == code]
    assert found == [(4, "file")]
    assert not out.parent.exists()  # not even the output folder was created
    assert tree_digest(src) == before


def test_catalogue_errors_write_nothing(tmp_path: Path, src: Path) -> None:
    rows = catalogue_rows()
    rows[2][HEADER.index("typeName")] = "99"
    out = tmp_path / "sip.zip"
    result, report = run(src, write_csv(tmp_path / "c.csv", rows), out)
    assert result is None
    assert errors(report) == ["CATALOGUE-NOT-IN-LIST"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "src"]


def test_unlisted_file_is_a_warning(tmp_path: Path, src: Path) -> None:
    (src / "ghi chú.txt").write_text("không phải văn bản")
    catalogue = write_csv(src / "danh muc.csv", catalogue_rows())  # inside SRC: not a document
    out = tmp_path / "sip.zip"
    result, report = run(src, catalogue, out)
    assert result == out
    assert [(f.code, f.params["file"]) for f in report.findings] == [
        ("CATALOGUE-FILE-NOT-LISTED", "ghi chú.txt")]
    assert report.findings[0].severity is Severity.WARNING


def test_nfd_file_names_match(tmp_path: Path, src: Path) -> None:
    (src / "vb1.pdf").rename(src / "Quye\u0302\u0301t đi\u0323nh.pdf")  # NFD on disk
    rows = catalogue_rows()
    _file(rows, 3, "Quyết định.pdf")
    result, report = run(src, write_csv(tmp_path / "c.csv", rows), tmp_path / "sip.zip")
    assert result is not None, report.findings


def test_bad_doc_id(tmp_path: Path, src: Path) -> None:
    rows = catalogue_rows()
    rows[0].append("docId")
    rows[1].append("")
    rows[2].append("A/1")
    rows[3].append("A.2")
    result, report = run(src, write_csv(tmp_path / "c.csv", rows), tmp_path / "sip.zip")
    assert result is None
    assert [(f.code, f.location.line) for f in report.errors] == [("CATALOGUE-BAD-DOCID", 3)]


def test_existing_output_is_never_overwritten(tmp_path: Path, src: Path) -> None:
    out = tmp_path / "sip.zip"
    out.write_bytes(b"keep me")
    with pytest.raises(UsageError):
        run(src, write_csv(tmp_path / "c.csv", catalogue_rows()), out)
    assert out.read_bytes() == b"keep me"


def test_output_inside_src_is_refused(tmp_path: Path, src: Path) -> None:
    with pytest.raises(UsageError):
        run(src, write_csv(tmp_path / "c.csv", catalogue_rows()), src / "sip.zip")
    assert sorted(p.name for p in src.iterdir()) == ["vb1.pdf", "vb2.pdf"]


def test_missing_src_or_catalogue(tmp_path: Path, src: Path) -> None:
    with pytest.raises(NotFoundError):
        run(tmp_path / "nowhere", write_csv(tmp_path / "c.csv", catalogue_rows()),
            tmp_path / "a.zip")
    with pytest.raises(NotFoundError):
        run(src, tmp_path / "missing.csv", tmp_path / "a.zip")


# --- the command -----------------------------------------------------------------------------

@click.group()
@click.option("--home", type=click.Path(path_type=Path), default=None)
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    ctx.obj = AppContext(home=home, lang="en")


cli.add_command(create_cmd)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["create", *args])
    return result.exit_code, result.output


def test_cli_writes_the_sip(tmp_path: Path, src: Path) -> None:
    catalogue = write_csv(tmp_path / "c.csv", catalogue_rows())
    out = tmp_path / "sip.zip"
    code, output = invoke(str(src), "--catalogue", str(catalogue), "--kind", "hoso", "-o",
                          str(out), "--fonds", "H41", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["ok"] is True and data["output"] == str(out)
    assert zipfile.is_zipfile(out)


def test_cli_catalogue_errors_exit_1(tmp_path: Path, src: Path) -> None:
    rows = catalogue_rows()
    rows[2][HEADER.index("issuedDate")] = "32/01/2025"
    catalogue = write_csv(tmp_path / "c.csv", rows)
    out = tmp_path / "sip.zip"
    code, output = invoke(str(src), "--catalogue", str(catalogue), "--kind", "hoso", "-o",
                          str(out), "--json")
    assert code == 1
    data = json.loads(output)
    assert data["ok"] is False
    (finding,) = data["report"]["findings"]
    assert finding["code"] == "CATALOGUE-BAD-DATE"
    assert finding["location"] == {"path": "c.csv", "line": 3}
    assert finding["params"]["column"] == "issuedDate"
    assert not out.exists()


def test_cli_usage_errors_exit_2(tmp_path: Path, src: Path) -> None:
    catalogue = write_csv(tmp_path / "c.csv", catalogue_rows())
    existing = tmp_path / "sip.zip"
    existing.write_bytes(b"x")
    assert invoke(str(src), "--catalogue", str(catalogue), "--kind", "hoso", "-o",
                  str(existing))[0] == 2
    assert invoke(str(src), "--catalogue", str(catalogue), "--kind", "other", "-o",
                  str(tmp_path / "b.zip"))[0] == 2
    assert invoke(str(tmp_path / "none"), "--catalogue", str(catalogue), "--kind", "hoso",
                  "-o", str(tmp_path / "c.zip"))[0] == 2


def test_a_package_its_own_validator_would_reject_is_not_written(tmp_path: Path) -> None:
    """An empty document passes the catalogue checks but not the content checks: sip create
    runs the validator on what it built and writes nothing."""
    from sip.samples import make_sample_sip_source

    src, catalogue = make_sample_sip_source(tmp_path / "producer")
    (src / "Biên bản giao nhận.pdf").write_bytes(b"")
    report = Report("create")
    out = tmp_path / "sip.zip"
    assert create_sip(src, catalogue, PackageKind.HOSO, out, fonds_code="H41", agency=None,
                      report=report) is None
    assert not out.exists()
    assert {"CATALOGUE-PACKAGE-INVALID", "CONTENT-EMPTY"} <= report.codes()
    assert [p.name for p in tmp_path.iterdir()] == ["producer"]  # no temporary leftovers


# --- the archive's [validation] settings -------------------------------------------------------

def _maintenance_02(tmp_path: Path) -> Path:
    rows = catalogue_rows()
    rows[1][HEADER.index("maintenance")] = "02"  # kept for a limited time, not permanently
    return write_csv(tmp_path / "c.csv", rows)


def test_the_package_is_checked_with_the_archives_settings(tmp_path: Path, src: Path) -> None:
    """An agency archive accepts every retention code; a historical archive (the default) only
    maintenance 01: the SIP built is checked as the archive would check it."""
    catalogue = _maintenance_02(tmp_path)
    agency = ValidationOptions.from_config(ValidationConfig(archive_type="agency"))
    assert agency.historical_archive is False
    report = Report("create")
    out = tmp_path / "agency.zip"
    assert create_sip(src, catalogue, PackageKind.HOSO, out, fonds_code="H41", agency=None,
                      report=report, options=agency) == out
    assert errors(report) == []

    report = Report("create")
    refused = tmp_path / "historical.zip"
    assert create_sip(src, catalogue, PackageKind.HOSO, refused, fonds_code="H41",
                      agency=None, report=report) is None
    assert "CATALOGUE-PACKAGE-INVALID" in errors(report)
    assert "TT05-MAINTENANCE-NOT-PERMANENT" in errors(report)
    assert not refused.exists()


def _set_archive_type(home: Path, archive_type: str) -> None:
    config = home / CONFIG_NAME
    text = config.read_text(encoding="utf-8")
    assert "[validation]" not in text
    config.write_text(f'{text}\n[validation]\narchive_type = "{archive_type}"\n',
                      encoding="utf-8")


def test_cli_uses_the_repositorys_validation_settings(tmp_path: Path, src: Path,
                                                      home: Path) -> None:
    catalogue = _maintenance_02(tmp_path)
    args = [str(src), "--catalogue", str(catalogue), "--kind", "hoso", "--json"]
    # no repository: the defaults (a historical archive) refuse maintenance 02
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "none"), "create", *args, "-o",
                                      str(tmp_path / "a.zip")])
    assert result.exit_code == 1, result.output
    assert "TT05-MAINTENANCE-NOT-PERMANENT" in {
        f["code"] for f in json.loads(result.output)["report"]["findings"]}
    _set_archive_type(home, "agency")
    result = CliRunner().invoke(cli, ["--home", str(home), "create", *args, "-o",
                                      str(tmp_path / "b.zip")])
    assert result.exit_code == 0, result.output
    assert zipfile.is_zipfile(tmp_path / "b.zip")
