"""`ingest --supplement/--replace` end to end: a version of another kind is refused before
anything is written, and a TT05 supplement ties every carried record to all its data files in the
METS it stores (aip/ingest.py calls aip.versions.refuse_mixed_kinds and passes the configuration
to aip.versions.previous_version)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aip.ingest import ingest
from preservation.errors import RejectedError
from preservation.repository import Repository
from preservation.xmlsafe import parse_file
from sip.samples import minimal_pdf
from tests.aip.test_supplement_documents import (
    REP,
    _data_hrefs,
    _ties,
    supplement_sip,
    version_one_sip,
)
from tests.aip.test_versions import make_bag
from tests.helpers import add_test_fonds, location_root
from tests.sip import tt05_fixtures as fx


def _stored(repo: Repository) -> list[set[str]]:
    return [{p.name for p in location_root(repo.config, i).iterdir()}
            for i in range(len(repo.config.storage))]


@pytest.mark.parametrize("mode", ["supplement", "replace"])
def test_a_bagit_version_of_a_tt05_aip_is_refused_and_nothing_is_written(
        repo: Repository, tmp_path: Path, mode: str) -> None:
    add_test_fonds(repo.catalog, fx.FONDS)
    first = ingest(repo.config, fx.build(tmp_path / "v1"), identity=repo.identity(),
                   catalog=repo.catalog).aip_id
    before_ids, before_storage = repo.catalog.aip_ids(), _stored(repo)
    reports = sorted(repo.config.reports_dir.iterdir())
    bag = make_bag(tmp_path / "v2", {"Phụ lục.pdf": minimal_pdf("Phu luc")})
    with pytest.raises(RejectedError) as caught:
        ingest(repo.config, bag, identity=repo.identity(), catalog=repo.catalog,
               **{mode: first})  # type: ignore[arg-type]
    assert caught.value.code == "INGEST-VERSION-KIND-MISMATCH"
    assert repo.catalog.aip_ids() == before_ids and _stored(repo) == before_storage
    assert sorted(repo.config.reports_dir.iterdir()) == reports
    assert list((repo.config.work_dir / "ingest").iterdir()) == []


def test_an_ingested_supplement_keeps_every_document_whole(repo: Repository,
                                                           tmp_path: Path) -> None:
    add_test_fonds(repo.catalog, fx.FONDS)
    first = ingest(repo.config, version_one_sip(tmp_path / "one"), identity=repo.identity(),
                   catalog=repo.catalog).aip_id
    second = ingest(repo.config, supplement_sip(tmp_path / "two"), identity=repo.identity(),
                    catalog=repo.catalog, supplement=first).aip_id
    root = location_root(repo.config, 0)
    before = _ties(parse_file(root / first / "data" / REP / "METS.xml").getroot())
    rep = parse_file(root / second / "data" / REP / "METS.xml").getroot()
    after = _ties(rep)
    assert {r: after[r] for r in before} == before and len(after) == len(before) + 1
    assert _data_hrefs(rep) == set().union(*after.values())
