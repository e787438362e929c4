"""The TT05 SIP layout: required files, one representation, schemas/, no PREMIS, ``.fetch.txt``.

TT05.md ("Layout"): a SIP holds METS.xml, metadata/descriptive/EAD.xml, exactly one
representation ``rep1`` with its METS.xml, one EAD_DOC per document and a data/ folder, and
schemas/ with the METS, xlink, E-ARK and all four ``ead*.xsd`` schemas (lower-case names). PREMIS
belongs to AIPs (a warning in a SIP). ``X.fetch.txt`` stubs stand for documents transferred
earlier: only in SIP_hoso, declared in rep1's ``Holeyfile`` group, and well-formed — this project
reads them as BagIt fetch lines (``URL LENGTH PATH``; the group name comes from BagIt's "holey
bag"), since TT05 gives no grammar of its own. The official sample's ead_doc.xsd declared
arcDocCode while its records used docCode; that defect is recognised here too.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from lxml import etree

from preservation.findings import Report
from preservation.paths import printable
from sip.package import PackageTree
from sip.tt05_links import DATA, RECORDS, REP, record_paths
from sip.tt05_mets import MetsFile, line_of, xpath_of
from sip.tt05_model import PackageKind
from sip.xmlload import load_xml

ROOT_METS = "METS.xml"
EAD = "metadata/descriptive/EAD.xml"
REP_METS = f"{REP}/METS.xml"
REQUIRED_FILES = (ROOT_METS, EAD, REP_METS)
#: schemas every SIP carries: name → accepted spellings (lower case). ead*.xsd must be lower case.
SCHEMAS: dict[str, tuple[str, ...]] = {
    "mets1_12.xsd": ("mets1_12.xsd", "mets1_12_1.xsd", "mets.xsd"),
    "xlink.xsd": ("xlink.xsd",),
    "DILCISExtensionMETS.xsd": ("dilcisextensionmets.xsd",),
    "DILCISExtensionSIPMETS.xsd": ("dilcisextensionsipmets.xsd",),
    "ead.xsd": (),
    "ead_doc.xsd": (),
    "ead_pic.xsd": (),
    "ead_media.xsd": (),
}
FETCH_SUFFIX = ".fetch.txt"
FETCH_LIMIT = 64 * 1024
HOLEYFILE = "Holeyfile"
_XS = "http://www.w3.org/2001/XMLSchema"
#: the (case-folded) paths whose absence check_layout excuses when a METS file references them
_NAMEABLE = frozenset({rel.casefold() for rel in REQUIRED_FILES} | {
    f"schemas/{spelling}" for name, aliases in SCHEMAS.items()
    for spelling in (name.casefold(), *aliases)})
_LENGTH = re.compile(r"\d+|-")


def check_layout(tree: PackageTree, report: Report, referenced: Iterable[str] = ()) -> None:
    """Required files and folders, exactly one representation rep1, no PREMIS, schemas/.

    ``referenced``: the package paths the METS files reference. A required file or schema
    missing from the package but referenced there is the E-ARK validator's finding (the
    reference points to nothing) and is not reported again; one no METS file names is.
    """
    named = {folded for path in referenced if (folded := path.casefold()) in _NAMEABLE}
    for rel in REQUIRED_FILES:
        if not tree.is_file(rel) and rel.casefold() not in named:
            report.add("TT05-LAYOUT-MISSING", rel, file=rel)
    if not tree.is_dir(DATA):
        report.add("TT05-LAYOUT-MISSING", f"{DATA}/", file=f"{DATA}/")
    representations = tree.children("representations")
    if representations != ["rep1"]:
        report.add("TT05-REPRESENTATIONS", "representations/",
                   found=", ".join(printable(r) for r in representations) or "-",
                   count=len(representations))
    if tree.is_file(REP_METS) and not record_paths(tree):
        report.add("TT05-NO-DOCUMENTS", f"{RECORDS}/", folder=f"{RECORDS}/")
    for rel in tree.files:
        parts = rel.split("/")
        if "preservation" in parts[:-1] and parts[-1].upper().startswith("PREMIS"):
            report.add("TT05-PREMIS-IN-SIP", rel, file=printable(rel))
    _check_schemas(tree, report, named)


def _check_schemas(tree: PackageTree, report: Report, named: set[str]) -> None:
    present = {rel.removeprefix("schemas/"): rel for rel in tree.under("schemas")
               if posixpath.dirname(rel) == "schemas"}
    lowered = {name.lower(): rel for name, rel in present.items()}
    for name, aliases in SCHEMAS.items():
        if name in present or any(a in lowered for a in aliases):
            continue
        other = lowered.get(name.lower())
        if other is not None:
            report.add("TT05-SCHEMA-NAME-CASE", other, file=printable(other),
                       expected=f"schemas/{name}")
        elif not {f"schemas/{n}" for n in (name.casefold(), *aliases)} & named:
            report.add("TT05-SCHEMA-MISSING", f"schemas/{name}", file=f"schemas/{name}")


def check_folder_name(root: MetsFile | None, objid: str | None, package_name: str | None,
                      report: Report) -> None:
    """A SIP's folder (or the ZIP's top folder) is named exactly OBJID (located at the OBJID)."""
    if root is None or not objid or package_name is None or package_name == objid:
        return
    report.add("TT05-FOLDER-NAME", root.rel, line=line_of(root.root), xpath=xpath_of(root.root),
               name=printable(package_name), objid=objid)


# --- .fetch.txt stubs ---------------------------------------------------------------------------

def check_stubs(tree: PackageTree, rep: MetsFile | None, kind: PackageKind,
                report: Report) -> None:
    """Stubs only in SIP_hoso, each in the Holeyfile group, each well-formed; nothing else there."""
    stubs = sorted(rel for rel in tree.under(REP) if rel.endswith(FETCH_SUFFIX))
    holey = rep.files_in(HOLEYFILE) if rep is not None else []
    declared = {entry.path for entry in holey}
    for rel in stubs:
        if kind is PackageKind.TAILIEU:
            report.add("TT05-FETCH-IN-TAILIEU", rel, file=printable(rel))
            continue
        if rep is not None and rel not in declared:
            report.add("TT05-FETCH-NOT-HOLEYFILE", rel, file=printable(rel), mets=rep.rel)
        _check_stub(tree, rel, report)
    for entry in holey:
        if entry.path is None or not entry.path.endswith(FETCH_SUFFIX):
            report.add("TT05-HOLEYFILE-NOT-STUB", rep.rel if rep else None,
                       line=line_of(entry.element), xpath=xpath_of(entry.element),
                       file=printable(entry.href or ""))


def _check_stub(tree: PackageTree, rel: str, report: Report) -> None:
    size = tree.size(rel) or 0
    if size > FETCH_LIMIT:
        report.add("TT05-FETCH-MALFORMED", rel, reason=f"larger than {FETCH_LIMIT} bytes")
        return
    try:
        text = tree.read_bytes(rel, FETCH_LIMIT).decode("utf-8")
    except UnicodeDecodeError:
        report.add("TT05-FETCH-MALFORMED", rel, reason="not UTF-8 text")
        return
    except (OSError, ValueError) as error:
        report.add("TT05-FETCH-MALFORMED", rel, reason=str(error))
        return
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        report.add("TT05-FETCH-MALFORMED", rel, line=1, reason="empty")
    for n, line in lines:
        reason = _stub_line_problem(line)
        if reason:
            report.add("TT05-FETCH-MALFORMED", rel, line=n, reason=reason)


def _stub_line_problem(line: str) -> str | None:
    fields = line.split(None, 2)
    if len(fields) != 3:
        return "a line must read “URL LENGTH PATH”"
    url, length, _path = fields
    if not urlsplit(url).scheme:
        return f"“{url}” is not a URL"
    if not _LENGTH.fullmatch(length):
        return f"“{length}” is not a length in bytes or “-”"
    return None


# --- the sample's ead_doc.xsd defect ------------------------------------------------------------

def check_ead_doc_schema(tree: PackageTree, doc_code: bool, report: Report) -> None:
    """schemas/ead_doc.xsd declaring arcDocCode (not docCode) while the records use docCode
    (``doc_code``: some document record has a docCode element)."""
    rel = "schemas/ead_doc.xsd"
    if not tree.is_file(rel) or not doc_code:
        return
    parsed = load_xml(tree, rel, report)
    if parsed is None:
        return
    declared: dict[str, etree._Element] = {}
    for element in parsed.getroot().iter(f"{{{_XS}}}element"):
        name = element.get("name")
        if name:
            declared.setdefault(name, element)
    if "arcDocCode" in declared and "docCode" not in declared:
        report.add("TT05-EAD-DOC-XSD-ARCDOCCODE", rel,
                   line=line_of(declared["arcDocCode"]))
