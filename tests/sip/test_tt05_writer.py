"""The TT05 SIP writer: layout, METS shape, checksums, schema validity, atomic and safe writing.

``make_sample_package`` builds a complete, valid SIP_hoso / SIP_tailieu description; other tests
(e.g. the TT05 validator's fixtures) may import it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from lxml import etree

import preservation
from preservation.timeutil import VIETNAM
from preservation.xmlsafe import parse_file, validate
from sip.tt05_model import DOCUMENT_FIELDS, PackageKind, Tt05Document, Tt05Package
from sip.tt05_writer import Tt05WriteError, write_tt05_sip

METS = "{http://www.loc.gov/METS/}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
CSIP = "{https://DILCIS.eu/XML/METS/CSIPExtensionMETS}"
SCHEMA_DIR = Path(preservation.__file__).parent / "schemas"
SCHEMAS = {"mets1_12.xsd", "xlink.xsd", "DILCISExtensionMETS.xsd", "DILCISExtensionSIPMETS.xsd",
           "ead.xsd", "ead_doc.xsd", "ead_pic.xsd", "ead_media.xsd"}
FILE_CODE = "000.00.00.H41.2025.05"
BATCH_CODE = "000.00.00.H41.2025.010000001"
CREATED = datetime(2026, 6, 12, 11, 45, 37, 690000, tzinfo=VIETNAM)
OBJID = "uuid-5B1F3C4E-8A2D-4E6F-9C1B-7D3E2A1F0B9C"


def dossier_fields(total: int) -> dict[str, str]:
    return {
        "fileCode": FILE_CODE, "title": "Hồ sơ về công tác văn thư, lưu trữ năm 2025",
        "maintenance": "01", "mode": "01", "language": "01", "startDate": "02/01/2025",
        "endDate": "30/12/2025", "keyword": "văn thư", "totalDoc": str(total),
        "numberOfPaper": "", "numberOfPage": str(2 * total), "format": "01", "inforSign": "",
        "confidenceLevel": "01", "paperFileCode": "", "riskRecovery": "1",
        "riskRecoveryStatus": "01", "description": "",
    }


def document_fields(n: int, file_code: str = FILE_CODE) -> dict[str, str]:
    return {
        "docId": f"{file_code}.{n}", "docCode": f"{file_code}{n:07d}", "maintenance": "01",
        "typeName": "22", "codeNumber": str(n), "codeNotation": f"{n:02d}/UBND-VP",
        "issuedDate": "15/03/2025", "organName": "Ủy ban nhân dân tỉnh Nghệ An",
        "subject": f"Về việc chỉnh lý tài liệu, đợt {n}", "language": "01",
        "numberOfPage": "2", "inforSign": "", "keyword": "", "mode": "01",
        "confidenceLevel": "01", "autograph": "", "format": "01", "riskRecovery": "1",
        "riskRecoveryStatus": "01", "process": "1", "description": "",
    }


def make_sample_package(folder: Path, kind: PackageKind = PackageKind.HOSO,
                        count: int = 3) -> Tt05Package:
    """A valid package description whose content files are small PDFs written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    documents = []
    for n in range(1, count + 1):
        source = folder / f"văn bản {n}.pdf"
        source.write_bytes(b"%PDF-1.7\n% sample " + str(n).encode() + b"\n%%EOF\n")
        fields = document_fields(n, FILE_CODE if kind is PackageKind.HOSO else BATCH_CODE)
        if kind is PackageKind.TAILIEU:
            fields["docId"] = f"VB.2025.{n:04d}"
        documents.append(Tt05Document(fields, source))
    if kind is PackageKind.HOSO:
        record = dossier_fields(count)
    else:
        record = {"fileCode": BATCH_CODE, "title": "Lô tài liệu nộp lưu",
                  "source": "0", "totalDoc": str(count), "description": ""}
    return Tt05Package(kind, record, tuple(documents), fonds_code="H41",
                       agency="Ủy ban nhân dân tỉnh Nghệ An")


