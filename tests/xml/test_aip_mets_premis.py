"""The AIP's METS and PREMIS: valid against the official schemas and saying the right things.

The official XSDs in ../shared/schemas are the independent oracle (loaded straight from that
folder with lxml, not through our packaged copies).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from aip.mets import href, mets_bytes
from aip.model import (
    EVENT_TYPES,
    Agent,
    AipDescription,
    ContentFile,
    Event,
    FormatId,
    MetadataFile,
)
from aip.premis import (
    premis_package_bytes,
    premis_representation_bytes,
    representation_uuid,
)
from preservation.xmlsafe import parse_bytes, validate

SHARED_SCHEMAS = Path(__file__).resolve().parents[2].parent / "shared" / "schemas"
METS = "http://www.loc.gov/METS/"
PREMIS = "http://www.loc.gov/premis/v3"
XLINK = "http://www.w3.org/1999/xlink"
CSIP = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
NS = {"m": METS, "p": PREMIS, "xlink": XLINK, "csip": CSIP}
VN = timezone(timedelta(hours=7))
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
UPPER_ID_RE = re.compile(r"^uuid-[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
FILE_ID_RE = re.compile(r"^ID-[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")

AIP_UUID = "6f1c2a0e-8a43-4b8e-9d55-0c3f7b1e2a90"
NAME_NFC = unicodedata.normalize("NFC", "Quyết định số 12 về lưu trữ.pdf")
NAME_NFD = unicodedata.normalize("NFD", "Tờ trình phê duyệt.docx")
LABEL_NFD = unicodedata.normalize("NFD", "Hồ sơ kỳ họp thứ nhất")
ORG_NFD = unicodedata.normalize("NFD", "Lưu trữ lịch sử tỉnh Nghệ An")
T = datetime(2026, 6, 12, 11, 45, 37, 690000, tzinfo=VN)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


PDF = ContentFile(
    uuid="1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed",
    aip_path="representations/rep1/data/000001.pdf",
    original_name=NAME_NFC,
    size=1024,
    sha256=_sha("pdf"),
    format=FormatId(
        "fmt/354",
        "Acrobat PDF/A - Portable Document Format",
        "1b",
        "application/pdf",
        "signature",
        "PRONOM",
        "v109",
    ),
    mime="application/pdf",
)
DOCX = ContentFile(
    uuid="c1f0e3a2-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
    aip_path="representations/rep1/data/000002.docx",
    original_name=NAME_NFD,
    size=2048,
    sha256=_sha("docx"),
    format=FormatId(
        "fmt/412",
        "Microsoft Word for Windows",
        "2007 onwards",
        basis="container",
        registry_version="v109",
    ),
    mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
)
BLOB = ContentFile(
    uuid="e4a7c9d1-2b3c-4d5e-8f90-a1b2c3d4e5f6",
    aip_path="representations/rep1/data/000003.bin",
    original_name="phụ lục/dữ liệu thô.bin",
    size=7,
    sha256=_sha("blob"),
    format=FormatId(None, basis="none", registry_version="v109"),
)
SOFTWARE = Agent(
    "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "preservation", "software", "0.1.0", "executing program"
)
ARCHIVE = Agent("5d6e7f80-9a0b-4c1d-8e2f-3a4b5c6d7e8f", ORG_NFD, "organization", role="implementer")


def _event(
    n: int,
    kind: str,
    objects: tuple[str, ...],
    outcome: str = "success",
    agents: tuple[str, ...] = (SOFTWARE.uuid,),
) -> Event:
    return Event(
        uuid=f"00000000-0000-4000-8000-{n:012d}",
        type=kind,
        type_uri=EVENT_TYPES[kind],
        datetime=T + timedelta(seconds=n),
        outcome=outcome,
        detail=f"{kind} by preservation 0.1.0",
        outcome_detail="" if outcome == "success" else "1 file without a format match",
        agent_uuids=agents,
        object_uuids=objects,
    )


FILES = (PDF, DOCX, BLOB)
EVENTS = (
    _event(1, "message digest calculation", tuple(f.uuid for f in FILES)),
    _event(2, "format identification", tuple(f.uuid for f in FILES), outcome="warning"),
    _event(3, "validation", (PDF.uuid,), outcome="failure"),
    _event(4, "information package creation", (AIP_UUID,), agents=(SOFTWARE.uuid, ARCHIVE.uuid)),
    _event(5, "ingestion", ()),
)


@pytest.fixture
def desc() -> AipDescription:
    return AipDescription(
        uuid=AIP_UUID,
        label=LABEL_NFD,
        created=T,
        organisation=ORG_NFD,
        software_name="preservation",
        software_version="0.1.0",
        files=FILES,
        events=EVENTS,
        agents=(SOFTWARE, ARCHIVE),
        metadata=(MetadataFile("metadata/descriptive/EAD.xml", 812, _sha("ead")),),
        schemas=(
            MetadataFile("schemas/mets1_12.xsd", 138291, _sha("m"), "application/octet-stream"),
            MetadataFile("schemas/xlink.xsd", 3180, _sha("x"), "application/octet-stream"),
        ),
        submission=(MetadataFile("submission/METS.xml", 4321, _sha("sub")),),
    )


@pytest.fixture
def premis_xml(desc: AipDescription) -> bytes:
    return premis_package_bytes(desc)


@pytest.fixture
def premis_rep_xml(desc: AipDescription) -> bytes:
    return premis_representation_bytes(desc, "rep1")


@pytest.fixture
def premis_file(premis_xml: bytes) -> MetadataFile:
    return MetadataFile(
        "metadata/preservation/PREMIS.xml", len(premis_xml), hashlib.sha256(premis_xml).hexdigest()
    )


@pytest.fixture
def mets(desc: AipDescription, premis_file: MetadataFile) -> etree._Element:
    return parse_bytes(mets_bytes(desc, premis_file)).getroot()


@pytest.fixture
def premis(premis_xml: bytes) -> etree._Element:
    return parse_bytes(premis_xml).getroot()


@pytest.fixture
def premis_rep(premis_rep_xml: bytes) -> etree._Element:
    return parse_bytes(premis_rep_xml).getroot()


# --- the independent oracle: ../shared/schemas --------------------------------------------------


def _shared(name: str) -> Path:
    path = SHARED_SCHEMAS / name
    if not path.is_file():
        pytest.skip(f"official schema {path} not available (../shared is absent in this checkout)")
    return path


def _oracle_errors(doc: etree._Element, schema: etree.XMLSchema) -> list[str]:
    schema.validate(doc)
    return [f"line {e.line}: {e.message}" for e in schema.error_log]  # type: ignore[attr-defined]


@pytest.mark.shared
def test_premis_valid_against_official_schema(premis_xml: bytes, premis_rep_xml: bytes) -> None:
    schema = etree.XMLSchema(etree.parse(str(_shared("premis-v3-0.xsd"))))
    assert _oracle_errors(etree.fromstring(premis_xml), schema) == []
    assert _oracle_errors(etree.fromstring(premis_rep_xml), schema) == []


@pytest.mark.shared
def test_mets_valid_against_official_schemas(
    desc: AipDescription, premis_file: MetadataFile
) -> None:
    data = mets_bytes(desc, premis_file)
    mets_xsd = etree.XMLSchema(etree.parse(str(_shared("mets.xsd"))))  # imports xlink.xsd
    assert _oracle_errors(etree.fromstring(data), mets_xsd) == []
    # mets.xsd accepts foreign attributes laxly; with the CSIP extension they are checked too
    driver = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        f'<xs:import namespace="{METS}" schemaLocation="{_shared("mets.xsd").as_uri()}"/>'
        f'<xs:import namespace="{CSIP}" '
        f'schemaLocation="{_shared("DILCISExtensionMETS.xsd").as_uri()}"/>'
        "</xs:schema>"
    )
    both = etree.XMLSchema(etree.fromstring(driver.encode()))
    assert _oracle_errors(etree.fromstring(data), both) == []
    bad = data.replace(b'csip:OAISPACKAGETYPE="AIP"', b'csip:OAISPACKAGETYPE="XIP"')
    assert _oracle_errors(etree.fromstring(bad), both)  # the oracle does check csip values


def test_packaged_schemas_agree(premis: etree._Element, premis_rep: etree._Element,
                                mets: etree._Element) -> None:
    assert validate(premis, "premis") == []
    assert validate(premis_rep, "premis") == []
    assert validate(mets, "mets") == []


# --- METS content --------------------------------------------------------------------------------


def test_mets_root_and_header(mets: etree._Element) -> None:
    assert mets.get("OBJID") == f"urn:uuid:{AIP_UUID}"
    assert mets.get("TYPE") == "Mixed"
    assert mets.get("PROFILE") == "https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml"
    assert mets.get(f"{{{CSIP}}}CONTENTINFORMATIONTYPE") == "MIXED"
    assert mets.get("LABEL") == unicodedata.normalize("NFC", LABEL_NFD)  # TT05: NFC text
    hdr = mets.find("m:metsHdr", NS)
    assert hdr is not None
    assert hdr.get("CREATEDATE") == "2026-06-12T11:45:37.690+07:00"
    assert hdr.get("RECORDSTATUS") == "NEW"
    assert hdr.get(f"{{{CSIP}}}OAISPACKAGETYPE") == "AIP"
    creator = hdr.find("m:agent[@ROLE='CREATOR']", NS)
    assert creator is not None
    assert (creator.get("TYPE"), creator.get("OTHERTYPE")) == ("OTHER", "SOFTWARE")
    assert creator.findtext("m:name", namespaces=NS) == "preservation"
    note = creator.find("m:note", NS)
    assert note is not None and note.text == "0.1.0"
    assert note.get(f"{{{CSIP}}}NOTETYPE") == "SOFTWARE VERSION"
    custodian = hdr.find("m:agent[@ROLE='CUSTODIAN']", NS)
    assert custodian is not None and custodian.get("TYPE") == "ORGANIZATION"
    assert custodian.findtext("m:name", namespaces=NS) == unicodedata.normalize("NFC", ORG_NFD)


def test_mets_points_to_premis_with_upper_case_checksum(
    mets: etree._Element, premis_file: MetadataFile
) -> None:
    refs = mets.findall("m:amdSec/m:digiprovMD/m:mdRef", NS)
    assert len(refs) == 1
    ref = refs[0]
    assert ref.get(f"{{{XLINK}}}href") == "metadata/preservation/PREMIS.xml"
    assert ref.get(f"{{{XLINK}}}type") == "simple"
    assert (ref.get("LOCTYPE"), ref.get("MDTYPE"), ref.get("CHECKSUMTYPE")) == (
        "URL",
        "PREMIS",
        "SHA-256",
    )
    assert ref.get("CHECKSUM") == premis_file.sha256.upper()
    assert ref.get("SIZE") == str(premis_file.size)
    assert TIME_RE.match(ref.get("CREATED", ""))
    dmd = mets.find("m:dmdSec/m:mdRef", NS)
    assert dmd is not None and dmd.get(f"{{{XLINK}}}href") == "metadata/descriptive/EAD.xml"


def test_every_file_has_upper_case_checksum_and_size(
    mets: etree._Element, desc: AipDescription
) -> None:
    items: list[ContentFile | MetadataFile] = [*desc.files, *desc.schemas, *desc.submission]
    by_href = {f.aip_path: f for f in items}
    files = mets.findall("m:fileSec/m:fileGrp/m:file", NS)
    assert len(files) == len(by_href)
    for el in files:
        flocat = el.find("m:FLocat", NS)
        assert flocat is not None and flocat.get("LOCTYPE") == "URL"
        item = by_href[flocat.get(f"{{{XLINK}}}href", "")]
        assert el.get("CHECKSUM") == item.sha256.upper()
        assert re.fullmatch(r"[0-9A-F]{64}", el.get("CHECKSUM", ""))
        assert el.get("CHECKSUMTYPE") == "SHA-256"
        assert el.get("SIZE") == str(item.size)
        assert el.get("MIMETYPE") == item.mime
        assert TIME_RE.match(el.get("CREATED", ""))
        assert FILE_ID_RE.match(el.get("ID", ""))


def test_content_files_use_their_uuid_and_point_to_premis(mets: etree._Element) -> None:
    digiprov = mets.find("m:amdSec/m:digiprovMD", NS)
    assert digiprov is not None
    group = mets.find("m:fileSec/m:fileGrp[@USE='Representations/rep1']", NS)
    assert group is not None
    assert group.get(f"{{{CSIP}}}CONTENTINFORMATIONTYPE") == "MIXED"
    assert [f.get("ID") for f in group] == [f"ID-{f.uuid.upper()}" for f in FILES]
    assert {f.get("ADMID") for f in group} == {digiprov.get("ID")}
    uses = [g.get("USE") for g in mets.findall("m:fileSec/m:fileGrp", NS)]
    assert uses == ["Schemas", "Submission", "Representations/rep1"]


def test_every_file_linked_from_struct_map_exactly_once(mets: etree._Element) -> None:
    file_ids = [f.get("ID", "") for f in mets.iterfind(".//m:fileSec//m:file", NS)]
    smap = mets.findall("m:structMap", NS)
    assert len(smap) == 1
    assert (smap[0].get("TYPE"), smap[0].get("LABEL")) == ("PHYSICAL", "CSIP")
    pointers = Counter(p.get("FILEID", "") for p in smap[0].iterfind(".//m:fptr", NS))
    assert sorted(pointers) == sorted(file_ids)
    assert set(pointers.values()) == {1}


def test_struct_map_divisions(mets: etree._Element) -> None:
    root_div = mets.find("m:structMap/m:div", NS)
    assert root_div is not None
    assert root_div.get("LABEL") == mets.get("OBJID")  # CSIP86
    labels = [d.get("LABEL") for d in root_div]
    assert labels == ["Metadata", "Schemas", "Submission", "Representations/rep1"]
    metadata = root_div[0]
    amd_ids = [d.get("ID") for d in mets.iterfind("m:amdSec/m:digiprovMD", NS)]
    dmd_ids = [d.get("ID") for d in mets.iterfind("m:dmdSec", NS)]
    assert metadata.get("ADMID", "").split() == amd_ids
    assert metadata.get("DMDID", "").split() == dmd_ids
    rep = root_div[3]
    nfc = [unicodedata.normalize("NFC", f.original_name) for f in FILES]
    assert [d.get("LABEL") for d in rep] == nfc
    for div, f in zip(rep, FILES, strict=True):
        assert [p.get("FILEID") for p in div] == [f"ID-{f.uuid.upper()}"]


def test_ids_follow_tt05(mets: etree._Element) -> None:
    ids = [el.get("ID") for el in mets.iter() if el.get("ID") is not None]
    assert len(ids) == len(set(ids))
    for el in mets.iter():
        value = el.get("ID")
        if value is None:
            continue
        pattern = FILE_ID_RE if etree.QName(el).localname == "file" else UPPER_ID_RE
        assert pattern.match(value), value


def test_schema_location_prefers_the_aips_own_schemas(mets: etree._Element) -> None:
    location = mets.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation", "").split()
    pairs = dict(zip(location[::2], location[1::2], strict=True))
    assert pairs[METS] == "schemas/mets1_12.xsd"
    assert pairs[XLINK] == "schemas/xlink.xsd"
    assert pairs[CSIP].startswith("https://")


def test_mets_is_deterministic(desc: AipDescription, premis_file: MetadataFile) -> None:
    assert mets_bytes(desc, premis_file) == mets_bytes(desc, premis_file)


def test_href_encodes_only_what_must_be() -> None:
    assert href("representations/rep1/data/000001.pdf") == "representations/rep1/data/000001.pdf"
    assert href("documentation/read me.txt") == "documentation/read%20me.txt"
    assert href("a:b/c.txt") == "a%3Ab/c.txt"  # a colon in the first segment would be a scheme
    for bad in ("/etc/passwd", "../x", "a/../b", "a//b", "a\\b", "", "./a"):
        with pytest.raises(ValueError):
            href(bad)


# --- PREMIS content ------------------------------------------------------------------------------


def _file_objects(premis: etree._Element) -> dict[str, etree._Element]:
    xsi_type = "{http://www.w3.org/2001/XMLSchema-instance}type"
    return {
        o.findtext("p:objectIdentifier/p:objectIdentifierValue", namespaces=NS) or "": o
        for o in premis.iterfind("p:object", NS)
        if o.get(xsi_type) == "premis:file"
    }


def test_original_name_preserved_exactly(premis_rep_xml: bytes, premis_rep: etree._Element,
                                         premis: etree._Element) -> None:
    objects = _file_objects(premis_rep)
    for f in FILES:
        assert objects[f.uuid].findtext("p:originalName", namespaces=NS) == f.original_name
    assert NAME_NFD.encode() in premis_rep_xml  # NFD bytes survive serialisation
    assert unicodedata.normalize("NFC", NAME_NFD) != NAME_NFD  # the test means something
    # other text is NFC (TT05)
    org = premis.findtext("p:agent[2]/p:agentName", namespaces=NS)
    assert org == unicodedata.normalize("NFC", ORG_NFD)


def test_file_objects(premis: etree._Element, premis_rep: etree._Element) -> None:
    assert premis.get("version") == "3.0"
    assert premis_rep.get("version") == "3.0"
    assert _file_objects(premis) == {}  # file objects are in the representation's record
    objects = _file_objects(premis_rep)
    assert list(objects) == [f.uuid for f in FILES]
    for f in FILES:
        obj = objects[f.uuid]
        assert obj.findtext("p:objectIdentifier/p:objectIdentifierType", namespaces=NS) == "UUID"
        chars = obj.find("p:objectCharacteristics", NS)
        assert chars is not None
        assert chars.findtext("p:compositionLevel", namespaces=NS) == "0"
        assert chars.findtext("p:fixity/p:messageDigestAlgorithm", namespaces=NS) == "SHA-256"
        assert chars.findtext("p:fixity/p:messageDigest", namespaces=NS) == f.sha256
        assert chars.findtext("p:fixity/p:messageDigestOriginator", namespaces=NS) == (
            "preservation 0.1.0"
        )
        assert chars.findtext("p:size", namespaces=NS) == str(f.size)
        loc = obj.find("p:storage/p:contentLocation", NS)
        assert loc is not None
        assert loc.findtext("p:contentLocationType", namespaces=NS) == "AIP path"
        assert loc.findtext("p:contentLocationValue", namespaces=NS) == f.aip_path


def test_formats_record_the_registry_key_and_the_basis(premis_rep: etree._Element) -> None:
    objects = _file_objects(premis_rep)
    pdf = objects[PDF.uuid].find("p:objectCharacteristics/p:format", NS)
    assert pdf is not None
    assert pdf.findtext("p:formatDesignation/p:formatName", namespaces=NS) == PDF.format.name
    assert pdf.findtext("p:formatDesignation/p:formatVersion", namespaces=NS) == "1b"
    assert pdf.findtext("p:formatRegistry/p:formatRegistryName", namespaces=NS) == "PRONOM"
    assert pdf.findtext("p:formatRegistry/p:formatRegistryKey", namespaces=NS) == "fmt/354"
    assert "signature" in (pdf.findtext("p:formatNote", namespaces=NS) or "")
    assert "v109" in (pdf.findtext("p:formatNote", namespaces=NS) or "")
    docx_note = objects[DOCX.uuid].findtext(".//p:formatNote", namespaces=NS) or ""
    assert "container" in docx_note
    blob = objects[BLOB.uuid].find("p:objectCharacteristics/p:format", NS)
    assert blob is not None
    assert blob.find("p:formatRegistry", NS) is None
    assert "no format match" in (blob.findtext("p:formatNote", namespaces=NS) or "").lower()


def _includes(obj: etree._Element) -> list[str | None]:
    related = []
    for rel in obj.iterfind("p:relationship", NS):
        if rel.findtext("p:relationshipSubType", namespaces=NS) != "includes":
            continue
        assert rel.findtext("p:relationshipType", namespaces=NS) == "structural"
        related += [r.text for r in rel.iterfind(".//p:relatedObjectIdentifierValue", NS)]
    return related


def test_intellectual_entity_includes_every_file(premis: etree._Element,
                                                 premis_rep: etree._Element) -> None:
    xsi_type = "{http://www.w3.org/2001/XMLSchema-instance}type"
    ie = premis.find("p:object[1]", NS)
    assert ie is not None
    assert ie.get(xsi_type) == "premis:intellectualEntity"
    identifiers = [
        (i.findtext("p:objectIdentifierType", namespaces=NS),
         i.findtext("p:objectIdentifierValue", namespaces=NS))
        for i in ie.iterfind("p:objectIdentifier", NS)
    ]
    assert identifiers == [("UUID", AIP_UUID), ("URN", f"urn:uuid:{AIP_UUID}")]
    rep_uuid = representation_uuid(AIP_UUID)
    assert _includes(ie) == [rep_uuid]  # the AIP includes its representation …
    rep = premis_rep.find("p:object[1]", NS)
    assert rep is not None and rep.get(xsi_type) == "premis:representation"
    assert rep.findtext("p:objectIdentifier/p:objectIdentifierValue", namespaces=NS) == rep_uuid
    assert _includes(rep) == [f.uuid for f in FILES]  # … which includes every file


@pytest.mark.parametrize(("record", "numbers"), [("package", (1, 2, 3, 4, 5)),
                                                  ("representation", (1, 2, 3))])
def test_events_link_objects_and_agents(premis: etree._Element, premis_rep: etree._Element,
                                        record: str, numbers: tuple[int, ...]) -> None:
    # the package record holds every event; the representation's, those about its files
    events = (premis if record == "package" else premis_rep).findall("p:event", NS)
    chosen = [e for e in EVENTS if int(e.uuid[-12:]) in numbers]
    assert len(events) == len(chosen)
    ie = ("UUID", AIP_UUID)
    expected_objects = {
        1: [("UUID", f.uuid) for f in FILES],
        2: [("UUID", f.uuid) for f in FILES],
        3: [("UUID", PDF.uuid)],
        4: [ie],  # the AIP's own UUID means the intellectual entity
        5: [ie],  # no objects: an AIP-level event
    }
    for el, event in zip(events, chosen, strict=True):
        n = int(event.uuid[-12:])
        assert el.findtext("p:eventIdentifier/p:eventIdentifierValue", namespaces=NS) == event.uuid
        kind = el.find("p:eventType", NS)
        assert kind is not None and kind.text == event.type
        assert kind.get("valueURI") == EVENT_TYPES[event.type]
        when = el.findtext("p:eventDateTime", namespaces=NS) or ""
        assert TIME_RE.match(when) and when.endswith("+07:00")
        linked = [
            (
                o.findtext("p:linkingObjectIdentifierType", namespaces=NS),
                o.findtext("p:linkingObjectIdentifierValue", namespaces=NS),
            )
            for o in el.iterfind("p:linkingObjectIdentifier", NS)
        ]
        assert linked == expected_objects[n]
        agents = [
            a.findtext("p:linkingAgentIdentifierValue", namespaces=NS)
            for a in el.iterfind("p:linkingAgentIdentifier", NS)
        ]
        assert agents == list(event.agent_uuids)


def test_event_outcomes_and_roles_carry_vocabulary_uris(premis: etree._Element) -> None:
    vocab = "http://id.loc.gov/vocabulary/preservation/"
    outcomes = [o.get("valueURI") for o in premis.iterfind(".//p:eventOutcome", NS)]
    assert outcomes == [
        vocab + "eventOutcome/suc",
        vocab + "eventOutcome/war",
        vocab + "eventOutcome/fai",
        vocab + "eventOutcome/suc",
        vocab + "eventOutcome/suc",
    ]
    note = premis.findtext("p:event[3]//p:eventOutcomeDetailNote", namespaces=NS)
    assert note == "1 file without a format match"
    roles = {r.text: r.get("valueURI") for r in premis.iterfind(".//p:linkingAgentRole", NS)}
    assert roles == {
        "executing program": vocab + "eventRelatedAgentRole/exe",
        "implementer": vocab + "eventRelatedAgentRole/imp",
    }
    software = premis.find("p:agent[1]", NS)
    assert software is not None
    assert software.findtext("p:agentVersion", namespaces=NS) == "0.1.0"
    assert software.find("p:agentType", NS).get("valueURI") == vocab + "agentType/sof"  # type: ignore[union-attr]


def test_event_type_vocabulary_codes() -> None:
    base = "http://id.loc.gov/vocabulary/preservation/eventType/"
    assert EVENT_TYPES["digital signature validation"] == base + "dig"
    assert EVENT_TYPES["digital signature generation"] == base + "dsg"
    assert EVENT_TYPES["information package creation"] == base + "ipc"


# --- refusals ------------------------------------------------------------------------------------


#: both PREMIS writers of an AIP; each refuses what it cannot write truthfully
WRITERS: dict[str, Callable[[AipDescription], bytes]] = {
    "package": premis_package_bytes,
    "representation": lambda d: premis_representation_bytes(d, "rep1"),
}
STRAY = "99999999-9999-4999-8999-999999999999"


def test_dangling_event_links_are_refused(desc: AipDescription) -> None:
    stray = replace(EVENTS[0], object_uuids=(STRAY,))
    with pytest.raises(ValueError, match="unknown object"):
        premis_package_bytes(replace(desc, events=(stray,)))
    # an event about one of the representation's files that also links an unknown object
    stray = replace(EVENTS[0], object_uuids=(PDF.uuid, STRAY))
    for writer in WRITERS.values():
        with pytest.raises(ValueError, match="unknown object"):
            writer(replace(desc, events=(stray,)))
    stray = replace(EVENTS[0], agent_uuids=(STRAY,))
    for writer in WRITERS.values():
        with pytest.raises(ValueError, match="unknown agent"):
            writer(replace(desc, events=(stray,)))


@pytest.mark.parametrize("writer", WRITERS)
def test_wrong_event_type_uri_is_refused(desc: AipDescription, writer: str) -> None:
    wrong = replace(EVENTS[0], type_uri=EVENT_TYPES["fixity check"])
    with pytest.raises(ValueError, match="message digest calculation"):
        WRITERS[writer](replace(desc, events=(wrong,)))


def test_naive_datetimes_are_refused(desc: AipDescription, premis_file: MetadataFile) -> None:
    naive = replace(EVENTS[0], datetime=datetime(2026, 6, 12, 11, 45))
    for writer in WRITERS.values():
        with pytest.raises(ValueError, match="time zone"):
            writer(replace(desc, events=(naive,)))
    with pytest.raises(ValueError, match="time zone"):
        mets_bytes(replace(desc, created=datetime(2026, 6, 12, 11, 45)), premis_file)


@pytest.mark.parametrize("writer", WRITERS)
def test_duplicate_uuids_are_refused(desc: AipDescription, writer: str) -> None:
    twice = replace(EVENTS[1], uuid=EVENTS[0].uuid)
    for bad in (replace(desc, files=(PDF, PDF)), replace(desc, events=(EVENTS[0], twice)),
                replace(desc, agents=(SOFTWARE, SOFTWARE))):
        with pytest.raises(ValueError, match="duplicate"):
            WRITERS[writer](bad)


def test_objid_and_fonds_code_of_a_tt05_description(
    desc: AipDescription, premis_file: MetadataFile
) -> None:
    objid = f"urn:H41:uuid-{AIP_UUID.upper()}"
    mets = parse_bytes(mets_bytes(replace(desc, objid=objid, fonds_code="H41"),
                                  premis_file)).getroot()
    assert validate(mets, "mets") == []
    assert mets.get("OBJID") == objid
    assert mets.find("m:structMap/m:div", NS).get("LABEL") == objid  # type: ignore[union-attr]
    creator = mets.find("m:metsHdr/m:agent[@ROLE='CREATOR']", NS)
    assert creator is not None
    notes = {n.get(f"{{{CSIP}}}NOTETYPE"): n.text for n in creator.iterfind("m:note", NS)}
    assert notes == {"IDENTIFICATIONCODE": "H41", "SOFTWARE VERSION": "0.1.0"}
