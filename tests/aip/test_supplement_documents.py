"""A supplement of a TT05 AIP carries every earlier document with its record and ALL its data
files: a document with several files, one whose names were not portable and one whose names were
not free (both given sequence names), tied in the new rep1 METS exactly as the previous version's
METS ties them — never left as unlinked files."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from aip.builder import Actors, BuiltAip, build_aip
from aip.ingest import ingest
from aip.tt05_aip_plan import PreviousTt05, _free_sequence_names, _Names
from aip.versions import SUPPLEMENT, VersionRequest, previous_documents, previous_version
from preservation.errors import RejectedError
from preservation.findings import Report
from preservation.repository import Repository
from preservation.storage.locations import open_locations
from preservation.timeutil import now_local
from preservation.xmlsafe import parse_file, validate
from sip.samples import minimal_pdf
from sip.tt05_model import PackageKind, Tt05Package
from sip.tt05_writer import write_tt05_sip
from sip.validate import open_sip
from tests.helpers import add_test_fonds, location_root
from tests.sip import tt05_fixtures as fx

M = "http://www.loc.gov/METS/"
NS = {"m": M, "xlink": "http://www.w3.org/1999/xlink"}
HREF = "{http://www.w3.org/1999/xlink}href"
REP = "representations/rep1"


def _add_data_file(pkg: Path, n: int, name: str, data: bytes) -> None:
    """Give document ``n`` one more data file (a file in the Data group and an fptr)."""
    fx.add_file(pkg, f"{fx.DATA}/{name}", data)

    def change(root: etree._Element) -> None:
        group = fx.one(root, "//m:fileGrp[@USE='Data']")
        model = fx.one(group, "m:file")
        file_id = "ID-" + str(uuid.uuid5(uuid.NAMESPACE_URL, name)).upper()
        element = etree.SubElement(group, f"{{{M}}}file", ID=file_id)
        for attribute in ("MIMETYPE", "SIZE", "CREATED", "CHECKSUM", "CHECKSUMTYPE"):
            element.set(attribute, model.get(attribute, ""))
        locator = etree.SubElement(element, f"{{{M}}}FLocat", LOCTYPE="URL")
        locator.set(f"{{{NS['xlink']}}}type", "simple")
        locator.set(HREF, f"data/{name}")
        href = f"metadata/descriptive/EAD_DOC_{fx.doc_id(n)}.xml"
        dmd = fx.one(root, f"//m:dmdSec[m:mdRef/@xlink:href='{href}']").get("ID")
        link = fx.one(root, f"//m:div[@LABEL='MetadataLink/File'][@DMDID='{dmd}']")
        etree.SubElement(link, f"{{{M}}}fptr", FILEID=file_id)
    fx.edit_xml(pkg, fx.REP_METS, change)


def _rename_data_file(pkg: Path, n: int, name: str) -> None:
    old = fx.data(n)
    (pkg / old).rename(pkg / f"{fx.DATA}/{name}")
    fx.edit_text(pkg, fx.REP_METS, f"data/{fx.doc_id(n)}.pdf", f"data/{name}")


def version_one_sip(tmp_path: Path) -> Path:
    """fixtures.dossier's three documents, changed so that in the AIP:

    - document 1 keeps its names and has two data files (``<docId>.pdf``, ``thua.pdf``);
    - document 2 has two files with names that are not portable: sequence names
      ``000002.pdf`` and ``000002_1.pdf``;
    - document 3's file is named ``000002.pdf``, which document 2 took first: its names are not
      free, so it gets the sequence name ``000003``.
    """
    pkg = fx.build(tmp_path / "v1")
    _add_data_file(pkg, 1, "thua.pdf", minimal_pdf("Phu luc cua van ban 1"))
    _rename_data_file(pkg, 2, "Tờ trình số 2.pdf")
    _add_data_file(pkg, 2, "Phụ lục số 2.pdf", minimal_pdf("Phu luc cua van ban 2"))
    _rename_data_file(pkg, 3, "000002.pdf")
    return pkg


def supplement_sip(tmp_path: Path, number: int = 7) -> Path:
    (tmp_path / "sources").mkdir(parents=True)
    base = fx.dossier(tmp_path / "sources")
    new = fx._document(tmp_path / "sources", number, PackageKind.HOSO, "01")
    package = Tt05Package(PackageKind.HOSO, {**base.fields, "totalDoc": "1"}, (new,),
                          fonds_code=fx.FONDS, agency=base.agency)
    return write_tt05_sip(package, tmp_path / "out", created=fx.CREATED)


@pytest.fixture
def v1(repo: Repository, tmp_path: Path) -> str:
    add_test_fonds(repo.catalog, fx.FONDS)
    sip = version_one_sip(tmp_path)
    with open_sip(sip, tmp_path / "check") as sub:
        assert sub.valid, [(f.code, str(f.location)) for f in sub.report.errors]
    return ingest(repo.config, sip, identity=repo.identity(), catalog=repo.catalog).aip_id


def _ties(rep: etree._Element) -> dict[str, set[str]]:
    """record href → data hrefs of each MetadataLink/File div of a rep1 METS."""
    records = {d.get("ID"): d.find("m:mdRef", NS).get(HREF, "")  # type: ignore[union-attr]
               for d in rep.iterfind("m:dmdSec", NS)}
    files = {f.get("ID"): f.find("m:FLocat", NS).get(HREF, "")  # type: ignore[union-attr]
             for f in rep.iterfind(".//m:fileSec//m:file", NS)}
    return {records[div.get("DMDID")]: {files[p.get("FILEID")] for p in div.iterfind("m:fptr", NS)}
            for div in rep.iterfind(".//m:div[@LABEL='MetadataLink/File']", NS)}


def _data_hrefs(rep: etree._Element) -> set[str]:
    return {f.find("m:FLocat", NS).get(HREF, "")  # type: ignore[union-attr]
            for f in rep.iterfind(".//m:fileSec//m:file", NS)
            if f.find("m:FLocat", NS).get(HREF, "").startswith("data/")}  # type: ignore[union-attr]


def _build(repo: Repository, sub_path: Path, tmp_path: Path,
           previous: Callable[[], object]) -> BuiltAip:
    staging = tmp_path / "staging"
    staging.mkdir()
    with open_sip(sub_path, tmp_path / "work2") as sub:
        assert sub.valid, [(f.code, str(f.location)) for f in sub.report.errors]
        return build_aip(sub, aip_uuid=str(uuid.uuid4()), staging=staging,
                         identity=repo.identity(), actors=Actors("Lưu trữ (test)", "archivist"),
                         created=now_local(), fonds_code=fx.FONDS,
                         previous=previous(), archivist="Nguyễn Văn A")  # type: ignore[arg-type]


def test_version_one_names_are_as_intended(repo: Repository, v1: str) -> None:
    rep = parse_file(location_root(repo.config, 0) / v1 / "data" / REP / "METS.xml").getroot()
    assert _ties(rep) == {
        f"metadata/descriptive/EAD_DOC_{fx.doc_id(1)}.xml": {f"data/{fx.doc_id(1)}.pdf",
                                                            "data/thua.pdf"},
        "metadata/descriptive/EAD_DOC_000002.xml": {"data/000002.pdf", "data/000002_1.pdf"},
        "metadata/descriptive/EAD_DOC_000003.xml": {"data/000003.pdf"}}


def test_the_previous_mets_gives_every_document_all_its_files(repo: Repository, v1: str,
                                                              tmp_path: Path) -> None:
    previous, _ = previous_version(repo.catalog, VersionRequest(SUPPLEMENT, v1), repo.config)
    assert isinstance(previous, PreviousTt05)
    v1_rep = parse_file(location_root(repo.config, 0) / v1 / "data" / REP / "METS.xml").getroot()
    assert {r: set(d) for r, d in previous.documents} == {
        f"data/{REP}/{record}": {f"data/{REP}/{f}" for f in files}
        for record, files in _ties(v1_rep).items()}

    built = _build(repo, supplement_sip(tmp_path), tmp_path, lambda: previous)
    rep = parse_file(built.staging / "data" / REP / "METS.xml").getroot()
    assert validate(rep, "mets") == []
    ties = _ties(rep)
    for record, files in _ties(v1_rep).items():  # every v1 document, every one of its files
        assert ties[record] == files
    assert len(ties) == 4  # and the new document
    linked = set().union(*ties.values())
    assert _data_hrefs(rep) == linked  # no unlinked data file


def test_without_the_mets_sequence_names_still_tie(repo: Repository, v1: str,
                                                   tmp_path: Path) -> None:
    """The by-name fallback (no configuration given): sequence-named documents keep all their
    files; only a kept-name document's extra file (its own name) cannot be told by name."""
    previous, _ = previous_version(repo.catalog, VersionRequest(SUPPLEMENT, v1))
    assert not isinstance(previous, PreviousTt05)
    built = _build(repo, supplement_sip(tmp_path), tmp_path, lambda: previous)
    ties = _ties(parse_file(built.staging / "data" / REP / "METS.xml").getroot())
    assert ties["metadata/descriptive/EAD_DOC_000002.xml"] == {"data/000002.pdf",
                                                               "data/000002_1.pdf"}
    assert ties["metadata/descriptive/EAD_DOC_000003.xml"] == {"data/000003.pdf"}
    assert ties[f"metadata/descriptive/EAD_DOC_{fx.doc_id(1)}.xml"] == {
        f"data/{fx.doc_id(1)}.pdf"}


