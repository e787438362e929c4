"""Opening a submitted package: folders as they are, ZIPs judged entry by entry, then extracted."""

from __future__ import annotations

import json
import os
import random
import stat
import struct
import tracemalloc
import unicodedata
import zipfile
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from preservation.cli import main
from preservation.errors import NotFoundError
from preservation.findings import Report, Severity
from sip.archive import OpenedPackage, ZipLimits, open_package
from sip.package import PackageTree
from sip.safety import check_tree_safety
from sip.zipread import Entry, ZipFormatError, compressed_chunks, pread_exact, read_local
from tests.sip.hostile_fixtures import (
    HOSTILE,
    MIB,
    OUTSIDE_ARCHIVE,
    write_zeros,
    write_zip,
    zip64_archive,
)


def snapshot(root: Path) -> set[str]:
    """Every path under ``root`` (without following links)."""
    out = set()
    for dirpath, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


def open_it(path: Path, work: Path, **limits: int | float) -> tuple[OpenedPackage | None, Report]:
    report = Report(subject=path.name)
    opened = open_package(path, work, report, limits=ZipLimits(**limits))  # type: ignore[arg-type]
    return opened, report


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


# --- hostile ZIPs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_zip_is_refused_and_nothing_is_left(name: str, tmp_path: Path,
                                                     work: Path) -> None:
    hostile = HOSTILE[name]
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    path = hostile.build(incoming)
    source_bytes = path.read_bytes()
    before = snapshot(tmp_path)

    report = Report(subject=path.name)
    opened = open_package(path, work, report, limits=hostile.limits)

    assert opened is None
    assert hostile.codes <= report.codes(), report.to_dict()
    assert not report.valid
    assert "ZIP-EMPTY" not in report.codes() - hostile.codes  # not a side effect of refusals
    for finding in report.findings:
        if finding.code in hostile.codes:
            assert finding.severity is Severity.ERROR
    assert snapshot(tmp_path) == before  # nothing extracted anywhere, private folder removed
    assert list(work.iterdir()) == []
    assert path.read_bytes() == source_bytes  # the producer's file is untouched
    assert not (tmp_path / "escaped.txt").exists()


def test_hostile_findings_name_the_entry(tmp_path: Path, work: Path) -> None:
    opened, report = open_it(HOSTILE["zip-slip"].build(tmp_path), work)
    assert opened is None
    [finding] = [f for f in report.findings if f.code == "PKG-PATH-DOT-DOT"]
    assert finding.location.path == "../escaped.txt"


def test_invalid_name_bytes_are_shown_escaped(tmp_path: Path, work: Path) -> None:
    opened, report = open_it(HOSTILE["invalid-utf8"].build(tmp_path), work)
    assert opened is None
    [finding] = [f for f in report.findings if f.code == "ZIP-NAME-INVALID-UTF8"]
    assert finding.location.path == "pkg/bad-\\xff\\xfe.txt"
    assert "PKG-PATH-INVALID-ENCODING" not in report.codes()  # one finding for one problem


def test_nul_name_is_printable(tmp_path: Path, work: Path) -> None:
    opened, report = open_it(HOSTILE["nul"].build(tmp_path), work)
    assert opened is None
    paths = {f.location.path for f in report.findings if f.code == "PKG-PATH-NUL"}
    assert paths == {"pkg/a\\x00b.txt"}


def test_lying_header_is_stopped_at_its_declared_size(tmp_path: Path, work: Path) -> None:
    """Declared sizes pass the checks; the bytes that actually come out are counted."""
    opened, report = open_it(HOSTILE["lying-header"].build(tmp_path), work)
    assert opened is None
    assert [f.code for f in report.errors] == ["ZIP-SIZE-MISMATCH"]
    assert report.errors[0].params["declared"] == "1000"
    assert list(work.iterdir()) == []