@pytest.fixture
def written(tmp_path: Path) -> Path:
    package = make_sample_package(tmp_path / "src")
    return write_tt05_sip(package, tmp_path / "out", objid=OBJID, created=CREATED)


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def ead_schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / name)))


def test_layout_is_the_tt05_one(written: Path, tmp_path: Path) -> None:
    assert written == tmp_path / "out" / OBJID
    doc_ids = [f"{FILE_CODE}.{n}" for n in (1, 2, 3)]
    expected = {"METS.xml", "metadata/descriptive/EAD.xml", "representations/rep1/METS.xml"}
    expected |= {f"schemas/{name}" for name in SCHEMAS}
    expected |= {f"representations/rep1/metadata/descriptive/EAD_DOC_{d}.xml" for d in doc_ids}
    expected |= {f"representations/rep1/data/{d}.pdf" for d in doc_ids}
    assert files_under(written) == expected
    assert [p.name for p in (tmp_path / "out").iterdir()] == [OBJID]  # no temp folder left


def test_content_is_copied_byte_for_byte(written: Path, tmp_path: Path) -> None:
    source = (tmp_path / "src" / "văn bản 2.pdf").read_bytes()
    assert (written / f"representations/rep1/data/{FILE_CODE}.2.pdf").read_bytes() == source


@pytest.mark.parametrize("mets", ["METS.xml", "representations/rep1/METS.xml"])
def test_mets_validates_against_packaged_schema(written: Path, mets: str) -> None:
    assert validate(parse_file(written / mets), "mets") == []


@pytest.mark.parametrize("mets", ["METS.xml", "representations/rep1/METS.xml"])
def test_mets_validates_against_official_schema(written: Path, mets: str,
                                                shared_dir: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(shared_dir / "schemas" / "mets.xsd")))
    tree = parse_file(written / mets)
    assert schema.validate(tree), schema.error_log


def test_ead_records_validate_against_their_schemas(written: Path) -> None:
    package_schema, doc_schema = ead_schema("ead.xsd"), ead_schema("ead_doc.xsd")
    ead = parse_file(written / "metadata/descriptive/EAD.xml")
    assert package_schema.validate(ead), package_schema.error_log
    records = sorted((written / "representations/rep1/metadata/descriptive").iterdir())
    assert len(records) == 3
    for record in records:
        tree = parse_file(record)
        assert doc_schema.validate(tree), doc_schema.error_log
        assert [c.tag for c in tree.getroot()] == [s.name for s in DOCUMENT_FIELDS]


def test_ead_doc_schema_declares_doc_code_not_arc_doc_code() -> None:
    root = etree.parse(str(SCHEMA_DIR / "ead_doc.xsd")).getroot()
    names = {el.get("name") for el in root.iter("{http://www.w3.org/2001/XMLSchema}element")}
    assert "docCode" in names
    assert "arcDocCode" not in names
    assert {s.name for s in DOCUMENT_FIELDS} <= names


def test_bad_record_fails_its_schema(written: Path) -> None:
    path = written / f"representations/rep1/metadata/descriptive/EAD_DOC_{FILE_CODE}.1.xml"
    tree = parse_file(path)
    tree.getroot().find("issuedDate").text = "2025-03-15"  # type: ignore[union-attr]
    assert not ead_schema("ead_doc.xsd").validate(tree)


