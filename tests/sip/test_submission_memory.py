"""A submission's per-file records out of memory: files, content() and a bag's payload past the
in-memory part of their spooled sequences are the same records, in the same order, as when they
all stay in memory; formats share one object per identification; the bag is listed once."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path
from typing import Any

import pytest

import sip.bagit
import sip.bagit_tree
import sip.submission
from preservation.findings import Report
from sip.bagit import validate_bag
from sip.bagit_hash import JobList, hash_each
from sip.bagit_tree import CHUNK, walk
from sip.samples import make_sample_transfer
from sip.submission import (
    FileRole,
    Submission,
    SubmittedFile,
    submitted_fields,
    submitted_from_fields,
)
from sip.tt05_model import PackageKind
from sip.validate import ValidationOptions, open_sip
from tests.sip.bagit_fixtures import make_test_bag
from tests.sip.tt05_fixtures import build as tt05_build

NO_CONTENT = ValidationOptions(check_content=False)


def _many_files(count: int) -> dict[str, bytes]:
    """Files for a bag's payload (make_test_bag puts them below data/)."""
    files = {f"doc-{n:03}.txt": f"văn bản số {n}\n".encode() for n in range(count)}
    files["sub/ảnh.txt"] = b"NFC name\n"
    files["sub/z.txt"] = b"last\n"
    return files


def _findings(report: Report) -> list[tuple[Any, ...]]:
    return [(f.code, f.severity, f.location.path, f.location.line, f.message("en"))
            for f in report.findings]


def _validated(path: Path, work: Path, options: ValidationOptions | None = None
               ) -> tuple[list[SubmittedFile], list[SubmittedFile], dict[str, Any],
                          list[tuple[Any, ...]]]:
    with open_sip(path, work, options) as sub:
        return (list(sub.files), list(sub.content()), dict(sub.formats),
                _findings(sub.report))


@pytest.mark.parametrize("keep", [0, 1, 3])
def test_bag_files_and_content_are_the_same_across_the_keep_boundary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: int) -> None:
    bag = make_test_bag(tmp_path, _many_files(12))
    files, content, formats, findings = _validated(bag, tmp_path / "w1")
    assert len(files) == 14 and files == content  # a plain bag: every payload file is content
    assert [f.path for f in files] == sorted(f.path for f in files)

    monkeypatch.setattr(sip.submission, "KEEP", keep)
    monkeypatch.setattr(sip.bagit, "KEEP", keep)
    with open_sip(bag, tmp_path / "w2") as sub:
        assert len(sub.files) == len(files)
        assert list(sub.files) == files
        assert sub.files == files  # a spooled sequence equals the list
        assert list(sub.content()) == content
        assert sub.content()[-1] == content[-1] and sub.files[5] == files[5]
        assert list(sub.content()) == content  # a second pass reads the spool again
        assert all(isinstance(f.fs_path, Path) and f.role is FileRole.CONTENT
                   for f in sub.files)
        assert sub.files[2].fs_path == bag / sub.files[2].path
        assert dict(sub.formats) == formats
        assert _findings(sub.report) == findings


def test_package_files_are_the_same_across_the_keep_boundary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tt05_build(tmp_path / "in", PackageKind.HOSO)
    files, content, _, findings = _validated(package, tmp_path / "w1", NO_CONTENT)
    assert {f.role for f in files} == {FileRole.CONTENT, FileRole.METADATA}
    assert content == [f for f in files if f.role is FileRole.CONTENT]
    assert any(f.representation for f in content)

    monkeypatch.setattr(sip.submission, "KEEP", 1)
    with open_sip(package, tmp_path / "w2", NO_CONTENT) as sub:
        assert list(sub.files) == files
        assert list(sub.content()) == content
        assert _findings(sub.report) == findings


def test_a_bag_wrapping_a_package_seeds_its_digests_from_the_spooled_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tt05_build(tmp_path / "in", PackageKind.HOSO)
    files = {str(p.relative_to(package)): p.read_bytes() for p in package.rglob("*")
             if p.is_file()}
    bag = make_test_bag(tmp_path, files)  # the package becomes the bag's data/
    reference, _, _, findings = _validated(bag, tmp_path / "w1", NO_CONTENT)
    monkeypatch.setattr(sip.submission, "KEEP", 1)
    monkeypatch.setattr(sip.bagit, "KEEP", 1)
    with open_sip(bag, tmp_path / "w2", NO_CONTENT) as sub:
        assert sub.wrapped_in_bag and sub.package_prefix == "data"
        assert list(sub.files) == reference
        assert _findings(sub.report) == findings


def test_formats_share_one_object_per_identification(tmp_path: Path) -> None:
    bag = make_sample_transfer(tmp_path / "bag")
    extra = make_test_bag(tmp_path, _many_files(8), name="texts")
    for sample in (bag, extra):
        with open_sip(sample, tmp_path / f"w-{sample.name}") as sub:
            formats = list(sub.formats.values())
            assert formats and len({id(f) for f in formats}) == len(set(formats))
    with open_sip(extra, tmp_path / "w-again") as sub:
        texts = [sub.formats[f.path] for f in sub.content() if f.path.endswith(".txt")]
        assert len(texts) == 10 and all(t is texts[0] for t in texts)


