"""`preservation export`: TT05 AIPs handed over as TT05 SIP ZIPs that another archive's validator
and ingest accept, read only from a copy that verifies, with a handover list (CSV and PDF)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pyhanko.pdf_utils.generic import StreamObject
from pyhanko.pdf_utils.reader import PdfFileReader

import aip.export as export_module
from aip.export import ExportResult, NoIntactCopyError, export_aips, sip_objid
from aip.export_sip import ExportedSip, write_sip
from aip.handover import CSV_COLUMNS, TITLE_VI
from aip.ingest import ingest
from preservation.cli import main
from preservation.config import Config
from preservation.errors import RejectedError, UsageError
from preservation.events import read_event_documents
from preservation.findings import Report
from preservation.repository import Repository, init_repository
from preservation.storage import open_location
from preservation.timeutil import now_local
from sip.tt05_model import PackageKind
from sip.validate import open_sip
from tests.aip.stored_aips import FONDS, ingest_tt05
from tests.helpers import TEST_FONDS, add_test_fonds, location_root
from tests.sip import tt05_fixtures as fixtures


def export(repo: Repository, ids: list[str], out: Path) -> ExportResult:
    return export_aips(repo.config, repo.catalog, ids, out, repo.trust_anchors())


# --- PDF text, read back with pyHanko's reader and the fonts' ToUnicode maps ----------------------

_STRING = re.compile(rb"\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>")
_OPS = re.compile(rb"/(\w+)\s+[\d.]+\s+Tf"
                  rb"|(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>)\s*Tj"
                  rb"|\[(.*?)\]\s*TJ", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _literal(token: bytes) -> bytes:
    if token.startswith(b"<"):
        return bytes.fromhex(re.sub(rb"\s", b"", token[1:-1]).decode())
    body, out, i = token[1:-1], bytearray(), 0
    while i < len(body):
        if body[i:i + 1] == b"\\":
            nxt = body[i + 1:i + 2]
            octal = re.match(rb"[0-7]{1,3}", body[i + 1:i + 4])
            if octal:
                out.append(int(octal.group(), 8) & 0xFF)
                i += 1 + len(octal.group())
                continue
            out += _ESCAPES.get(nxt, nxt)
            i += 2
        else:
            out += body[i:i + 1]
            i += 1
    return bytes(out)


def _to_unicode(font: object) -> dict[int, str]:
    cmap = font["/ToUnicode"].data  # type: ignore[index]
    out: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            out[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for lo, hi, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>",
                                      block):
            for n, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                out[code] = chr(int(dst, 16) + n)
    return out


def pdf_text(path: Path) -> str:
    """The text of every page, one line per text-showing operator (2-byte CID fonts)."""
    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    lines: list[str] = []
    kids = reader.root["/Pages"]["/Kids"]
    for index in range(len(kids)):
        page = kids[index]
        font_dict = page["/Resources"]["/Font"]
        fonts = {name.lstrip("/"): _to_unicode(font_dict[name]) for name in font_dict}
        contents = page["/Contents"]
        streams = [contents] if isinstance(contents, StreamObject) else list(contents)
        data = b"\n".join(s.data for s in streams)
        current: dict[int, str] = {}
        for match in _OPS.finditer(data):
            if match.group(1):
                current = fonts[match.group(1).decode()]
                continue
            tokens = [match.group(2)] if match.group(2) else _STRING.findall(match.group(3))
            raw = b"".join(_literal(t) for t in tokens)
            lines.append("".join(current.get(int.from_bytes(raw[i:i + 2], "big"), "\ufffd")
                                 for i in range(0, len(raw) - 1, 2)))
    return "\n".join(lines)


# --- tests ----------------------------------------------------------------------------------------

def test_a_tt05_aip_exports_as_a_sip_another_archive_validates_and_ingests(
        repo: Repository, tmp_path: Path) -> None:
    aip_id = ingest_tt05(repo, tmp_path)
    out = tmp_path / "handover"
    result = export(repo, [aip_id], out)

    (package,) = result.packages
    objid = sip_objid(aip_id)
    assert package.zip_path == out / f"{objid}.zip" and package.source_copy == "copy1"
    assert package.sip.objid == objid and package.sip.kind is PackageKind.HOSO
    assert package.sip.fonds_code == FONDS and len(package.sip.documents) == 2
    assert package.sip.reused_records == 3  # the producer's EAD + 2 EAD_DOC, byte for byte
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{objid}.zip", "handover.csv", "handover.pdf"])  # no temporary file left
    with zipfile.ZipFile(package.zip_path) as zf:
        names = zf.namelist()
        assert {n.split("/")[0] for n in names} == {objid}
        bag = location_root(repo.config, 0) / aip_id / "data"
        for ours, theirs in (("documentation/PREMIS.xml", "metadata/preservation/PREMIS.xml"),
                             ("documentation/PREMIS_rep1.xml",
                              "representations/rep1/metadata/preservation/PREMIS_rep1.xml")):
            assert zf.read(f"{objid}/{ours}") == (bag / theirs).read_bytes()
        assert not any("/metadata/preservation/" in n for n in names)

    # the receiving side's validator, with every content check: no error
    with open_sip(package.zip_path, tmp_path / "work") as submission:
        assert submission.valid, [(f.code, str(f.location)) for f in submission.report.errors]
        assert submission.kind.value == "tt05-hoso"
        assert submission.identifiers["fileCode"] == package.sip.file_code

    # and a second repository ingests it
    second = tmp_path / "second"
    init_repository(second, name="Lưu trữ lịch sử tỉnh nhận (test)")
    with Repository.open(second) as other:
        add_test_fonds(other.catalog, FONDS)
        received = ingest(other.config, package.zip_path, identity=other.identity(),
                          catalog=other.catalog)
        received_content = {f.original_name: f.sha256
                            for f in other.catalog.files(received.aip_id) if f.role == "content"}
    sent_content = {f.original_name: f.sha256 for f in repo.catalog.files(aip_id)
                    if f.role == "content"}
    assert received_content == sent_content and len(sent_content) == 2


def test_the_handover_list_gives_codes_titles_sizes_and_the_zips_checksums(
        repo: Repository, tmp_path: Path) -> None:
    first = ingest_tt05(repo, tmp_path / "a")
    second = ingest_tt05(repo, tmp_path / "b", "batch")
    third = ingest_tt05(repo, tmp_path / "c", "dossier")
    result = export(repo, [first, second, third], tmp_path / "out")

    raw = result.csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    text = raw.decode("utf-8-sig")
    assert unicodedata.is_normalized("NFC", text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    packages = [r for r in rows if "." not in r["STT / No."]]
    assert [r["STT / No."] for r in packages] == ["1", "2", "3"]
    for row, package in zip(packages, result.packages, strict=True):
        digest = hashlib.sha256(package.zip_path.read_bytes()).hexdigest()
        assert row["SHA-256"] == digest == package.sha256
        assert int(row["Dung lượng (byte) / Size (bytes)"]) == package.zip_path.stat().st_size
        assert row["Mã hồ sơ / fileCode"] == package.sip.file_code
        assert row["Mã hồ sơ lưu trữ / arcFileCode"] == package.sip.arc_file_code
        assert row["Tiêu đề, trích yếu / Title"] == package.sip.title != ""
        assert int(row["Số văn bản / Documents"]) == len(package.sip.documents)
        documents = [r for r in rows if r["STT / No."].startswith(row["STT / No."] + ".")]
        with zipfile.ZipFile(package.zip_path) as zf:
            for doc_row, doc in zip(documents, package.sip.documents, strict=True):
                inside = zf.read(f"{package.sip.objid}/{doc.path}")
                assert doc_row["SHA-256"] == hashlib.sha256(inside).hexdigest()
                assert doc_row["Mã văn bản / docCode"] == doc.doc_code != ""

    pdf = result.pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF-")
    words = pdf_text(result.pdf_path)
    assert TITLE_VI in words and "Bên giao".upper() in words.upper()
    assert "BÊN NHẬN" in words and repo.config.name in words
    for package in result.packages:
        for code in (package.sip.arc_file_code, package.sip.file_code, package.sha256):
            assert code in words.replace("\n", ""), code


@pytest.mark.parametrize("source", ["dossier", "batch"])
def test_records_are_regenerated_in_the_sip_field_set_when_the_originals_are_not_kept(
        repo: Repository, tmp_path: Path, source: str) -> None:
    aip_id = ingest_tt05(repo, tmp_path, source)
    bag = tmp_path / "bag"
    shutil.copytree(location_root(repo.config, 0) / aip_id, bag)
    shutil.rmtree(bag / "data" / "submission")
    content = {f.original_name: bag / f.path for f in repo.catalog.files(aip_id)
               if f.role == "content" and f.original_name}
    aip_ead = (bag / "data/metadata/descriptive/EAD.xml").read_text(encoding="utf-8")
    arc = re.search(r"<arcFileCode>(.*?)</arcFileCode>", aip_ead)
    assert arc is not None
    # as if the archive's own code had prefixed the AIP's codes
    prefixed = aip_ead.replace(arc.group(0), f"<arcFileCode>LTNA.{arc.group(1)}</arcFileCode>")
    (bag / "data/metadata/descriptive/EAD.xml").write_text(prefixed, encoding="utf-8")
    sip = write_sip(bag, content, tmp_path / "sip", objid=sip_objid(aip_id), archive_code="LTNA",
                    fonds_code=fixtures.FONDS, organisation="Lưu trữ", created=now_local())
    assert sip.reused_records == 0 and sip.file_code == arc.group(1)
    assert sip.arc_file_code == f"LTNA.{arc.group(1)}"
    record = next((sip.folder / "representations/rep1/metadata/descriptive").iterdir())
    text = record.read_text(encoding="utf-8")
    assert "<docId>" in text and "arcFileCode" not in text and "docOrdinal" not in text
    with open_sip(sip.folder, tmp_path / "work") as submission:
        assert submission.valid, [(f.code, str(f.location)) for f in submission.report.errors]


def test_a_tampered_copy_is_skipped_for_one_that_verifies(repo: Repository,
                                                         tmp_path: Path) -> None:
    aip_id = ingest_tt05(repo, tmp_path)
    pdf = next((location_root(repo.config, 0) / aip_id / "data/representations/rep1/data")
               .glob("*.pdf"))
    pdf.write_bytes(pdf.read_bytes().replace(b"%%EOF", b"%%EOF tampered"))
    result = export(repo, [aip_id], tmp_path / "out")
    (package,) = result.packages
    assert package.source_copy == "copy2"
    (rejected,) = package.rejected_copies
    assert "AUDIT-CHECKSUM-MISMATCH" in rejected.codes() or "AUDIT-SIZE-MISMATCH" in \
        rejected.codes()
    with zipfile.ZipFile(package.zip_path) as zf:
        data = [n for n in zf.namelist() if "/representations/rep1/data/" in n]
        assert len(data) == 2 and not any(b"tampered" in zf.read(n) for n in data)


def test_no_intact_copy_writes_nothing(repo: Repository, tmp_path: Path) -> None:
    aip_id = ingest_tt05(repo, tmp_path)
    for index in (0, 1):
        signature = location_root(repo.config, index) / aip_id / "tagmanifest-sha256.txt.p7s"
        signature.write_bytes(signature.read_bytes()[:-8] + b"\x00" * 8)
    out = tmp_path / "out"
    with pytest.raises(NoIntactCopyError) as caught:
        export(repo, [aip_id], out)
    assert caught.value.code == "EXPORT-NO-INTACT-COPY" and len(caught.value.reports) == 2
    assert all(r.codes() & {"AUDIT-SIGNATURE-INVALID", "AUDIT-CHECKSUM-MISMATCH"}
               for r in caught.value.reports)
    assert list(out.iterdir()) == []


def test_a_bagit_aip_is_refused_and_nothing_is_written(repo: Repository, config: Config,
                                                       transfer: Path, tmp_path: Path) -> None:
    add_test_fonds(repo.catalog)
    bagit = ingest(config, transfer, identity=repo.identity(), catalog=repo.catalog,
                   fonds=TEST_FONDS)
    tt05 = ingest_tt05(repo, tmp_path)
    out = tmp_path / "out"
    with pytest.raises(UsageError) as caught:
        export(repo, [tt05, bagit.aip_id], out)
    assert caught.value.code == "EXPORT-NOT-TT05" and caught.value.location == bagit.aip_id
    assert not out.exists() or list(out.iterdir()) == []


def test_existing_files_are_never_overwritten(repo: Repository, tmp_path: Path) -> None:
    aip_id = ingest_tt05(repo, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "handover.csv").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        export(repo, [aip_id], out)
    assert caught.value.code == "EXPORT-TARGET-EXISTS"
    assert [p.name for p in out.iterdir()] == ["handover.csv"]
    assert (out / "handover.csv").read_text(encoding="utf-8") == "mine"


def test_cli_json_exit_codes_and_vietnamese(home: Path, tmp_path: Path) -> None:
    with Repository.open(home) as repo:
        aip_id = ingest_tt05(repo, tmp_path)
    runner = CliRunner()
    out = tmp_path / "out"
    done = runner.invoke(main, ["--home", str(home), "export", aip_id, "-o", str(out),
                                "--archivist", "Nguyễn Thị Lưu Trữ", "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["ok"] and data["packages"][0]["aip_id"] == aip_id
    assert data["packages"][0]["event_not_written"] == []
    with Repository.open(home) as repo:
        [event] = [e for e in repo.catalog.events(aip_id) if e.type == "dissemination"]
        assert event.id == data["packages"][0]["event_id"]
        spec = repo.config.storage[0]
        backend = open_location(spec.url, **spec.options)
        try:
            [agents] = [agents for _, e, agents in read_event_documents(backend, aip_id)
                        if e.id == event.id]
        finally:
            backend.close()
        assert ("person", "Nguyễn Thị Lưu Trữ") in {(a.type, a.name) for a in agents}
    assert data["packages"][0]["sha256"] == hashlib.sha256(
        Path(data["packages"][0]["zip"]).read_bytes()).hexdigest()
    again = runner.invoke(main, ["--home", str(home), "--lang", "vi", "export", aip_id, "-o",
                                 str(out), "--json"])
    assert again.exit_code == 2
    error = json.loads(again.output)["error"]
    assert error["code"] == "EXPORT-TARGET-EXISTS" and "đã tồn tại" in error["message"]
    unknown = runner.invoke(main, ["--home", str(home), "export", "nope", "-o",
                                   str(tmp_path / "other")])
    assert unknown.exit_code == 2 and "EXPORT-UNKNOWN-AIP" in unknown.output


def test_a_package_the_receiving_validator_rejects_is_never_handed_over(
        repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aip_id = ingest_tt05(repo, tmp_path)
    real_write_sip = export_module.write_sip

    def broken(*args: Any, **kwargs: Any) -> ExportedSip:
        sip = real_write_sip(*args, **kwargs)
        (sip.folder / "representations/rep1/METS.xml").unlink()  # as a writer bug would
        return sip

    monkeypatch.setattr(export_module, "write_sip", broken)
    out = tmp_path / "out"
    with pytest.raises(RejectedError) as caught:
        export(repo, [aip_id], out)
    assert caught.value.code == "EXPORT-SIP-INVALID"
    assert isinstance(caught.value.report, Report) and caught.value.report.errors
    assert list(out.iterdir()) == []
