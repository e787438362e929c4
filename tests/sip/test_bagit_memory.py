"""BagIt validation keeps flat memory: past ``sip.bagit_tree.KEEP`` files, the listing, the
manifests' lines, the checksums, the digests and the name checks are on disk, and every finding,
payload record and digest is the same, in the same order, as when they all stay in memory."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sip.bagit
import sip.bagit_hash
import sip.bagit_tree
from preservation.diskmap import DiskMap
from preservation.paths import collisions
from sip.bagit import BagCheck, validate_bag
from sip.bagit_flat import Repeats, first_of, flat_collisions, merged_masks
from sip.bagit_hash import JobList, hash_each
from sip.bagit_tree import CHUNK, walk
from sip.package import PackageTree
from tests.sip.bagit_fixtures import BAD, WARN, append_raw, build, make_test_bag

NFC = unicodedata.normalize("NFC", "Tờ trình.txt")
NFD = unicodedata.normalize("NFD", "Tờ trình.txt")


def _small_keep(monkeypatch: pytest.MonkeyPatch, keep: int = 2) -> None:
    monkeypatch.setattr(sip.bagit_tree, "KEEP", keep)
    monkeypatch.setattr(sip.bagit, "KEEP", keep)


def _outcome(check: BagCheck) -> tuple[Any, ...]:
    findings = [(f.code, f.severity, f.location.path, f.location.line, f.message("en"))
                for f in check.report.findings]
    payload = [(p.bag_path, str(p.fs_path), p.size, sorted(p.digests.items()))
               for p in check.payload]
    return findings, payload, check.info, check.version, check.manifest_algorithms


def _both(monkeypatch: pytest.MonkeyPatch, bag: Path, **options: Any
          ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """validate_bag with everything in memory, then with KEEP = 2."""
    in_memory = _outcome(validate_bag(bag, **options))
    with monkeypatch.context() as patch:
        _small_keep(patch)
        on_disk = _outcome(validate_bag(bag, **options))
    return in_memory, on_disk


def test_the_listing_moves_to_disk_past_keep_and_iterates_in_path_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("b.txt", "a/z.txt", "a.txt", "a/b/c.txt", NFC, "Z.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    small = walk(tmp_path)
    assert type(small.files) is dict
    assert list(small.files) == sorted(small.files)
    _small_keep(monkeypatch)
    big = walk(tmp_path)
    assert isinstance(big.files, DiskMap) and big.files.on_disk
    assert list(big.files.items()) == list(small.files.items())
    assert big.files.get("a/b/c.txt") == small.files["a/b/c.txt"]
    assert "a" not in big.files and "a" in big.not_regular()
    assert "nothing" not in big.not_regular()


@pytest.mark.parametrize("code", sorted(BAD) + sorted(WARN))
def test_every_fixture_gives_the_same_outcome_past_keep(
        code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fixture = BAD[code] if code in BAD else WARN[code]
    bag = build(tmp_path, fixture)
    in_memory, on_disk = _both(monkeypatch, bag, compute=("sha256", "md5"))
    assert on_disk == in_memory
    assert code in {finding[0] for finding in on_disk[0]}


def test_names_lines_and_checksums_of_a_bigger_bag_past_keep(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"doc-{n:02}.txt": f"văn bản {n}\n".encode() for n in range(12)}
    files.update({NFC: b"nfc\n", f"x/{NFD}": b"nfd\n", "A.txt": b"upper\n", "a.txt": b"lower\n",
                  "ss.txt": b"ss\n", "SS.txt": b"SS\n"})
    bag = make_test_bag(tmp_path, files)
    data = bag / "data"
    (data / "doc-03.txt").write_bytes(b"changed\n")  # a checksum mismatch
    (data / "doc-04.txt").unlink()  # listed, missing
    (data / "extra.txt").write_bytes(b"unlisted\n")
    manifest = (bag / "manifest-sha256.txt").read_text(encoding="utf-8")
    first = manifest.splitlines()[0]
    # a duplicate line, a case and a normalisation mismatch between manifest and disk
    append_raw(bag, "manifest-sha256.txt", first + "\n")
    append_raw(bag, "manifest-sha256.txt",
               f"{hashlib.sha256(b'nfd').hexdigest()} data/x/{NFC}\n")
    append_raw(bag, "manifest-sha256.txt",
               f"{hashlib.sha256(b'upper').hexdigest()} data/DOC-05.TXT\n")
    in_memory, on_disk = _both(monkeypatch, bag)
    assert on_disk == in_memory
    codes = {finding[0] for finding in on_disk[0]}
    assert codes >= {"BAGIT-MANIFEST-MISMATCH", "BAGIT-MANIFEST-FILE-MISSING",
                     "BAGIT-PAYLOAD-UNLISTED", "BAGIT-MANIFEST-DUPLICATE",
                     "BAGIT-PATH-CASE-COLLISION", "BAGIT-MANIFEST-PATH-CASE",
                     "BAGIT-MANIFEST-PATH-NORMALISATION"}
    assert len(on_disk[1]) == 18


def test_repeats_find_every_repeated_key_past_keep(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [f"k{n}" for n in range(500)] + ["k7", "k300", "k7"]
    for keep in (10_000, 5):  # hash sets, then bitmaps
        monkeypatch.setattr(sip.bagit_tree, "KEEP", keep)
        repeats = Repeats(iter(keys), len(keys))
        assert repeats and "k7" in repeats and "k300" in repeats
        assert not Repeats(iter(keys[:500]), 500) or keep == 5


def test_flat_collisions_and_first_of_agree_with_the_plain_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"data/f{n}.txt" for n in range(300)]
    names += ["data/A.txt", "data/a.txt", f"data/{NFC}", f"data/{NFD}", "data/ß", "data/SS",
              "data/ss", "data/a.txt"]
    pairs = [(unicodedata.normalize("NFC", n).casefold(), n) for n in names]
    expected_first: dict[str, str] = {}
    for key, value in pairs:
        expected_first.setdefault(key, value)
    for keep in (10_000, 3):
        monkeypatch.setattr(sip.bagit_tree, "KEEP", keep)
        assert flat_collisions(lambda: iter(names), len(names)) == collisions(names)
        first = first_of(lambda: iter(pairs), len(pairs))
        assert first.on_disk == (keep == 3)
        assert dict(first.items()) == expected_first
        first.close()


def test_merged_masks_mark_the_sets_holding_each_path() -> None:
    files = ["a", "b", "c", "d"]
    masks = dict(merged_masks(iter(files), [["a", "c"], ["c", "d"], []]))
    assert masks == {"a": 1, "b": 0, "c": 3, "d": 2}


def test_hash_each_hashes_every_job_once_whatever_comes_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = [CHUNK + 1, 5, 2 * CHUNK, 0, 3 * CHUNK, CHUNK]
    for n, size in enumerate(sizes):
        (tmp_path / f"f{n}").write_bytes(bytes([n]) * size)
    listed = list(walk(tmp_path).files.values())
    monkeypatch.setattr(sip.bagit_hash, "BIG_FIRST", 2)  # two of four big files go first
    results = list(hash_each(tmp_path, JobList(listed, frozenset({"sha1"}))))
    assert sorted(index for index, _ in results) == list(range(len(sizes)))
    for index, outcome in results:
        data = (tmp_path / listed[index].rel).read_bytes()
        assert outcome.digests == {"sha1": hashlib.sha1(data).hexdigest()}


def test_a_package_tree_past_keep_answers_as_in_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(6):
        (tmp_path / f"f{n}.txt").write_text(f"file {n}")
    (tmp_path / NFD).write_text("nfd")
    expected = {rel: hashlib.sha256((tmp_path / rel).read_bytes()).hexdigest()
                for rel in os.listdir(tmp_path)}
    _small_keep(monkeypatch)
    tree = PackageTree(tmp_path)
    tree.hash_all()
    assert {rel: tree.digest(rel) for rel in tree.files} == expected
    assert tree.find_nfc(NFC) == NFD
    assert tree.digest("f1.txt", "md5") == hashlib.md5(b"file 1").hexdigest()
    assert tree.digest("f1.txt") == expected["f1.txt"]  # the earlier digest is kept
    tree.seed_digest("f2.txt", "sha1", "0" * 40)
    assert tree.digest("f2.txt", "sha1") == "0" * 40


def test_a_forked_worker_reads_a_listing_on_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(5):
        (tmp_path / f"f{n}").write_text(str(n))
    _small_keep(monkeypatch)
    tree = walk(tmp_path)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: read the parent's map, report its sizes
        try:
            os.write(write, ",".join(str(f.size) for f in tree.files.values()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        sizes = pipe.read().decode()
    os.waitpid(pid, 0)
    assert sizes == "1,1,1,1,1"
    assert len(tree.files) == 5


def test_report_of_a_bag_past_keep_is_unchanged_when_listed_by_the_caller(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bag = make_test_bag(tmp_path, {f"d{n}.txt": b"x" * n for n in range(8)})
    reference = _outcome(validate_bag(bag))
    _small_keep(monkeypatch)
    tree = walk(bag)
    assert isinstance(tree.files, DiskMap) and tree.files.on_disk
    assert _outcome(validate_bag(bag, tree=tree)) == reference


@pytest.mark.parametrize("keep", [2, 10_000])
def test_a_folder_that_fails_part_way_leaves_nothing_of_it_in_the_listing(
        tmp_path: Path, keep: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.scandir raising in the middle of a folder: the entries already recorded for it are
    removed, also from a batch already written to the listing, and the folder is unreadable."""
    import os as os_module

    from sip import bagit_tree

    root = tmp_path / "bag"
    (root / "data" / "bad" / "sub").mkdir(parents=True)
    (root / "data" / "good").mkdir()
    for i in range(6):
        (root / "data" / "bad" / f"{i}.txt").write_bytes(b"x")
        (root / "data" / "good" / f"{i}.txt").write_bytes(b"y")
    (root / "data" / "bad" / "sub" / "deep.txt").write_bytes(b"z")
    monkeypatch.setattr(bagit_tree, "KEEP", keep)
    monkeypatch.setattr(bagit_tree, "WRITE_BATCH", 2)
    real = os_module.scandir

    class Failing:
        def __init__(self, path: str) -> None:
            self._it = real(path)

        def __enter__(self) -> Failing:
            return self

        def __exit__(self, *exc: object) -> None:
            self._it.close()

        def __iter__(self) -> Iterator[os_module.DirEntry[str]]:
            for n, entry in enumerate(sorted(self._it, key=lambda e: e.name)):
                if n == 5:
                    raise PermissionError(13, "Permission denied")
                yield entry

    def scandir(path: int | str | os_module.PathLike[str]) -> object:
        if isinstance(path, int):  # shutil.rmtree lists by descriptor
            return real(path)
        text = os_module.fspath(path)
        return Failing(text) if text.endswith("/bad") else real(text)

    monkeypatch.setattr(bagit_tree.os, "scandir", scandir)
    tree = bagit_tree.walk(root)
    assert sorted(tree.files) == [f"data/good/{i}.txt" for i in range(6)]
    assert tree.unreadable == [("data/bad", "Permission denied")]
    assert "data/bad/sub" not in tree.dirs and "data/bad" in tree.dirs