def test_an_unreadable_previous_mets_refuses_the_supplement(repo: Repository, v1: str) -> None:
    for index in range(len(repo.config.storage)):
        mets = location_root(repo.config, index) / v1 / "data" / REP / "METS.xml"
        mets.parent.chmod(0o755)
        mets.write_bytes(b"<not-xml")
    with pytest.raises(RejectedError) as caught:
        previous_version(repo.catalog, VersionRequest(SUPPLEMENT, v1), repo.config)
    assert caught.value.code == "INGEST-PREVIOUS-METS-UNREADABLE"
    report = caught.value.report
    assert isinstance(report, Report)
    assert [f.code for f in report.findings] == ["INGEST-PREVIOUS-METS-UNREADABLE"]


def test_the_mets_is_read_from_the_next_location_when_one_fails(repo: Repository,
                                                                 v1: str) -> None:
    mets = location_root(repo.config, 0) / v1 / "data" / REP / "METS.xml"
    mets.parent.chmod(0o755)
    mets.unlink()
    previous, _ = previous_version(repo.catalog, VersionRequest(SUPPLEMENT, v1))
    with open_locations(repo.config) as backends:
        documents = previous_documents(backends, previous)
    assert len(documents) == 3 and all(files for _, files in documents)


def test_a_replacement_needs_no_mets(repo: Repository, v1: str) -> None:
    previous, _ = previous_version(repo.catalog, VersionRequest("replace", v1), repo.config)
    assert not isinstance(previous, PreviousTt05)