def test_portability_warnings_are_reported_when_the_zip_is_refused(tmp_path: Path,
                                                                   work: Path) -> None:
    path = write_zip(tmp_path / "x.zip", {"pkg/a:b.txt": b"x", "pkg/../x": b"y"})
    opened, report = open_it(path, work)
    assert opened is None
    assert {"PKG-PATH-WINDOWS-CHARACTER", "PKG-PATH-DOT-DOT"} <= report.codes()


def test_a_zip_bomb_of_many_entries_is_judged_before_reading_them_all(tmp_path: Path,
                                                                      work: Path) -> None:
    path = write_zip(tmp_path / "many.zip", {f"{i}.txt": b"" for i in range(300)})
    opened, report = open_it(path, work, max_entries=50)
    assert opened is None
    [finding] = report.findings
    assert finding.code == "ZIP-TOO-MANY-ENTRIES"
    assert finding.params == {"count": "300", "limit": "50"}


@pytest.mark.parametrize("name", OUTSIDE_ARCHIVE)
def test_an_entry_outside_the_file_is_named_and_never_read(name: str, tmp_path: Path,
                                                            work: Path) -> None:
    """Header offsets and sizes (32-bit, or ZIP64 up to 2**64) that point past the end of the
    file: a finding on that entry, the other entry is judged as usual."""
    opened, report = open_it(HOSTILE[name].build(tmp_path), work)
    assert opened is None
    corrupt = {f.location.path for f in report.findings if f.code == "ZIP-ENTRY-CORRUPT"}
    assert corrupt == {"pkg/a.txt"}, report.to_dict()
    assert "ZIP-CORRUPT" not in report.codes()


