"""The TT05 METS conventions, checked on both METS files of a SIP (TT05.md, "METS conventions").

Generic METS rules (schema validity, references that exist, SIZE and CHECKSUM against the bytes,
orphan files) belong to the E-ARK validator (:mod:`sip.eark`); this module checks only what TT05
adds: the OBJID and ID spellings, TYPE / PROFILE / CONTENTINFORMATIONTYPE, the header (CREATEDATE,
RECORDSTATUS, OAISPACKAGETYPE, the software agent and its IDENTIFICATIONCODE note), timestamps with
milliseconds and an explicit offset, SHA-256 in upper-case hex with SIZE on every reference, the
dmdSec mdRef attributes, the fileSec groups, and the CSIP physical structMap.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree

from preservation.findings import Report
from sip.eark_model import CSIP_PROFILE
from sip.tt05_mets import (
    Element,
    MetsFile,
    children,
    csip_attr,
    line_of,
    local,
    xpath_of,
)
from sip.tt05_model import PackageKind

RECORD_STATUSES = ("NEW", "SUPPLEMENT", "REPLACEMENT", "TEST", "OTHER")
ROOT_GROUPS = ("Schemas", "Representations/rep1")
ROOT_OPTIONAL_GROUPS = ("Documentation",)
REP_GROUPS = ("Data",)
REP_OPTIONAL_GROUPS = ("Holeyfile",)
MDREF_ATTRIBUTES = (("LOCTYPE", "URL"), ("MDTYPE", "DC"), ("MDTYPEVERSION", "1.0.0"),
                    ("MIMETYPE", "application/xml"))
XSD_MIMETYPE = "application/octet-stream"

_UUID = r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"
OBJID_PATTERN = re.compile(rf"uuid-{_UUID}")
ID_PATTERN = re.compile(rf"uuid-{_UUID}")
FILE_ID_PATTERN = re.compile(rf"ID-{_UUID}")
_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{3})(Z|[+-]\d{2}:\d{2})")
_HEX64 = re.compile(r"[0-9A-Fa-f]{64}")
_TIME_ATTRIBUTES = ("CREATEDATE", "LASTMODDATE", "CREATED")


@dataclass(frozen=True)
class RootFacts:
    """What the root METS says that the rest of the validation needs."""

    objid: str | None
    fonds_code: str | None


def _at(report: Report, code: str, mets: MetsFile, element: Element,
        **params: Any) -> None:
    report.add(code, mets.rel, line=line_of(element), xpath=xpath_of(element), **params)


# --- the root METS ------------------------------------------------------------------------------

def check_root_mets(mets: MetsFile, kind: PackageKind, report: Report) -> RootFacts:
    """OBJID, TYPE, PROFILE and the header of the package's own METS.xml."""
    root = mets.root
    objid = (root.get("OBJID") or "").strip() or None
    if objid is not None and objid.lower().startswith("urn:"):
        _at(report, "TT05-OBJID-URN", mets, root, found=objid)
    elif objid is None or not OBJID_PATTERN.fullmatch(objid):
        _at(report, "TT05-OBJID-FORMAT", mets, root, found=objid or "")
    mets_type = root.get("TYPE")
    if mets_type != kind.mets_type:
        _at(report, "TT05-METS-TYPE", mets, root, found=mets_type or "",
            expected=kind.mets_type, kind=kind.value)
    _check_profile(mets, report)
    fonds = _check_header(mets, report, root_mets=True)
    return RootFacts(objid, fonds)


def check_rep_mets(mets: MetsFile, report: Report) -> None:
    """OBJID="rep1", PROFILE, csip:CONTENTINFORMATIONTYPE="MIXED" and the header of rep1's METS."""
    root = mets.root
    if (root.get("OBJID") or "").strip() != "rep1":
        _at(report, "TT05-REP-OBJID", mets, root, found=root.get("OBJID") or "")
    content_type = csip_attr(root, "CONTENTINFORMATIONTYPE")
    if content_type != "MIXED":
        _at(report, "TT05-REP-CONTENT-TYPE", mets, root, found=content_type or "")
    _check_profile(mets, report)
    _check_header(mets, report, root_mets=False)


def _check_profile(mets: MetsFile, report: Report) -> None:
    profile = mets.root.get("PROFILE")
    if (profile or "").strip() != CSIP_PROFILE:
        _at(report, "TT05-METS-PROFILE", mets, mets.root, found=profile or "",
            expected=CSIP_PROFILE)


def _check_header(mets: MetsFile, report: Report, *, root_mets: bool) -> str | None:
    """CREATEDATE, RECORDSTATUS, OAISPACKAGETYPE and (root METS) the software agent."""
    header = mets.header()
    if header is None:
        _at(report, "TT05-METSHDR-MISSING", mets, mets.root)
        return None
    if not (header.get("CREATEDATE") or "").strip():
        _at(report, "TT05-CREATEDATE-MISSING", mets, header)
    status = header.get("RECORDSTATUS")
    if status is not None and status not in RECORD_STATUSES:
        _at(report, "TT05-RECORDSTATUS", mets, header, found=status,
            allowed=", ".join(RECORD_STATUSES))
    package_type = csip_attr(header, "OAISPACKAGETYPE")
    if package_type != "SIP" and (root_mets or package_type is not None):
        _at(report, "TT05-PACKAGE-TYPE", mets, header, found=package_type or "")
    return _check_agent(mets, header, report) if root_mets else None


