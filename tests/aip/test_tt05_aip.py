"""TT05 SIP_hoso / SIP_tailieu → AIP_hoso / AIP_tailieu inside the signed bag, and versions.

The SIPs are written by the project's own TT05 writer from the sample producer's PDFs and
opened with the validator, exactly as ingest does; the AIP is built into a tmp staging folder.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

import preservation
from aip.builder import Actors, BuiltAip, PreviousVersion, ReusableFile, build_aip
from aip.tt05_aip import package_directory_name, tt05_objid
from aip.tt05_aip_records import ArcFileCodeError, arc_file_code
from preservation.manifest import object_key, parse_manifest
from preservation.repository import Repository
from preservation.signing import SigningIdentity
from preservation.timeutil import VIETNAM
from preservation.xmlsafe import parse_file, validate
from sip.samples import make_sample_sip_source
from sip.submission import Submission
from sip.tt05_model import PackageKind, Tt05Document, Tt05Package
from sip.tt05_writer import write_tt05_sip
from sip.validate import open_sip
from tests.sip.test_tt05_writer import BATCH_CODE, FILE_CODE, document_fields, dossier_fields

M = "http://www.loc.gov/METS/"
XLINK = "http://www.w3.org/1999/xlink"
CSIP = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
NS = {"m": M, "xlink": XLINK, "csip": CSIP}
HREF = f"{{{XLINK}}}href"
AIP_SCHEMAS = Path(preservation.__file__).parent / "schemas" / "aip"
CREATED = datetime(2026, 6, 12, 11, 45, 37, 690000, tzinfo=VIETNAM)
ARCHIVE = "LTLS.NA"
FONDS = "H41"


def _sip(tmp_path: Path, kind: PackageKind, name: str = "sip", extra: int = 0) -> Path:
    documents_dir, _ = make_sample_sip_source(tmp_path / f"{name}-producer")
    pdfs = sorted(documents_dir.iterdir())
    if extra:
        for n in range(extra):
            pdf = documents_dir / f"them-{n}.pdf"
            pdf.write_bytes(pdfs[0].read_bytes().replace(b"Demo", b"D%03d" % n))
            pdfs.append(pdf)
    code = FILE_CODE if kind is PackageKind.HOSO else BATCH_CODE
    docs = []
    for n, pdf in enumerate(pdfs, 1 + (10 if extra else 0)):
        fields = document_fields(n, code)
        if kind is PackageKind.TAILIEU:
            fields["docId"] = f"VB.2025.{n:04d}"
        docs.append(Tt05Document(fields, pdf))
    record = dossier_fields(len(docs)) if kind is PackageKind.HOSO else {
        "fileCode": BATCH_CODE, "title": "Lô tài liệu nộp lưu", "source": "0",
        "totalDoc": str(len(docs)), "description": ""}
    package = Tt05Package(kind, record, tuple(docs), fonds_code=FONDS, agency="UBND tỉnh")
    return write_tt05_sip(package, tmp_path / f"{name}-out", created=CREATED)


@pytest.fixture
def identity(repo: Repository) -> SigningIdentity:
    return repo.identity()


def _build(sub: Submission, staging: Path, identity: SigningIdentity,
           previous: PreviousVersion | None = None, archive: str = ARCHIVE) -> BuiltAip:
    staging.mkdir()
    return build_aip(sub, aip_uuid=str(uuid.uuid4()), staging=staging, identity=identity,
                     actors=Actors("Lưu trữ lịch sử tỉnh Nghệ An", "archivist"),
                     created=CREATED, fonds_code=FONDS, archive_code=archive,
                     previous=previous, archivist="Nguyễn Văn A")


@pytest.fixture
def hoso(tmp_path: Path, identity: SigningIdentity) -> Iterator[BuiltAip]:
    sip = _sip(tmp_path, PackageKind.HOSO)
    with open_sip(sip, tmp_path / "work") as sub:
        assert sub.valid, [(f.code, str(f.location)) for f in sub.report.errors]
        yield _build(sub, tmp_path / "staging", identity)


def _data(built: BuiltAip) -> Path:
    return built.staging / "data"


def _bag_info(built: BuiltAip) -> dict[str, str]:
    lines = (built.staging / "bag-info.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split(": ", 1) for line in lines)


def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(AIP_SCHEMAS / name)))


def _simpledc(path: Path) -> dict[str, str]:
    return {child.tag: child.text or "" for child in parse_file(path).getroot()}


# --- identifiers ---------------------------------------------------------------------------------

def test_objid_arc_code_and_directory_name_rules() -> None:
    u = "6f1c2a0e-8a43-4b8e-9d55-0c3f7b1e2a90"
    assert tt05_objid("H41", u) == "urn:H41:uuid-6F1C2A0E-8A43-4B8E-9D55-0C3F7B1E2A90"
    assert tt05_objid("", u) == f"urn:uuid:{u}"
    assert package_directory_name(tt05_objid("H41", u)) == \
        "urn_H41_uuid-6F1C2A0E-8A43-4B8E-9D55-0C3F7B1E2A90"
    assert arc_file_code("LTLS", "000.00.00.H41.2025.05") == "LTLS.000.00.00.H41.2025.05"
    assert arc_file_code("", "000.00.00.H41.2025.05") == "000.00.00.H41.2025.05"
    assert arc_file_code("LTLS", "LTLS.X.1") == "LTLS.X.1"  # not prefixed twice
    with pytest.raises(ArcFileCodeError) as too_long:
        arc_file_code("A" * 60, "B" * 60)
    assert too_long.value.code == "AIP-ARC-FILE-CODE"
    for archive in ("LTLS", ""):  # no fileCode: no code, not "LTLS." alone
        with pytest.raises(ArcFileCodeError) as empty:
            arc_file_code(archive, "  ")
        assert empty.value.code == "AIP-ARC-FILE-CODE"
    with pytest.raises(preservation.errors.PreservationError) as bad:
        tt05_objid("H 41:x", u)
    assert bad.value.code == "AIP-FONDS-CODE"


# --- AIP_hoso ------------------------------------------------------------------------------------

def test_hoso_layout_and_bag(hoso: BuiltAip) -> None:
    data = _data(hoso)
    paths = {o.bag_path for o in hoso.objects}
    for rel in ("METS.xml", "metadata/descriptive/EAD.xml", "metadata/preservation/PREMIS.xml",
                "representations/rep1/METS.xml",
                "representations/rep1/metadata/preservation/PREMIS_rep1.xml",
                "submission/validation-report.json"):
        assert f"data/{rel}" in paths and (data / rel).is_file(), rel
    schemas = {p.rsplit("/", 1)[-1] for p in paths if p.startswith("data/schemas/")}
    assert {"mets1_12.xsd", "xlink.xsd", "DILCISExtensionMETS.xsd", "ead.xsd", "ead_doc.xsd",
            "ead_pic.xsd", "ead_media.xsd"} <= schemas
    assert (data / "schemas/ead_doc.xsd").read_bytes() == (AIP_SCHEMAS / "ead_doc.xsd").read_bytes()
    content = sorted(o.bag_path for o in hoso.objects if o.role == "content")
    assert content == [f"data/representations/rep1/data/{FILE_CODE}.{n}.pdf" for n in (1, 2)]
    records = sorted(p for p in paths if "/metadata/descriptive/EAD_DOC_" in p
                     and p.startswith("data/representations"))
    assert records == [f"data/representations/rep1/metadata/descriptive/EAD_DOC_{FILE_CODE}.{n}.xml"
                       for n in (1, 2)]
    # manifests: every payload object with its SHA-256; tags in the tagmanifest; signed last
    manifest = parse_manifest((hoso.staging / "manifest-sha256.txt").read_text())
    payload = {o.bag_path: o for o in hoso.objects if o.bag_path.startswith("data/")}
    assert manifest == {p: o.sha256 for p, o in payload.items()}
    for obj in payload.values():
        assert obj.source is not None and obj.stored_key is None
        assert hashlib.sha256(obj.source.read_bytes()).hexdigest() == obj.sha256
    tags = parse_manifest((hoso.staging / "tagmanifest-sha256.txt").read_text())
    assert set(tags) == {"bagit.txt", "bag-info.txt", "manifest-sha256.txt"}
    assert hoso.objects[-1].role == "signature"
    assert not (hoso.staging / "fetch.txt").exists()


def test_hoso_bag_info_fields(hoso: BuiltAip) -> None:
    info = _bag_info(hoso)
    objid = f"urn:{FONDS}:uuid-{hoso.uuid.upper()}"
    assert info["External-Identifier"] == f"urn:uuid:{hoso.uuid}"
    assert info["Package-Identifier"] == f"urn:uuid:{hoso.uuid}"
    assert info["Package-Version"] == "1"
    assert "Previous-Version" not in info
    assert info["Record-Status"] == "NEW"
    assert info["Fonds-Code"] == FONDS
    assert info["Archive-Code"] == ARCHIVE
    assert info["Source-Kind"] == "tt05-hoso"
    assert info["Package-OBJID"] == objid
    assert info["Created"] == "2026-06-12T11:45:37.690+07:00"
    assert info["Arc-File-Code"] == f"{ARCHIVE}.{FILE_CODE}"
    payload = [o for o in hoso.objects if o.bag_path.startswith("data/")]
    assert info["Payload-Oxum"] == f"{sum(o.size for o in payload)}.{len(payload)}"
    assert hoso.description.objid == objid


def test_hoso_root_mets(hoso: BuiltAip) -> None:
    root = parse_file(_data(hoso) / "METS.xml").getroot()
    assert validate(root, "mets") == []
    assert root.get("OBJID") == f"urn:{FONDS}:uuid-{hoso.uuid.upper()}"
    assert root.get("TYPE") == "Mixed"
    hdr = root.find("m:metsHdr", NS)
    assert hdr is not None
    assert hdr.get(f"{{{CSIP}}}OAISPACKAGETYPE") == "AIP"
    assert hdr.get("RECORDSTATUS") == "NEW"
    assert hdr.get("CREATEDATE") == "2026-06-12T11:45:37.690+07:00"
    creator = hdr.find("m:agent[@ROLE='CREATOR']", NS)
    assert creator is not None
    assert (creator.get("TYPE"), creator.get("OTHERTYPE")) == ("OTHER", "SOFTWARE")
    assert creator.findtext("m:name", namespaces=NS) == "preservation"
    assert creator.findtext("m:note[@csip:NOTETYPE='IDENTIFICATIONCODE']", namespaces=NS) == FONDS
    assert hdr.findtext("m:altRecordID[@TYPE='SUBMISSIONAGREEMENT']", namespaces=NS) == FILE_CODE
    dmd = root.findall("m:dmdSec/m:mdRef", NS)
    assert [d.get(HREF) for d in dmd] == ["metadata/descriptive/EAD.xml"]
    digiprov = root.findall("m:amdSec/m:digiprovMD", NS)
    assert len(digiprov) == 1
    ref = digiprov[0].find("m:mdRef", NS)
    assert ref is not None and ref.get(HREF) == "metadata/preservation/PREMIS.xml"
    assert ref.get("MDTYPE") == "PREMIS"
    metadata_div = root.find("m:structMap/m:div/m:div[@LABEL='Metadata']", NS)
    assert metadata_div is not None and metadata_div.get("ADMID") == digiprov[0].get("ID")
    uses = [g.get("USE") for g in root.iterfind("m:fileSec/m:fileGrp", NS)]
    assert uses == ["Schemas", "Documentation", "Representations/rep1"]
    _check_references(root, hoso)


def _check_references(root: etree._Element, built: BuiltAip, base: str = "") -> None:
    """Every mdRef / file: upper-case SHA-256 and SIZE matching the bytes it points to."""
    sources = {o.bag_path: o.source for o in built.objects}
    refs = [*root.iter(f"{{{M}}}mdRef"), *root.iter(f"{{{M}}}file")]
    assert refs
    for el in refs:
        target = el if el.tag.endswith("mdRef") else el.find("m:FLocat", NS)
        assert target is not None
        source = sources[f"data/{base}{target.get(HREF, '')}"]
        assert source is not None
        data = source.read_bytes()
        assert el.get("CHECKSUMTYPE") == "SHA-256"
        assert el.get("CHECKSUM") == hashlib.sha256(data).hexdigest().upper()
        assert el.get("SIZE") == str(len(data))
    for el in root.iter():
        value = el.get("ID")
        if value is not None:
            prefix = "ID-" if el.tag == f"{{{M}}}file" else "uuid-"
            assert value.startswith(prefix) and value[len(prefix):] == value[len(prefix):].upper()


def test_hoso_rep_mets_ties_each_record_to_its_file(hoso: BuiltAip) -> None:
    rep_dir = _data(hoso) / "representations/rep1"
    rep = parse_file(rep_dir / "METS.xml").getroot()
    assert validate(rep, "mets") == []
    assert rep.get("OBJID") == "rep1"
    hdr = rep.find("m:metsHdr", NS)
    assert hdr is not None and hdr.get(f"{{{CSIP}}}OAISPACKAGETYPE") == "AIP"
    _check_references(rep, hoso, "representations/rep1/")
    digiprov = rep.find("m:amdSec/m:digiprovMD", NS)
    assert digiprov is not None
    premis_ref = digiprov.find("m:mdRef", NS)
    assert premis_ref is not None
    assert premis_ref.get(HREF) == "metadata/preservation/PREMIS_rep1.xml"
    dmd = {d.get("ID"): d.find("m:mdRef", NS).get(HREF)  # type: ignore[union-attr]
           for d in rep.iterfind("m:dmdSec", NS)}
    files = {f.get("ID"): f for f in rep.iterfind("m:fileSec/m:fileGrp/m:file", NS)}
    assert {f.get("ADMID") for f in files.values()} == {digiprov.get("ID")}
    links = rep.findall(".//m:div[@LABEL='MetadataLink/File']", NS)
    assert len(links) == 2
    linked_records = Counter(d.get("DMDID") for d in links)
    linked_files = Counter(p.get("FILEID") for d in links for p in d.iterfind("m:fptr", NS))
    assert set(linked_records) == set(dmd) and set(linked_records.values()) == {1}
    assert set(linked_files) == set(files) and set(linked_files.values()) == {1}
    for div in links:
        record = dmd[div.get("DMDID")] or ""
        fptr = div.find("m:fptr", NS)
        assert fptr is not None
        flocat = files[fptr.get("FILEID")].find("m:FLocat", NS)
        assert flocat is not None
        stem = record.removeprefix("metadata/descriptive/EAD_DOC_").removesuffix(".xml")
        assert flocat.get(HREF) == f"data/{stem}.pdf"
        assert flocat.get(f"{{{XLINK}}}title") == f"{stem}.pdf"  # the SIP's name


def test_hoso_records_have_the_aip_field_sets(hoso: BuiltAip) -> None:
    data = _data(hoso)
    ead_path = data / "metadata/descriptive/EAD.xml"
    assert _schema("ead.xsd").validate(parse_file(ead_path))
    ead = _simpledc(ead_path)
    assert len(ead) == 18
    assert "fileCode" not in ead
    assert ead["arcFileCode"] == f"{ARCHIVE}.{FILE_CODE}"
    assert ead["startDate"] == "02/01/2025" and ead["totalDoc"] == "2"
    doc_schema = _schema("ead_doc.xsd")
    records = sorted((data / "representations/rep1/metadata/descriptive").iterdir())
    for n, path in enumerate(records, 1):
        assert doc_schema.validate(parse_file(path)), doc_schema.error_log
        fields = _simpledc(path)
        assert len(fields) == 19
        assert not {"docId", "maintenance", "riskRecovery", "riskRecoveryStatus"} & set(fields)
        assert fields["arcFileCode"] == f"{ARCHIVE}.{FILE_CODE}"
        assert fields["docOrdinal"] == str(n)
        assert fields["docCode"] == f"{FILE_CODE}{n:07d}"
        assert fields["issuedDate"] == "15/03/2025"
    # the SIP's records would not pass as AIP records, and the other way round
    sip_record = next(o.source for o in hoso.objects if o.bag_path ==
                      f"data/submission/sip/representations/rep1/metadata/descriptive/"
                      f"EAD_DOC_{FILE_CODE}.1.xml")
    assert sip_record is not None and not doc_schema.validate(parse_file(sip_record))


def test_hoso_premis_files_are_schema_valid(hoso: BuiltAip) -> None:
    data = _data(hoso)
    for rel in ("metadata/preservation/PREMIS.xml",
                "representations/rep1/metadata/preservation/PREMIS_rep1.xml"):
        assert validate(parse_file(data / rel).getroot(), "premis") == [], rel


def test_the_archivist_is_the_person_in_premis_and_the_arc_code_is_told(hoso: BuiltAip) -> None:
    premis = parse_file(_data(hoso) / "metadata/preservation/PREMIS.xml").getroot()
    p = {"p": "http://www.loc.gov/premis/v3"}
    people = [a.findtext("p:agentName", namespaces=p) for a in premis.iterfind("p:agent", p)
              if a.findtext("p:agentType", namespaces=p) == "person"]
    assert people == ["Nguyễn Văn A"]  # archivist= wins over actors.person ("archivist")
    assert hoso.arc_file_code == f"{ARCHIVE}.{FILE_CODE}"
    assert _bag_info(hoso)["Arc-File-Code"] == hoso.arc_file_code


@pytest.mark.shared
def test_hoso_mets_valid_against_the_official_schemas(hoso: BuiltAip, shared_dir: Path) -> None:
    schemas = shared_dir / "schemas"
    driver = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        f'<xs:import namespace="{M}" schemaLocation="{(schemas / "mets.xsd").as_uri()}"/>'
        f'<xs:import namespace="{CSIP}" '
        f'schemaLocation="{(schemas / "DILCISExtensionMETS.xsd").as_uri()}"/>'
        "</xs:schema>")
    both = etree.XMLSchema(etree.fromstring(driver.encode()))
    premis = etree.XMLSchema(etree.parse(str(schemas / "premis-v3-0.xsd")))
    data = _data(hoso)
    for rel in ("METS.xml", "representations/rep1/METS.xml"):
        assert both.validate(etree.parse(str(data / rel))), (rel, both.error_log)
    for rel in ("metadata/preservation/PREMIS.xml",
                "representations/rep1/metadata/preservation/PREMIS_rep1.xml"):
        assert premis.validate(etree.parse(str(data / rel))), (rel, premis.error_log)


# --- AIP_tailieu ---------------------------------------------------------------------------------

def test_tailieu_has_the_four_batch_fields(tmp_path: Path, identity: SigningIdentity) -> None:
    sip = _sip(tmp_path, PackageKind.TAILIEU)
    with open_sip(sip, tmp_path / "work") as sub:
        assert sub.valid, [(f.code, str(f.location)) for f in sub.report.errors]
        built = _build(sub, tmp_path / "staging", identity, archive="")
    data = _data(built)
    root = parse_file(data / "METS.xml").getroot()
    assert root.get("TYPE") == "Collection"
    assert validate(root, "mets") == []
    ead_path = data / "metadata/descriptive/EAD.xml"
    assert _schema("ead.xsd").validate(parse_file(ead_path))
    ead = _simpledc(ead_path)
    assert set(ead) == {"arcFileCode", "title", "source", "description"}
    assert ead["arcFileCode"] == BATCH_CODE  # no archive code configured: the fileCode itself
    info = _bag_info(built)
    assert "Archive-Code" not in info and info["Arc-File-Code"] == BATCH_CODE
    assert info["Source-Kind"] == "tt05-tailieu"
    doc_schema = _schema("ead_doc.xsd")
    for path in (data / "representations/rep1/metadata/descriptive").iterdir():
        assert doc_schema.validate(parse_file(path)), doc_schema.error_log


# --- versions ------------------------------------------------------------------------------------

def _previous(built: BuiltAip, mode: str) -> PreviousVersion:
    files = tuple(
        ReusableFile(o.bag_path, o.size, o.sha256, o.stored_key or object_key(built.uuid,
                                                                               o.bag_path),
                     o.role, o.original_name, o.format.puid if o.format else None,
                     o.format.name if o.format else None)
        for o in built.objects if o.role in ("content", "metadata"))
    d = built.description
    return PreviousVersion(built.uuid, d.package_uuid or built.uuid, d.version, d.objid, mode,
                           files)


def _fetch(built: BuiltAip) -> dict[str, tuple[str, int]]:
    lines = (built.staging / "fetch.txt").read_text().splitlines()
    return {path: (url, int(size)) for url, size, path in (line.split(" ") for line in lines)}


def test_supplement_carries_previous_documents_by_reference(
        hoso: BuiltAip, tmp_path: Path, identity: SigningIdentity) -> None:
    sip = _sip(tmp_path, PackageKind.HOSO, name="supplement", extra=1)
    with open_sip(sip, tmp_path / "work2") as sub:
        assert sub.valid, [(f.code, str(f.location)) for f in sub.report.errors]
        v2 = _build(sub, tmp_path / "staging2", identity, _previous(hoso, "supplement"))
    data = _data(v2)
    info = _bag_info(v2)
    assert info["Package-Identifier"] == f"urn:uuid:{hoso.uuid}"
    assert info["Package-Version"] == "2"
    assert info["Previous-Version"] == f"urn:uuid:{hoso.uuid}"
    assert info["Record-Status"] == "SUPPLEMENT"
    assert v2.description.previous_uuid == hoso.uuid and v2.description.version == 2
    root = parse_file(data / "METS.xml").getroot()
    assert root.find("m:metsHdr", NS).get("RECORDSTATUS") == "SUPPLEMENT"  # type: ignore[union-attr]
    # v1's two documents are carried, the SIP's three (two identical PDFs, one new) added
    content = [o for o in v2.objects if o.role == "content"]
    assert len(content) == 5
    fetch = _fetch(v2)
    reused = {o.bag_path: o for o in v2.objects if o.stored_key}
    assert set(fetch) == set(reused)
    for path, obj in reused.items():
        assert obj.source is None
        assert fetch[path] == (f"../{obj.stored_key}", obj.size)
        assert obj.stored_key is not None and obj.stored_key.startswith(f"{hoso.uuid}/data/")
    v1_content = {o.bag_path for o in hoso.objects if o.role == "content"}
    assert v1_content <= set(reused)
    v1_records = {o.bag_path for o in hoso.objects if "/descriptive/EAD_DOC_" in o.bag_path
                  and o.bag_path.startswith("data/representations")}
    assert v1_records <= set(reused)
    new = [o for o in content if o.stored_key is None]
    assert len(new) == 1  # only the PDF v1 did not have is stored again
    tags = parse_manifest((v2.staging / "tagmanifest-sha256.txt").read_text())
    assert "fetch.txt" in tags
    manifest = parse_manifest((v2.staging / "manifest-sha256.txt").read_text())
    assert set(reused) <= set(manifest)
    # rep1 METS: five documents, each record tied to its file exactly once; new ordinals follow
    rep = parse_file(data / "representations/rep1/METS.xml").getroot()
    assert validate(rep, "mets") == []
    links = rep.findall(".//m:div[@LABEL='MetadataLink/File']", NS)
    assert len(links) == 5
    ordinals = sorted(int(_simpledc(data / "representations/rep1" / rel)["docOrdinal"])
                      for rel in _new_records(rep, v2))
    assert ordinals == [3, 4, 5]
    ead = _simpledc(data / "metadata/descriptive/EAD.xml")
    assert ead["totalDoc"] == "5"


def _new_records(rep: etree._Element, built: BuiltAip) -> list[str]:
    written = {o.bag_path for o in built.objects if o.stored_key is None}
    hrefs = [r.get(HREF, "") for r in rep.iterfind("m:dmdSec/m:mdRef", NS)]
    return [h for h in hrefs if f"data/representations/rep1/{h}" in written]


def test_replacement_reuses_only_identical_bytes(
        hoso: BuiltAip, tmp_path: Path, identity: SigningIdentity) -> None:
    sip = _sip(tmp_path, PackageKind.HOSO, name="replacement", extra=1)
    with open_sip(sip, tmp_path / "work2") as sub:
        v2 = _build(sub, tmp_path / "staging2", identity, _previous(hoso, "replace"))
    assert _bag_info(v2)["Record-Status"] == "REPLACEMENT"
    content = [o for o in v2.objects if o.role == "content"]
    assert len(content) == 3  # the SIP's files only
    v1: dict[tuple[str, int], set[str]] = {}
    for o in hoso.objects:
        if o.bag_path.startswith("data/"):
            v1.setdefault((o.sha256, o.size), set()).add(object_key(hoso.uuid, o.bag_path))
    for obj in v2.objects:
        if not obj.bag_path.startswith("data/"):
            continue
        same = v1.get((obj.sha256, obj.size))
        if same:
            assert obj.stored_key in same and obj.source is None
        else:
            assert obj.stored_key is None and obj.source is not None
    assert sum(1 for o in content if o.stored_key) == 2
    assert set(_fetch(v2)) == {o.bag_path for o in v2.objects if o.stored_key}


# --- E-ARK-shaped AIPs ---------------------------------------------------------------------------

def test_bagit_sip_gives_an_eark_shaped_aip_with_premis_rep1(
        transfer: Path, tmp_path: Path, identity: SigningIdentity) -> None:
    with open_sip(transfer, tmp_path / "work") as sub:
        built = _build(sub, tmp_path / "staging", identity)
    data = _data(built)
    root = parse_file(data / "METS.xml").getroot()
    assert validate(root, "mets") == []
    assert root.get("OBJID") == f"urn:uuid:{built.uuid}"
    refs = [r.get(HREF) for r in root.iterfind("m:amdSec/m:digiprovMD/m:mdRef", NS)]
    assert refs == ["metadata/preservation/PREMIS.xml",
                    "representations/rep1/metadata/preservation/PREMIS_rep1.xml"]
    for rel in refs:
        assert validate(parse_file(data / str(rel)).getroot(), "premis") == []
    info = _bag_info(built)
    assert info["Package-OBJID"] == f"urn:uuid:{built.uuid}" and "Arc-File-Code" not in info
    assert info["Source-Kind"] == "bagit"
    content = sorted(o.bag_path for o in built.objects if o.role == "content")
    assert [p.rsplit("/", 1)[-1].split(".")[0] for p in content] == ["000001", "000002", "000003"]
    assert all(p.startswith("data/representations/rep1/data/") for p in content)
