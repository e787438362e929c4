"""TT05 SIPs for the validator's tests: valid packages from the writer, then damaged on purpose.

:func:`build` writes a valid SIP_hoso (a mixed dossier: two digitised documents and one
born-digital) or SIP_tailieu (two loose documents) with :func:`sip.tt05_writer.write_tt05_sip`
into ``tmp_path``, with a fixed OBJID and creation time. A mutation then damages it in one way.
Editing helpers keep the SIZE and CHECKSUM of every METS reference in step with the bytes, so a
mutation breaks only the rule it is about (the E-ARK validator would otherwise add its own
findings). ``CASES`` names each mutation by the code it must raise and where (ocfl-py's
``extra_fixtures`` style).
"""

from __future__ import annotations

import hashlib
import posixpath
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from lxml import etree

from sip.samples import minimal_pdf
from sip.tt05_model import PackageKind, Tt05Document, Tt05Package
from sip.tt05_writer import write_tt05_sip

OBJID = "uuid-0F8FAD5B-D9CB-469F-A165-70867728950E"
CREATED = datetime(2026, 6, 12, 11, 45, 37, 690000, tzinfo=timezone(timedelta(hours=7)))
FILE_CODE = "H49.64.33.2001.160"
BATCH_CODE = "000.00.00.H41.2024.01.0000001"
FONDS = "H49.64"
METS = "http://www.loc.gov/METS/"
XLINK = "http://www.w3.org/1999/xlink"
CSIP = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
NS = {"m": METS, "xlink": XLINK, "csip": CSIP}
ROOT_METS = "METS.xml"
REP_METS = "representations/rep1/METS.xml"
EAD = "metadata/descriptive/EAD.xml"
RECORDS = "representations/rep1/metadata/descriptive"
DATA = "representations/rep1/data"


def doc_id(n: int, kind: PackageKind = PackageKind.HOSO) -> str:
    return f"{FILE_CODE}.{n}" if kind is PackageKind.HOSO else f"TL.2024.01.{n:03d}"


def record(n: int, kind: PackageKind = PackageKind.HOSO) -> str:
    return f"{RECORDS}/EAD_DOC_{doc_id(n, kind)}.xml"


def data(n: int, kind: PackageKind = PackageKind.HOSO) -> str:
    return f"{DATA}/{doc_id(n, kind)}.pdf"


def _document(tmp: Path, n: int, kind: PackageKind, level: str) -> Tt05Document:
    source = tmp / f"source-{kind.value}-{n}.pdf"
    source.write_bytes(minimal_pdf(f"Van ban so {n}"))
    file_code = FILE_CODE if kind is PackageKind.HOSO else BATCH_CODE
    fields = {
        "docId": doc_id(n, kind), "docCode": f"{file_code}{n:07d}", "maintenance": "01",
        "typeName": "22", "codeNumber": str(n), "codeNotation": f"{n:02d}/UBND-VP",
        "issuedDate": "05/03/2001", "organName": "Ủy ban nhân dân tỉnh Nghệ An",
        "subject": f"Về việc chuyển giao tài liệu lưu trữ, lần {n}", "language": "01",
        "numberOfPage": "1", "mode": "01", "confidenceLevel": level, "riskRecovery": "1",
        "riskRecoveryStatus": "02", "process": "1" if level != "02" else "",
    }
    return Tt05Document(fields, source)


def dossier(tmp: Path) -> Tt05Package:
    """A mixed dossier: documents 1 and 3 digitised, document 2 born-digital."""
    fields = {
        "fileCode": FILE_CODE, "title": "Hồ sơ về việc tiếp nhận tài liệu lưu trữ năm 2001",
        "maintenance": "01", "mode": "01", "language": "01", "startDate": "05/03/2001",
        "endDate": "28/12/2001", "keyword": "lưu trữ", "totalDoc": "3", "numberOfPaper": "2",
        "numberOfPage": "3", "format": "01", "confidenceLevel": "03",
        "paperFileCode": "H49.K1.G2.H3.160", "riskRecovery": "1", "riskRecoveryStatus": "01",
        "description": "Hồ sơ mẫu cho kiểm thử",
    }
    docs = tuple(_document(tmp, n, PackageKind.HOSO, level)
                 for n, level in ((1, "02"), (2, "01"), (3, "02")))
    return Tt05Package(PackageKind.HOSO, fields, docs, fonds_code=FONDS,
                       agency="Văn phòng UBND tỉnh Nghệ An")


def batch(tmp: Path) -> Tt05Package:
    """Two loose born-digital documents."""
    fields = {"fileCode": BATCH_CODE, "title": "Tài liệu rời nộp lưu năm 2024", "source": "1",
              "totalDoc": "2", "description": ""}
    docs = tuple(_document(tmp, n, PackageKind.TAILIEU, "01") for n in (1, 2))
    return Tt05Package(PackageKind.TAILIEU, fields, docs, fonds_code=FONDS)