def _check_agent(mets: MetsFile, header: etree._Element, report: Report) -> str | None:
    """The root agent: CREATOR / OTHER / SOFTWARE, with the fonds code as IDENTIFICATIONCODE."""
    agents = [a for a in children(header, "agent")
              if a.get("ROLE") == "CREATOR" and a.get("TYPE") == "OTHER"
              and a.get("OTHERTYPE") == "SOFTWARE"]
    if not agents:
        _at(report, "TT05-AGENT-MISSING", mets, header)
        return None
    agent = agents[0]
    notes = children(agent, "note")
    for note in notes:
        if csip_attr(note, "NOTETYPE") == "IDENTIFICATIONCODE":
            code = (note.text or "").strip()
            if code:
                return code
            _at(report, "TT05-AGENT-CODE-MISSING", mets, note)
            return None
    version = [n for n in notes if csip_attr(n, "NOTETYPE") == "SOFTWARE VERSION"]
    if version:
        _at(report, "TT05-AGENT-SOFTWARE-VERSION", mets, version[0])
    else:
        _at(report, "TT05-AGENT-CODE-MISSING", mets, agent)
    return None


# --- rules for every element of both METS files ----------------------------------------------

def check_common(mets: MetsFile, report: Report, *, root_mets: bool) -> None:
    """IDs, timestamps, checksums and sizes, dmdSec mdRefs, fileSec groups, amdSec, structMap."""
    for element in mets.walk():
        _check_id(mets, element, report)
        for name in _TIME_ATTRIBUTES:
            value = element.get(name)
            if value is not None:
                _check_timestamp(mets, element, name, value, report)
    for element in itertools.chain(mets.walk("file"), mets.walk("mdRef")):
        _check_reference(mets, element, report)
    for dmd in mets.children(mets.root, "dmdSec"):
        for md_ref in children(dmd, "mdRef"):
            for name, expected in MDREF_ATTRIBUTES:
                found = md_ref.get(name)
                if found != expected:
                    _at(report, "TT05-MDREF-ATTRIBUTE", mets, md_ref, attribute=name,
                        expected=expected, found=found or "")
    if not children(mets.root, "amdSec"):
        _at(report, "TT05-AMDSEC-MISSING", mets, mets.root)
    _check_groups(mets, report, root_mets=root_mets)
    _check_struct_map(mets, report)


def _check_id(mets: MetsFile, element: Element, report: Report) -> None:
    value = element.get("ID")
    if value is None:
        return
    is_file = local(element) == "file"
    pattern = FILE_ID_PATTERN if is_file else ID_PATTERN
    if not pattern.fullmatch(value):
        _at(report, "TT05-ID-FORMAT", mets, element, found=value,
            expected="ID-<UUID>" if is_file else "uuid-<UUID>")


def _check_timestamp(mets: MetsFile, element: Element, name: str, value: str,
                     report: Report) -> None:
    match = _TIMESTAMP.fullmatch(value.strip())
    valid = False
    if match:
        offset = "+00:00" if match.group(3) == "Z" else match.group(3)
        try:
            datetime.fromisoformat(f"{match.group(1)}.{match.group(2)}{offset}")
            valid = True
        except ValueError:
            valid = False
    if not valid:
        _at(report, "TT05-TIMESTAMP-FORMAT", mets, element, attribute=name, found=value)
    elif match and match.group(3) == "Z":
        _at(report, "TT05-TIMESTAMP-UTC", mets, element, attribute=name, found=value)


def _check_reference(mets: MetsFile, element: Element, report: Report) -> None:
    """SHA-256, upper-case hex, SIZE: on every file and mdRef."""
    if element.get("SIZE") is None:
        _at(report, "TT05-SIZE-MISSING", mets, element)
    checksum_type = element.get("CHECKSUMTYPE")
    checksum = element.get("CHECKSUM")
    if checksum_type != "SHA-256":
        _at(report, "TT05-CHECKSUM-TYPE", mets, element, found=checksum_type or "")
    if checksum is None:
        _at(report, "TT05-CHECKSUM-MISSING", mets, element)
    elif not _HEX64.fullmatch(checksum):
        if checksum_type == "SHA-256":  # otherwise CHECKSUM-TYPE says it all
            _at(report, "TT05-CHECKSUM-FORMAT", mets, element, found=checksum)
    elif checksum != checksum.upper():
        _at(report, "TT05-CHECKSUM-LOWERCASE", mets, element, found=checksum)


def _check_groups(mets: MetsFile, report: Report, *, root_mets: bool) -> None:
    required = ROOT_GROUPS if root_mets else REP_GROUPS
    optional = ROOT_OPTIONAL_GROUPS if root_mets else REP_OPTIONAL_GROUPS
    file_secs = children(mets.root, "fileSec")
    groups = [g for sec in file_secs for g in children(sec, "fileGrp")]
    uses = [(g.get("USE") or "").strip() for g in groups]
    anchor = file_secs[0] if file_secs else mets.root
    for use in required:
        if use not in uses:
            _at(report, "TT05-FILEGRP-MISSING", mets, anchor, use=use)
    for group, use in zip(groups, uses, strict=True):
        if use not in required and use not in optional:
            _at(report, "TT05-FILEGRP-UNEXPECTED", mets, group, use=use,
                allowed=", ".join((*required, *optional)))
    if root_mets:
        for entry in mets.files_in("Schemas"):
            mime = entry.element.get("MIMETYPE")
            if (entry.href or "").lower().endswith(".xsd") and mime != XSD_MIMETYPE:
                _at(report, "TT05-SCHEMA-MIMETYPE", mets, entry.element, found=mime or "")


def _check_struct_map(mets: MetsFile, report: Report) -> None:
    maps = mets.csip_struct_maps()
    if not any((m.get("TYPE") or "").strip() == "PHYSICAL" for m in maps):
        found = maps[0] if maps else mets.root
        _at(report, "TT05-STRUCTMAP", mets, found,
            found=f"LABEL={found.get('LABEL')!s} TYPE={found.get('TYPE')!s}" if maps else "")
