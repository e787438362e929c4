"""Export refusals: an AIP that cannot be written as a TT05 SIP is refused with a code and the
place in the AIP that makes it impossible, and nothing is written for it.

Our own ingest never stores such an AIP (it renames unsafe content names, requires a file code
and ties one file to each document), so these bags are a TT05 AIP of this archive read back from
storage and then changed as an AIP of another build or another system could be — the way
tests/aip/test_export.py hands an edited bag to :func:`aip.export_sip.write_sip`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from aip.export import export_aips, sip_objid
from aip.export_sip import EAD, ExportedSip, ExportError, write_sip
from preservation.errors import UsageError
from preservation.repository import Repository
from preservation.timeutil import now_local
from sip.tt05_model import PackageKind
from tests.aip.stored_aips import ingest_tt05
from tests.helpers import location_root
from tests.sip import tt05_fixtures as fixtures

KIND = PackageKind.TAILIEU
DATA = fixtures.DATA  # representations/rep1/data
FIRST, SECOND = (fixtures.data(n, KIND) for n in (1, 2))  # DATA/TL.2024.01.00n.pdf


class Bag:
    """A copy of a stored TT05 AIP (a SIP_tailieu of two documents) to change and export."""

    def __init__(self, repo: Repository, tmp_path: Path) -> None:
        self.aip_id = ingest_tt05(repo, tmp_path / "ingest", "batch")
        self.root = tmp_path / "bag"
        shutil.copytree(location_root(repo.config, 0) / self.aip_id, self.root)
        self.data = self.root / "data"
        self.content = {f.original_name: self.root / f.path
                        for f in repo.catalog.files(self.aip_id)
                        if f.role == "content" and f.original_name}
        self.out = tmp_path / "sip"

    def drop_original_records(self) -> None:
        """Forget the producer's records kept in the AIP: the export regenerates them."""
        shutil.rmtree(self.data / "submission")

    def edit(self, rel: str, change: Callable[[etree._Element], object]) -> None:
        fixtures.edit_xml(self.data, rel, change, sync=False)

    def export(self) -> ExportedSip:
        return write_sip(self.root, self.content, self.out, objid=sip_objid(self.aip_id),
                         archive_code="", fonds_code=fixtures.FONDS, organisation="Lưu trữ",
                         created=now_local())


@pytest.fixture
def bag(repo: Repository, tmp_path: Path) -> Bag:
    return Bag(repo, tmp_path)


def refused(bag: Bag) -> ExportError:
    with pytest.raises(ExportError) as caught:
        bag.export()
    assert not bag.out.exists() or not any(bag.out.iterdir())
    return caught.value


def test_the_unchanged_bag_exports(bag: Bag) -> None:
    """The baseline every refusal below changes one thing of."""
    sip = bag.export()
    assert len(sip.documents) == 2 and sip.file_code


def test_an_export_of_no_aip_is_a_usage_error(repo: Repository, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(UsageError) as caught:
        export_aips(repo.config, repo.catalog, [], out, repo.trust_anchors())
    assert caught.value.code == "EXPORT-NOTHING"
    assert not out.exists()


def test_a_package_record_without_any_file_code(bag: Bag) -> None:
    bag.drop_original_records()
    bag.edit(EAD, lambda root: root.remove(fixtures.one(root, "arcFileCode")))
    error = refused(bag)
    assert (error.code, error.location) == ("EXPORT-NO-FILE-CODE", EAD)


def test_a_document_tied_to_two_data_files(bag: Bag) -> None:
    """The second document's file is tied to the first document too."""
    def tie_twice(root: etree._Element) -> None:
        first, second = fixtures.link_divs(root)
        [fptr] = list(second)
        first.append(etree.fromstring(etree.tostring(fptr)))

    bag.edit(fixtures.REP_METS, tie_twice)
    error = refused(bag)
    assert (error.code, error.location) == ("EXPORT-DOCUMENT-FILES",
                                            fixtures.record(1, KIND))


def test_a_document_tied_to_no_data_file(bag: Bag) -> None:
    def untie_second(root: etree._Element) -> None:
        second = fixtures.link_divs(root)[1]
        for fptr in list(second):
            second.remove(fptr)

    bag.edit(fixtures.REP_METS, untie_second)
    error = refused(bag)
    assert (error.code, error.location) == ("EXPORT-DOCUMENT-FILES",
                                            fixtures.record(2, KIND))


def test_a_document_whose_content_is_not_in_the_aip(bag: Bag) -> None:
    (bag.data / FIRST).unlink()
    del bag.content[name(FIRST)]
    error = refused(bag)
    assert (error.code, error.location) == ("EXPORT-CONTENT-MISSING", FIRST)


def rename_data_file(bag: Bag, old: str, new: str) -> None:
    """Rename a content file of the bag and its reference in the representation's METS."""
    (bag.data / old).rename(bag.data / DATA / new)
    bag.edit(fixtures.REP_METS, lambda root: fixtures.one(
        root, f"//m:FLocat[@xlink:href='data/{name(old)}']").set(
        f"{{{fixtures.XLINK}}}href", f"data/{new}"))


def name(rel: str) -> str:
    return rel.rsplit("/", 1)[1]


def test_a_content_name_that_cannot_be_a_file_name(bag: Bag) -> None:
    """A name that a shell would expand to a home folder."""
    bag.drop_original_records()
    rename_data_file(bag, FIRST, "~TL.pdf")
    error = refused(bag)
    assert (error.code, error.location) == ("EXPORT-UNSAFE-PATH", "~TL.pdf")


def test_two_documents_whose_files_differ_only_in_case(bag: Bag) -> None:
    bag.drop_original_records()
    rename_data_file(bag, SECOND, name(FIRST).upper())
    error = refused(bag)
    assert (error.code, error.location) == ("EXPORT-UNSAFE-PATH", name(FIRST).upper())