def build(tmp_path: Path, kind: PackageKind = PackageKind.HOSO) -> Path:
    """A valid SIP of ``kind`` at ``tmp_path/out/<OBJID>``."""
    sources = tmp_path / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    package = dossier(sources) if kind is PackageKind.HOSO else batch(sources)
    return write_tt05_sip(package, tmp_path / "out", objid=OBJID, created=CREATED)


# --- editing helpers: keep every METS reference in step with the bytes ---------------------------

def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest().upper()


def parse(path: Path) -> etree._ElementTree:
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))


def write(tree: etree._ElementTree, path: Path) -> None:
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")


def resync(pkg: Path, mets_rel: str) -> None:
    """Set SIZE and CHECKSUM of every reference in ``mets_rel`` whose target exists."""
    path = pkg / mets_rel
    tree = parse(path)
    base = posixpath.dirname(mets_rel)
    for element in tree.iter(f"{{{METS}}}file", f"{{{METS}}}mdRef"):
        locator = element if element.tag == f"{{{METS}}}mdRef" else element.find("m:FLocat", NS)
        href = locator.get(f"{{{XLINK}}}href") if locator is not None else None
        if not href:
            continue
        target = pkg / posixpath.normpath(posixpath.join(base, href))
        if target.is_file():
            element.set("SIZE", str(target.stat().st_size))
            element.set("CHECKSUM", _sha(target))
    write(tree, path)


def resync_all(pkg: Path) -> None:
    if (pkg / REP_METS).is_file():
        resync(pkg, REP_METS)
    if (pkg / ROOT_METS).is_file():
        resync(pkg, ROOT_METS)


def edit_xml(pkg: Path, rel: str, change: Callable[[etree._Element], object], *,
             sync: bool = True) -> None:
    """Change a package XML file in place; then (``sync``) re-sum every METS reference."""
    tree = parse(pkg / rel)
    change(tree.getroot())
    write(tree, pkg / rel)
    if sync:
        resync_all(pkg)
    elif rel == REP_METS:
        resync(pkg, ROOT_METS)  # only the root's reference to the METS we changed


def edit_text(pkg: Path, rel: str, old: str, new: str, *, count: int = -1) -> None:
    path = pkg / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    resync_all(pkg)


def one(root: etree._Element, xpath: str) -> etree._Element:
    found = root.xpath(xpath, namespaces=NS)
    assert isinstance(found, list) and found, xpath
    element = found[0]
    assert isinstance(element, etree._Element)
    return element


def set_field(pkg: Path, rel: str, name: str, value: str | None) -> None:
    """Set a ``<simpledc>`` field (None removes it)."""
    def change(root: etree._Element) -> None:
        element = root.find(name)
        if value is None:
            if element is not None:
                root.remove(element)
            return
        if element is None:
            element = etree.SubElement(root, name)
        element.text = value
    edit_xml(pkg, rel, change)


def remove(pkg: Path, rel: str) -> None:
    target = pkg / rel
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()


def add_file(pkg: Path, rel: str, content: bytes = b"extra\n") -> None:
    path = pkg / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def move_record(pkg: Path, old: str, new: str) -> None:
    """Rename a document record and its dmdSec reference."""
    (pkg / old).rename(pkg / new)
    edit_text(pkg, REP_METS, posixpath.relpath(old, "representations/rep1"),
              posixpath.relpath(new, "representations/rep1"))


def link_divs(root: etree._Element) -> list[etree._Element]:
    found = root.xpath("//m:div[@LABEL='MetadataLink/File']", namespaces=NS)
    assert isinstance(found, list)
    return [e for e in found if isinstance(e, etree._Element)]


STUB = (b"https://luutru.nghean.gov.vn/aip/uuid-1B4E28BA-2FA1-11D2-883F-0016D3CCA427/data/1.pdf"
        b" 1234 data/1.pdf\n")


def make_stub(pkg: Path, n: int = 2, *, content: bytes = STUB, group: str = "Holeyfile",
              kind: PackageKind = PackageKind.HOSO) -> str:
    """Replace document ``n``'s data file by a ``.fetch.txt`` stub declared in ``group``."""
    old = data(n, kind)
    new = f"{old}.fetch.txt"
    remove(pkg, old)
    add_file(pkg, new, content)
    old_href = posixpath.relpath(old, "representations/rep1")
    new_href = posixpath.relpath(new, "representations/rep1")

    def change(root: etree._Element) -> None:
        locator = one(root, f"//m:FLocat[@xlink:href='{old_href}']")
        locator.set(f"{{{XLINK}}}href", new_href)
        file_el = locator.getparent()
        assert file_el is not None
        file_el.set("MIMETYPE", "text/plain")
        if group != "Data":
            file_sec = one(root, "//m:fileSec")
            grp = etree.SubElement(file_sec, f"{{{METS}}}fileGrp",
                                   ID="uuid-7D9F5A2C-3B1E-4C6D-8E0F-1A2B3C4D5E6F", USE=group)
            grp.append(file_el)
    edit_xml(pkg, REP_METS, change)
    return new