def test_root_mets_header(written: Path) -> None:
    root = parse_file(written / "METS.xml").getroot()
    assert root.get("OBJID") == OBJID
    assert re.fullmatch(r"uuid-[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", OBJID)
    assert root.get("TYPE") == "Mixed"
    assert root.get("PROFILE") == "https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml"
    hdr = root.find(f"{METS}metsHdr")
    assert hdr is not None
    assert hdr.get("CREATEDATE") == "2026-06-12T11:45:37.690+07:00"
    assert hdr.get("RECORDSTATUS") == "NEW"
    assert hdr.get(f"{CSIP}OAISPACKAGETYPE") == "SIP"
    agent = hdr.find(f"{METS}agent[@ROLE='CREATOR']")
    assert agent is not None
    assert (agent.get("TYPE"), agent.get("OTHERTYPE")) == ("OTHER", "SOFTWARE")
    notes = {n.get(f"{CSIP}NOTETYPE"): n.text for n in agent.findall(f"{METS}note")}
    assert notes["IDENTIFICATIONCODE"] == "H41"
    alt = hdr.find(f"{METS}altRecordID")
    assert alt is not None
    assert (alt.get("TYPE"), alt.text) == ("SUBMISSIONAGREEMENT", FILE_CODE)
    assert root.find(f"{METS}amdSec") is not None
    uses = [g.get("USE") for g in root.iter(f"{METS}fileGrp")]
    assert uses == ["Schemas", "Representations/rep1"]
    smap = root.find(f"{METS}structMap")
    assert smap is not None
    assert (smap.get("LABEL"), smap.get("TYPE")) == ("CSIP", "PHYSICAL")
    mptr = root.find(f".//{METS}mptr")
    assert mptr is not None
    assert mptr.get(XLINK_HREF) == "representations/rep1/METS.xml"


def test_tailieu_is_a_collection(tmp_path: Path) -> None:
    package = make_sample_package(tmp_path / "src", PackageKind.TAILIEU, count=2)
    out = write_tt05_sip(package, tmp_path / "out", created=CREATED)
    assert re.fullmatch(r"uuid-[0-9A-F-]{36}", out.name)
    root = parse_file(out / "METS.xml").getroot()
    assert root.get("TYPE") == "Collection"
    assert root.get("OBJID") == out.name
    ead = parse_file(out / "metadata/descriptive/EAD.xml")
    assert ead_schema("ead.xsd").validate(ead)
    assert [c.tag for c in ead.getroot()] == ["fileCode", "title", "source", "totalDoc",
                                              "description"]
    assert (out / "representations/rep1/data/VB.2025.0002.pdf").is_file()


def references(mets: Path) -> list[etree._Element]:
    root = parse_file(mets).getroot()
    return [el for el in root.iter(f"{METS}file", f"{METS}mdRef")]


def _href(el: etree._Element) -> str:
    if el.tag == f"{METS}mdRef":
        return unquote(el.get(XLINK_HREF) or "")
    locat = el.find(f"{METS}FLocat")
    assert locat is not None
    return unquote(locat.get(XLINK_HREF) or "")


def test_every_reference_has_a_correct_sha256_and_size(written: Path) -> None:
    seen: set[str] = set()
    for mets in (written / "METS.xml", written / "representations/rep1/METS.xml"):
        for el in references(mets):
            target = mets.parent / _href(el)
            data = target.read_bytes()
            assert el.get("CHECKSUMTYPE") == "SHA-256"
            assert el.get("CHECKSUM") == hashlib.sha256(data).hexdigest().upper()
            assert el.get("SIZE") == str(len(data))
            assert el.get("CREATED") == "2026-06-12T11:45:37.690+07:00"
            assert el.get("MIMETYPE")
            seen.add(target.relative_to(written).as_posix())
            if target.suffix == ".xsd":
                assert el.get("MIMETYPE") == "application/octet-stream"
            if el.tag == f"{METS}file":
                assert re.fullmatch(r"ID-[0-9A-F-]{36}", el.get("ID") or "")
    # every file of the package is referenced, except the root METS itself
    assert seen == files_under(written) - {"METS.xml"}


def test_ids_are_upper_case_uuids(written: Path) -> None:
    for mets in ("METS.xml", "representations/rep1/METS.xml"):
        for el in parse_file(written / mets).getroot().iter():
            value = el.get("ID")
            if value is not None:
                assert re.fullmatch(r"(uuid|ID)-[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", value)


