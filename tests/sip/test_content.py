"""Content checks of a package (sip/content.py): formats against the policy, empty files, the
shared identifier, and one fixture per finding code of preservation/messages/content.toml.

Tests assert codes and locations (the file's package path), never wording.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

import preservation.formats
import sip.content
import sip.content_pdf
from policies.formats import load_format_policy
from preservation.findings import Report, Severity
from preservation.formats import FormatIdentificationError
from sip.content import ContentItem, ContentOptions, check_content
from sip.package import PackageTree
from sip.samples import minimal_pdf, sample_files
from tests.sip.pdf_fixtures import (
    EICAR,
    ClamdStandIn,
    Signer,
    append_page_change,
    build_pdf,
    codes,
    corrupt_signature_value,
    encrypt,
    found,
    garble_signature,
    identifier,
    make_package,
    raw_pdf,
    rename_subfilter,
    run,
    tamper,
    tsa,
    with_empty_signature_field,
)

DATA = "representations/rep1/data"
GIF87 = b"GIF87a\x01\x00\x01\x00\x00\x00\x00;"
GIF89 = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00" \
    b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d4944415478da63f8cfc0f01f0005000201a5f9a4b90000000049454e44ae426082")


# --- Formats ------------------------------------------------------------------------------------

def test_sample_transfer_content_is_accepted(tmp_path: Path) -> None:
    files = {f"data/{rel}": body for rel, body in sample_files().items()}
    report, formats = run(tmp_path, files)
    assert report.valid, report.to_dict()
    assert set(formats) == set(files)
    pdf = next(rel for rel in files if rel.endswith(".pdf"))
    assert formats[pdf].puid == "fmt/18" and formats[pdf].basis == "signature"
    assert codes(report, pdf) == {"FMT-BORN-DIGITAL-ONLY"}
    text = next(rel for rel in files if rel.endswith(".txt"))
    assert codes(report, text) == {"FMT-EXTENSION-ONLY"}  # plain text has no byte signature
    assert found(report, "FMT-EXTENSION-ONLY", text)[0].params["puid"] == "x-fmt/111"


def test_images_gif_89a_accepted_87a_not(tmp_path: Path) -> None:
    report, formats = run(tmp_path, {"a.gif": GIF89, "b.gif": GIF87, "c.png": PNG})
    assert formats["a.gif"].puid == "fmt/4" and formats["b.gif"].puid == "fmt/3"
    assert codes(report, "a.gif") == set() and codes(report, "c.png") == set()
    (refused,) = found(report, "FMT-NOT-ACCEPTED", "b.gif")
    assert refused.params["puid"] == "fmt/3" and refused.severity is Severity.ERROR


def test_not_accepted_severity_comes_from_the_policy(tmp_path: Path) -> None:
    lenient = replace(load_format_policy(None), not_accepted=Severity.WARNING)
    report, _ = run(tmp_path, {"b.gif": GIF87}, policy=lenient)
    assert found(report, "FMT-NOT-ACCEPTED", "b.gif")[0].severity is Severity.WARNING
    assert report.valid


def test_unidentified_file(tmp_path: Path) -> None:
    report, formats = run(tmp_path, {"blob": b"\x00\x13\x37 nothing known"})
    assert formats["blob"].puid is None and formats["blob"].basis == "none"
    (finding,) = found(report, "FMT-UNIDENTIFIED", "blob")
    assert finding.severity is Severity.WARNING and finding.params["registry"] == "v109"
    strict = replace(load_format_policy(None), unidentified=Severity.ERROR)
    report, _ = run(tmp_path / "strict", {"blob": b"\x00\x13\x37 nothing known"},
                    policy=strict)
    assert found(report, "FMT-UNIDENTIFIED", "blob")[0].severity is Severity.ERROR


def test_aac_without_pronom_signature_is_accepted_by_extension(tmp_path: Path) -> None:
    adts = b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(64)
    report, _ = run(tmp_path, {"audio/ghi-am.aac": adts})
    (finding,) = found(report, "FMT-ACCEPTED-BY-EXTENSION", "audio/ghi-am.aac")
    assert finding.params["group"] == "audio" and finding.severity is Severity.INFO
    assert report.valid


def test_digitised_plain_pdf_is_a_warning_born_digital_an_info(tmp_path: Path) -> None:
    files = {f"{DATA}/scan.pdf": minimal_pdf(), f"{DATA}/born.pdf": minimal_pdf()}
    report, _ = run(tmp_path, files, digitised=[f"{DATA}/scan.pdf"])
    (scan,) = found(report, "FMT-DIGITISED-NOT-PDFA", f"{DATA}/scan.pdf")
    assert scan.severity is Severity.WARNING and scan.params["puid"] == "fmt/18"
    assert codes(report, f"{DATA}/born.pdf") == {"FMT-BORN-DIGITAL-ONLY"}
    assert report.valid


def test_digitised_pdfa_gives_no_format_warning(tmp_path: Path) -> None:
    report, formats = run(tmp_path, {"scan.pdf": build_pdf(pdfa=("2", "B"))},
                          digitised=["scan.pdf"])
    assert formats["scan.pdf"].puid == "fmt/477"
    assert codes(report, "scan.pdf") == {"PDF-PDFA-CLAIM"}


def test_pdf_checks_run_only_on_pdfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    original = sip.content_pdf.check_pdf

    def spy(tree: PackageTree, rel: str, *args: Any, **kwargs: Any) -> Any:
        opened.append(rel)
        return original(tree, rel, *args, **kwargs)

    monkeypatch.setattr(sip.content, "check_pdf", spy)
    monkeypatch.setattr(sip.content, "can_fork", lambda: False)  # checked here: the spy sees it
    files = {"a.pdf": minimal_pdf(), "b.gif": GIF89, "c.txt": b"%PDF-1.4 in a text file\n"}
    run(tmp_path, files)
    assert opened == ["a.pdf"]


# --- Empty, missing, unreadable -----------------------------------------------------------------

def test_empty_file_is_an_error_and_nothing_else(tmp_path: Path) -> None:
    report, formats = run(tmp_path, {f"{DATA}/empty.pdf": b""}, digitised=[f"{DATA}/empty.pdf"])
    assert codes(report, f"{DATA}/empty.pdf") == {"CONTENT-EMPTY"}
    assert not report.valid and f"{DATA}/empty.pdf" not in formats


def test_item_not_in_the_package(tmp_path: Path) -> None:
    report, _ = run(tmp_path, {"a.txt": b"x"}, items=["a.txt", "gone.pdf"])
    (missing,) = found(report, "CONTENT-MISSING")
    assert missing.location.path == "gone.pdf" and missing.severity is Severity.NOT_CHECKED


def test_file_swapped_for_a_link_after_listing(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    tree = make_package(root, {"a.pdf": minimal_pdf(), "b.txt": b"ok\n"})
    outside = tmp_path / "secret.pdf"
    outside.write_bytes(minimal_pdf("secret"))
    (root / "a.pdf").unlink()
    (root / "a.pdf").symlink_to(outside)
    report = Report("pkg")
    formats = check_content(tree, [ContentItem("a.pdf"), ContentItem("b.txt")], report,
                            ContentOptions(load_format_policy(None)), identifier=identifier())
    assert found(report, "CONTENT-UNREADABLE", "a.pdf")
    assert "a.pdf" not in formats and "b.txt" in formats


def test_identifier_that_cannot_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise FormatIdentificationError("fido could not load its signature files: test")

    monkeypatch.setattr(sip.content, "FormatIdentifier", broken)
    tree = make_package(tmp_path / "pkg", {"a.pdf": encrypt(build_pdf()), "b.txt": b""})
    report = Report("pkg")
    formats = check_content(tree, [ContentItem("a.pdf"), ContentItem("b.txt")], report,
                            ContentOptions(load_format_policy(None)))
    (unavailable,) = found(report, "FMT-IDENTIFIER-UNAVAILABLE")
    assert unavailable.location.path is None
    assert formats == {}
    assert found(report, "PDF-ENCRYPTED", "a.pdf")  # the other checks still ran
    assert found(report, "CONTENT-EMPTY", "b.txt")


# --- One identifier, progress, nothing written ---------------------------------------------------

def test_signatures_loaded_once_for_the_whole_package(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[object] = []
    original = preservation.formats._load_signatures

    def counting(conf_dir: Any) -> Any:
        loads.append(conf_dir)
        return original(conf_dir)

    monkeypatch.setattr(preservation.formats, "_load_signatures", counting)
    files = {f"data/{i:03}.txt": f"van ban {i}\n".encode() for i in range(40)}
    files.update({f"data/{i:03}.pdf": minimal_pdf() for i in range(40, 50)})
    tree = make_package(tmp_path / "pkg", files)
    steps: list[int] = []
    report = Report("pkg")
    items = [ContentItem(rel) for rel in files] + [ContentItem("data/000.txt")]  # one repeated
    formats = check_content(tree, items, report, ContentOptions(load_format_policy(None)),
                            progress=steps.append)
    assert len(loads) == 1
    assert steps == [1] * len(items)
    assert len(formats) == 50
    assert len(found(report, "FMT-EXTENSION-ONLY", "data/000.txt")) == 1  # checked once


def test_content_checks_write_nothing(tmp_path: Path, socket_dir: Path) -> None:
    signer = Signer.create()
    root = tmp_path / "pkg"
    files = {"a.pdf": signer.sign(build_pdf()), "b.pdf": encrypt(build_pdf(), ""),
             "c.txt": EICAR, "d.gif": GIF87}
    tree = make_package(root, files)

    def state() -> dict[str, tuple[int, int, bytes]]:
        return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_mode,
                                           p.read_bytes())
                for p in sorted(root.rglob("*"))}

    before = state()
    report = Report("pkg")
    with ClamdStandIn(socket_dir) as server:
        check_content(tree, [ContentItem(rel, digitised=True) for rel in files], report,
                      ContentOptions(load_format_policy(None), (signer.ca.certificate,),
                                     server.address), identifier=identifier())
    assert state() == before
    assert not report.valid


@pytest.fixture
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clamd")


# --- One fixture per finding code ---------------------------------------------------------------

@dataclass
class Case:
    """A package that must raise ``code`` at ``where`` (a package path; None: the package)."""

    files: Callable[[], dict[str, bytes]]
    where: str | None = "doc.pdf"
    digitised: bool = False
    trusted: bool = True
    clamd: str | None = None  # "ok", "error", "limit", "unreachable"
    items: list[str] | None = None
    patch: dict[str, Any] = field(default_factory=dict)


_SIGNER = Signer.create("Fixture CA")
_STRANGER = Signer.create("Fixture stranger CA")


def _signed(change: Callable[[bytes], bytes] = lambda b: b) -> Callable[[], dict[str, bytes]]:
    return lambda: {"doc.pdf": change(_SIGNER.sign(build_pdf()))}


CASES: dict[str, Case] = {
    "CONTENT-EMPTY": Case(lambda: {"doc.pdf": b""}),
    "CONTENT-MISSING": Case(lambda: {"other.txt": b"x"}, items=["doc.pdf"]),
    "CONTENT-UNREADABLE": Case(lambda: {"doc.pdf": minimal_pdf()}, patch={"swap": True}),
    "FMT-IDENTIFIER-UNAVAILABLE": Case(lambda: {"doc.pdf": minimal_pdf()}, where=None,
                                       patch={"no_fido": True}),
    "FMT-UNIDENTIFIED": Case(lambda: {"doc.xyz123": b"\x00\x13\x37"}, where="doc.xyz123"),
    "FMT-EXTENSION-ONLY": Case(lambda: {"doc.csv": b"a,b\n1,2\n"}, where="doc.csv"),
    "FMT-ACCEPTED-BY-EXTENSION": Case(lambda: {"doc.aac": b"\xff\xf1" + bytes(30)},
                                      where="doc.aac"),
    "FMT-NOT-ACCEPTED": Case(lambda: {"doc.gif": GIF87}, where="doc.gif"),
    "FMT-BORN-DIGITAL-ONLY": Case(lambda: {"doc.pdf": minimal_pdf()}),
    "FMT-DIGITISED-NOT-PDFA": Case(lambda: {"doc.pdf": minimal_pdf()}, digitised=True),
    "PDF-PDFA-CLAIM": Case(lambda: {"doc.pdf": build_pdf(pdfa=("1", "B"))}),
    "PDF-XMP-UNREADABLE": Case(lambda: {"doc.pdf": raw_pdf(metadata=b"<x")}),
    "PDF-NO-TEXT-LAYER": Case(lambda: {"doc.pdf": build_pdf(text=False)}, digitised=True),
    "PDF-TEXT-LAYER-NOT-CHECKED": Case(
        lambda: {"doc.pdf": raw_pdf().replace(b") Tj ET", b") Tz ET")}, digitised=True,
        patch={"budget": 4}),
    "PDF-ENCRYPTED": Case(lambda: {"doc.pdf": encrypt(build_pdf(), "")}),
    "PDF-NOT-CHECKED": Case(lambda: {"doc.pdf": encrypt(build_pdf(), "secret")}),
    "PDF-MALFORMED": Case(lambda: {"doc.pdf": b"%PDF-1.4\n1 0 obj <<"}),
    "SIG-PDF-VALID": Case(_signed()),
    "SIG-PDF-TRUST-NOT-CHECKED": Case(_signed(), trusted=False),
    "SIG-PDF-UNTRUSTED": Case(lambda: {"doc.pdf": _STRANGER.sign(build_pdf())}),
    "SIG-PDF-TAMPERED": Case(_signed(tamper)),
    "SIG-PDF-INVALID": Case(_signed(corrupt_signature_value)),
    "SIG-PDF-PARTIAL-COVERAGE": Case(lambda: {"doc.pdf": _SIGNER.sign_partially(build_pdf())}),
    "SIG-PDF-MODIFIED": Case(_signed(append_page_change)),
    "SIG-PDF-LATER-UPDATES": Case(_signed(lambda b: _SIGNER.sign(b, "Signature2"))),
    "SIG-PDF-TIMESTAMP-INVALID": Case(
        lambda: {"doc.pdf": _SIGNER.sign(build_pdf(), timestamper=tsa(_STRANGER.ca))}),
    "SIG-PDF-UNREADABLE": Case(_signed(garble_signature)),
    "SIG-PDF-UNSUPPORTED": Case(_signed(rename_subfilter)),
    "SIG-PDF-EMPTY-FIELD": Case(lambda: {"doc.pdf": with_empty_signature_field(build_pdf())}),
    "VIRUS-NOT-CHECKED": Case(lambda: {"doc.pdf": minimal_pdf()}, where=None),
    "VIRUS-SCANNED": Case(lambda: {"doc.pdf": minimal_pdf()}, where=None, clamd="ok"),
    "VIRUS-FOUND": Case(lambda: {"doc.txt": EICAR}, where="doc.txt", clamd="ok"),
    "VIRUS-FILE-NOT-CHECKED": Case(lambda: {"doc.mp4": bytes(300_000), "b.txt": b"ok"},
                                   where="doc.mp4", clamd="limit"),
}


def test_every_content_code_has_a_case() -> None:
    path = Path(sip.content.__file__).parents[1] / "preservation" / "messages" / "content.toml"
    declared = set(tomllib.loads(path.read_text(encoding="utf-8")))
    assert declared == set(CASES)


@pytest.mark.parametrize("code", sorted(CASES))
def test_code_fixture(code: str, tmp_path: Path, socket_dir: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[code]
    files = case.files()
    root = tmp_path / "pkg"
    tree = make_package(root, files)
    items = case.items if case.items is not None else list(files)
    if case.patch.get("swap"):
        (root / "doc.pdf").unlink()
        os.symlink(tmp_path / "elsewhere.pdf", root / "doc.pdf")
    if "budget" in case.patch:
        monkeypatch.setattr(sip.content_pdf, "TEXT_SCAN_BUDGET", case.patch["budget"])
    kwargs: dict[str, Any] = {"identifier": identifier()}
    if case.patch.get("no_fido"):
        def broken() -> None:
            raise FormatIdentificationError("test")
        monkeypatch.setattr(sip.content, "FormatIdentifier", broken)
        kwargs = {}
    server = None
    clamd = None
    if case.clamd in ("ok", "error", "limit"):
        server = ClamdStandIn(socket_dir, mode=case.clamd,
                              max_stream=100_000 if case.clamd == "limit" else None)
        clamd = server.address
    options = ContentOptions(load_format_policy(None),
                             trust_roots=(_SIGNER.ca.certificate,) if case.trusted else (),
                             clamd=clamd)
    report = Report("pkg")
    try:
        check_content(tree, [ContentItem(rel, digitised=case.digitised) for rel in items],
                      report, options, **kwargs)
    finally:
        if server is not None:
            server.close()
    hits = found(report, code)
    assert hits, f"{code} not raised; got {sorted(codes(report))}"
    assert [h.location.path for h in hits] == [case.where] * len(hits)
    for hit in hits:
        assert hit.message("en") and hit.message("vi") and "{" not in hit.message("vi")
