"""PackageTree.only_child and seed_digests: what sip.validate needs of a wrapped package,
without a set of every name of a flat folder or a write per file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sip import bagit_tree
from sip.package import PackageTree


def _tree(root: Path, files: dict[str, bytes], keep: int, monkeypatch: pytest.MonkeyPatch
          ) -> PackageTree:
    monkeypatch.setattr(bagit_tree, "KEEP", keep)
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return PackageTree(root)


@pytest.mark.parametrize("keep", [1, 10_000])
def test_only_child_names_the_single_entry_of_a_folder(
        tmp_path: Path, keep: int, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    tree = _tree(tmp_path, {"data/pkg/METS.xml": b"<m/>", "data/pkg/a/b.txt": b"b",
                            "flat/x.txt": b"x", "flat/y.txt": b"y", "one/f.txt": b"f"},
                 keep, monkeypatch)
    assert tree.only_child("data") == "pkg"  # a folder with many files below it
    assert tree.only_child("one") == "f.txt"  # a file
    assert tree.only_child("flat") is None  # several
    assert tree.only_child("empty") is None and tree.only_child("absent") is None
    assert tree.children("flat") == ["x.txt", "y.txt"]


@pytest.mark.parametrize("keep", [1, 10_000])
def test_seed_digests_records_listed_files_and_skips_the_rest(
        tmp_path: Path, keep: int, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"d/{i}.txt": f"file {i}".encode() for i in range(5)}
    tree = _tree(tmp_path, files, keep, monkeypatch)
    told = {rel: hashlib.sha256(b"told " + rel.encode()).hexdigest() for rel in files}
    tree.seed_digests([(rel, "sha256", d) for rel, d in told.items()]
                      + [("d/not-there.txt", "sha256", "0" * 64)])
    # the seeded digest is taken as computed: the file is not read again
    assert {rel: tree.digest(rel) for rel in files} == told
    assert tree.digest("d/not-there.txt") is None
    with pytest.raises(KeyError):
        tree.seed_digest("d/not-there.txt", "sha256", "0" * 64)


@pytest.mark.parametrize("keep", [1, 10_000])
def test_seed_digests_keeps_every_algorithm_given_for_a_path(
        tmp_path: Path, keep: int, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = _tree(tmp_path, {"a.txt": b"a", "b.txt": b"b"}, keep, monkeypatch)
    sha, md5 = "1" * 64, "2" * 32
    tree.seed_digests([("a.txt", "sha256", sha), ("a.txt", "md5", md5)])
    assert tree.digest("a.txt") == sha and tree.digest("a.txt", "md5") == md5
