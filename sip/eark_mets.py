"""CSIP rules on the METS root element and header (CSIP1–CSIP16, CSIP117) and the E-ARK SIP
header rules (SIP1–SIP8).

Where TT05 (an extension of CSIP 2.0.4) deliberately differs, ``doc.tt05`` relaxes the rule:
the agent note may be typed ``IDENTIFICATIONCODE`` (TT05 puts the fonds code there), a content
category that differs only in case (TT05 DIPs write ``MIXED``) is accepted silently, and a
representation METS without ``csip:OAISPACKAGETYPE`` is a warning, and the package folder's name
is not compared with the OBJID (TT05-FOLDER-NAME, an error, does that). The TT05 validator checks
TT05's own forms of these values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree

from preservation.findings import Severity
from sip.eark_model import (
    CONTENT_CATEGORIES,
    CONTENT_INFORMATION_TYPES,
    CSIP_PROFILE,
    KNOWN_PROFILES,
    NOTE_TYPES,
    OAIS_PACKAGE_TYPES,
    SIP_NS,
    SIP_PROFILE,
    MetsDoc,
    children,
    csip,
    text_of,
)
from sip.mets_stream import StreamedMets

_FOLDED_CATEGORIES = {c.casefold().replace("–", "-"): c for c in CONTENT_CATEGORIES}
_FUTURE_TOLERANCE = timedelta(days=1)


def detect_sip(root: etree._Element, mets: StreamedMets | None = None) -> bool:
    """Whether the E-ARK SIP rules apply to a root METS.

    They apply when ``PROFILE`` names the E-ARK SIP profile, or when it names no other E-ARK
    profile (missing, empty or unknown) and the document uses the SIP extension namespace — a
    package written for the SIP specification whose profile is wrong. A CSIP-profile package
    with ``OAISPACKAGETYPE="SIP"`` (TT05 SIPs, CSIP examples) is checked against CSIP only.
    """
    profile = (root.get("PROFILE") or "").strip()
    if profile == SIP_PROFILE:
        return True
    if profile in KNOWN_PROFILES:
        return False
    if SIP_NS in root.nsmap.values():
        return True
    prefix = f"{{{SIP_NS}}}"
    elements = (mets or StreamedMets.of_tree(root)).walk()
    return any(str(key).startswith(prefix) for el in elements for key in el.attrib)


def check_root(doc: MetsDoc, folder_name: str) -> None:
    """CSIP1, CSIP2 (with CSIP3), CSIP4 (with CSIP5), CSIP6 and, for a SIP, SIP1 and SIP2."""
    root = doc.root
    objid = root.get("OBJID")
    if objid is None:
        doc.add("CSIP1-OBJID-MISSING", root)
    elif not objid.strip():
        doc.add("CSIP1-OBJID-EMPTY", root)
    elif doc.is_root:
        # TT05 makes the folder name a MUST of its own (TT05-FOLDER-NAME): left to it
        if not doc.tt05 and folder_name != objid:
            doc.add("CSIP1-OBJID-NOT-FOLDER-NAME", root, objid=objid, folder=folder_name)
    elif objid != doc.rep_name:
        doc.add("CSIP1-OBJID-NOT-REPRESENTATION-NAME", root, objid=objid,
                folder=doc.rep_name or "")

    _check_type(doc)
    _check_content_information_type(doc)

    profile = root.get("PROFILE")
    if doc.is_sip and doc.is_root:
        if not (profile or "").strip():
            doc.add("SIP2-PROFILE-MISSING", root)
        elif profile != SIP_PROFILE:
            doc.add("SIP2-PROFILE-NOT-SIP", root, value=profile, expected=SIP_PROFILE)
        label = root.get("LABEL")
        if label is None:
            doc.add("SIP1-LABEL-MISSING", root)
        elif not label.strip():
            doc.add("SIP1-LABEL-EMPTY", root)
    elif not (profile or "").strip():
        doc.add("CSIP6-PROFILE-MISSING", root, expected=CSIP_PROFILE)
    elif profile not in KNOWN_PROFILES:
        doc.add("CSIP6-PROFILE-OTHER", root, value=profile)


def _check_type(doc: MetsDoc) -> None:
    root = doc.root
    value = root.get("TYPE")
    if value is None or not value.strip():
        doc.add("CSIP2-TYPE-MISSING", root)
        return
    if value not in CONTENT_CATEGORIES:
        folded = _FOLDED_CATEGORIES.get(value.strip().casefold().replace("–", "-"))
        if folded is None:
            doc.add("CSIP2-TYPE-UNKNOWN", root, value=value)
        elif not doc.tt05:
            doc.add("CSIP2-TYPE-CASE", root, value=value, expected=folded)
    if value.strip().upper() == "OTHER" and not (root.get(csip("OTHERTYPE")) or "").strip():
        doc.add("CSIP2-OTHERTYPE-MISSING", root)


def _check_content_information_type(doc: MetsDoc) -> None:
    root = doc.root
    value = root.get(csip("CONTENTINFORMATIONTYPE"))
    if value is None or not value.strip():
        if doc.is_root:
            doc.add("CSIP4-CONTENTINFORMATIONTYPE-MISSING", root)
        else:
            doc.add("CSIP4-CONTENTINFORMATIONTYPE-MISSING-REPRESENTATION", root)
        return
    if value not in CONTENT_INFORMATION_TYPES:
        doc.add("CSIP4-CONTENTINFORMATIONTYPE-UNKNOWN", root, value=value)
    if value == "OTHER" and not (root.get(csip("OTHERCONTENTINFORMATIONTYPE")) or "").strip():
        doc.add("CSIP4-OTHERCONTENTINFORMATIONTYPE-MISSING", root)


def check_header(doc: MetsDoc, now: datetime | None = None) -> None:
    """CSIP117, CSIP7–CSIP16 and, for a SIP's root METS, SIP4–SIP8."""
    headers = children(doc.root, "metsHdr")
    if not headers:
        doc.add("CSIP117-METSHDR-MISSING", doc.root)
        return
    header = headers[0]
    if header.get("CREATEDATE") is None:
        doc.add("CSIP7-CREATEDATE-MISSING", header)
    last = header.get("LASTMODDATE")
    if last is None:
        doc.add("CSIP8-LASTMODDATE-MISSING", header)
    else:
        when = _parse_datetime(last)
        if when is not None and when > (now or datetime.now(UTC)) + _FUTURE_TOLERANCE:
            doc.add("CSIP8-LASTMODDATE-IN-FUTURE", header, value=last)
    _check_package_type(doc, header)
    _check_agents(doc, header)
    if doc.is_sip and doc.is_root:
        _check_alt_record_ids(doc, header)