def test_submitted_file_codec_round_trip() -> None:
    records = [
        SubmittedFile("data/a b.txt", Path("/x/data/a b.txt"), 12, "ab" * 32, FileRole.CONTENT,
                      "a b.txt"),
        SubmittedFile("representations/rep1/data/Tờ trình.pdf",
                      Path("/x/representations/rep1/data/Tờ trình.pdf"), 0, "cd" * 32,
                      FileRole.CONTENT, "Tờ trình.pdf", representation="rep1", digitised=True),
        SubmittedFile("METS.xml", Path("/x/METS.xml"), 7, "ef" * 32, FileRole.METADATA,
                      "METS.xml"),
    ]
    for record in records:
        values = submitted_fields(record)
        assert all(isinstance(v, str | int | bool | type(None)) for v in values)
        assert submitted_from_fields(values) == record


def test_content_is_worked_out_once_and_again_when_files_change(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sip.submission, "KEEP", 1)
    metadata = SubmittedFile("METS.xml", Path("/x/METS.xml"), 1, "0" * 64, FileRole.METADATA,
                             "METS.xml")
    docs = [SubmittedFile(f"representations/r/data/{n}.txt", Path(f"/x/{n}.txt"), n, "1" * 64,
                          FileRole.CONTENT, f"{n}.txt", representation="r") for n in range(3)]
    one = Submission(source=Path("/x"), report=Report("x"),
                     files=sip.submission.spooled_files([metadata, *docs]))
    other = Submission(source=Path("/x"), report=one.report, files=[metadata, *docs])
    first = one.content()
    assert first is one.content()  # not a new sequence on every call
    assert list(first) == docs and len(first) == 3 and first[2] == docs[2]
    assert one == other  # the remembered answer is not compared …
    assert "_content" not in repr(one)  # … nor shown
    one.files = (metadata,)
    assert list(one.content()) == []
    one.files = ()
    assert len(one.content()) == 0


def test_bag_payload_is_the_same_across_the_keep_boundary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bag = make_test_bag(tmp_path, _many_files(6), checksums=("sha256", "md5"))
    reference = list(validate_bag(bag).payload)
    assert [p.bag_path for p in reference] == sorted(p.bag_path for p in reference)
    assert all(set(p.digests) == {"sha256", "md5"} for p in reference)
    monkeypatch.setattr(sip.bagit, "KEEP", 2)
    check = validate_bag(bag)
    assert len(check.payload) == len(reference) == 8
    assert list(check.payload) == reference
    assert check.payload[-1].fs_path == bag / reference[-1].bag_path


def test_validate_bag_uses_a_listing_it_is_given(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    bag = make_test_bag(tmp_path, _many_files(4))
    (bag / "data" / "doc-001.txt").write_bytes(b"changed after bagging\n")
    reference = validate_bag(bag)
    tree = walk(bag)

    def no_walk(root: Path) -> sip.bagit_tree.Tree:
        raise AssertionError("listed again")

    monkeypatch.setattr(sip.bagit, "_walk", no_walk)
    check = validate_bag(bag, tree=tree)
    assert _findings(check.report) == _findings(reference.report)
    assert "BAGIT-MANIFEST-MISMATCH" in {f.code for f in check.report.findings}
    assert list(check.payload) == list(reference.payload)


def test_hash_each_with_one_shared_set_of_algorithms(tmp_path: Path) -> None:
    sizes = [10, CHUNK + 5, 0, 3 * CHUNK, 7]
    for n, size in enumerate(sizes):
        (tmp_path / f"f{n}").write_bytes(bytes([n]) * size)
    tree = walk(tmp_path)
    listed = list(tree.files.values())
    shared = frozenset({"sha256", "md5"})
    tags = [(listed[0], frozenset({"sha1"}))]
    jobs = JobList(listed, shared, tags)
    assert len(jobs) == 6 and list(jobs) == [*((f, shared) for f in listed), *tags]
    as_list = [*((f, shared) for f in listed), *tags]
    results = dict(hash_each(tmp_path, jobs))
    assert results == dict(hash_each(tmp_path, as_list))
    assert sorted(results) == list(range(6))
    for index, (item, algorithms) in enumerate(as_list):
        data = (tmp_path / item.rel).read_bytes()
        assert results[index].listed == item
        assert results[index].digests == {a: hashlib.new(a, data).hexdigest()
                                           for a in algorithms}


def test_manifest_collisions_are_found_among_the_few_names_thatmay_collide() -> None:
    from sip.bagit_names import NameChecks
    from sip.bagit_payload import may_collide
    from sip.bagit_text import ManifestLine

    nfc, nfd = "data/Tờ trình.txt", unicodedata.normalize("NFD", "data/Tờ trình.txt")
    paths = ["data/a.txt", nfc, "data/b.txt", "data/A.TXT", nfd, "data/c.txt", "data/a.txt",
             "data/ß.txt", "data/SS.txt", "data/ss.txt", "data/x/../y.txt", "/etc/passwd",
             *(f"data/doc-{n}.txt" for n in range(20))]
    lines = [ManifestLine(p, p, "0" * 64, n) for n, p in enumerate(paths, 1)]
    passed = list(may_collide(lines))
    assert len(passed) < len(lines) and ("data/c.txt", 6) not in passed

    every, few = Report("all"), Report("few")
    NameChecks(every).manifest_collisions("manifest-sha256.txt",
                                          ((e.path, e.line) for e in lines))
    NameChecks(few).manifest_collisions("manifest-sha256.txt", iter(passed))
    assert _findings(few) == _findings(every)
    assert {f.code for f in every.findings} >= {"BAGIT-PATH-CASE-COLLISION",
                                                "BAGIT-PATH-NORMALISATION-COLLISION"}
    assert list(may_collide(lines[-20:])) == []
