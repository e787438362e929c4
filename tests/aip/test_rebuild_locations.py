"""Catalog rebuild of a location whose surroundings of the AIPs are damaged: the fonds registry,
the events written beside an AIP, stray top-level objects, and a location that cannot be listed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aip.ingest import IngestResult, ingest
from aip.rebuild import RebuildResult, rebuild_catalog
from preservation.catalog import Catalog
from preservation.errors import PreservationError
from preservation.findings import Finding
from preservation.fonds import make_fonds, register_fonds
from preservation.repository import Repository
from preservation.storage import open_locations
from sip.samples import make_sample_transfer
from tests.aip.stored_aips import looping_link, unlistable_tree
from tests.helpers import TEST_FONDS, add_test_fonds, location_root


def ingested(repo: Repository, tmp_path: Path, *, fonds_on_storage: bool = True) -> str:
    """The sample transfer ingested; its fonds registered on storage (else in the catalog
    only, as an archive that predates the fonds registry on storage)."""
    if fonds_on_storage:
        with open_locations(repo.config) as backends:
            register_fonds(repo.catalog, backends, make_fonds(TEST_FONDS, "Phông thử nghiệm"))
    else:
        add_test_fonds(repo.catalog)
    result: IngestResult = ingest(repo.config, make_sample_transfer(tmp_path / "transfer"),
                                  identity=repo.identity(), catalog=repo.catalog,
                                  fonds=TEST_FONDS)
    return result.aip_id


def rebuild(repo: Repository, tmp_path: Path) -> RebuildResult:
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        return rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())


def located(result: RebuildResult) -> set[tuple[str, str]]:
    return {(f.code, str(f.location)) for f in result.report.findings}


def url(repo: Repository, index: int) -> str:
    with open_locations(repo.config) as backends:
        return backends[index].describe()


def found(result: RebuildResult, code: str, where: str) -> Finding:
    """The one finding ``code`` at ``where``."""
    [finding] = [f for f in result.report.findings
                 if f.code == code and str(f.location) == where]
    return finding


def test_a_fonds_missing_from_the_registry_on_storage(repo: Repository,
                                                      tmp_path: Path) -> None:
    aip_id = ingested(repo, tmp_path, fonds_on_storage=False)
    result = rebuild(repo, tmp_path)
    assert result.registered == [aip_id]
    [finding] = [f for f in result.report.findings if f.code == "REBUILD-FONDS-UNKNOWN"]
    assert str(finding.location) == aip_id and finding.params["fonds"] == TEST_FONDS


def test_a_fonds_registry_that_cannot_be_listed_is_not_checked(repo: Repository,
                                                               tmp_path: Path) -> None:
    """copy1's fonds/ became a link to itself; copy2's registry is still read."""
    aip_id = ingested(repo, tmp_path)
    looping_link(location_root(repo.config, 0) / "fonds")
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        result = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        assert [f.code for f in rebuilt.fonds_list()] == [TEST_FONDS]
    assert result.registered == [aip_id] and result.fonds == 1
    finding = found(result, "REBUILD-FONDS-NOT-READ", "copy1:fonds/")
    assert (finding.params["location"], finding.params["url"]) == ("copy1", url(repo, 0))
    assert not result.ok  # a check that could not run


def test_a_stray_fonds_object_is_placed_on_its_location(repo: Repository,
                                                       tmp_path: Path) -> None:
    """The fonds reader names an object by key alone; the rebuild says which location."""
    aip_id = ingested(repo, tmp_path)
    stray = location_root(repo.config, 1) / "fonds" / TEST_FONDS / "note.txt"
    stray.write_text("ghi chú\n", encoding="utf-8")
    result = rebuild(repo, tmp_path)
    assert result.registered == [aip_id] and result.fonds == 1
    finding = found(result, "FONDS-RECORD-UNREADABLE", f"copy2:fonds/{TEST_FONDS}/note.txt")
    assert finding.params["store"] == url(repo, 1)
    assert not [f for f in result.report.findings
                if f.code == "FONDS-RECORD-UNREADABLE" and str(f.location).startswith("copy1:")]


def test_an_event_document_that_is_not_one_is_reported_and_skipped(repo: Repository,
                                                                   tmp_path: Path) -> None:
    aip_id = ingested(repo, tmp_path)
    events = location_root(repo.config, 0) / "events" / aip_id
    (events / "9999-garbage.xml").write_bytes(b"<not-an-event/>")
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        result = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        kept = [e.type for e in rebuilt.events(aip_id)]
    assert result.registered == [aip_id]
    assert "replication" in kept  # the other documents were read
    finding = found(result, "REBUILD-EVENTS-NOT-READ", f"copy1:events/{aip_id}/9999-garbage.xml")
    assert (finding.params["location"], finding.params["url"]) == ("copy1", url(repo, 0))
    assert finding.params["aip"] == aip_id


def test_events_that_cannot_be_listed_are_not_checked(repo: Repository, tmp_path: Path) -> None:
    aip_id = ingested(repo, tmp_path)
    looping_link(location_root(repo.config, 0) / "events" / aip_id)
    result = rebuild(repo, tmp_path)
    assert result.registered == [aip_id]
    finding = found(result, "REBUILD-EVENTS-NOT-READ", f"copy1:events/{aip_id}/")
    assert (finding.params["location"], finding.params["url"]) == ("copy1", url(repo, 0))


def test_events_left_behind_by_an_aip_that_is_gone(repo: Repository, tmp_path: Path) -> None:
    aip_id = ingested(repo, tmp_path)
    for index in (0, 1):
        shutil.rmtree(location_root(repo.config, index) / aip_id)
    result = rebuild(repo, tmp_path)
    assert result.registered == [] and result.skipped == []
    assert ("REBUILD-EVENTS-WITHOUT-AIP", f"events/{aip_id}/") in located(result)


def test_objects_that_are_neither_aips_events_nor_fonds(repo: Repository,
                                                       tmp_path: Path) -> None:
    aip_id = ingested(repo, tmp_path)
    notes = location_root(repo.config, 1) / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("ghi chú của người vận hành\n", encoding="utf-8")
    result = rebuild(repo, tmp_path)
    assert result.registered == [aip_id]
    [finding] = [f for f in result.report.findings if f.code == "REBUILD-UNKNOWN-OBJECTS"]
    assert str(finding.location) == "copy2:notes" and finding.params["name"] == "notes"


def test_a_location_that_cannot_be_listed_stops_the_rebuild(repo: Repository,
                                                            tmp_path: Path) -> None:
    """What copy1 holds would be missing from the catalog: nothing is rebuilt."""
    ingested(repo, tmp_path)
    unlistable_tree(location_root(repo.config, 0) / "lost+found")
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        with pytest.raises(PreservationError) as caught:
            rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        assert rebuilt.is_empty()
    assert (caught.value.code, caught.value.location) == ("REBUILD-LOCATION-UNREADABLE",
                                                          "copy1")
