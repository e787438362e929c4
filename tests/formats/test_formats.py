"""PRONOM identification with one loaded fido: expected PUIDs, agreement with the fido CLI."""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import preservation.formats as formats
from preservation.errors import PreservationError
from preservation.formats import FormatId, FormatIdentificationError, FormatIdentifier

# -- files written by hand ---------------------------------------------------------------------


def make_pdf(padding: int = 0) -> bytes:
    """A minimal valid PDF 1.4: one empty page, a correct xref; ``padding`` bytes of comments."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    for _ in range(padding // 64):
        out += b"%" + b"x" * 62 + b"\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def make_png() -> bytes:
    """A valid 1x1 RGB PNG (signature, IHDR, IDAT, IEND with CRCs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>Hồ sơ lưu trữ</w:t></w:r></w:p></w:body></w:document>"
)


def make_docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("word/document.xml", DOCUMENT)
    return buf.getvalue()


def make_xlsx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        types = CONTENT_TYPES.replace("word/document", "xl/workbook").replace(
            "wordprocessingml.document.main", "spreadsheetml.sheet.main"
        )
        z.writestr("[Content_Types].xml", types)
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buf.getvalue()


def make_odt() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", "<office:document-content/>")
    return buf.getvalue()


def make_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.txt", "không phải tài liệu văn phòng")
    return buf.getvalue()


