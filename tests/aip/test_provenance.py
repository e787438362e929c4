"""Provenance inside the AIP: PREMIS.xml and PREMIS_rep1.xml tell the whole story of an ingest."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from aip.model import AipDescription, ContentFile, FormatId
from aip.premis import (
    premis_package_bytes,
    premis_representation_bytes,
    representation_uuid,
    sip_object_uuid,
)
from aip.provenance import NOT_CHECKED, ingest_provenance
from preservation.findings import Report
from preservation.xmlsafe import parse_bytes, validate
from sip.samples import make_sample_transfer
from sip.submission import FileRole, SipKind, Submission, SubmittedFile
from sip.validate import ValidationOptions, open_sip

NS = {"p": "http://www.loc.gov/premis/v3"}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
WHEN = datetime(2026, 5, 4, 9, 30, tzinfo=timezone(timedelta(hours=7)))
AIP = "0b6c6a38-63c4-4b77-a5a4-6bfa3f0e2f11"
PREV = "5d7e0c9e-0d6f-4a53-9a4f-6a6d2b8f9c01"
PDF = "representations/rep1/data/a.pdf"
TXT = "representations/rep1/data/b.txt"
ALL_EVENT_TYPES = {
    "validation", "virus check", "format identification", "digital signature validation",
    "message digest calculation", "information package creation",
    "digital signature generation", "ingestion",
}


@dataclass(frozen=True)
class People:
    organisation: str = "Lưu trữ lịch sử tỉnh Nghệ An"
    person: str = "osuser"


def submitted(path: str, sha: str, size: int) -> SubmittedFile:
    return SubmittedFile(path=path, fs_path=Path("/nonexistent") / path, size=size, sha256=sha,
                         role=FileRole.CONTENT, original_name=path.rsplit("/", 1)[-1],
                         representation="rep1")


Spec = tuple[str, str | None, dict[str, Any]]


def make_submission(*findings: Spec) -> Submission:
    report = Report(subject="sip", kind="eark")
    for code, path, params in findings:
        report.add(code, path, **params)
    files = (submitted(PDF, "a" * 64, 10), submitted(TXT, "b" * 64, 20))
    return Submission(
        source=Path("/nonexistent/sip"), report=report, name="uuid-SIP", kind=SipKind.EARK,
        files=files, fido_version="1.6.1", signature_version="v109",
        formats={PDF: FormatId(puid="fmt/95", name="PDF/A-1a", mime="application/pdf",
                               basis="signature"),
                 TXT: FormatId(puid=None, name=None, mime=None, basis="extension")})


def content_files() -> tuple[ContentFile, ...]:
    return (
        ContentFile(str(uuid.uuid4()), "representations/rep1/data/000001.pdf", "a.pdf", 10,
                    "a" * 64, FormatId(puid="fmt/95", name="PDF/A-1a", mime="application/pdf",
                                       basis="signature")),
        ContentFile(str(uuid.uuid4()), "representations/rep1/data/000002.txt", "b.txt", 20,
                    "b" * 64, FormatId(puid=None, name=None, mime=None, basis="extension")),
    )


def describe(submission: Submission, *, previous: str | None = None,
             status: str = "NEW", archivist: str = "") -> AipDescription:
    files = content_files()
    actors = People(person=archivist) if archivist else People()
    agents, events = ingest_provenance(submission, files, actors, WHEN, desc_uuid=AIP,
                                       previous_uuid=previous, record_status=status)
    return AipDescription(
        uuid=AIP, label="Hồ sơ", created=WHEN, organisation=People.organisation,
        software_name="preservation", software_version="1.0", files=files, events=events,
        agents=agents, objid="urn:H41:uuid-" + AIP.upper(), previous_uuid=previous,
        record_status=status, sip_identifier="uuid-SIP")


SCANNED: Spec = ("VIRUS-SCANNED", None, {"count": "2", "engine": "ClamAV 1.0.7/27000"})
SIGNED: Spec = ("SIG-PDF-VALID", PDF, {"field": "Sig1", "signer": "CN=Văn thư",
                                 "signing_time": "2026-01-01", "coverage": "entire file"})


def events_of(root: etree._Element) -> dict[str, list[etree._Element]]:
    out: dict[str, list[etree._Element]] = {}
    for ev in root.iterfind("p:event", NS):
        out.setdefault(ev.findtext("p:eventType", namespaces=NS) or "", []).append(ev)
    return out


def outcome(ev: etree._Element) -> str:
    return ev.findtext("p:eventOutcomeInformation/p:eventOutcome", namespaces=NS) or ""


def package(desc: AipDescription) -> etree._Element:
    return parse_bytes(premis_package_bytes(desc)).getroot()


def test_package_premis_tells_every_ingest_event_with_agents_and_links() -> None:
    desc = describe(make_submission(SCANNED, SIGNED), archivist="Nguyễn Văn A")
    root = package(desc)
    assert validate(root, "premis") == []
    events = events_of(root)
    assert set(events) == ALL_EVENT_TYPES
    agent_ids = {a.findtext("p:agentIdentifier/p:agentIdentifierValue", namespaces=NS)
                 for a in root.iterfind("p:agent", NS)}
    for evs in events.values():
        for ev in evs:
            links = [v.text for v in ev.iterfind(".//p:linkingAgentIdentifierValue", NS)]
            assert links and set(links) <= agent_ids
            assert ev.find("p:linkingObjectIdentifier", NS) is not None
    names = {a.findtext("p:agentName", namespaces=NS): (
        a.findtext("p:agentType", namespaces=NS), a.findtext("p:agentVersion", namespaces=NS))
        for a in root.iterfind("p:agent", NS)}
    assert names["fido"] == ("software", "1.6.1 (PRONOM signature file v109)")
    assert names["clamd"] == ("software", "ClamAV 1.0.7/27000")
    assert names["pyHanko"][1]
    assert names["Nguyễn Văn A"][0] == "person"  # the person responsible, not the OS user
    assert "osuser" not in names
    assert names[People.organisation][0] == "organization"
    assert outcome(events["virus check"][0]) == "success"
    assert outcome(events["digital signature validation"][0]) == "success"


def test_information_package_creation_links_sip_as_source_and_aip_as_outcome() -> None:
    desc = describe(make_submission(SCANNED))
    [ipc] = events_of(package(desc))["information package creation"]
    links = {(link.findtext("p:linkingObjectIdentifierValue", namespaces=NS),
              link.findtext("p:linkingObjectRole", namespaces=NS))
             for link in ipc.iterfind("p:linkingObjectIdentifier", NS)}
    assert links == {(sip_object_uuid(AIP), "source"), (AIP, "outcome")}
    role = ipc.find("p:linkingObjectIdentifier/p:linkingObjectRole", NS)
    assert role is not None and role.get("valueURI", "").endswith("eventRelatedObjectRole/sou")


def test_aip_and_sip_objects_and_objid() -> None:
    root = package(describe(make_submission(SCANNED)))
    aip, sip = root.findall("p:object", NS)[:2]
    assert aip.get(XSI_TYPE) == "premis:intellectualEntity"
    ids = [(i.findtext("p:objectIdentifierType", namespaces=NS),
            i.findtext("p:objectIdentifierValue", namespaces=NS))
           for i in aip.iterfind("p:objectIdentifier", NS)]
    assert ids == [("UUID", AIP), ("URN", "urn:H41:uuid-" + AIP.upper())]
    rels = {(r.findtext("p:relationshipSubType", namespaces=NS),
             r.findtext("p:relatedObjectIdentifier/p:relatedObjectIdentifierValue",
                        namespaces=NS)) for r in aip.iterfind("p:relationship", NS)}
    assert rels == {("includes", representation_uuid(AIP)), ("has source", sip_object_uuid(AIP))}
    assert sip.findtext("p:objectIdentifier/p:objectIdentifierValue",
                        namespaces=NS) == sip_object_uuid(AIP)


@pytest.mark.parametrize("status", ["SUPPLEMENT", "REPLACEMENT"])
def test_new_version_is_derived_from_the_previous_one(status: str) -> None:
    desc = describe(make_submission(SCANNED), previous=PREV, status=status)
    root = package(desc)
    assert validate(root, "premis") == []
    aip = root.find("p:object", NS)
    assert aip is not None
    derived = [r for r in aip.iterfind("p:relationship", NS)
               if r.findtext("p:relationshipType", namespaces=NS) == "derivation"]
    related = {r.findtext("p:relatedObjectIdentifier/p:relatedObjectIdentifierValue",
                          namespaces=NS) for r in derived}
    assert related == {sip_object_uuid(AIP), PREV}
    [ipc] = events_of(root)["information package creation"]
    assert all(r.findtext("p:relatedEventIdentifier/p:relatedEventIdentifierValue",
                          namespaces=NS) == ipc.findtext("p:eventIdentifier/"
                                                         "p:eventIdentifierValue", namespaces=NS)
               for r in derived)
    sources = [link.findtext("p:linkingObjectIdentifierValue", namespaces=NS)
               for link in ipc.iterfind("p:linkingObjectIdentifier", NS)
               if link.findtext("p:linkingObjectRole", namespaces=NS) == "source"]
    assert PREV in sources
    word = "supplementing" if status == "SUPPLEMENT" else "replacing"
    assert word in (ipc.findtext(".//p:eventDetail", namespaces=NS) or "")


def test_no_virus_scanner_is_not_checked_and_no_signed_pdf_is_said() -> None:
    reason = "no clamd address is configured"
    desc = describe(make_submission(("VIRUS-NOT-CHECKED", None, {"reason": reason})))
    events = events_of(package(desc))
    [virus] = events["virus check"]
    assert outcome(virus) == NOT_CHECKED
    assert reason in (virus.findtext(".//p:eventOutcomeDetailNote", namespaces=NS) or "")
    [sig] = events["digital signature validation"]
    assert "no signed PDFs" in (sig.findtext(".//p:eventOutcomeDetailNote", namespaces=NS)
                                or "")
    assert "clamd" not in {a.name for a in desc.agents}


def test_signature_outcome_per_pdf_and_untrusted_is_a_warning() -> None:
    untrusted: Spec = ("SIG-PDF-UNTRUSTED", PDF, {"field": "Sig1", "signer": "CN=X",
                                            "signing_time": "t", "reason": "unknown CA"})
    desc = describe(make_submission(SCANNED, untrusted))
    [sig] = events_of(package(desc))["digital signature validation"]
    assert outcome(sig) == "warning"
    assert "SIG-PDF-UNTRUSTED" in (sig.findtext(".//p:eventOutcomeDetailNote", namespaces=NS)
                                   or "")
    linked = [v.text for v in sig.iterfind(".//p:linkingObjectIdentifierValue", NS)]
    assert linked == [desc.files[0].uuid]


def test_validation_event_carries_kind_and_codes() -> None:
    warn: Spec = ("FMT-UNIDENTIFIED", TXT, {})
    [ev] = events_of(package(describe(make_submission(SCANNED, warn))))["validation"]
    assert outcome(ev) == "warning"
    assert "E-ARK" in (ev.findtext(".//p:eventDetail", namespaces=NS) or "")
    assert "FMT-UNIDENTIFIED" in (ev.findtext(".//p:eventOutcomeDetailNote", namespaces=NS)
                                    or "")


def test_signature_generation_says_it_was_written_before_signing() -> None:
    [ev] = events_of(package(describe(make_submission(SCANNED))))[
        "digital signature generation"]
    assert "before signing" in (ev.findtext(".//p:eventOutcomeDetailNote", namespaces=NS) or "")


def test_representation_premis_has_files_and_their_events_only() -> None:
    desc = describe(make_submission(SCANNED, SIGNED))
    root = parse_bytes(premis_representation_bytes(desc)).getroot()
    assert validate(root, "premis") == []
    objects = root.findall("p:object", NS)
    assert [o.get(XSI_TYPE) for o in objects] == ["premis:representation", "premis:file",
                                                 "premis:file"]
    pdf = objects[1]
    assert pdf.findtext(".//p:messageDigest", namespaces=NS) == "a" * 64
    assert pdf.findtext(".//p:messageDigestOriginator", namespaces=NS)
    assert pdf.findtext(".//p:size", namespaces=NS) == "10"
    assert pdf.findtext(".//p:formatRegistryKey", namespaces=NS) == "fmt/95"
    assert pdf.findtext(".//p:formatName", namespaces=NS) == "PDF/A-1a"
    assert pdf.findtext("p:originalName", namespaces=NS) == "a.pdf"
    types = set(events_of(root))
    assert types == {"virus check", "format identification", "digital signature validation",
                     "message digest calculation"}
    linked = {v.text for v in root.iterfind(".//p:linkingAgentIdentifierValue", NS)}
    agents = {a.findtext("p:agentIdentifier/p:agentIdentifierValue", namespaces=NS)
              for a in root.iterfind("p:agent", NS)}
    assert linked == agents


def test_dangling_links_are_refused() -> None:
    desc = describe(make_submission(SCANNED))
    stray = replace(desc.events[0], agent_uuids=(str(uuid.uuid4()),))
    with pytest.raises(ValueError, match="unknown agent"):
        premis_package_bytes(replace(desc, events=(stray,)))


def test_documents_valid_against_the_official_schema(shared_dir: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(shared_dir / "schemas" / "premis-v3-0.xsd")))
    desc = describe(make_submission(SCANNED, SIGNED), previous=PREV, status="SUPPLEMENT")
    for data in (premis_package_bytes(desc), premis_representation_bytes(desc)):
        doc = etree.fromstring(data)
        assert schema.validate(doc), schema.error_log


def test_a_real_validated_transfer(tmp_path: Path) -> None:
    """From a real validation report (no clamd): every event, schema-valid."""
    source = make_sample_transfer(tmp_path / "transfer")
    with open_sip(source, tmp_path / "work", ValidationOptions()) as submission:
        assert submission.valid
        files = tuple(
            ContentFile(str(uuid.uuid4()), f"representations/rep1/data/{n:06d}", f.original_name,
                        f.size, f.sha256, submission.formats[f.path])
            for n, f in enumerate(submission.content(), 1))
        agents, events = ingest_provenance(submission, files, People(), WHEN, desc_uuid=AIP)
    desc = AipDescription(uuid=AIP, label="x", created=WHEN, organisation="org",
                          software_name="preservation", software_version="1", files=files,
                          events=events, agents=agents)
    root = package(desc)
    assert validate(root, "premis") == []
    assert set(events_of(root)) == ALL_EVENT_TYPES
    assert outcome(events_of(root)["virus check"][0]) == NOT_CHECKED
    assert validate(parse_bytes(premis_representation_bytes(desc)).getroot(), "premis") == []
