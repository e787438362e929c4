"""PDF content checks (sip/content_pdf.py): signatures, PDF/A claims, text layers, encryption.

Every PDF is made in the test with pyHanko (tests/sip/pdf_fixtures.py); signer certificates come
from throwaway CAs. Tests assert codes and locations, never wording.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sip.content_pdf
from preservation.findings import Severity
from tests.sip.pdf_fixtures import (
    Signer,
    add_document_timestamp,
    append_page_change,
    build_pdf,
    codes,
    corrupt_signature_value,
    encrypt,
    found,
    garble_signature,
    raw_pdf,
    rename_subfilter,
    run,
    tamper,
    tsa,
    with_empty_signature_field,
    xmp_packet,
)

DOC = "representations/rep1/data/H49.01.2025.01.1.pdf"


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.create()


@pytest.fixture(scope="module")
def stranger() -> Signer:
    """A signer whose CA is not among the trust roots."""
    return Signer.create("Unknown CA")


def sig_codes(report_codes: set[str]) -> set[str]:
    return {c for c in report_codes if c.startswith("SIG-")}


# --- Signatures ---------------------------------------------------------------------------------

def test_valid_signature_with_trusted_ca(tmp_path: Path, signer: Signer) -> None:
    report, _ = run(tmp_path, {DOC: signer.sign(build_pdf())},
                    trust_roots=(signer.ca.certificate,))
    assert report.valid
    assert sig_codes(codes(report, DOC)) == {"SIG-PDF-VALID"}
    (valid,) = found(report, "SIG-PDF-VALID", DOC)
    assert valid.severity is Severity.INFO
    assert valid.params["field"] == "Signature1"
    assert "AIP signer" in valid.params["signer"]
    assert valid.params["signing_time"][:4].isdigit() and "+00:00" in valid.params["signing_time"]
    assert valid.params["coverage"] == "ENTIRE_FILE"


def test_untrusted_signer_is_a_warning(tmp_path: Path, signer: Signer, stranger: Signer
                                       ) -> None:
    report, _ = run(tmp_path, {DOC: stranger.sign(build_pdf())},
                    trust_roots=(signer.ca.certificate,))
    assert report.valid  # a warning does not reject
    (untrusted,) = found(report, "SIG-PDF-UNTRUSTED", DOC)
    assert untrusted.severity is Severity.WARNING
    assert untrusted.params["reason"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert "SIG-PDF-VALID" not in codes(report)


def test_no_trust_roots_means_trust_not_checked(tmp_path: Path, signer: Signer) -> None:
    report, _ = run(tmp_path, {DOC: signer.sign(build_pdf())})
    assert report.valid
    (finding,) = found(report, "SIG-PDF-TRUST-NOT-CHECKED", DOC)
    assert finding.severity is Severity.NOT_CHECKED
    assert "AIP signer" in finding.params["signer"]
    assert sig_codes(codes(report)) == {"SIG-PDF-TRUST-NOT-CHECKED"}


def test_tampered_signed_pdf_is_an_error(tmp_path: Path, signer: Signer) -> None:
    report, _ = run(tmp_path, {DOC: tamper(signer.sign(build_pdf()))},
                    trust_roots=(signer.ca.certificate,))
    assert not report.valid
    assert found(report, "SIG-PDF-TAMPERED", DOC)
    assert "SIG-PDF-VALID" not in codes(report)


def test_incremental_update_after_signing_is_an_error(tmp_path: Path, signer: Signer) -> None:
    report, _ = run(tmp_path, {DOC: append_page_change(signer.sign(build_pdf()))},
                    trust_roots=(signer.ca.certificate,))
    assert not report.valid
    (modified,) = found(report, "SIG-PDF-MODIFIED", DOC)
    assert modified.severity is Severity.ERROR
    assert modified.params["level"] == "OTHER"
    assert "SIG-PDF-VALID" not in codes(report)  # status.valid stays True; bottom_line does not


def test_signature_not_covering_its_revision_is_an_error(tmp_path: Path, signer: Signer
                                                         ) -> None:
    report, _ = run(tmp_path, {DOC: signer.sign_partially(build_pdf())},
                    trust_roots=(signer.ca.certificate,))
    (partial,) = found(report, "SIG-PDF-PARTIAL-COVERAGE", DOC)
    assert partial.severity is Severity.ERROR
    assert partial.params["coverage"] in ("CONTIGUOUS_BLOCK_FROM_START", "UNCLEAR")
    assert "SIG-PDF-TAMPERED" not in codes(report)  # the shortened range itself is intact


def test_signature_value_that_does_not_verify(tmp_path: Path, signer: Signer) -> None:
    report, _ = run(tmp_path, {DOC: corrupt_signature_value(signer.sign(build_pdf()))},
                    trust_roots=(signer.ca.certificate,))
    assert found(report, "SIG-PDF-INVALID", DOC)
    assert not report.valid


def test_second_signature_is_a_permitted_later_update(tmp_path: Path, signer: Signer) -> None:
    twice = signer.sign(signer.sign(build_pdf()), field="Signature2")
    report, _ = run(tmp_path, {DOC: twice}, trust_roots=(signer.ca.certificate,))
    assert report.valid
    assert {f.params["field"] for f in found(report, "SIG-PDF-VALID", DOC)} == \
        {"Signature1", "Signature2"}
    (later,) = found(report, "SIG-PDF-LATER-UPDATES", DOC)
    assert later.params["field"] == "Signature1" and later.params["level"] == "FORM_FILLING"


def test_garbled_signature_is_unreadable(tmp_path: Path, signer: Signer) -> None:
    report, _ = run(tmp_path, {DOC: garble_signature(signer.sign(build_pdf()))},
                    trust_roots=(signer.ca.certificate,))
    (unreadable,) = found(report, "SIG-PDF-UNREADABLE", DOC)
    assert unreadable.params["field"] == "Signature1"
    assert "PDF-MALFORMED" not in codes(report)  # the rest of the PDF is still checked


def test_unsupported_signature_kind_is_not_checked(tmp_path: Path, signer: Signer) -> None:
    report, _ = run(tmp_path, {DOC: rename_subfilter(signer.sign(build_pdf()))},
                    trust_roots=(signer.ca.certificate,))
    (unsupported,) = found(report, "SIG-PDF-UNSUPPORTED", DOC)
    assert unsupported.severity is Severity.NOT_CHECKED
    assert unsupported.params["subfilter"].startswith("/Unknown")


def test_empty_signature_field_is_reported(tmp_path: Path) -> None:
    report, _ = run(tmp_path, {DOC: with_empty_signature_field(build_pdf())})
    (empty,) = found(report, "SIG-PDF-EMPTY-FIELD", DOC)
    assert empty.params["field"] == "Unsigned"
    assert report.valid


def test_untrusted_timestamp_is_a_warning(tmp_path: Path, signer: Signer, stranger: Signer
                                          ) -> None:
    stamped = signer.sign(build_pdf(), timestamper=tsa(stranger.ca))
    report, _ = run(tmp_path, {DOC: stamped}, trust_roots=(signer.ca.certificate,))
    assert found(report, "SIG-PDF-TIMESTAMP-INVALID", DOC)
    assert "SIG-PDF-VALID" not in codes(report)
    assert report.valid


def test_trusted_timestamp_gives_the_timestamped_time(tmp_path: Path, signer: Signer) -> None:
    stamped = signer.sign(build_pdf(), timestamper=tsa(signer.ca))
    report, _ = run(tmp_path, {DOC: stamped}, trust_roots=(signer.ca.certificate,))
    assert sig_codes(codes(report)) == {"SIG-PDF-VALID"}


def test_document_timestamp_is_validated(tmp_path: Path, signer: Signer) -> None:
    stamped = add_document_timestamp(signer.sign(build_pdf()), tsa(signer.ca))
    report, _ = run(tmp_path, {DOC: stamped}, trust_roots=(signer.ca.certificate,))
    assert report.valid
    assert "PDF-MALFORMED" not in codes(report)
    valid = found(report, "SIG-PDF-VALID", DOC)
    assert len(valid) == 2 and any("Test TSA" in f.params["signer"] for f in valid)
    (later,) = found(report, "SIG-PDF-LATER-UPDATES", DOC)
    assert later.params["level"] == "LTA_UPDATES"


def test_unsigned_pdf_has_no_signature_findings(tmp_path: Path) -> None:
    report, _ = run(tmp_path, {DOC: build_pdf()})
    assert not sig_codes(codes(report))


# --- PDF/A claim and text layer ------------------------------------------------------------------

@pytest.mark.parametrize(("pdf", "part", "conformance"), [
    (build_pdf(pdfa=("2", "B")), "2", "B"),                          # pyHanko's own XMP
    (raw_pdf(metadata=xmp_packet("1", "A")), "1", "A"),              # element form
    (raw_pdf(metadata=xmp_packet("3", "u", as_attributes=True)), "3", "U"),  # attribute form
], ids=["pyhanko-xmp", "elements", "attributes"])
def test_pdfa_claim_is_read_from_xmp(tmp_path: Path, pdf: bytes, part: str, conformance: str
                                     ) -> None:
    report, _ = run(tmp_path, {DOC: pdf}, digitised=[DOC])
    (claim,) = found(report, "PDF-PDFA-CLAIM", DOC)
    assert claim.params == {"part": part, "conformance": conformance}
    assert "FMT-DIGITISED-NOT-PDFA" not in codes(report)


def test_claim_counts_even_when_fido_sees_plain_pdf(tmp_path: Path) -> None:
    # fido looks for the claim in the first and last 128 KiB only; the XMP is read wherever it is
    pdf = raw_pdf(metadata=xmp_packet("2", "B"), padding=200_000)
    report, formats = run(tmp_path, {DOC: pdf}, digitised=[DOC])
    assert formats[DOC].puid == "fmt/276"
    assert found(report, "PDF-PDFA-CLAIM", DOC)
    assert "FMT-DIGITISED-NOT-PDFA" not in codes(report)


def test_unreadable_xmp_is_a_warning(tmp_path: Path) -> None:
    report, _ = run(tmp_path, {DOC: raw_pdf(metadata=b"<x:xmpmeta><broken")})
    assert found(report, "PDF-XMP-UNREADABLE", DOC)
    assert report.valid


def test_xmp_with_entities_is_not_expanded(tmp_path: Path) -> None:
    hostile = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
               b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>')
    report, _ = run(tmp_path, {DOC: raw_pdf(metadata=hostile)})
    assert found(report, "PDF-XMP-UNREADABLE", DOC)


def test_digitised_scan_without_text_layer(tmp_path: Path) -> None:
    report, _ = run(tmp_path, {DOC: build_pdf(text=False, pages=3, pdfa=("2", "B"))},
                    digitised=[DOC])
    (no_text,) = found(report, "PDF-NO-TEXT-LAYER", DOC)
    assert no_text.severity is Severity.WARNING and no_text.params["pages"] == "3"
    assert report.valid


def test_text_layer_is_only_checked_for_digitised_items(tmp_path: Path) -> None:
    report, _ = run(tmp_path, {DOC: build_pdf(text=False)})
    assert "PDF-NO-TEXT-LAYER" not in codes(report)


@pytest.mark.parametrize("in_form", [False, True], ids=["page", "form-xobject"])
def test_text_layer_found(tmp_path: Path, in_form: bool) -> None:
    pdf = build_pdf(text=True, text_in_form=in_form, pdfa=("2", "B"))
    report, _ = run(tmp_path, {DOC: pdf}, digitised=[DOC])
    assert "PDF-NO-TEXT-LAYER" not in codes(report)
    assert codes(report, DOC) == {"PDF-PDFA-CLAIM"}


def test_text_layer_scan_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sip.content_pdf, "TEXT_SCAN_BUDGET", 10)
    # a page with a font but no text-showing operator: its content has to be read
    no_show = raw_pdf().replace(b") Tj ET", b") Tz ET")
    report, _ = run(tmp_path, {DOC: no_show}, digitised=[DOC])
    (skipped,) = found(report, "PDF-TEXT-LAYER-NOT-CHECKED", DOC)
    assert skipped.severity is Severity.NOT_CHECKED
    assert "PDF-NO-TEXT-LAYER" not in codes(report)


def test_policy_sets_the_severity_of_a_missing_text_layer(tmp_path: Path) -> None:
    from dataclasses import replace

    from policies.formats import load_format_policy

    strict = replace(load_format_policy(None), digitised_no_text_layer=Severity.ERROR)
    report, _ = run(tmp_path, {DOC: build_pdf(text=False, pdfa=("2", "B"))}, digitised=[DOC],
                    policy=strict)
    (no_text,) = found(report, "PDF-NO-TEXT-LAYER", DOC)
    assert no_text.severity is Severity.ERROR and not report.valid


# --- Encryption and damage -----------------------------------------------------------------------

def test_encrypted_pdf_is_an_error(tmp_path: Path) -> None:
    report, _ = run(tmp_path, {DOC: encrypt(build_pdf(), user_password="secret")},
                    digitised=[DOC])
    (encrypted,) = found(report, "PDF-ENCRYPTED", DOC)
    assert encrypted.severity is Severity.ERROR and encrypted.params["filter"] == "Standard"
    assert found(report, "PDF-NOT-CHECKED", DOC)  # nothing inside could be read
    assert not report.valid


def test_owner_password_only_pdf_is_an_error_but_still_checked(tmp_path: Path,
                                                               signer: Signer) -> None:
    pdf = encrypt(build_pdf(text=False), user_password="")
    report, _ = run(tmp_path, {DOC: pdf}, digitised=[DOC])
    assert found(report, "PDF-ENCRYPTED", DOC)
    assert "PDF-NOT-CHECKED" not in codes(report)
    assert found(report, "PDF-NO-TEXT-LAYER", DOC)  # decrypted with the empty password


@pytest.mark.parametrize("data", [
    b"%PDF-1.4\ngarbage",
    b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 9 0 R >>",
    build_pdf()[:200],
], ids=["garbage", "dangling-root", "truncated"])
def test_malformed_pdf_is_an_error(tmp_path: Path, data: bytes) -> None:
    report, _ = run(tmp_path, {DOC: data}, digitised=[DOC])
    (malformed,) = found(report, "PDF-MALFORMED", DOC)
    assert malformed.params["error"]
    assert "FMT-DIGITISED-NOT-PDFA" not in codes(report)  # one error says it


def test_flate_bomb_content_is_bounded(tmp_path: Path) -> None:
    import zlib

    bomb = zlib.compress(b"0" * (80 * 1024 * 1024), 9)  # ~80 KB that inflate to 80 MB
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + \
        b"\nendstream"
    # object 6 replaces the page content (same length: the xref offsets stay right)
    pdf = raw_pdf(extra_objects=(stream,)).replace(b"/Contents 4 0 R", b"/Contents 6 0 R")
    pdf = pdf.replace(b"/Resources << /Font << /F1 5 0 R >> >>",
                      b"/Resources << /Font << /F9 5 0 R >> >>")
    report, _ = run(tmp_path, {DOC: pdf}, digitised=[DOC])
    # pyHanko's decode limit (sip.content_pdf.MAX_STREAM) stops the stream before it is whole
    assert found(report, "PDF-TEXT-LAYER-NOT-CHECKED", DOC)
    assert "PDF-MALFORMED" not in codes(report)
