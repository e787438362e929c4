"""A repository home: ``init_repository`` lays it out so that every later command can open it."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from preservation.audit import audit
from preservation.repository import Repository, init_repository
from preservation.storage import open_location


def test_a_home_whose_path_has_spaces_and_vietnamese_letters_works(tmp_path: Path) -> None:
    """The storage URLs are percent-encoded; the folders must be made from the decoded path."""
    home = tmp_path / "lưu trữ quốc gia"
    init_repository(home, name="Lưu trữ quốc gia (test)")
    assert (home / "storage" / "copy1").is_dir() and (home / "storage" / "copy2").is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["lưu trữ quốc gia"]  # nothing encoded
    data = "Tài liệu lưu trữ".encode()
    digest = hashlib.sha256(data).hexdigest()
    with Repository.open(home) as repo:
        for loc in repo.config.storage:
            backend = open_location(loc.url, **loc.options)
            try:
                backend.put("probe/object.txt", io.BytesIO(data), size=len(data), sha256=digest)
                with backend.open("probe/object.txt") as stream:
                    assert stream.read() == data
            finally:
                backend.close()
        assert (home / "storage" / "copy2" / "probe" / "object.txt").read_bytes() == data
        assert audit(repo.config, repo.catalog, None, repo.trust_anchors()) == []


def test_given_file_locations_are_decoded_too(tmp_path: Path) -> None:
    first, second = tmp_path / "bản lưu 1", tmp_path / "bản lưu 2"
    init_repository(tmp_path / "home", name="Archive",
                    locations=[first.as_uri(), second.as_uri()])
    assert first.is_dir() and second.is_dir()
    with Repository.open(tmp_path / "home") as repo:
        for loc in repo.config.storage:
            open_location(loc.url, **loc.options).close()
