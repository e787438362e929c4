"""The AIP's PREMIS and METS files are streamed: same documents as the trees, bounded memory.

Each writer describes its document once (``preservation.xmlstream``); the tree built from that
description (``*_document``, ``aip_*_mets``) serialised whole by ``xml_bytes`` is the reference
the streamed file must equal (canonical XML of both parsed), and the official schemas in
../shared/schemas judge both. Memory: the writers' own Python heap peak (tracemalloc, above the
input records, which are O(n) themselves) must not grow with the number of files.
"""

from __future__ import annotations

import hashlib
import io
import tracemalloc
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from aip.mets import mets_bytes, mets_document, write_mets
from aip.model import EVENT_TYPES, Agent, AipDescription, ContentFile, Event, FormatId, MetadataFile
from aip.premis import (
    ORIGINAL_NAME_TAG,
    premis_package_document,
    premis_representation_bytes,
    premis_representation_document,
    sip_object_uuid,
    write_premis_package,
    write_premis_representation,
)
from aip.tt05_aip_bag import BagIdentity, StagedObject, write_bag
from aip.tt05_aip_mets import (
    AipDocument,
    AipHeader,
    aip_rep_mets,
    aip_root_mets,
    write_aip_rep_mets,
    write_aip_root_mets,
)
from preservation.manifest import MANIFEST, manifest_text, parse_manifest
from preservation.repository import Repository
from preservation.xmlsafe import parse_file, validate, xml_bytes
from preservation.xmlstream import XmlSink, document_bytes, document_tree
from sip.tt05_mets_writer import MetsHeader, WrittenFile
from sip.tt05_xml import IdMaker

VN = timezone(timedelta(hours=7))
WHEN = datetime(2026, 6, 12, 11, 45, 37, 690000, tzinfo=VN)
AIP = "6f1c2a0e-8a43-4b8e-9d55-0c3f7b1e2a90"
METS = "http://www.loc.gov/METS/"
XLINK = "http://www.w3.org/1999/xlink"
NS = {"m": METS, "xlink": XLINK}
NFD_NAME = unicodedata.normalize("NFD", "Tờ trình phê duyệt")
PREMIS_FILE = MetadataFile("metadata/preservation/PREMIS.xml", 1234, "ab" * 32)