def test_rep_mets_ties_each_record_to_its_file(written: Path) -> None:
    root = parse_file(written / "representations/rep1/METS.xml").getroot()
    assert root.get("OBJID") == "rep1"
    assert root.get(f"{CSIP}CONTENTINFORMATIONTYPE") == "MIXED"
    assert [g.get("USE") for g in root.iter(f"{METS}fileGrp")] == ["Data"]
    dmd = {d.get("ID"): _href(d[0]) for d in root.findall(f"{METS}dmdSec")}
    files = {f.get("ID"): _href(f) for f in root.iter(f"{METS}file")}
    links = [d for d in root.iter(f"{METS}div") if d.get("LABEL") == "MetadataLink/File"]
    pairs = set()
    for div in links:
        (fptr,) = div.findall(f"{METS}fptr")
        pairs.add((dmd[div.get("DMDID")], files[fptr.get("FILEID")]))
    assert pairs == {(f"metadata/descriptive/EAD_DOC_{FILE_CODE}.{n}.xml",
                      f"data/{FILE_CODE}.{n}.pdf") for n in (1, 2, 3)}
    assert len(links) == 3


def test_same_objid_and_time_give_the_same_bytes(tmp_path: Path) -> None:
    package = make_sample_package(tmp_path / "src")
    a = write_tt05_sip(package, tmp_path / "a", objid=OBJID, created=CREATED)
    b = write_tt05_sip(package, tmp_path / "b", objid=OBJID, created=CREATED)
    for rel in files_under(a):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_vietnamese_text_is_nfc(tmp_path: Path) -> None:
    package = make_sample_package(tmp_path / "src")
    decomposed = "Ho\u0302\u0300 so\u031b"  # "Hồ sơ" in NFD
    fields: Mapping[str, str] = {**package.fields, "title": decomposed}
    out = write_tt05_sip(Tt05Package(package.kind, fields, package.documents),
                         tmp_path / "out", created=CREATED)
    text = (out / "metadata/descriptive/EAD.xml").read_text(encoding="utf-8")
    assert "<title>Hồ sơ</title>" in text


def test_refuses_to_overwrite(written: Path, tmp_path: Path) -> None:
    before = (written / "METS.xml").read_bytes()
    package = make_sample_package(tmp_path / "src2")
    with pytest.raises(Tt05WriteError):
        write_tt05_sip(package, tmp_path / "out", objid=OBJID, created=CREATED)
    assert (written / "METS.xml").read_bytes() == before
    assert [p.name for p in (tmp_path / "out").iterdir()] == [OBJID]


def test_missing_content_leaves_nothing(tmp_path: Path) -> None:
    package = make_sample_package(tmp_path / "src")
    (tmp_path / "src" / "văn bản 3.pdf").unlink()
    with pytest.raises(Tt05WriteError):
        write_tt05_sip(package, tmp_path / "out", objid=OBJID, created=CREATED)
    assert list((tmp_path / "out").iterdir()) == []


def test_symlinked_content_is_refused(tmp_path: Path) -> None:
    package = make_sample_package(tmp_path / "src", count=1)
    link = tmp_path / "link.pdf"
    link.symlink_to(tmp_path / "src" / "văn bản 1.pdf")
    doc = Tt05Document(package.documents[0].fields, link)
    with pytest.raises(Tt05WriteError):
        write_tt05_sip(Tt05Package(package.kind, package.fields, (doc,)), tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("doc_id", ["../evil", "a/b", "", "x\x00y"])
def test_unsafe_doc_id_is_refused(tmp_path: Path, doc_id: str) -> None:
    package = make_sample_package(tmp_path / "src", count=1)
    doc = Tt05Document({**package.documents[0].fields, "docId": doc_id},
                       package.documents[0].source)
    with pytest.raises(Tt05WriteError):
        write_tt05_sip(Tt05Package(package.kind, package.fields, (doc,)), tmp_path / "out")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_two_documents_on_one_name_are_refused(tmp_path: Path) -> None:
    package = make_sample_package(tmp_path / "src", count=2)
    first, second = package.documents
    clash = Tt05Document(second.fields, second.source, file_name=f"{first.doc_id}.pdf")
    with pytest.raises(Tt05WriteError):
        write_tt05_sip(Tt05Package(package.kind, package.fields, (first, clash)),
                       tmp_path / "out")


def test_naive_creation_time_is_refused(tmp_path: Path) -> None:
    package = make_sample_package(tmp_path / "src", count=1)
    with pytest.raises(Tt05WriteError):
        write_tt05_sip(package, tmp_path / "out", created=datetime(2026, 1, 1))