def _parse_datetime(value: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None  # the METS schema reports the malformed xsd:dateTime
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _check_package_type(doc: MetsDoc, header: etree._Element) -> None:
    value = header.get(csip("OAISPACKAGETYPE"))
    if value is None or not value.strip():
        if doc.tt05 and not doc.is_root:
            doc.add("CSIP9-OAISPACKAGETYPE-MISSING", header, severity=Severity.WARNING)
        else:
            doc.add("CSIP9-OAISPACKAGETYPE-MISSING", header)
        if doc.is_sip and doc.is_root:
            doc.add("SIP4-OAISPACKAGETYPE-MISSING", header)
        return
    if value not in OAIS_PACKAGE_TYPES:
        doc.add("CSIP9-OAISPACKAGETYPE-UNKNOWN", header, value=value)
    if doc.is_sip and doc.is_root and value != "SIP":
        doc.add("SIP4-OAISPACKAGETYPE-NOT-SIP", header, value=value)


def _check_agents(doc: MetsDoc, header: etree._Element) -> None:
    agents = children(header, "agent")
    if not agents:
        doc.add("CSIP10-AGENT-MISSING", header)
        return
    creators = [a for a in agents if a.get("ROLE") == "CREATOR"]
    software = [a for a in creators
                if a.get("TYPE") == "OTHER" and a.get("OTHERTYPE") == "SOFTWARE"]
    if software:
        agent = software[0]
    else:
        doc.add("CSIP11-SOFTWARE-AGENT-MISSING", header)
        if not creators:
            return
        agent = creators[0]
        if agent.get("TYPE") != "OTHER":
            doc.add("CSIP12-AGENT-TYPE-NOT-OTHER", agent, value=agent.get("TYPE") or "")
        elif agent.get("OTHERTYPE") is None:
            doc.add("CSIP13-AGENT-OTHERTYPE-MISSING", agent)
        else:
            doc.add("CSIP13-AGENT-OTHERTYPE-NOT-SOFTWARE", agent, value=agent.get("OTHERTYPE"))
    names = children(agent, "name")
    if not names:
        doc.add("CSIP14-AGENT-NAME-MISSING", agent)
    elif not text_of(names[0]):
        doc.add("CSIP14-AGENT-NAME-EMPTY", names[0])
    notes = children(agent, "note")
    if not notes:
        doc.add("CSIP15-AGENT-NOTE-MISSING", agent)
        return
    allowed = NOTE_TYPES if doc.tt05 else {"SOFTWARE VERSION"}
    typed = [n for n in notes if n.get(csip("NOTETYPE")) in allowed]
    if typed:
        return
    note = notes[0]
    value = note.get(csip("NOTETYPE"))
    if value is None:
        doc.add("CSIP16-NOTETYPE-MISSING", note)
    else:
        doc.add("CSIP16-NOTETYPE-WRONG", note, value=value)


_ALT_RECORD_RULES = (
    # (TYPE, requirement prefix, may repeat)
    ("SUBMISSIONAGREEMENT", "SIP5", False),
    ("PREVIOUSSUBMISSIONAGREEMENT", "SIP6", True),
    ("REFERENCECODE", "SIP7", False),
    ("PREVIOUSREFERENCECODE", "SIP8", True),
)


def _check_alt_record_ids(doc: MetsDoc, header: etree._Element) -> None:
    records = children(header, "altRecordID")
    for kind, prefix, repeatable in _ALT_RECORD_RULES:
        found = [r for r in records if r.get("TYPE") == kind]
        if not found:
            if prefix != "SIP6":
                doc.add(f"{prefix}-ALTRECORDID-MISSING", header)
            continue
        if len(found) > 1 and not repeatable:
            doc.add(f"{prefix}-ALTRECORDID-REPEATED", found[1], count=len(found))
        for record in found:
            if not text_of(record):
                doc.add(f"{prefix}-ALTRECORDID-EMPTY", record)