def _sha(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def describe(count: int) -> AipDescription:
    """An AIP of ``count`` content files with the ingest's per-file events (three of them link
    every file), an NFD label and NFD producer names."""
    fmt = FormatId("x-fmt/111", "Plain Text File", None, "text/plain", "extension", "PRONOM",
                   "v109")
    base = uuid.UUID(AIP)
    files = tuple(ContentFile(str(uuid.uuid5(base, str(n))),
                              f"representations/rep1/data/{n:06d}.txt",
                              f"{NFD_NAME} {n // 1000}/tệp {n}.txt", 4096, _sha(n), fmt,
                              "text/plain") for n in range(1, count + 1))
    software = Agent("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "preservation", "software", "1",
                     "executing program")
    org = Agent("5d6e7f80-9a0b-4c1d-8e2f-3a4b5c6d7e8f", unicodedata.normalize("NFD", "Lưu trữ"),
                "organization", role="authorizer")
    every = tuple(f.uuid for f in files)
    sip = sip_object_uuid(AIP)

    def event(n: int, kind: str, objects: tuple[str, ...] = (),
              roles: tuple[tuple[str, str], ...] = ()) -> Event:
        return Event(f"00000000-0000-4000-8000-{n:012d}", kind, EVENT_TYPES[kind], WHEN,
                     "success", f"{kind}: {NFD_NAME}", "", (software.uuid,), objects, roles)

    events = (event(1, "validation"), event(2, "virus check", every),
              event(3, "format identification", every),
              event(4, "message digest calculation", every),
              event(5, "information package creation", roles=((sip, "source"), (AIP, "outcome"))),
              event(6, "ingestion", (AIP,)))
    return AipDescription(
        uuid=AIP, label=unicodedata.normalize("NFD", "Hồ sơ kỳ họp"), created=WHEN,
        organisation=org.name, software_name="preservation", software_version="1",
        files=files, events=events, agents=(software, org),
        metadata=(MetadataFile("metadata/descriptive/EAD.xml", 10, _sha(-1)),),
        schemas=(MetadataFile("schemas/mets.xsd", 10, _sha(-2), "application/octet-stream"),),
        submission=(MetadataFile("submission/sip/METS.xml", 10, _sha(-3)),), sip_uuid=sip)


def _canonical(data: bytes) -> bytes:
    return etree.tostring(etree.fromstring(data), method="c14n")


def _namespace_declarations(data: bytes) -> int:
    return sum(1 for _ in etree.iterparse(io.BytesIO(data), events=("start-ns",)))


#: name -> (tree of the description, streaming writer to a path, keep_exact)
WRITERS: dict[str, tuple[Callable[[AipDescription], etree._Element],
                         Callable[[Path, AipDescription], tuple[int, str]], set[str]]] = {
    "PREMIS_rep1": (premis_representation_document, write_premis_representation,
                    {ORIGINAL_NAME_TAG}),
    "PREMIS": (premis_package_document, write_premis_package, {ORIGINAL_NAME_TAG}),
    "METS": (lambda d: mets_document(d, PREMIS_FILE),
             lambda path, d: write_mets(path, d, PREMIS_FILE), set()),
}


@pytest.mark.parametrize("name", WRITERS)
def test_streamed_file_is_the_tree_document(name: str, tmp_path: Path) -> None:
    tree, write, keep = WRITERS[name]
    desc = describe(40)
    path = tmp_path / f"{name}.xml"
    size, sha256 = write(path, desc)
    data = path.read_bytes()
    assert (size, sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<')
    reference = xml_bytes(tree(desc), keep_exact=keep)
    assert _canonical(data) == _canonical(reference)
    # every namespace is declared once, on the root (lxml repeats them on a written subtree)
    root = etree.fromstring(data)
    assert _namespace_declarations(data) == len(root.nsmap)
    assert validate(root, "premis" if name.startswith("PREMIS") else "mets") == []


def test_streamed_text_is_nfc_but_original_names(tmp_path: Path) -> None:
    desc = describe(3)
    write_premis_representation(tmp_path / "rep.xml", desc)
    root = parse_file(tmp_path / "rep.xml").getroot()
    names = [e.text for e in root.iter(ORIGINAL_NAME_TAG)]
    assert names[1:] == [f.original_name for f in desc.files]  # as submitted (NFD)
    details = [e.text or "" for e in root.iter("{http://www.loc.gov/premis/v3}eventDetail")]
    assert details and all(unicodedata.is_normalized("NFC", d) for d in details)
    assert not unicodedata.is_normalized("NFC", NFD_NAME)
    write_mets(tmp_path / "METS.xml", desc, PREMIS_FILE)
    mets = parse_file(tmp_path / "METS.xml").getroot()
    labels = [d.get("LABEL", "") for d in mets.iterfind(".//m:div", NS)]
    assert unicodedata.normalize("NFC", desc.files[0].original_name) in labels
    assert all(unicodedata.is_normalized("NFC", label) for label in labels)


@pytest.mark.shared
@pytest.mark.parametrize("name", WRITERS)
def test_streamed_files_are_valid_against_the_official_schemas(name: str, tmp_path: Path,
                                                               shared_dir: Path) -> None:
    _, write, _ = WRITERS[name]
    write(tmp_path / "doc.xml", describe(25))
    xsd = "premis-v3-0.xsd" if name.startswith("PREMIS") else "mets.xsd"
    schema = etree.XMLSchema(etree.parse(str(shared_dir / "schemas" / xsd)))
    assert schema.validate(etree.parse(str(tmp_path / "doc.xml"))), schema.error_log


def test_a_refused_description_leaves_no_file(tmp_path: Path) -> None:
    desc = describe(3)
    dangling = replace(desc.events[1], object_uuids=(str(uuid.uuid4()),))
    with pytest.raises(ValueError, match="unknown object"):
        write_premis_package(tmp_path / "premis.xml", replace(desc, events=(dangling,)))
    # found only half way through the METS (a path is checked when its file is written)
    bad = replace(desc.files[2], aip_path="representations/rep1/../x.txt")
    with pytest.raises(ValueError, match="not a clean relative AIP path"):
        write_mets(tmp_path / "METS.xml", replace(desc, files=(*desc.files[:2], bad)),
                   PREMIS_FILE)
    assert list(tmp_path.iterdir()) == []


# --- TT05 AIP METS ------------------------------------------------------------------------------


HEAD = AipHeader(MetsHeader(f"urn:H41:uuid-{AIP.upper()}", "Mixed", "2026-06-12T11:45:37.690+07:00",
                            "preservation", "1", "H41", None, "H41.01.2025.01",
                            unicodedata.normalize("NFD", "Hồ sơ")), "SUPPLEMENT", "Lưu trữ")
IDS = IdMaker(uuid.UUID(AIP))


def _written(rel: str, n: int, mime: str = "application/pdf") -> WrittenFile:
    return WrittenFile(rel, 100 + n, _sha(n), mime)


def tt05_documents(count: int) -> list[AipDocument]:
    """Documents of one, two or three data files (some ``.fetch.txt`` stubs), one without."""
    out = []
    for n in range(count):
        record = _written(f"metadata/descriptive/EAD_DOC_{n:06d}.xml", n, "application/xml")
        data = [_written(f"data/{n:06d}.pdf", n)][: 0 if n % 7 == 3 else 1]
        if n % 3 == 1:
            data.append(_written(f"data/{n:06d}_1.pdf", n))
        if n % 5 == 2:
            data.append(_written(f"data/{n:06d}.fetch.txt", n, "text/plain"))
        out.append(AipDocument(f"record:{n}", record, tuple(data)))
    return out


def _rep_args() -> dict[str, object]:
    return {"premis": _written("metadata/preservation/PREMIS_rep1.xml", -1, "application/xml"),
            "unlinked": [_written("data/unlinked.pdf", -2)],
            "original_names": lambda rel: NFD_NAME + rel if rel.endswith("_1.pdf") else None}


def _root_args() -> dict[str, object]:
    return {"ead": _written("metadata/descriptive/EAD.xml", -3, "application/xml"),
            "schemas": [_written("schemas/mets1_12.xsd", -4, "application/octet-stream")],
            "rep": _written("representations/rep1/METS.xml", -5, "application/xml"),
            "premis": _written("metadata/preservation/PREMIS.xml", -6, "application/xml"),
            "documentation": [_written(f"submission/sip/EAD_DOC_{n}.xml", n, "application/xml")
                              for n in range(5)]}


def test_tt05_streamed_mets_are_the_tree_documents(tmp_path: Path) -> None:
    documents = tt05_documents(30)
    write_aip_rep_mets(tmp_path / "rep.xml", HEAD, IDS, documents, **_rep_args())  # type: ignore[arg-type]
    write_aip_root_mets(tmp_path / "root.xml", HEAD, IDS, **_root_args())  # type: ignore[arg-type]
    rep_tree = aip_rep_mets(HEAD, IDS, documents, **_rep_args())  # type: ignore[arg-type]
    root_tree = aip_root_mets(HEAD, IDS, **_root_args())  # type: ignore[arg-type]
    for name, tree in (("rep.xml", rep_tree), ("root.xml", root_tree)):
        data = (tmp_path / name).read_bytes()
        assert _canonical(data) == _canonical(xml_bytes(tree))
        assert _namespace_declarations(data) == len(etree.fromstring(data).nsmap)
        assert validate(etree.fromstring(data), "mets") == []


def test_tt05_rep_mets_ties_every_data_file_and_groups_stubs(tmp_path: Path) -> None:
    documents = tt05_documents(30)
    write_aip_rep_mets(tmp_path / "rep.xml", HEAD, IDS, documents, **_rep_args())  # type: ignore[arg-type]
    rep = parse_file(tmp_path / "rep.xml").getroot()
    href = f"{{{XLINK}}}href"
    files = {f.get("ID"): f.find("m:FLocat", NS) for f in rep.iterfind(".//m:file", NS)}
    records = {d.get("ID"): d.find("m:mdRef", NS).get(href)  # type: ignore[union-attr]
               for d in rep.iterfind("m:dmdSec", NS)}
    ties = {records[div.get("DMDID")]: [files[p.get("FILEID")].get(href)  # type: ignore[union-attr]
                                        for p in div.iterfind("m:fptr", NS)]
            for div in rep.iterfind(".//m:div[@LABEL='MetadataLink/File']", NS)}
    assert ties == {doc.record.rel: [item.rel for item in doc.data]
                    for doc in documents if doc.data}
    holey = rep.find("m:fileSec/m:fileGrp[@USE='Holeyfile']", NS)
    assert holey is not None
    stubs = [f.find("m:FLocat", NS).get(href, "") for f in holey]  # type: ignore[union-attr]
    assert stubs == [i.rel for d in documents for i in d.data if i.rel.endswith(".fetch.txt")]
    titled = {loc.get(href, ""): loc.get(f"{{{XLINK}}}title", "") for loc in files.values()
              if loc is not None and loc.get(f"{{{XLINK}}}title")}
    assert titled and all(t == unicodedata.normalize("NFC", NFD_NAME + h)
                          for h, t in titled.items())


# --- bounded memory -----------------------------------------------------------------------------


def _writer_peak(write: Callable[..., object], *args: object, **kwargs: object) -> int:
    """The Python heap peak of ``write(*args, **kwargs)`` above what was allocated before it
    (the input records)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        write(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


#: what a writer may keep per file: a few bytes (the sorted file UUIDs PREMIS links are
#: checked against, 8 bytes each); a document held in memory costs ~2,800 bytes per file
BYTES_PER_FILE = 40
SMALL, LARGE = 1_000, 10_000


def test_writer_memory_does_not_grow_with_the_file_count(tmp_path: Path) -> None:
    peaks: dict[str, dict[int, int]] = {name: {} for name in WRITERS}
    for count in (SMALL, LARGE):
        desc = describe(count)
        for name, (_, write, _) in WRITERS.items():
            peaks[name][count] = _writer_peak(write, tmp_path / f"{name}-{count}.xml", desc)
    assert (tmp_path / f"PREMIS_rep1-{LARGE}.xml").stat().st_size > 25_000_000
    for name, peak in peaks.items():
        assert peak[LARGE] < 4 * peak[SMALL], (name, peaks)  # not ~10x
        assert peak[LARGE] - peak[SMALL] < BYTES_PER_FILE * (LARGE - SMALL), (name, peaks)


def test_tt05_rep_mets_memory_does_not_grow_with_the_documents(tmp_path: Path) -> None:
    peaks = {}
    for count in (SMALL, LARGE):
        peaks[count] = _writer_peak(write_aip_rep_mets, tmp_path / f"{count}.xml", HEAD, IDS,
                                    tt05_documents(count), **_rep_args())
    # the Metadata div's DMDID lists every dmdSec ID (41 bytes each, made as bytes then as
    # text): the one value of this document that grows with it
    assert peaks[LARGE] - peaks[SMALL] < (2 * 41 + BYTES_PER_FILE) * (LARGE - SMALL), peaks


def test_bytes_and_file_writers_agree(tmp_path: Path) -> None:
    desc = describe(5)
    write_mets(tmp_path / "METS.xml", desc, PREMIS_FILE)
    write_premis_representation(tmp_path / "rep.xml", desc)
    assert mets_bytes(desc, PREMIS_FILE) == (tmp_path / "METS.xml").read_bytes()
    assert premis_representation_bytes(desc) == (tmp_path / "rep.xml").read_bytes()


# --- the bag's per-file tag files ---------------------------------------------------------------


def test_manifest_and_fetch_are_written_line_by_line_as_before(tmp_path: Path,
                                                               repo: Repository) -> None:
    objects = [StagedObject(f"data/representations/rep1/data/{n:06d}%\n.txt", None, n, _sha(n),
                            "content", stored_key=f"{AIP}/data/{n}" if n % 3 else None)
               for n in range(3_000, 0, -1)]
    ident = BagIdentity(AIP, AIP, 2, str(uuid.uuid4()), "SUPPLEMENT", "H41", "", "bagit",
                        f"urn:uuid:{AIP}", WHEN, "Lưu trữ", "x", "x")
    tags, tagmanifest, _ = write_bag(tmp_path, objects, ident, repo.identity())
    assert [t.bag_path for t in tags] == ["bagit.txt", "bag-info.txt", MANIFEST, "fetch.txt"]
    manifest = (tmp_path / MANIFEST).read_bytes()
    assert manifest == manifest_text((o.bag_path, o.sha256) for o in objects).encode()
    assert parse_manifest(manifest.decode())[objects[0].bag_path] == objects[0].sha256
    fetch = (tmp_path / "fetch.txt").read_text().splitlines()
    assert len(fetch) == 2_000 and fetch == sorted(fetch, key=lambda line: line.split(" ")[2])
    for tag in (*tags, tagmanifest):
        data = (tmp_path / tag.bag_path).read_bytes()
        assert (tag.size, tag.sha256) == (len(data), hashlib.sha256(data).hexdigest())


_NS = "urn:x-test:stream"


def _with_comment(sink: XmlSink) -> None:
    with sink.open(f"{{{_NS}}}root", {}, {None: _NS}) as root:
        root.append(etree.Comment(unicodedata.normalize("NFD", " Hồ sơ lưu trữ ")))
        etree.SubElement(root, f"{{{_NS}}}item").text = "một"
        sink.flush()


def test_a_streamed_comment_is_nfc_as_in_the_tree() -> None:
    streamed = document_bytes(_with_comment)
    assert streamed == xml_bytes(document_tree(_with_comment))
    assert unicodedata.normalize("NFC", " Hồ sơ lưu trữ ").encode() in streamed


def test_text_after_a_streamed_child_is_refused_not_dropped() -> None:
    def body(sink: XmlSink) -> None:
        with sink.open(f"{{{_NS}}}root", {}, {None: _NS}) as root:
            etree.SubElement(root, f"{{{_NS}}}item").tail = "lost?"
            sink.flush()

    with pytest.raises(ValueError):
        document_bytes(body)


def test_namespaces_below_the_root_are_refused_by_both_sinks() -> None:
    def body(sink: XmlSink) -> None:
        with sink.open(f"{{{_NS}}}root", {}, {None: _NS}), \
                sink.open(f"{{{_NS}}}inner", {}, {"x": "urn:x-test:other"}):
            pass

    for run in (document_bytes, document_tree):
        with pytest.raises(ValueError):
            run(body)