# --- the table of damaged packages ----------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One damaged package: what to do, the code it must raise, and where."""

    name: str
    mutate: Callable[[Path], object]
    code: str
    path: str | None
    xpath: str | None = None
    kind: PackageKind = PackageKind.HOSO
    package_name: str | None = None  # default: the folder's own name


def _attr(rel: str, xpath: str, name: str, value: str | None, *, sync: bool = True
          ) -> Callable[[Path], None]:
    def mutate(pkg: Path) -> None:
        def change(root: etree._Element) -> None:
            element = root if xpath == "/" else one(root, xpath)
            if value is None:
                if name in element.attrib:
                    del element.attrib[name]
            else:
                element.set(name, value)
        edit_xml(pkg, rel, change, sync=sync)
    return mutate


def _drop(rel: str, xpath: str) -> Callable[[Path], None]:
    def mutate(pkg: Path) -> None:
        def change(root: etree._Element) -> None:
            found = root.xpath(xpath, namespaces=NS)
            assert isinstance(found, list) and found, xpath
            for element in found:
                assert isinstance(element, etree._Element)
                parent = element.getparent()
                assert parent is not None
                parent.remove(element)
        edit_xml(pkg, rel, change)
    return mutate


def _field(rel: str, name: str, value: str | None) -> Callable[[Path], None]:
    return lambda pkg: set_field(pkg, rel, name, value)


def _fields(rel: str, **values: str | None) -> Callable[[Path], None]:
    def mutate(pkg: Path) -> None:
        for name, value in values.items():
            set_field(pkg, rel, name, value)
    return mutate


def _link_twice(attribute: str) -> Callable[[Path], None]:
    """Make document 2's link div name document 1's file (FILEID) or record (DMDID)."""
    def mutate(pkg: Path) -> None:
        def change(root: etree._Element) -> None:
            first, second = link_divs(root)[:2]
            if attribute == "DMDID":
                second.set("DMDID", first.get("DMDID", ""))
            else:
                one(second, "m:fptr").set("FILEID", one(first, "m:fptr").get("FILEID", ""))
        edit_xml(pkg, REP_METS, change)
    return mutate


def _no_fptr(pkg: Path) -> None:
    def change(root: etree._Element) -> None:
        div = link_divs(root)[0]
        div.remove(one(div, "m:fptr"))
    edit_xml(pkg, REP_METS, change)


def _dmd_dangling(pkg: Path) -> None:
    def change(root: etree._Element) -> None:
        link_divs(root)[0].set("DMDID", "uuid-00000000-0000-0000-0000-000000000000")
    edit_xml(pkg, REP_METS, change)


def _no_links(pkg: Path) -> None:
    def change(root: etree._Element) -> None:
        for div in link_divs(root):
            parent = div.getparent()
            assert parent is not None
            parent.remove(div)
    edit_xml(pkg, REP_METS, change)


def _premis(pkg: Path) -> None:
    add_file(pkg, "metadata/preservation/PREMIS.xml", b"<premis/>\n")


def _second_rep(pkg: Path) -> None:
    shutil.copytree(pkg / "representations/rep1", pkg / "representations/rep2")


def _schema_upper(pkg: Path) -> None:
    (pkg / "schemas/ead_doc.xsd").rename(pkg / "schemas/EAD_DOC.xsd")
    edit_text(pkg, ROOT_METS, "schemas/ead_doc.xsd", "schemas/EAD_DOC.xsd")


def _remove_docs(pkg: Path) -> None:
    for n in (1, 2, 3):
        remove(pkg, record(n))


def _pic_record(pkg: Path) -> None:
    move_record(pkg, record(1), f"{RECORDS}/EAD_PIC_{doc_id(1)}.xml")


def _renamed_record(pkg: Path) -> None:
    move_record(pkg, record(1), f"{RECORDS}/EAD_DOC_khac.xml")


def _root_not_simpledc(pkg: Path) -> None:
    edit_xml(pkg, EAD, lambda root: setattr(root, "tag", "record"))


def _repeated_title(pkg: Path) -> None:
    def change(root: etree._Element) -> None:
        etree.SubElement(root, "title").text = "Tiêu đề thứ hai"
    edit_xml(pkg, EAD, change)


def _arcdoccode_xsd(pkg: Path) -> None:
    edit_text(pkg, "schemas/ead_doc.xsd", 'name="docCode"', 'name="arcDocCode"')


