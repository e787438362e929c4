"""store_copy refuses an AIP it cannot store whole, and stores nothing of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aip.ingest_replicate import OwnObjects, store_copy
from aip.ingest_resuming import ResumingBackend
from aip.ingest_staging import new_staging
from aip.tt05_aip_bag import StagedObject
from preservation.storage import open_location

BUILT: Any = SimpleNamespace(uuid="0b0e2f1c-7d6a-4f5e-9c1b-2a3d4e5f6a7b")


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[ResumingBackend]:
    staging = new_staging(tmp_path / "staging")
    (tmp_path / "store").mkdir()
    inner = open_location((tmp_path / "store").as_uri())
    try:
        yield ResumingBackend(inner, staging, "one")
    finally:
        inner.close()
        staging.release()


def test_an_aip_without_objects_of_its_own_is_refused(backend: ResumingBackend,
                                                      tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="has no object of its own to store"):
        store_copy(BUILT, backend, "one", lambda *args: None, OwnObjects.of([]))
    assert list((tmp_path / "store").iterdir()) == []


def test_an_object_without_bytes_or_a_stored_key_is_refused(backend: ResumingBackend,
                                                            tmp_path: Path) -> None:
    lost = StagedObject("data/METS.xml", None, 3, "0" * 64, "metadata")
    with pytest.raises(ValueError,
                       match=re.escape("data/METS.xml has neither bytes to store")):
        store_copy(BUILT, backend, "one", lambda *args: None, OwnObjects.of([lost]))
    assert list((tmp_path / "store").iterdir()) == []