def test_validate_cli_reports_a_huge_zip64_offset(tmp_path: Path) -> None:
    """The reviewer's reproduction: exit 1 with a finding, no traceback, nothing extracted."""
    path = HOSTILE["zip64-offset-huge"].build(tmp_path)
    home = tmp_path / "home"
    result = CliRunner().invoke(main, ["--home", str(home), "sip", "validate", str(path),
                                       "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["ok"] is False
    assert any(f["code"] == "ZIP-ENTRY-CORRUPT" and f["location"]["path"] == "pkg/a.txt"
               for f in data["findings"])
    assert not any(p.is_file() for p in home.rglob("*") if p.suffix == ".txt")


@pytest.mark.parametrize("offset", [2**64 - 16, 2**63 - 4, 2**63, -1])
def test_read_helpers_turn_impossible_offsets_into_format_errors(offset: int,
                                                                  tmp_path: Path) -> None:
    """The second line of defence: never an OverflowError or EINVAL from os.pread."""
    path = write_zip(tmp_path / "t.zip", {"a.txt": b"a"})
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(ZipFormatError):
            pread_exact(fd, 30, offset)
        with pytest.raises(ZipFormatError):
            list(compressed_chunks(fd, offset, 10))
        with pytest.raises(ZipFormatError):
            list(compressed_chunks(fd, 0, 2**64))  # ends at the end of the file
        entry = Entry(0, b"a.txt", "a.txt", 0, 0, 0, 1, 1, offset, 3, 0)
        with pytest.raises(ZipFormatError):
            read_local(fd, entry)
    finally:
        os.close(fd)


def test_a_hand_made_zip64_archive_opens(tmp_path: Path, work: Path) -> None:
    """The ZIP64 builder the hostile fixtures and the fuzz test start from is itself valid."""
    path = tmp_path / "z64.zip"
    path.write_bytes(zip64_archive({"pkg/a.txt": b"hello", "pkg/b.txt": b"world"}).data)
    with zipfile.ZipFile(path) as archive:
        assert archive.read("pkg/b.txt") == b"world"
    opened, report = open_it(path, work)
    assert opened is not None, report.to_dict()
    with opened:
        assert (opened.root / "b.txt").read_bytes() == b"world"


# --- good ZIPs ------------------------------------------------------------------------------------

FILES = {
    "SIP_hoso/METS.xml": b"<mets/>",
    "SIP_hoso/representations/rep1/data/Tờ trình.pdf": b"%PDF-1.4\n",
    "SIP_hoso/empty/": b"",
}


def test_single_top_folder_becomes_the_root(tmp_path: Path, work: Path) -> None:
    path = write_zip(tmp_path / "transfer.zip", FILES)
    source_bytes = path.read_bytes()
    opened, report = open_it(path, work)
    assert opened is not None
    assert report.findings == []
    with opened:
        assert opened.is_zip and opened.source == path
        assert opened.name == "SIP_hoso"
        assert opened.root.name == "SIP_hoso"
        private = opened.root.parent
        assert private.parent == work
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        assert (opened.root / "METS.xml").read_bytes() == b"<mets/>"
        assert (opened.root / "representations/rep1/data/Tờ trình.pdf").read_bytes() \
            == b"%PDF-1.4\n"
        assert (opened.root / "empty").is_dir()
        assert PackageTree(opened.root).is_file("METS.xml")
    assert not private.exists()
    assert list(work.iterdir()) == []
    assert path.read_bytes() == source_bytes


def test_several_top_entries_root_is_the_extraction_folder(tmp_path: Path, work: Path) -> None:
    path = write_zip(tmp_path / "SIP_2024.zip", {"METS.xml": b"<mets/>", "data/a.txt": b"a"})
    opened, _ = open_it(path, work)
    assert opened is not None
    with opened:
        assert opened.name == "SIP_2024"
        assert opened.root.parent == work
        assert sorted(p.name for p in opened.root.iterdir()) == ["METS.xml", "data"]
    assert list(work.iterdir()) == []


def test_one_top_file_is_not_a_top_folder(tmp_path: Path, work: Path) -> None:
    opened, _ = open_it(write_zip(tmp_path / "one.zip", {"only.txt": b"x"}), work)
    assert opened is not None
    with opened:
        assert opened.name == "one"
        assert (opened.root / "only.txt").is_file()


def test_macos_finder_data_is_skipped_with_a_warning(tmp_path: Path, work: Path) -> None:
    path = write_zip(tmp_path / "mac.zip", {
        "pkg/a.txt": b"a", "__MACOSX/pkg/._a.txt": b"\x00\x05\x16\x07", "__MACOSX/._pkg": b""})
    opened, report = open_it(path, work)
    assert opened is not None
    with opened:
        assert report.codes() == {"ZIP-MACOS-METADATA-SKIPPED"}
        assert report.findings[0].params["count"] == "2"
        assert opened.name == "pkg"
        assert not (opened.root.parent / "__MACOSX").exists()


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                                         zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_every_supported_method_extracts_exactly(compression: int, tmp_path: Path,
                                                 work: Path) -> None:
    content = os.urandom(3 * MIB) + bytes(2 * MIB) + b"tail"
    path = write_zip(tmp_path / "m.zip", {"pkg/a.bin": content, "pkg/b.txt": b""},
                     compression=compression)
    opened, report = open_it(path, work)
    assert opened is not None, report.to_dict()
    with opened:
        assert (opened.root / "a.bin").read_bytes() == content
        assert (opened.root / "b.txt").read_bytes() == b""


def test_zip64_entries_are_read(tmp_path: Path, work: Path) -> None:
    path = tmp_path / "z64.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("pkg/a.txt", "pkg/b.txt"):
            with archive.open(name, "w", force_zip64=True) as stream:
                stream.write(name.encode() * 100)
    opened, report = open_it(path, work)
    assert opened is not None, report.to_dict()
    with opened:
        assert (opened.root / "b.txt").read_bytes() == b"pkg/b.txt" * 100


def test_utf8_names_without_the_flag_are_accepted(tmp_path: Path, work: Path) -> None:
    """macOS and Linux zip tools write UTF-8 names without setting bit 11."""
    path = write_zip(tmp_path / "u.zip", {"pkg/Tờ-XXXXX.pdf": b"x"})
    raw_flagged = "pkg/Tờ-XXXXX.pdf".encode()
    data = bytearray(path.read_bytes())
    for offset, at in ((0, 6), (data.rfind(b"PK\x01\x02"), 8)):
        flags = struct.unpack_from("<H", data, offset + at)[0]
        struct.pack_into("<H", data, offset + at, flags & ~0x0800)
    path.write_bytes(bytes(data))
    opened, report = open_it(path, work)
    assert opened is not None, report.to_dict()
    with opened:
        assert os.fsencode(next(opened.root.iterdir()).name) == raw_flagged.split(b"/")[1]


def test_unicode_path_field_gives_the_name(tmp_path: Path, work: Path) -> None:
    """7-Zip and WinRAR write a legacy name plus an Info-ZIP Unicode path field."""
    legacy = "pkg/T?-trinh.pdf"
    real = "pkg/Tờ trình.pdf".encode()
    info = zipfile.ZipInfo(legacy, (2024, 1, 2, 3, 4, 5))
    info.extra = struct.pack("<HHBI", 0x7075, 5 + len(real), 1,
                             zlib.crc32(legacy.encode("ascii"))) + real
    path = tmp_path / "7z.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(info, b"x")
    opened, report = open_it(path, work)
    assert opened is not None, report.to_dict()
    with opened:
        assert (opened.root / "Tờ trình.pdf").read_bytes() == b"x"


def test_prepended_data_is_a_warning(tmp_path: Path, work: Path) -> None:
    inner = write_zip(tmp_path / "inner.zip", {"pkg/a.txt": b"a"})
    path = tmp_path / "sfx.exe"
    path.write_bytes(b"MZ" + b"\x00" * 1000 + inner.read_bytes())
    opened, report = open_it(path, work)
    assert opened is not None, report.to_dict()
    with opened:
        assert report.codes() == {"ZIP-PREPENDED-DATA"}
        assert (opened.root / "a.txt").read_bytes() == b"a"


def test_name_warnings_are_left_to_the_tree_checks(tmp_path: Path, work: Path) -> None:
    """A name legal here but not on Windows: reported once, by the check of the extracted tree."""
    path = write_zip(tmp_path / "w.zip", {"pkg/a:b.txt": b"x", "pkg/Hồ sơ/x": b"",
                                          f"pkg/{unicodedata.normalize('NFD', 'Hồ sơ')}/y": b""})
    opened, report = open_it(path, work)
    assert opened is not None
    assert report.findings == []
    with opened:
        check_tree_safety(PackageTree(opened.root), report)
    assert sorted(f.code for f in report.findings) == [
        "PKG-NAME-FOLDERS-COLLIDE", "PKG-PATH-WINDOWS-CHARACTER"]


def test_work_dir_is_created_and_two_openings_do_not_meet(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "t.zip", {"pkg/a.txt": b"a"})
    work = tmp_path / "new" / "work"
    first, _ = open_it(path, work)
    second, _ = open_it(path, work)
    assert first is not None and second is not None
    assert first.root != second.root
    first.close()
    assert (second.root / "a.txt").is_file()
    second.close()
    assert list(work.iterdir()) == []


def test_extraction_never_reads_a_whole_entry_into_memory(tmp_path: Path, work: Path) -> None:
    """256 MiB of zeros inflates in bounded pieces (ratio limit raised so that it is extracted)."""
    path = write_zeros(tmp_path / "zeros.zip", "pkg/zeros.bin", 256 * MIB)
    tracemalloc.start()
    try:
        opened, report = open_it(path, work, max_ratio=10_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert opened is not None, report.to_dict()
    with opened:
        assert (opened.root / "zeros.bin").stat().st_size == 256 * MIB
    assert peak < 16 * MIB, f"peak traced memory {peak / MIB:.1f} MiB"


# --- folders and other paths ----------------------------------------------------------------------

def test_folder_is_used_in_place(tmp_path: Path, work: Path) -> None:
    folder = tmp_path / "Hồ sơ 01"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_bytes(b"a")
    before = snapshot(tmp_path)
    opened, report = open_it(folder, work)
    assert opened is not None and report.findings == []
    with opened:
        assert opened.root == folder and opened.name == "Hồ sơ 01" and not opened.is_zip
    assert snapshot(tmp_path) == before
    assert (folder / "sub" / "a.txt").read_bytes() == b"a"


def test_missing_path_is_not_found(tmp_path: Path, work: Path) -> None:
    with pytest.raises(NotFoundError):
        open_package(tmp_path / "nope.zip", work, Report("x"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_not_found(tmp_path: Path, work: Path) -> None:
    path = write_zip(tmp_path / "t.zip", {"a.txt": b"a"})
    path.chmod(0)
    try:
        with pytest.raises(NotFoundError):
            open_package(path, work, Report("x"))
    finally:
        path.chmod(0o600)


def test_a_fifo_is_not_a_package(tmp_path: Path, work: Path) -> None:
    fifo = tmp_path / "pipe.zip"
    os.mkfifo(fifo)
    opened, report = open_it(fifo, work)
    assert opened is None
    assert report.codes() == {"PKG-NOT-A-PACKAGE"}


def test_an_empty_file_is_not_a_package(tmp_path: Path, work: Path) -> None:
    (tmp_path / "empty.zip").write_bytes(b"")
    opened, report = open_it(tmp_path / "empty.zip", work)
    assert opened is None
    assert report.codes() == {"PKG-NOT-A-PACKAGE"}


# --- damaged archives -----------------------------------------------------------------------------

def test_randomly_damaged_zips_give_findings_never_exceptions(tmp_path: Path, work: Path) -> None:
    """Seeded byte flips, cuts and insertions, and ZIP64 fields set to hostile values: always a
    clean refusal or a clean opening."""
    rng = random.Random(20240102)
    sources = [
        write_zip(tmp_path / f"{method}.zip", {"pkg/a.txt": b"hello " * 60, "pkg/sub/": b"",
                                               "pkg/sub/b.bin": bytes(range(256)) * 2,
                                               "pkg/c.txt": b""}, compression=method)
        .read_bytes() for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)]
    zip64 = zip64_archive({"pkg/a.txt": b"hello " * 60, "pkg/b.bin": bytes(range(256)) * 2,
                           "pkg/c.txt": b""})
    sources.append(zip64.data)
    target = tmp_path / "damaged.zip"
    outcomes = set()
    for _ in range(600):
        data = bytearray(rng.choice(sources))
        if data == zip64.data and rng.random() < 0.7:
            # A ZIP64 value (entry size, compressed size, header offset; end-record count,
            # directory size or offset) set to anything a hostile producer may write.
            size = len(data)
            value = rng.choice([0, 1, size - 1, size, size + 1, 2**32 - 1, 2**32, 2**63 - 16,
                                2**63 - 1, 2**63, 2**64 - 16, 2**64 - 1, rng.randrange(size),
                                rng.randrange(2**64)])
            struct.pack_into("<Q", data, rng.choice(zip64.values), value)
            if rng.random() < 0.5:  # that value alone, or with byte damage as well
                target.write_bytes(bytes(data))
                outcomes.add(_opened_cleanly(target, work))
                continue
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(data))
            action = rng.random()
            if action < 0.6:
                data[position] = rng.randrange(256)
            elif action < 0.8:
                del data[position:position + rng.randint(1, 16)]
            else:
                data[position:position] = rng.randbytes(rng.randint(1, 8))
        target.write_bytes(bytes(data))
        outcomes.add(_opened_cleanly(target, work))
    assert outcomes == {True, False}


def _opened_cleanly(target: Path, work: Path) -> bool:
    """Open ``target`` (must not raise); True when it was refused. Nothing is left behind."""
    opened, report = open_it(target, work)
    assert (opened is None) == (not report.valid), report.to_dict()
    if opened is not None:
        opened.close()
    assert list(work.iterdir()) == []
    return opened is None
