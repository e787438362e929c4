"""The BagIt SIP validator (sip/bagit.py) and the hostile-path checks it relies on.

Tests assert finding codes, never wording. Bags are built in tmp_path by bagit-python's make_bag
on a copy, then damaged in one way each (tests/sip/bagit_fixtures.py). The LoC conformance corpus
in ../shared is an independent oracle.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import random
import shutil
import stat
import unicodedata
from pathlib import Path

import pytest

import sip.bagit as bagit_module
import sip.bagit_tree
from preservation.errors import NotFoundError, UsageError
from preservation.findings import Severity, catalogue
from preservation.paths import PORTABILITY, UNSAFE, collisions, path_problems, printable
from sip.bagit import BagCheck, validate_bag
from tests.sip.bagit_fixtures import (
    BAD,
    FILES,
    NFC_NAME,
    NFD_NAME,
    WARN,
    add_manifest,
    add_payload,
    append_tag,
    build,
    make_test_bag,
    set_version,
    tree_state,
    write_tag,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "corpora" / "bagit-dev"


def codes(check: BagCheck, severity: Severity | None = None) -> set[str]:
    return {f.code for f in check.report.findings if severity is None or f.severity is severity}


def validated(bag: Path, **kwargs: object) -> BagCheck:
    """Validate, and prove on the way that validation changed nothing in the bag."""
    before = tree_state(bag)
    check = validate_bag(bag, **kwargs)  # type: ignore[arg-type]
    assert tree_state(bag) == before, "validation modified the bag"
    for finding in check.report.findings:  # every finding renders in both languages
        assert finding.location.path is not None, finding
        assert finding.message("en") and finding.message("vi")
        assert "{" not in finding.message("en"), finding.message("en")
    return check


# --- a valid bag ---------------------------------------------------------------------------------

def test_valid_vietnamese_bag_nfc_and_nfd(tmp_path: Path) -> None:
    bag = make_test_bag(tmp_path)
    check = validated(bag)
    assert check.report.findings == []
    assert check.report.valid and check.report.kind == "bagit"
    assert check.version == "0.97" and check.encoding == "UTF-8"
    assert ("Source-Organization", "Văn phòng UBND tỉnh (test)") in check.info
    expected = sorted(f"data/{rel}" for rel in FILES)
    assert [p.bag_path for p in check.payload] == expected
    # The names are exactly as on disk: one NFC, one NFD, neither normalised.
    assert f"data/{NFC_NAME}" in expected and f"data/Hồ sơ 01/{NFD_NAME}" in expected
    for payload in check.payload:
        data = FILES[payload.bag_path.removeprefix("data/")]
        assert payload.fs_path == bag / payload.bag_path
        assert payload.size == len(data)
        assert payload.digests == {"sha256": hashlib.sha256(data).hexdigest()}
    assert check.manifest_algorithms == ("sha256",)


def test_valid_1_0_bag_with_two_manifests(tmp_path: Path) -> None:
    bag = make_test_bag(tmp_path, checksums=("sha256", "sha512"), version="1.0")
    check = validated(bag, compute=("sha256", "md5"))
    assert check.report.findings == []
    assert check.version == "1.0"
    for payload in check.payload:
        data = FILES[payload.bag_path.removeprefix("data/")]
        assert payload.digests == {a: hashlib.new(a, data).hexdigest()
                                   for a in ("md5", "sha256", "sha512")}


def test_sample_transfer_is_valid(transfer: Path) -> None:
    check = validated(transfer)
    assert check.report.valid, [f.to_dict() for f in check.report.findings]


def test_percent_encoded_newline_in_1_0_manifest(tmp_path: Path) -> None:
    """RFC 8493 §2.1.3: LF, CR and % are percent-encoded in 1.0; the name is then hostile."""
    bag = make_test_bag(tmp_path, {"ok.txt": b"ok\n"}, version="1.0")
    (bag / "data" / "two\nlines.txt").write_bytes(b"x\n")
    digest = hashlib.sha256(b"x\n").hexdigest()
    append_tag(bag, "manifest-sha256.txt", f"{digest}  data/two%0Alines.txt\n")
    bag_info = (bag / "bag-info.txt").read_text()
    write_tag(bag, "bag-info.txt", bag_info.replace("Payload-Oxum: 3.1", "Payload-Oxum: 5.2"))
    check = validated(bag)
    # Found and verified (no missing/unlisted/mismatch), but the name itself is rejected.
    assert codes(check, Severity.ERROR) == {"BAGIT-PATH-CONTROL-CHARACTER"}
    assert "data/two\nlines.txt" in {p.bag_path for p in check.payload}


def test_literal_percent_before_1_0_is_not_decoded(tmp_path: Path) -> None:
    bag = make_test_bag(tmp_path, {"%7Etest.txt": b"a\n", "%0A.txt": b"b\n"})
    check = validated(bag)
    assert check.report.findings == []


def test_utf_16_tag_files(tmp_path: Path) -> None:
    """bagit.txt stays UTF-8; the other tag files follow Tag-File-Character-Encoding."""
    bag = make_test_bag(tmp_path)
    for name in ("bag-info.txt", "manifest-sha256.txt"):
        text = (bag / name).read_text(encoding="utf-8")
        (bag / name).write_bytes(text.encode("utf-16"))  # with a BOM, as the codec writes it
    set_version(bag, "0.97", "UTF-16")
    check = validated(bag)
    assert codes(check) == {"BAGIT-ENCODING-NOT-UTF8"}
    assert ("Source-Organization", "Văn phòng UBND tỉnh (test)") in check.info
    assert len(check.payload) == len(FILES)


def test_transform_codecs_are_not_encodings(tmp_path: Path) -> None:
    bag = make_test_bag(tmp_path)
    set_version(bag, "0.97", "base64")
    assert "BAGIT-ENCODING-UNKNOWN" in codes(validated(bag), Severity.ERROR)


def test_iso_8859_1_tag_files(tmp_path: Path) -> None:
    fixture = WARN["BAGIT-ENCODING-NOT-UTF8"]
    check = validated(build(tmp_path, fixture))
    assert check.report.valid
    assert ("Source-Organization", "Archivo José Martí") in check.info
    assert "data/café.txt" in {p.bag_path for p in check.payload}


# --- one failing fixture per error code, one fixture per warning ---------------------------------

@pytest.mark.parametrize("code", sorted(BAD))
def test_bad_fixture_raises_its_code(tmp_path: Path, code: str) -> None:
    check = validated(build(tmp_path, BAD[code]))
    assert code in codes(check), [f.to_dict() for f in check.report.findings]
    assert code in codes(check, Severity.ERROR)
    assert not check.report.valid and check.report.exit_code == 1


@pytest.mark.parametrize("code", sorted(WARN))
def test_warning_fixture_keeps_bag_valid(tmp_path: Path, code: str) -> None:
    check = validated(build(tmp_path, WARN[code]))
    assert code in codes(check), [f.to_dict() for f in check.report.findings]
    assert check.report.valid, [f.to_dict() for f in check.report.errors]
    assert next(f for f in check.report.findings if f.code == code).severity is not Severity.ERROR


#: Error codes proven by their own tests below rather than by a BAD mutation.
SPECIAL_TESTS = {"BAGIT-FILE-UNREADABLE", "BAGIT-FILE-CHANGED"}


def test_every_error_code_has_a_failing_fixture() -> None:
    error_codes = {code for code, t in catalogue().items()
                   if code.startswith("BAGIT-") and t.severity is Severity.ERROR}
    assert error_codes - set(BAD) - SPECIAL_TESTS == set()
    other = {code for code, t in catalogue().items()
             if code.startswith("BAGIT-") and t.severity is not Severity.ERROR}
    assert other - set(WARN) == set()


def test_every_vietnamese_message_is_nfc_and_has_diacritics() -> None:
    for code, template in catalogue().items():
        if code.startswith("BAGIT-"):
            assert unicodedata.is_normalized("NFC", template.vi), code
            assert any(ord(ch) > 0x7F for ch in template.vi + template.fix_vi), code
            assert template.requirement, code


def test_unreadable_file_is_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bag = make_test_bag(tmp_path)
    real_open = os.open

    def deny(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if str(path).endswith("a.txt"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sip.bagit_tree.os, "open", deny)
    check = validated(bag)
    assert "BAGIT-FILE-UNREADABLE" in codes(check, Severity.ERROR)
    finding = next(f for f in check.report.findings if f.code == "BAGIT-FILE-UNREADABLE")
    assert finding.location.path == "data/a.txt"
    assert str(tmp_path) not in finding.message("en")  # no server paths in reports
    assert "data/a.txt" not in {p.bag_path for p in check.payload}


@pytest.mark.parametrize("how", ["grown", "swapped-for-link", "swapped-for-other-file"])
def test_file_changed_during_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        how: str) -> None:
    bag = make_test_bag(tmp_path)
    real_walk = bagit_module._walk
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"secret\n")

    def walk_then_change(root: Path) -> sip.bagit_tree.Tree:
        tree = real_walk(root)
        target = bag / "data" / "a.txt"
        if how == "grown":
            with target.open("ab") as f:
                f.write(b"more")
        elif how == "swapped-for-link":
            target.unlink()
            target.symlink_to(outside)
        else:
            os.replace(bag / "data" / "empty.dat", target)  # another listed file moved over it
        return tree

    monkeypatch.setattr(bagit_module, "_walk", walk_then_change)
    check = validate_bag(bag)
    assert "BAGIT-FILE-CHANGED" in codes(check, Severity.ERROR)
    assert "data/a.txt" not in {p.bag_path for p in check.payload}


# --- many findings at once, safety ---------------------------------------------------------------

def test_collects_every_finding_at_once(tmp_path: Path) -> None:
    bag = make_test_bag(tmp_path)
    (bag / "data" / "a.txt").write_bytes(b"HELLO\n")  # mismatch
    (bag / "data" / "empty.dat").unlink()  # missing
    (bag / "data" / "stray.txt").write_bytes(b"?\n")  # unlisted
    (bag / "data" / "link").symlink_to("/etc/passwd")  # symlink
    append_tag(bag, "manifest-sha256.txt", f"{'0' * 64}  ../../etc/shadow\n")  # hostile path
    check = validated(bag)
    assert {"BAGIT-MANIFEST-MISMATCH", "BAGIT-MANIFEST-FILE-MISSING", "BAGIT-PAYLOAD-UNLISTED",
            "BAGIT-SYMLINK", "BAGIT-PATH-DOT-DOT", "BAGIT-INFO-OXUM-MISMATCH"} <= codes(check)
    mismatch = next(f for f in check.report.findings if f.code == "BAGIT-MANIFEST-MISMATCH")
    assert mismatch.location.path == "data/a.txt"
    assert mismatch.params["expected"] == hashlib.sha256(b"hello\n").hexdigest()
    assert mismatch.params["actual"] == hashlib.sha256(b"HELLO\n").hexdigest()


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    secret_dir = tmp_path / "elsewhere"
    secret_dir.mkdir()
    (secret_dir / "secret.txt").write_bytes(b"top secret\n")
    bag = make_test_bag(tmp_path)
    (bag / "data" / "dir-link").symlink_to(secret_dir)
    (bag / "data" / "file-link").symlink_to(secret_dir / "secret.txt")
    secret = hashlib.sha256(b"top secret\n").hexdigest()
    append_tag(bag, "manifest-sha256.txt", f"{secret}  data/file-link\n"
                                           f"{secret}  data/dir-link/secret.txt\n")
    check = validated(bag)
    assert [f.location.path for f in check.report.findings if f.code == "BAGIT-SYMLINK"] == [
        "data/dir-link", "data/file-link"]
    assert all(secret not in p.digests.values() for p in check.payload)
    assert all("elsewhere" not in str(p.fs_path) for p in check.payload)


def test_hostile_names_are_printable_in_findings(tmp_path: Path) -> None:
    check = validated(build(tmp_path, BAD["BAGIT-PATH-CONTROL-CHARACTER"]))
    for finding in check.report.findings:
        for text in (finding.message("en"), finding.message("vi"), str(finding.location)):
            assert "\x1b" not in text
    check = validated(build(tmp_path / "2", BAD["BAGIT-PATH-INVALID-ENCODING"]))
    assert any("caf\\xe9.txt" in f.message("en") for f in check.report.findings)


def test_not_a_bag_and_missing_path(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "file.txt").write_bytes(b"x")
    check = validate_bag(folder)
    assert codes(check) == {"BAGIT-NOT-A-BAG"} and not check.report.valid
    check = validate_bag(folder / "file.txt")
    assert codes(check) == {"BAGIT-NOT-A-BAG"}
    with pytest.raises(NotFoundError):
        validate_bag(tmp_path / "does-not-exist")
    with pytest.raises(UsageError):
        validate_bag(folder, compute=("crc32",))


def test_progress_counts_every_byte_read(tmp_path: Path) -> None:
    big = os.urandom(3 * 1024 * 1024 + 17)
    bag = make_test_bag(tmp_path, {"big.bin": big, "small.txt": b"x"})
    seen: list[int] = []
    check = validate_bag(bag, progress=seen.append)
    assert check.report.findings == []
    tag_bytes = sum((bag / n).stat().st_size for n in
                    ("bagit.txt", "bag-info.txt", "manifest-sha256.txt"))
    assert sum(seen) == len(big) + 1 + tag_bytes
    assert check.payload[0].digests["sha256"] == hashlib.sha256(big).hexdigest()


def test_many_files_hash_in_parallel(tmp_path: Path) -> None:
    files = {f"d{i % 7}/f{i:04d}.txt": f"file {i}\n".encode() for i in range(300)}
    bag = make_test_bag(tmp_path, files, checksums=("sha256", "sha512"))
    check = validated(bag)
    assert check.report.findings == []
    assert len(check.payload) == 300
    assert [p.bag_path for p in check.payload] == sorted(f"data/{r}" for r in files)


def test_old_versions_relax_some_rules(tmp_path: Path) -> None:
    """Before 1.0: a repeated identical line and a partial second manifest are warnings."""
    bag = make_test_bag(tmp_path)
    add_manifest(bag, "sha512")
    append_tag(bag, "manifest-sha256.txt", (bag / "manifest-sha256.txt").read_text()
               .splitlines(keepends=True)[0])
    assert validated(bag).report.valid
    set_version(bag, "1.0")
    check = validated(bag)
    assert "BAGIT-MANIFEST-DUPLICATE" in codes(check, Severity.ERROR)


@pytest.mark.parametrize("seed", range(40))
def test_garbage_tag_files_are_findings_not_crashes(tmp_path: Path, seed: int) -> None:
    """Random damage to the tag files (bytes, line ends, BOMs, odd encodings) never raises."""
    rng = random.Random(seed)
    bag = make_test_bag(tmp_path, checksums=("sha256", "md5"))
    (bag / "fetch.txt").write_text("https://example.org/a 6 data/a.txt\n", encoding="utf-8")
    names = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-md5.txt",
             "tagmanifest-sha256.txt", "fetch.txt"]
    pieces = [b"\r", b"\n", b"\x00", b"%", b"%0A", b"%25", b"\t", b":", codecs.BOM_UTF8,
              codecs.BOM_UTF16_LE, b"../", b"~", b"\\", b"\xff", b"\xe1\xbb"]
    for _ in range(rng.randint(1, 4)):
        path = bag / rng.choice(names)
        data = bytearray(path.read_bytes())
        spot = rng.randrange(len(data) + 1)
        data[spot:spot + rng.randrange(3)] = rng.choice(pieces)
        if rng.random() < 0.3:
            encoding = rng.choice(["UTF-16", "UTF-32", "ISO-8859-1", "cp1258", "utf-7", "hz",
                                   "idna", "x\udcff", "shift_jis"])
            data = (f"BagIt-Version: {rng.choice(['1.0', '0.97', '0.93'])}\n"
                    f"Tag-File-Character-Encoding: {encoding}\n").encode("utf-8", "surrogateescape")
            path = bag / "bagit.txt"
        path.write_bytes(bytes(data))
    check = validated(bag)
    assert check.report.kind == "bagit"


def test_nfc_nfd_collision_rejected_although_make_bag_accepts_it(tmp_path: Path) -> None:
    """DESIGN: make_bag accepts names differing only in NFC/NFD; they fail later, so reject."""
    name = "Quyết định.pdf"
    bag = make_test_bag(tmp_path, {unicodedata.normalize("NFC", name): b"1",
                                   unicodedata.normalize("NFD", name): b"2"})
    check = validated(bag)
    assert codes(check, Severity.ERROR) == {"BAGIT-PATH-NORMALISATION-COLLISION"}


def test_bag_added_files_must_be_listed_in_every_manifest(tmp_path: Path) -> None:
    bag = make_test_bag(tmp_path, checksums=("sha256", "sha512"), version="1.0")
    add_payload(bag, "new.txt", b"new\n")
    assert validated(bag).report.valid


# --- preservation.paths --------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "problems"), [
    ("data/a.txt", []),
    ("data/Tờ trình.pdf", []),
    ("data/dir1/~test3.txt", []),
    ("data/%7Etest1.txt", []),
    ("data/test 1.txt", []),
    ("", ["empty"]),
    ("/tmp/foo", ["absolute"]),
    ("\\Windows\\x", ["absolute", "backslash"]),
    ("C:\\Windows\\System32\\setx.exe", ["drive-letter", "backslash"]),
    ("C:/x", ["drive-letter"]),
    ("//server/share/x", ["unc"]),
    ("\\\\?\\UNC\\server\\x", ["unc", "backslash", "windows-character"]),
    ("../../../README.md", ["dot-dot"]),
    ("data/../../x", ["dot-dot"]),
    ("data\\..\\..\\x", ["backslash", "dot-dot"]),
    ("data/./x", ["dot-segment"]),
    ("~/foo", ["tilde"]),
    ("~root/foo", ["tilde"]),
    ("data//x", ["empty-segment"]),
    ("data/x/", ["empty-segment"]),
    ("data/a\x00b", ["nul"]),
    ("data/a\nb", ["control-character"]),
    ("data/a\x1b[31m", ["control-character"]),
    ("data/caf\udce9", ["invalid-surrogate"]),
    ("data/invoice\u202egpj.exe", ["bidi-control"]),
    ("data/CON.txt", ["windows-reserved"]),
    ("data/nul", ["windows-reserved"]),
    ("data/trailing. ", ["windows-reserved"]),
    ("data/a:b", ["windows-character"]),
])
def test_path_problems(path: str, problems: list[str]) -> None:
    assert path_problems(path) == problems
    assert set(problems) <= UNSAFE | PORTABILITY


def test_collisions() -> None:
    nfc = unicodedata.normalize("NFC", "data/Tờ trình.pdf")
    nfd = unicodedata.normalize("NFD", "data/Tờ trình.pdf")
    assert collisions([nfc, nfd, "data/other"]) == [tuple([*sorted([nfc, nfd]), "nfc"])]
    assert collisions(["data/hello.txt", "data/HELLO.txt"]) == [
        ("data/HELLO.txt", "data/hello.txt", "case")]
    # Whole paths are compared: files in folders that collide collide too.
    assert collisions(["data/Ảnh/1.jpg", "data/ảnh/1.jpg", "data/ảnh/2.jpg"]) == [
        ("data/Ảnh/1.jpg", "data/ảnh/1.jpg", "case")]
    # A pair that collides by NFC is not reported again by case; a group of n gives n - 1 pairs.
    upper = unicodedata.normalize("NFC", "data/TỜ TRÌNH.pdf")
    assert sorted(kind for *_, kind in collisions([nfc, nfd, upper])) == ["case", "nfc"]
    assert len(collisions([f"data/{'aA'[i % 2]}" * 1 + str(i % 1) for i in range(6)])) == 1
    assert collisions(["data/a", "data/b", "data/a/c"]) == []


def test_printable() -> None:
    assert printable("data/Tờ trình.pdf") == "data/Tờ trình.pdf"
    assert printable("a\nb\x1b[31m") == "a\\nb\\x1b[31m"
    assert printable("caf\udce9") == "caf\\xe9"
    assert printable("x\u202ey") == "x\\u202ey"


# --- the LoC BagIt conformance corpus as an oracle -----------------------------------------------

def _corpus_rows() -> list[dict[str, str]]:
    if not (CORPUS / "expected.tsv").is_file():
        return []
    with (CORPUS / "expected.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


#: Cases whose bags depend on files git cannot hold: they were made on macOS, where two names that
#: differ only by case or by NFC/NFD are one file. Checked out on Linux they are different bags,
#: which a Linux validator must reject (short_reason in expected.tsv says so). Not scored; the
#: codes we raise for them are pinned instead.
NOT_ON_LINUX = {
    # Lists data/hello.txt and data/HELLO.txt; only hello.txt exists. Restoring HELLO.txt would
    # not help either: Payload-Oxum (6.1) counts one file, as on a case-insensitive disk.
    "v0.97/warning/duplicate-file-with-different-case": {
        "BAGIT-MANIFEST-PATH-CASE", "BAGIT-PATH-CASE-COLLISION"},
    # Lists NFD and NFC forms of data/Núñez; only NFC exists. Restoring the NFD file would make
    # two names that collide under NFC, which DESIGN rejects (they fail later).
    "v0.97/warning/same-filename-listed-twice-with-different-normalization": {
        "BAGIT-MANIFEST-PATH-NORMALISATION", "BAGIT-PATH-NORMALISATION-COLLISION"},
}
#: Cases missing a file that git dropped (short_reason says so) but that can be restored exactly:
#: the manifest gives its checksum (that of an empty file). They are validated with it restored.
RESTORE = {"v0.97/warning/special-system-files": {"data/.DS_Store": b""}}
#: Windows-only cases are invalid only on Windows; the suite's own harness skips them elsewhere.
#: On Linux we reject them too (their manifests name files that are not there, and DESIGN rejects
#: drive letters, UNC paths and backslashes), so they are not scored; the Windows-path finding
#: is pinned.
WINDOWS_CODES = {"BAGIT-PATH-DRIVE-LETTER", "BAGIT-PATH-UNC", "BAGIT-PATH-BACKSLASH"}


def _corpus_case(row: dict[str, str], tmp_path: Path) -> Path:
    bag = CORPUS / row["relative_path"]
    restore = RESTORE.get(row["relative_path"])
    if restore is None:
        return bag
    copy = tmp_path / "case"
    shutil.copytree(bag, copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    for rel, data in restore.items():
        (copy / rel).write_bytes(data)
    return copy


def _agrees(row: dict[str, str], check: BagCheck) -> bool:
    if row["expected"] == "invalid":
        return not check.report.valid
    if row["expected"] == "warning":
        return check.report.valid and any(f.severity is Severity.WARNING
                                          for f in check.report.findings)
    return check.report.valid


@pytest.mark.shared
@pytest.mark.parametrize("row", _corpus_rows() or [{"relative_path": "(corpus absent)"}],
                         ids=lambda r: r["relative_path"])
def test_conformance_case(row: dict[str, str], tmp_path: Path) -> None:
    if "expected" not in row:
        pytest.skip(f"the BagIt conformance corpus is not present at {CORPUS}")
    check = validate_bag(_corpus_case(row, tmp_path))
    found = codes(check)
    where = row["relative_path"]
    if where in NOT_ON_LINUX:
        assert not check.report.valid and NOT_ON_LINUX[where] <= found, found
    elif "/windows-only/" in where:
        assert not check.report.valid and found & WINDOWS_CODES, found
    else:
        assert _agrees(row, check), (row, [f.to_dict() for f in check.report.findings])


@pytest.mark.shared
def test_conformance_agreement(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = _corpus_rows()
    if not rows:
        pytest.skip(f"the BagIt conformance corpus is not present at {CORPUS}")
    scored = [r for r in rows if r["relative_path"] not in NOT_ON_LINUX
              and "/windows-only/" not in r["relative_path"]]
    agree = [r for n, r in enumerate(scored)
             if _agrees(r, validate_bag(_corpus_case(r, tmp_path / str(n))))]
    windows = sum("/windows-only/" in r["relative_path"] for r in rows)
    with capsys.disabled():
        print(f"\nBagIt conformance corpus: {len(agree)}/{len(scored)} Linux-applicable cases "
              f"agree ({100 * len(agree) / len(scored):.1f}%); not scored: {windows} "
              f"windows-only, {len(NOT_ON_LINUX)} that need a case-insensitive or normalising "
              f"filesystem")
    assert len(agree) == len(scored), [r["relative_path"] for r in scored if r not in agree]


def test_collisions_under_equal_hashes_still_group_by_the_real_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import preservation.paths as paths_module

    names = ["a/Readme.txt", "a/README.txt", "b/x.txt", "b/y.txt", "Straße", "STRASSE"]
    honest = paths_module.collisions(names)
    monkeypatch.setattr(paths_module, "hash", lambda _key: 0, raising=False)
    assert paths_module.collisions(names) == honest
    assert ("a/README.txt", "a/Readme.txt", "case") in honest
    assert all("b/" not in a + b for a, b, _ in honest)