def test_a_document_with_two_stubs_gets_two_sequence_names() -> None:
    """Two ``.fetch.txt`` stubs of one document once got the same sequence name, and the search
    for a free name never ended."""
    record, data = _free_sequence_names(
        _Names(), 4, ["representations/rep1/data/a b.pdf.fetch.txt",
                      "representations/rep1/data/c d.pdf.fetch.txt"], "EAD_DOC_x.xml")
    assert record.endswith("EAD_DOC_000004.xml")
    assert [p.rsplit("/", 1)[1] for p in data] == ["000004.fetch.txt", "000004_1.fetch.txt"]


def test_a_tampered_first_copy_that_still_parses_is_not_believed(repo: Repository,
                                                                 v1: str) -> None:
    """The first copy's METS ties document 3's record to document 2's file and still parses:
    its bytes are not the recorded ones, so the second copy's ties are used."""
    mets = location_root(repo.config, 0) / v1 / "data" / REP / "METS.xml"
    mets.parent.chmod(0o755)
    text = mets.read_bytes()
    assert b'"data/000003.pdf"' in text
    mets.write_bytes(text.replace(b'"data/000003.pdf"', b'"data/000002.pdf"'))
    parse_file(mets)  # still well-formed XML
    previous, _ = previous_version(repo.catalog, VersionRequest(SUPPLEMENT, v1))
    with open_locations(repo.config) as backends:
        documents = dict(previous_documents(backends, previous))
        assert previous_documents(backends[1:], previous) == tuple(documents.items())
    assert documents[f"data/{REP}/metadata/descriptive/EAD_DOC_000003.xml"] == (
        f"data/{REP}/data/000003.pdf",)


def test_a_previous_mets_over_the_size_cap_is_refused(repo: Repository, v1: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The METS is read through the hardened XML reader and its byte cap (XML-TOO-LARGE on
    every copy: the supplement is refused, never parsed without a limit)."""
    import preservation.xmlsafe as xmlsafe

    monkeypatch.setattr(xmlsafe, "DEFAULT_MAX_BYTES", 1000)
    with pytest.raises(RejectedError) as caught:
        previous_version(repo.catalog, VersionRequest(SUPPLEMENT, v1), repo.config)
    assert caught.value.code == "INGEST-PREVIOUS-METS-UNREADABLE"


def test_a_supplement_of_a_supplement_keeps_every_document_with_all_its_files(
        repo: Repository, v1: str, tmp_path: Path) -> None:
    """Version 3 (a supplement of the supplement) carries every version 2 document, each with
    all its data files, and leaves no data file unlinked."""
    v2 = ingest(repo.config, supplement_sip(tmp_path / "s2"), identity=repo.identity(),
                catalog=repo.catalog, supplement=v1).aip_id
    v2_rep = parse_file(location_root(repo.config, 0) / v2 / "data" / REP / "METS.xml"
                        ).getroot()
    v2_ties = _ties(v2_rep)
    assert len(v2_ties) == 4 and _data_hrefs(v2_rep) == set().union(*v2_ties.values())
    previous, _ = previous_version(repo.catalog, VersionRequest(SUPPLEMENT, v2), repo.config)
    assert isinstance(previous, PreviousTt05) and previous.version == 2
    built = _build(repo, supplement_sip(tmp_path / "s3", 8), tmp_path, lambda: previous)
    rep = parse_file(built.staging / "data" / REP / "METS.xml").getroot()
    assert validate(rep, "mets") == []
    ties = _ties(rep)
    for record, files in v2_ties.items():
        assert ties[record] == files
    assert len(ties) == 5
    assert _data_hrefs(rep) == set().union(*ties.values())  # no unlinked data file