def _extra_group(pkg: Path) -> None:
    def change(root: etree._Element) -> None:
        etree.SubElement(one(root, "//m:fileSec"), f"{{{METS}}}fileGrp",
                         ID="uuid-7D9F5A2C-3B1E-4C6D-8E0F-1A2B3C4D5E6F", USE="Khac")
    edit_xml(pkg, REP_METS, change)


def _pdf_in_holeyfile(pkg: Path) -> None:
    def change(root: etree._Element) -> None:
        file_el = one(root, "//m:fileGrp[@USE='Data']/m:file")
        grp = etree.SubElement(one(root, "//m:fileSec"), f"{{{METS}}}fileGrp",
                               ID="uuid-7D9F5A2C-3B1E-4C6D-8E0F-1A2B3C4D5E6F", USE="Holeyfile")
        grp.append(file_el)
    edit_xml(pkg, REP_METS, change)


def _dmd_id_lower(pkg: Path) -> None:
    root = parse(pkg / ROOT_METS).getroot()
    dmd_id = one(root, "//m:dmdSec").get("ID", "")
    edit_text(pkg, ROOT_METS, f'"{dmd_id}"', f'"{dmd_id.lower()}"')


def _file_id_uuid(pkg: Path) -> None:
    root = parse(pkg / REP_METS).getroot()
    file_id = one(root, "//m:fileGrp[@USE='Data']/m:file").get("ID", "")
    edit_text(pkg, REP_METS, f'"{file_id}"', '"uuid-' + file_id.removeprefix("ID-") + '"')


def _unreferenced(rel: str, *xpaths: str) -> Callable[[Path], None]:
    """Remove ``rel`` and every element of the root METS that references it (``xpaths``): a
    required file missing and named by no METS file (one that is named is the E-ARK
    validator's HREF-NOT-FOUND)."""
    def mutate(pkg: Path) -> None:
        remove(pkg, rel)
        for xpath in xpaths:
            _drop(ROOT_METS, xpath)(pkg)
    return mutate


def _declared_unlinked(pkg: Path) -> None:
    """A data file declared in rep1's Data group (SIZE and CHECKSUM right) but tied to nothing."""
    add_file(pkg, f"{DATA}/thua.pdf", minimal_pdf())

    def change(root: etree._Element) -> None:
        group = one(root, "//m:fileGrp[@USE='Data']")
        model = one(group, "m:file")
        file_el = etree.SubElement(group, f"{{{METS}}}file",
                                   ID="ID-7D9F5A2C-3B1E-4C6D-8E0F-1A2B3C4D5E6F")
        for name in ("MIMETYPE", "SIZE", "CREATED", "CHECKSUM", "CHECKSUMTYPE"):
            file_el.set(name, model.get(name, ""))
        locator = etree.SubElement(file_el, f"{{{METS}}}FLocat", LOCTYPE="URL")
        locator.set(f"{{{XLINK}}}type", "simple")
        locator.set(f"{{{XLINK}}}href", "data/thua.pdf")
    edit_xml(pkg, REP_METS, change)


def _declared_record(pkg: Path) -> None:
    """A copy of record 1 with its own dmdSec in rep1's METS, tied to nothing."""
    shutil.copy(pkg / record(1), pkg / f"{RECORDS}/EAD_DOC_x.xml")

    def change(root: etree._Element) -> None:
        last = root.findall(f"{{{METS}}}dmdSec")[-1]
        copy = etree.fromstring(etree.tostring(last))
        copy.set("ID", "uuid-7D9F5A2C-3B1E-4C6D-8E0F-1A2B3C4D5E6F")
        one(copy, "m:mdRef").set(f"{{{XLINK}}}href", "metadata/descriptive/EAD_DOC_x.xml")
        last.addnext(copy)
    edit_xml(pkg, REP_METS, change)


def _link_not_data_file(pkg: Path) -> None:
    """The first link div's fptr names the Data fileGrp instead of a data file."""
    def change(root: etree._Element) -> None:
        group_id = one(root, "//m:fileGrp[@USE='Data']").get("ID", "")
        one(link_divs(root)[0], "m:fptr").set("FILEID", group_id)
    edit_xml(pkg, REP_METS, change)


def _checksum_lower(pkg: Path) -> None:
    def change(root: etree._Element) -> None:
        element = one(root, "//m:fileGrp[@USE='Data']/m:file")
        element.set("CHECKSUM", element.get("CHECKSUM", "").lower())
    edit_xml(pkg, REP_METS, change, sync=False)


DATA_FILE = "/mets/fileSec/fileGrp/file[1]"
DMD_REF = "/mets/dmdSec/mdRef"
HDR = "/mets/metsHdr"

