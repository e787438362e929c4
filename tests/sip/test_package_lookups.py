"""PackageTree.listed_or_same, size_and_digest and hashed: the one-lookup answers agree with the
lookups they replace, in memory and with the listing and digests past KEEP (on disk)."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import pytest

from sip import bagit_tree
from sip.package import PackageTree

NFC = unicodedata.normalize("NFC", "caf\u00e9.txt")
NFD = unicodedata.normalize("NFD", NFC)
BOTH_NFC = unicodedata.normalize("NFC", "r\u00e9sum\u00e9.txt")
BOTH_NFD = unicodedata.normalize("NFD", BOTH_NFC)


def _tree(root: Path, keep: int, monkeypatch: pytest.MonkeyPatch) -> PackageTree:
    monkeypatch.setattr(bagit_tree, "KEEP", keep)
    files = {"a.txt": b"a", "d/b.txt": b"bb", NFD: b"nfd", BOTH_NFC: b"nfc", BOTH_NFD: b"nfd2"}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    tree = PackageTree(root)
    if keep == 1 and {NFD, BOTH_NFD} & set(tree.files):  # the file system kept NFD names
        assert not isinstance(tree.files, dict)
    return tree


@pytest.mark.parametrize("keep", [1, 10_000])
def test_listed_or_same_is_find_nfc_or_the_path(
        tmp_path: Path, keep: int, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = _tree(tmp_path, keep, monkeypatch)
    asked = ["a.txt", "d/b.txt", "missing.txt", "d", "", NFC, NFD, BOTH_NFC, BOTH_NFD,
             unicodedata.normalize("NFD", "na\u00efve.txt"), "A.TXT", *tree.files]
    for rel in asked:
        assert tree.listed_or_same(rel) == (tree.find_nfc(rel) or rel), rel
    if NFD in tree.files:  # an href in NFC names the listed NFD file
        assert tree.listed_or_same(NFC) == NFD


@pytest.mark.parametrize("keep", [1, 10_000])
def test_size_and_digest_match_size_and_digest(
        tmp_path: Path, keep: int, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = _tree(tmp_path, keep, monkeypatch)
    assert tree.size_and_digest("a.txt", "md5") == (1, hashlib.md5(b"a").hexdigest())  # hashes
    tree.hash_all()
    for rel in [*tree.files, "missing.txt", "d"]:
        for algorithm in ("sha256", "md5", "sha1"):
            assert tree.size_and_digest(rel, algorithm) == (tree.size(rel),
                                                            tree.digest(rel, algorithm))
    assert tree.size_and_digest("d/b.txt") == (2, hashlib.sha256(b"bb").hexdigest())
    assert tree.size_and_digest("missing.txt") == (None, None)
    hashed = tree.hashed("d/b.txt", "sha512")  # a new algorithm joins the known digests
    assert hashed is not None
    assert set(hashed.digests) == {"sha256", "md5", "sha1", "sha512"}
    assert tree.hashed("missing.txt") is None


@pytest.mark.parametrize("keep", [1, 10_000])
def test_an_unreadable_file_has_a_size_and_no_digest(
        tmp_path: Path, keep: int, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = _tree(tmp_path, keep, monkeypatch)
    (tmp_path / "a.txt").write_bytes(b"changed since the listing")
    assert tree.size_and_digest("a.txt") == (1, None)
    assert tree.digest("a.txt") is None
    hashed = tree.hashed("a.txt", "md5")  # known as changed: not hashed again
    assert hashed is not None and hashed.changed and not hashed.digests