def make_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        data = b"hello"
        info = tarfile.TarInfo("a.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


VIETNAMESE = "Hồ sơ số 01/2024 — Biên bản họp Hội đồng xác định giá trị tài liệu.\n"

#: file name -> (content, expected PUID, expected basis)
CORPUS: dict[str, tuple[bytes, str | None, str]] = {
    "minimal.pdf": (make_pdf(), "fmt/18", "signature"),
    "big.pdf": (make_pdf(padding=600 * 1024), "fmt/18", "signature"),  # > head + tail
    "pixel.png": (make_png(), "fmt/11", "signature"),
    "bienban.txt": ((VIETNAMESE * 20).encode("utf-8"), "x-fmt/111", "extension"),
    "document.docx": (make_docx(), "fmt/412", "container"),
    "workbook.xlsx": (make_xlsx(), "fmt/214", "container"),
    "text.odt": (make_odt(), "fmt/290", "signature"),  # no version: ODF 1.0
    "archive.zip": (make_zip(), "x-fmt/263", "signature"),
    "archive.tar": (make_tar(), "x-fmt/265", "signature"),
    "empty": (b"", None, "none"),
    "empty.txt": (b"", "x-fmt/111", "extension"),
    "noise": (bytes(range(7, 256)) * 3 + os.urandom(64), None, "none"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for name, (content, _, _) in CORPUS.items():
        (folder / name).write_bytes(content)
    return folder


@pytest.fixture(scope="module")
def identifier() -> Iterator[FormatIdentifier]:
    with FormatIdentifier() as fi:
        yield fi


# -- expected identifications ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_expected_puid_and_basis(identifier: FormatIdentifier, corpus: Path, name: str) -> None:
    _, puid, basis = CORPUS[name]
    result = identifier.identify(corpus / name)
    assert (result.puid, result.basis) == (puid, basis)
    assert result.registry == "PRONOM"
    assert result.registry_version == identifier.signature_version


def test_pdf_details(identifier: FormatIdentifier, corpus: Path) -> None:
    result = identifier.identify(corpus / "minimal.pdf")
    assert result == FormatId(
        puid="fmt/18",
        name="Acrobat PDF 1.4 - Portable Document Format",
        version="1.4",
        mime="application/pdf",
        basis="signature",
        registry_version="v109",
    )


def test_text_is_an_extension_match_with_alternatives(
    identifier: FormatIdentifier, corpus: Path
) -> None:
    result = identifier.identify(corpus / "bienban.txt")
    assert result.puid == "x-fmt/111"
    assert result.basis == "extension"
    assert result.mime == "text/plain"
    assert result.alternatives  # fido reports several formats for ".txt", first by its order
    assert result.puid not in result.alternatives


def test_signature_version(identifier: FormatIdentifier) -> None:
    import fido.versions

    assert identifier.signature_version == f"v{fido.versions.get_local_versions().pronom_version}"
    assert re.fullmatch(r"v\d+", identifier.signature_version)
    assert identifier.fido_version == "1.6.1"
    assert identifier.signature_files[0] == f"formats-{identifier.signature_version}.xml"


def test_format_info(identifier: FormatIdentifier) -> None:
    info = identifier.format_info("fmt/412")
    assert info is not None
    assert info.name == "Microsoft Word for Windows"
    assert info.mime == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert identifier.pronom_name("fmt/18") == "Acrobat PDF 1.4 - Portable Document Format"
    assert identifier.format_info("fmt/999999") is None


# -- the same answers as fido ------------------------------------------------------------------


def run_fido_cli(*paths: Path) -> dict[str, tuple[list[str], str]]:
    """Run the ``fido`` command once; {file name: (PUIDs in fido's order, match type)}."""
    exe = shutil.which("fido")
    if exe is None:
        pytest.skip("the fido command is not on PATH")
    # real tab/newline characters: fido 1.6.1 does not unescape -nomatchprintf
    proc = subprocess.run(
        [
            exe,
            "-q",
            "-matchprintf",
            "%(info.filename)s\t%(info.puid)s\t%(info.matchtype)s\n",
            "-nomatchprintf",
            "%(info.filename)s\t\t%(info.matchtype)s\n",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    answers: dict[str, tuple[list[str], str]] = {}
    for line in proc.stdout.splitlines():
        filename, puid, matchtype = line.split("\t")
        puids, _ = answers.setdefault(Path(filename).name, ([], matchtype))
        if puid and puid not in puids:
            puids.append(puid)
    return answers


BASIS_OF_FIDO_MATCHTYPE = {
    "signature": "signature",
    "container": "container",
    "extension": "extension",
    "fail": "none",
}


def test_same_answers_as_fido_cli(identifier: FormatIdentifier, corpus: Path) -> None:
    expected = run_fido_cli(corpus)
    assert set(expected) == set(CORPUS)
    for name, (puids, matchtype) in expected.items():
        result = identifier.identify(corpus / name)
        ours = [result.puid, *result.alternatives] if result.puid else []
        assert (ours, result.basis) == (puids, BASIS_OF_FIDO_MATCHTYPE[matchtype]), name


def test_signature_rules_equal_fido_match_formats(
    identifier: FormatIdentifier, corpus: Path
) -> None:
    """The precompiled matcher gives Fido.match_formats' list, order and duplicates included."""
    sigs = identifier._loaded
    fido = sigs.fido
    samples = [(corpus / name).read_bytes() for name in sorted(CORPUS)]
    samples += [b"", b"<?xml version='1.0'?><a/>", b"GIF89a" + bytes(50), b"\xff\xd8\xff\xe0JFIF"]
    for data in samples:
        head, tail = data[: sigs.bufsize], data[-sigs.bufsize :]
        theirs = [(fido.get_puid(f), name) for f, name in fido.match_formats(head, tail)]
        ours = [(sigs.puids[i], name) for i, name in sigs.match_signatures(head, tail)]
        assert ours == theirs
    for filename in ["a.txt", "b.PDF", "c.docx", "noext", "d.unknownext"]:
        theirs = [(fido.get_puid(f), n) for f, n in fido.match_extensions(filename)]
        ours = [(sigs.puids[i], n) for i, n in sigs.match_extension(filename)]
        assert ours == theirs


# -- loading once, streaming, errors, silence ---------------------------------------------------


def test_300_files_with_one_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fido.fido

    loads: list[object] = []
    xml_loads: list[object] = []
    real_load = formats._load_signatures
    real_xml = fido.fido.Fido.load_fido_xml

    def counting_load(conf_dir: object) -> object:
        loads.append(conf_dir)
        return real_load(conf_dir)  # type: ignore[arg-type]

    def counting_xml(self: object, file: str) -> object:
        xml_loads.append(file)
        return real_xml(self, file)

    monkeypatch.setattr(formats, "_load_signatures", counting_load)
    monkeypatch.setattr(fido.fido.Fido, "load_fido_xml", counting_xml)
    kinds = [("pdf", make_pdf()), ("png", make_png()), ("txt", b"abc\n"), ("docx", make_docx())]
    paths = []
    for n in range(300):
        ext, content = kinds[n % len(kinds)]
        path = tmp_path / f"{n:03d}.{ext}"
        path.write_bytes(content)
        paths.append(path)

    with FormatIdentifier() as fi:
        results = dict(fi.identify_many(paths))

    assert len(loads) == 1
    assert len(xml_loads) == 2  # PRONOM signatures + fido's extension signatures, once
    assert [results[p].puid for p in paths[:4]] == ["fmt/18", "fmt/11", "x-fmt/111", "fmt/412"]
    assert sum(r.puid == "fmt/412" for r in results.values()) == 75


def test_identify_many_streams(identifier: FormatIdentifier, corpus: Path) -> None:
    asked: list[str] = []

    def names() -> Iterator[Path]:
        for name in ["minimal.pdf", "pixel.png", "document.docx"]:
            asked.append(name)
            yield corpus / name

    stream = identifier.identify_many(names())
    path, result = next(stream)
    assert (path.name, result.puid) == ("minimal.pdf", "fmt/18")
    assert asked == ["minimal.pdf"]
    assert [r.puid for _, r in stream] == ["fmt/11", "fmt/412"]


def test_unreadable_files_raise_oserror(identifier: FormatIdentifier, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        identifier.identify(tmp_path / "missing.pdf")
    with pytest.raises(IsADirectoryError):
        identifier.identify(tmp_path)
    with pytest.raises(FileNotFoundError):
        list(identifier.identify_many([tmp_path / "missing.pdf"]))


def test_corrupt_container_is_not_an_error(
    identifier: FormatIdentifier, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A DOCX whose [Content_Types].xml does not inflate: the fido CLI dies with zlib.error;
    we log a warning and report what the byte signatures say (a ZIP)."""
    data = bytearray(make_docx())
    start = 30 + len(b"[Content_Types].xml")  # the first entry's compressed data
    data[start : start + 20] = b"\xff" * 20
    path = tmp_path / "broken.docx"
    path.write_bytes(bytes(data))
    result = identifier.identify(path)
    assert (result.puid, result.basis) == ("x-fmt/263", "signature")
    assert "container signatures not checked" in caplog.text


def test_zip_bomb_member_is_not_read(
    identifier: FormatIdentifier, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """fido would inflate the whole [Content_Types].xml into memory; past the limit we don't."""
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("[Content_Types].xml", "w", force_zip64=True) as member:
            block = b" " * (1024 * 1024)
            for _ in range(formats.MAX_CONTAINER_MEMBER // len(block) + 1):
                member.write(block)
        z.writestr("word/document.xml", DOCUMENT)
    assert path.stat().st_size < 1024 * 1024
    result = identifier.identify(path)
    assert result.basis == "signature"
    assert result.puid == "x-fmt/263"
    assert "inflates to" in caplog.text


def test_nothing_is_printed(corpus: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with FormatIdentifier() as fi:
        for name in CORPUS:
            fi.identify(corpus / name)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_regex_cache_size_is_left_alone() -> None:
    before = re._MAXCACHE  # type: ignore[attr-defined]
    FormatIdentifier().close()
    assert before == re._MAXCACHE  # type: ignore[attr-defined]


def test_closed_identifier_refuses(corpus: Path) -> None:
    fi = FormatIdentifier()
    fi.close()
    fi.close()
    with pytest.raises(FormatIdentificationError):
        fi.identify(corpus / "minimal.pdf")


def test_missing_signature_files(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FormatIdentificationError) as excinfo:
        FormatIdentifier(conf_dir=tmp_path)
    assert isinstance(excinfo.value, PreservationError)
    assert excinfo.value.code == "FMT-IDENTIFIER"


def test_malformed_signature_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """fido prints and sys.exit()s on a malformed signature file; we raise, silently."""
    import fido

    shutil.copytree(fido.CONFIG_DIR, tmp_path / "conf")
    versions = (tmp_path / "conf" / "versions.xml").read_text()
    signature = re.search(r"<pronomSignature>(.*)</pronomSignature>", versions)
    assert signature is not None
    (tmp_path / "conf" / signature.group(1)).write_text("<formats><format>")
    with pytest.raises(FormatIdentificationError):
        FormatIdentifier(conf_dir=tmp_path / "conf")
    assert capfd.readouterr() == ("", "")


def test_calls_from_several_threads(identifier: FormatIdentifier, corpus: Path) -> None:
    names = sorted(CORPUS) * 5
    expected = {name: identifier.identify(corpus / name) for name in CORPUS}
    failures: list[str] = []

    def work(chunk: list[str]) -> None:
        for name in chunk:
            if identifier.identify(corpus / name) != expected[name]:
                failures.append(name)

    threads = [threading.Thread(target=work, args=(names[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