CASES: tuple[Case, ...] = (
    # layout
    Case("no-ead", _unreferenced(EAD, "/m:mets/m:dmdSec"), "TT05-LAYOUT-MISSING", EAD),
    Case("no-rep-mets", _unreferenced(REP_METS, "//m:fileGrp[starts-with(@USE, 'Repr')]",
                                      "//m:div[m:mptr]"), "TT05-LAYOUT-MISSING", REP_METS),
    Case("rep-mets-not-mets", lambda p: add_file(p, REP_METS, b"<simpledc/>"), "TT05-METS-ROOT",
         REP_METS),
    Case("no-root-mets", lambda p: remove(p, ROOT_METS), "TT05-LAYOUT-MISSING", ROOT_METS),
    Case("no-data", lambda p: remove(p, DATA), "TT05-LAYOUT-MISSING", f"{DATA}/"),
    Case("two-representations", _second_rep, "TT05-REPRESENTATIONS", "representations/"),
    Case("no-documents", _remove_docs, "TT05-NO-DOCUMENTS", f"{RECORDS}/"),
    Case("schema-missing", _unreferenced("schemas/ead_pic.xsd",
                                         "//m:file[m:FLocat/@xlink:href='schemas/ead_pic.xsd']"),
         "TT05-SCHEMA-MISSING", "schemas/ead_pic.xsd"),
    Case("schemas-missing", _unreferenced("schemas", "//m:fileGrp[@USE='Schemas']"),
         "TT05-SCHEMA-MISSING", "schemas/ead.xsd"),
    Case("schema-upper-case", _schema_upper, "TT05-SCHEMA-NAME-CASE", "schemas/EAD_DOC.xsd"),
    Case("premis-in-sip", _premis, "TT05-PREMIS-IN-SIP", "metadata/preservation/PREMIS.xml"),
    Case("folder-name", lambda p: None, "TT05-FOLDER-NAME", ROOT_METS, "/mets",
         package_name="ho-so-160"),
    Case("record-name", _renamed_record, "TT05-RECORD-NAME", f"{RECORDS}/EAD_DOC_khac.xml",
         "/simpledc/docId"),
    Case("pic-record", _pic_record, "TT05-RECORD-NOT-CHECKED",
         f"{RECORDS}/EAD_PIC_{doc_id(1)}.xml"),
    # METS conventions
    Case("objid-urn", _attr(ROOT_METS, "/", "OBJID", "urn:uuid:0f8fad5b-d9cb-469f-a165-"
                            "70867728950e"), "TT05-OBJID-URN", ROOT_METS, "/mets"),
    Case("objid-lower", _attr(ROOT_METS, "/", "OBJID", OBJID.lower()), "TT05-OBJID-FORMAT",
         ROOT_METS, "/mets"),
    Case("type-collection", _attr(ROOT_METS, "/", "TYPE", "Collection"), "TT05-METS-TYPE",
         ROOT_METS, "/mets"),
    Case("type-mixed-tailieu", _attr(ROOT_METS, "/", "TYPE", "Mixed"), "TT05-METS-TYPE",
         ROOT_METS, "/mets", kind=PackageKind.TAILIEU),
    Case("profile", _attr(ROOT_METS, "/", "PROFILE", None), "TT05-METS-PROFILE", ROOT_METS,
         "/mets"),
    Case("rep-objid", _attr(REP_METS, "/", "OBJID", "rep2"), "TT05-REP-OBJID", REP_METS,
         "/mets"),
    Case("rep-content-type", _attr(REP_METS, "/", f"{{{CSIP}}}CONTENTINFORMATIONTYPE", None),
         "TT05-REP-CONTENT-TYPE", REP_METS, "/mets"),
    Case("no-metshdr", _drop(REP_METS, "/m:mets/m:metsHdr"), "TT05-METSHDR-MISSING", REP_METS,
         "/mets"),
    Case("no-createdate", _attr(ROOT_METS, "//m:metsHdr", "CREATEDATE", None),
         "TT05-CREATEDATE-MISSING", ROOT_METS, HDR),
    Case("recordstatus", _attr(ROOT_METS, "//m:metsHdr", "RECORDSTATUS", "DELETE"),
         "TT05-RECORDSTATUS", ROOT_METS, HDR),
    Case("package-type", _attr(ROOT_METS, "//m:metsHdr", f"{{{CSIP}}}OAISPACKAGETYPE", "AIP"),
         "TT05-PACKAGE-TYPE", ROOT_METS, HDR),
    Case("no-agent", _drop(ROOT_METS, "//m:metsHdr/m:agent[@ROLE='CREATOR']"),
         "TT05-AGENT-MISSING", ROOT_METS, HDR),
    Case("software-version-only",
         _drop(ROOT_METS, "//m:agent/m:note[@csip:NOTETYPE='IDENTIFICATIONCODE']"),
         "TT05-AGENT-SOFTWARE-VERSION", ROOT_METS, "/mets/metsHdr/agent[1]/note"),
    Case("no-agent-notes", _drop(ROOT_METS, "//m:metsHdr/m:agent[@ROLE='CREATOR']/m:note"),
         "TT05-AGENT-CODE-MISSING", ROOT_METS, "/mets/metsHdr/agent[1]"),
    Case("id-lower-case", _dmd_id_lower, "TT05-ID-FORMAT", ROOT_METS, "/mets/dmdSec"),
    Case("file-id-uuid", _file_id_uuid, "TT05-ID-FORMAT", REP_METS, DATA_FILE),
    Case("timestamp-no-ms", _attr(ROOT_METS, "//m:metsHdr", "CREATEDATE",
                                  "2026-06-12T11:45:37+07:00"),
         "TT05-TIMESTAMP-FORMAT", ROOT_METS, HDR),
    Case("timestamp-no-offset", _attr(REP_METS, "//m:fileGrp[@USE='Data']/m:file", "CREATED",
                                      "2026-06-12T11:45:37.690"),
         "TT05-TIMESTAMP-FORMAT", REP_METS, DATA_FILE),
    Case("timestamp-z", _attr(ROOT_METS, "//m:metsHdr", "CREATEDATE",
                              "2026-06-12T04:45:37.690Z"),
         "TT05-TIMESTAMP-UTC", ROOT_METS, HDR),
    Case("no-size", _attr(REP_METS, "//m:fileGrp[@USE='Data']/m:file", "SIZE", None,
                          sync=False), "TT05-SIZE-MISSING", REP_METS, DATA_FILE),
    Case("md5", _attr(REP_METS, "//m:fileGrp[@USE='Data']/m:file", "CHECKSUMTYPE", "MD5"),
         "TT05-CHECKSUM-TYPE", REP_METS, DATA_FILE),
    Case("no-checksum", _attr(REP_METS, "//m:fileGrp[@USE='Data']/m:file", "CHECKSUM", None,
                              sync=False), "TT05-CHECKSUM-MISSING", REP_METS, DATA_FILE),
    Case("checksum-not-hex", _attr(REP_METS, "//m:fileGrp[@USE='Data']/m:file", "CHECKSUM",
                                   "XYZ", sync=False),
         "TT05-CHECKSUM-FORMAT", REP_METS, DATA_FILE),
    Case("checksum-lower-case", _checksum_lower, "TT05-CHECKSUM-LOWERCASE", REP_METS,
         DATA_FILE),
    Case("mdref-mdtype", _attr(ROOT_METS, "//m:dmdSec/m:mdRef", "MDTYPE", "EAD"),
         "TT05-MDREF-ATTRIBUTE", ROOT_METS, DMD_REF),
    Case("mdref-mimetype", _attr(REP_METS, "//m:dmdSec/m:mdRef", "MIMETYPE", "text/xml"),
         "TT05-MDREF-ATTRIBUTE", REP_METS, "/mets/dmdSec[1]/mdRef"),
    Case("no-amdsec", _drop(ROOT_METS, "/m:mets/m:amdSec"), "TT05-AMDSEC-MISSING", ROOT_METS,
         "/mets"),
    Case("no-schemas-group", _attr(ROOT_METS, "//m:fileGrp[@USE='Schemas']", "USE", "Lược đồ"),
         "TT05-FILEGRP-MISSING", ROOT_METS, "/mets/fileSec"),
    Case("unexpected-group", _extra_group, "TT05-FILEGRP-UNEXPECTED", REP_METS,
         "/mets/fileSec/fileGrp[2]"),
    Case("xsd-mimetype", _attr(ROOT_METS, "//m:fileGrp[@USE='Schemas']/m:file", "MIMETYPE",
                               "application/xml"),
         "TT05-SCHEMA-MIMETYPE", ROOT_METS, "/mets/fileSec/fileGrp[1]/file[1]"),
    Case("structmap-label", _attr(ROOT_METS, "//m:structMap", "LABEL", "Khác"),
         "TT05-STRUCTMAP", ROOT_METS, "/mets"),
    Case("structmap-type", _attr(REP_METS, "//m:structMap", "TYPE", "LOGICAL"),
         "TT05-STRUCTMAP", REP_METS, "/mets/structMap"),
    Case("ead-not-referenced", _drop(ROOT_METS, "/m:mets/m:dmdSec"), "TT05-EAD-NOT-REFERENCED",
         ROOT_METS),
    # the MetadataLink/File tie
    Case("no-links", _no_links, "TT05-LINK-NONE", REP_METS, "/mets/structMap"),
    Case("link-without-file", _no_fptr, "TT05-LINK-MALFORMED", REP_METS,
         "/mets/structMap/div/div[3]"),
    Case("link-dangling", _dmd_dangling, "TT05-LINK-DANGLING", REP_METS,
         "/mets/structMap/div/div[3]"),
    Case("link-not-data-file", _link_not_data_file, "TT05-LINK-NOT-DATA-FILE", REP_METS,
         "/mets/structMap/div/div[3]"),
    Case("file-declared-unlinked", _declared_unlinked, "TT05-LINK-FILE-UNLINKED", REP_METS,
         "/mets/fileSec/fileGrp/file[4]"),
    Case("file-unlinked", _link_twice("FILEID"), "TT05-LINK-FILE-UNLINKED", REP_METS,
         "/mets/fileSec/fileGrp/file[2]"),
    Case("file-twice", _link_twice("FILEID"), "TT05-LINK-FILE-TWICE", REP_METS,
         "/mets/structMap/div/div[4]"),
    Case("record-unlinked", _link_twice("DMDID"), "TT05-LINK-RECORD-UNLINKED", REP_METS,
         "/mets/dmdSec[2]"),
    Case("record-twice", _link_twice("DMDID"), "TT05-LINK-RECORD-TWICE", REP_METS,
         "/mets/structMap/div/div[4]"),
    Case("record-declared-unlinked", _declared_record, "TT05-LINK-RECORD-UNLINKED", REP_METS,
         "/mets/dmdSec[4]"),
    # record fields
    Case("record-root", _root_not_simpledc, "TT05-RECORD-ROOT", EAD, "/record"),
    Case("field-repeated", _repeated_title, "TT05-FIELD-REPEATED", EAD, "/simpledc/title[2]"),
    Case("title-missing", _field(EAD, "title", None), "TT05-FIELD-MISSING", EAD, "/simpledc"),
    Case("title-empty", _field(EAD, "title", " "), "TT05-FIELD-MISSING", EAD,
         "/simpledc/title"),
    Case("typename-missing", _field(record(2), "typeName", None), "TT05-FIELD-MISSING",
         record(2), "/simpledc"),
    Case("batch-source-missing", _field(EAD, "source", ""), "TT05-FIELD-MISSING", EAD,
         "/simpledc/source", kind=PackageKind.TAILIEU),
    Case("too-long", _field(EAD, "description", "ệ" * 2001), "TT05-FIELD-TOO-LONG", EAD,
         "/simpledc/description"),
    Case("code-mode", _field(EAD, "mode", "04"), "TT05-FIELD-CODE", EAD, "/simpledc/mode"),
    Case("code-label", _field(record(1), "typeName", "Công văn"), "TT05-FIELD-CODE", record(1),
         "/simpledc/typeName"),
    Case("code-languages", _field(EAD, "language", "01,12"), "TT05-FIELD-CODE", EAD,
         "/simpledc/language"),
    Case("code-flag", _field(EAD, "riskRecovery", "2"), "TT05-FIELD-CODE", EAD,
         "/simpledc/riskRecovery"),
    Case("code-source", _field(EAD, "source", "01"), "TT05-FIELD-CODE", EAD, "/simpledc/source",
         kind=PackageKind.TAILIEU),
    Case("date-iso", _field(EAD, "startDate", "2001-03-05"), "TT05-FIELD-DATE", EAD,
         "/simpledc/startDate"),
    Case("date-impossible", _field(record(1), "issuedDate", "31/02/2001"), "TT05-FIELD-DATE",
         record(1), "/simpledc/issuedDate"),
    Case("number", _field(EAD, "totalDoc", "ba"), "TT05-FIELD-NUMBER", EAD, "/simpledc/totalDoc"),
    Case("unknown-field", _field(record(1), "arcDocCode", "X"), "TT05-FIELD-UNKNOWN", record(1),
         "/simpledc/arcDocCode"),
    Case("ead-malformed", lambda p: add_file(p, EAD, b"<simpledc><title>"), "XML-MALFORMED",
         EAD),
    # rules between fields
    Case("paperfilecode-missing", _fields(EAD, confidenceLevel="02", paperFileCode=None),
         "TT05-PAPERFILECODE-MISSING", EAD, "/simpledc"),
    Case("paperfilecode-empty", _fields(EAD, confidenceLevel="02", paperFileCode=""),
         "TT05-PAPERFILECODE-EMPTY", EAD, "/simpledc/paperFileCode"),
    Case("paperfilecode-mixed", _field(EAD, "paperFileCode", ""), "TT05-PAPERFILECODE-MIXED",
         EAD, "/simpledc/paperFileCode"),
    Case("risk-status", _field(EAD, "riskRecoveryStatus", ""), "TT05-RISKRECOVERYSTATUS-MISSING",
         EAD, "/simpledc/riskRecoveryStatus"),
    Case("risk-status-doc", _field(record(3), "riskRecoveryStatus", None),
         "TT05-RISKRECOVERYSTATUS-MISSING", record(3), "/simpledc"),
    Case("process-born-digital", _field(record(2), "process", ""), "TT05-PROCESS-MISSING",
         record(2), "/simpledc/process"),
    Case("process-mixed", _fields(record(1), confidenceLevel="03", process=None),
         "TT05-PROCESS-MISSING", record(1), "/simpledc"),
    Case("process-inherited", _fields(record(1), confidenceLevel=None),
         "TT05-PROCESS-MISSING", record(1), "/simpledc/process"),
    Case("process-batch", _field(record(1, PackageKind.TAILIEU), "process", None),
         "TT05-PROCESS-MISSING", record(1, PackageKind.TAILIEU), "/simpledc",
         kind=PackageKind.TAILIEU),
    Case("totaldoc", _field(EAD, "totalDoc", "4"), "TT05-TOTALDOC-MISMATCH", EAD,
         "/simpledc/totalDoc"),
    Case("totaldoc-batch", _field(EAD, "totalDoc", "1"), "TT05-TOTALDOC-MISMATCH", EAD,
         "/simpledc/totalDoc", kind=PackageKind.TAILIEU),
    Case("pages", _field(EAD, "numberOfPage", "99"), "TT05-NUMBEROFPAGE-MISMATCH", EAD,
         "/simpledc/numberOfPage"),
    Case("date-order", _fields(EAD, startDate="01/01/2002", endDate="31/12/2001"),
         "TT05-DATE-ORDER", EAD, "/simpledc/endDate"),
    Case("doccode-format", _field(record(1), "docCode", f"{FILE_CODE}001"),
         "TT05-DOCCODE-FORMAT", record(1), "/simpledc/docCode"),
    Case("doccode-other-dossier", _field(record(1), "docCode", "H49.64.33.2001.161.0000001"),
         "TT05-DOCCODE-FORMAT", record(1), "/simpledc/docCode"),
    Case("doccode-year", _field(record(1), "docCode", "H49.64.33.2002.160.0000001"),
         "TT05-DOCCODE-YEAR", record(1), "/simpledc/docCode"),
    Case("doccode-batch", _field(record(1, PackageKind.TAILIEU), "docCode", "TL0000001"),
         "TT05-DOCCODE-FORMAT", record(1, PackageKind.TAILIEU), "/simpledc/docCode",
         kind=PackageKind.TAILIEU),
    Case("docid-format", _field(record(1), "docId", "H49.64.33.2001.161.1"),
         "TT05-DOCID-FORMAT", record(1), "/simpledc/docId"),
    Case("docid-too-long", _field(record(1, PackageKind.TAILIEU), "docId", "TL." + "9" * 23),
         "TT05-DOCID-TOO-LONG", record(1, PackageKind.TAILIEU), "/simpledc/docId",
         kind=PackageKind.TAILIEU),
    Case("docid-duplicate", _field(record(2), "docId", doc_id(1)), "TT05-DOCID-DUPLICATE",
         record(2), "/simpledc/docId"),
    Case("doccode-duplicate", _field(record(3), "docCode", f"{FILE_CODE}0000001"),
         "TT05-DOCCODE-DUPLICATE", record(3), "/simpledc/docCode"),
    Case("maintenance", _field(EAD, "maintenance", "02"), "TT05-MAINTENANCE-NOT-PERMANENT", EAD,
         "/simpledc/maintenance"),
    Case("maintenance-doc", _field(record(2), "maintenance", "06"),
         "TT05-MAINTENANCE-NOT-PERMANENT", record(2), "/simpledc/maintenance"),
    Case("xsd-arcdoccode", _arcdoccode_xsd, "TT05-EAD-DOC-XSD-ARCDOCCODE", "schemas/ead_doc.xsd"),
    # .fetch.txt stubs
    Case("stub-in-tailieu", lambda p: make_stub(p, 2, kind=PackageKind.TAILIEU),
         "TT05-FETCH-IN-TAILIEU", f"{data(2, PackageKind.TAILIEU)}.fetch.txt",
         kind=PackageKind.TAILIEU),
    Case("stub-in-data-group", lambda p: make_stub(p, 2, group="Data"),
         "TT05-FETCH-NOT-HOLEYFILE", f"{data(2)}.fetch.txt"),
    Case("stub-undeclared", lambda p: add_file(p, f"{DATA}/cu.pdf.fetch.txt", STUB),
         "TT05-FETCH-NOT-HOLEYFILE", f"{DATA}/cu.pdf.fetch.txt"),
    Case("stub-malformed", lambda p: make_stub(p, 2, content=b"tai lieu da nop\n"),
         "TT05-FETCH-MALFORMED", f"{data(2)}.fetch.txt"),
    Case("stub-empty", lambda p: make_stub(p, 2, content=b""), "TT05-FETCH-MALFORMED",
         f"{data(2)}.fetch.txt"),
    Case("stub-not-utf8", lambda p: make_stub(p, 2, content=b"\xff\xfe 1 x\n"),
         "TT05-FETCH-MALFORMED", f"{data(2)}.fetch.txt"),
    Case("pdf-in-holeyfile", _pdf_in_holeyfile, "TT05-HOLEYFILE-NOT-STUB", REP_METS,
         "/mets/fileSec/fileGrp[2]/file"),
)
