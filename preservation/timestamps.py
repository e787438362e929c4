"""RFC 3161 timestamps on AIP signatures: trusted proof of *when* a signature existed.

A CMS signature's signingTime attribute is the signer's own claim. Once the signer's certificate
has expired (or its key may have leaked), that claim proves nothing. A timestamp token from a
time-stamping authority (TSA) over the signature value proves the signature existed at the
token's genTime, so the signer's certificate can be judged at that time for as long as the TSA
is trusted. The token goes into the SignerInfo as the unsigned attribute
id-aa-signatureTimeStampToken (1.2.840.113549.1.9.16.2.14), as CAdES-T does; unsigned attributes
are outside the signature, so ``openssl cms -verify`` keeps accepting the signature unchanged.

:func:`timestamp_signature` asks a TSA over HTTP (stdlib only, bounded time and size) and checks
the answer before embedding it. :func:`async_check_timestamps` verifies embedded tokens; it is
called by :func:`preservation.signing.verify_detached`. No other network access is made:
certificates are not fetched and revocation is not checked.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import tsp as asn1_tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.general import extract_signer_info
from pyhanko.sign.validation.generic_cms import (
    extract_certs_for_validation,
    validate_sig_integrity,
    validate_tst_signed_data,
)
from pyhanko_certvalidator import ValidationContext

from preservation.errors import SigningError

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_RESPONSE_BYTES",
    "SIGNATURE_TIMESTAMP_OID",
    "TIMESTAMP_PROBLEMS",
    "TimestampCheck",
    "TimestampError",
    "async_check_timestamps",
    "timestamp_signature",
]

SIGNATURE_TIMESTAMP_OID = "1.2.840.113549.1.9.16.2.14"
"""id-aa-signatureTimeStampToken (RFC 3161 appendix A, CAdES-T)."""

MAX_RESPONSE_BYTES = 1 << 20
"""A TSA answer is a few kilobytes; anything above a mebibyte is refused unread."""

_REPLY_TYPES = frozenset({"application/timestamp-reply", "application/timestamp-response"})
# Digests accepted for the message imprint of a token found in a signature. SHA-1 and MD5
# imprints can be forged by collision, so they prove nothing.
_IMPRINT_DIGESTS = frozenset({"sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_512"})

TIMESTAMP_PROBLEMS: dict[str, str] = {
    "SIG-TIMESTAMP-MALFORMED": "the timestamp token cannot be read as an RFC 3161 token",
    "SIG-TIMESTAMP-WEAK-ALGORITHM": "the timestamp's message imprint uses a broken digest",
    "SIG-TIMESTAMP-IMPRINT-MISMATCH": "the timestamp was issued for another signature value",
    "SIG-TIMESTAMP-SIGNATURE-INVALID": "the TSA's signature on the timestamp token is invalid",
    "SIG-TIMESTAMP-NOT-TSA": (
        "the certificate that signed the timestamp lacks the critical extended key usage"
        " timeStamping required of a time-stamping authority"
    ),
    "SIG-TIMESTAMP-TSA-CERT-INVALID-AT-GENTIME": (
        "the timestamp claims a time at which the TSA certificate was not valid"
    ),
    "SIG-TIMESTAMP-TSA-CERT-EXPIRED": (
        "the TSA certificate is no longer valid, so the timestamp can no longer be trusted"
        " (it should have been renewed with a newer timestamp before the TSA certificate expired)"
    ),
    "SIG-TIMESTAMP-UNTRUSTED": (
        "the TSA certificate does not chain to a trusted time-stamping authority"
    ),
}
"""English description of every problem code a :class:`TimestampCheck` can report."""


class _TimeStampResp(asn1_core.Sequence):  # type: ignore[misc]
    """TimeStampResp (RFC 3161 §2.4.2) with the token OPTIONAL, as the RFC has it: asn1crypto's
    own definition requires the token, so it cannot even read a refusal."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", asn1_tsp.PKIStatusInfo),
        ("time_stamp_token", asn1_cms.ContentInfo, {"optional": True}),
    ]


class TimestampError(SigningError):
    """A timestamp could not be obtained from the TSA; ``location`` is the TSA's URL.

    Codes: ``SIG-TSA-URL-INVALID`` (not an http(s) URL), ``SIG-TSA-UNREACHABLE`` (no connection),
    ``SIG-TSA-TIMEOUT`` (no complete answer in time), ``SIG-TSA-REFUSED`` (HTTP error status or a
    TSA status other than granted), ``SIG-TSA-BAD-RESPONSE`` (an answer that is not a valid
    token for our request), ``SIG-TSA-INPUT-INVALID`` (the signature to timestamp is unusable).
    """

    code = "SIG-TSA-ERROR"


@dataclass(frozen=True)
class TimestampCheck:
    """What was found about the timestamp token of a signature.

    ``imprint_matches``: the token was issued over this signature's value. ``signature_valid``:
    the TSA's own signature over the token verifies. ``trusted``: the TSA certificate is a
    time-stamping certificate, was valid at ``gen_time``, is valid now, and chains to the TSA
    trust anchors. ``gen_time`` is the TSA's time (present even if the token fails a check, so
    it can be shown; rely on it only when :attr:`ok`).
    """

    gen_time: datetime | None
    tsa_name: str
    tsa_certificate_subject: str
    serial_number: str
    policy: str
    imprint_matches: bool
    signature_valid: bool
    trusted: bool
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """The token proves the signature existed at ``gen_time``."""
        return (
            self.imprint_matches
            and self.signature_valid
            and self.trusted
            and self.gen_time is not None
            and not self.problems
        )


# --- requesting a timestamp ----------------------------------------------------------------------


def timestamp_signature(cms_der: bytes, tsa_url: str, *, timeout: float = 30) -> bytes:
    """Return ``cms_der`` with an RFC 3161 timestamp over its signature value embedded.

    The request carries a SHA-256 imprint of the SignerInfo's signature value, a random nonce and
    certReq so that the TSA certificate comes with the token. The answer must be granted, match
    imprint and nonce, be signed correctly and by a certificate with the timeStamping extended
    key usage; otherwise :class:`TimestampError`. The whole exchange is bounded by about
    ``timeout`` seconds and :data:`MAX_RESPONSE_BYTES`. Trust in the TSA is not judged here (the
    verifier decides which TSAs it trusts). The rest of the CMS is kept byte for byte, so the
    signature itself still verifies with any CMS implementation.
    """
    if not tsa_url.startswith(("http://", "https://")):
        raise TimestampError(
            "the TSA address must be an http:// or https:// URL",
            code="SIG-TSA-URL-INVALID",
            location=tsa_url,
        )
    try:
        info = asn1_cms.ContentInfo.load(cms_der, strict=True)
        signer_info = extract_signer_info(info["content"])
        signature_value = signer_info["signature"].native
    except Exception as exc:  # any layer of the lazy ASN.1 parser may fail on bad input
        raise TimestampError(
            f"not a CMS signature with exactly one signer: {exc}",
            code="SIG-TSA-INPUT-INVALID",
            location=tsa_url,
        ) from exc
    imprint = hashlib.sha256(signature_value).digest()
    nonce = int.from_bytes(os.urandom(8), "big") >> 1  # positive, 63 bits
    request = asn1_tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": imprint,
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )
    body = _post(tsa_url, request.dump(), timeout)
    token = _checked_token(body, imprint, nonce, tsa_url)
    attribute = asn1_cms.CMSAttribute({"type": SIGNATURE_TIMESTAMP_OID, "values": [token]})
    existing = signer_info["unsigned_attrs"]
    previous = [] if isinstance(existing, asn1_core.Void) else list(existing)
    signer_info["unsigned_attrs"] = asn1_cms.CMSAttributes([*previous, attribute])
    # dump() without force re-encodes only what changed: the signed attributes, certificates and
    # signature keep their original bytes.
    der: bytes = info.dump()
    logger.info("timestamped a signature at %s", tsa_url)
    return der


def _post(url: str, body: bytes, timeout: float) -> bytes:
    """POST a timestamp query; return the reply body, read within the deadline and size limit."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/timestamp-query",
            "Accept": "application/timestamp-reply",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            content_type = response.headers.get_content_type()
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(65536):
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise TimestampError(
                        f"the TSA answer exceeds {MAX_RESPONSE_BYTES} bytes",
                        code="SIG-TSA-BAD-RESPONSE",
                        location=url,
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        raise TimestampError(
            f"the TSA answered HTTP {exc.code} {exc.reason}", code="SIG-TSA-REFUSED", location=url
        ) from exc
    except TimeoutError as exc:
        raise _timeout(url, timeout) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _timeout(url, timeout) from exc
        raise TimestampError(
            f"cannot reach the TSA: {exc.reason}", code="SIG-TSA-UNREACHABLE", location=url
        ) from exc
    except (OSError, ValueError) as exc:  # connection reset, bad status line, invalid URL …
        raise TimestampError(
            f"cannot reach the TSA: {exc}", code="SIG-TSA-UNREACHABLE", location=url
        ) from exc
    if content_type not in _REPLY_TYPES:
        raise TimestampError(
            f"the TSA answered with {content_type}, not application/timestamp-reply",
            code="SIG-TSA-BAD-RESPONSE",
            location=url,
        )
    return b"".join(chunks)


def _timeout(url: str, timeout: float) -> TimestampError:
    return TimestampError(
        f"no complete answer from the TSA within {timeout:g} s",
        code="SIG-TSA-TIMEOUT",
        location=url,
    )


def _checked_token(body: bytes, imprint: bytes, nonce: int, url: str) -> asn1_cms.ContentInfo:
    """The token of a TimeStampResp after every check that needs no trust anchor."""

    def bad(reason: str) -> TimestampError:
        return TimestampError(
            f"unusable TSA answer: {reason}", code="SIG-TSA-BAD-RESPONSE", location=url
        )

    try:
        response = _TimeStampResp.load(body, strict=True)
        status = response["status"]
        granted = status["status"].native in ("granted", "granted_with_mods")
        if not granted:
            texts = "; ".join(status["status_string"].native or [])
            failures = ", ".join(status["fail_info"].native or [])
            raise TimestampError(
                f"the TSA refused the request: status {status['status'].native}"
                + (f", {texts}" if texts else "")
                + (f" (failure: {failures})" if failures else ""),
                code="SIG-TSA-REFUSED",
                location=url,
            )
        token = response["time_stamp_token"]
        if isinstance(token, asn1_core.Void) or token["content_type"].native != "signed_data":
            raise bad("no timestamp token in a granted answer")
        signed_data = token["content"]
        tst_info = _tst_info(signed_data)
        token_imprint = tst_info["message_imprint"]
        if (
            token_imprint["hash_algorithm"]["algorithm"].native != "sha256"
            or token_imprint["hashed_message"].native != imprint
        ):
            raise bad("the token is for another message imprint")
        if tst_info["nonce"].native != nonce:
            raise bad("the token does not carry our nonce")
        problem = _token_signature_problem(signed_data)
        if problem is not None:
            raise bad(problem)
    except TimestampError:
        raise
    except Exception as exc:  # hostile bytes can fail anywhere in the lazy parser
        raise bad(f"not an RFC 3161 TimeStampResp ({exc})") from exc
    return token


def _tst_info(signed_data: asn1_cms.SignedData) -> asn1_tsp.TSTInfo:
    content = signed_data["encap_content_info"]
    if content["content_type"].native != "tst_info":
        raise ValueError("the token does not encapsulate a TSTInfo")
    parsed = content["content"].parsed
    if not isinstance(parsed, asn1_tsp.TSTInfo):
        raise ValueError("the token does not encapsulate a TSTInfo")
    return parsed


def _token_signature_problem(signed_data: asn1_cms.SignedData) -> str | None:
    """Check the TSA's signature and certificate purpose; return a reason or None."""
    certificate = extract_certs_for_validation(signed_data).signer_cert
    signer_info = extract_signer_info(signed_data)
    algorithm = signer_info["digest_algorithm"]["algorithm"].native
    digest = hashlib.new(algorithm, bytes(signed_data["encap_content_info"]["content"])).digest()
    intact, valid = validate_sig_integrity(signer_info, certificate, "tst_info", digest)
    if not (intact and valid):
        return "the TSA's signature on the token does not verify"
    if _tsa_usage_problem(x509.load_der_x509_certificate(certificate.dump())) is not None:
        return "the token is not signed by a time-stamping certificate (extendedKeyUsage)"
    return None


def _tsa_usage_problem(certificate: x509.Certificate) -> str | None:
    """``SIG-TIMESTAMP-NOT-TSA`` unless the critical extendedKeyUsage names timeStamping."""
    try:
        extension = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return "SIG-TIMESTAMP-NOT-TSA"
    if not extension.critical or ExtendedKeyUsageOID.TIME_STAMPING not in extension.value:
        return "SIG-TIMESTAMP-NOT-TSA"
    return None


# --- verifying embedded timestamps ---------------------------------------------------------------


async def async_check_timestamps(
    signer_info: asn1_cms.SignerInfo, tsa_anchors: Sequence[Any], now: datetime
) -> TimestampCheck | None:
    """Check the signature timestamp tokens of a SignerInfo; None when it carries none.

    ``tsa_anchors`` are asn1crypto certificates. With several tokens, the first that verifies
    wins; if none does, the first token's findings are returned. Never raises on a damaged
    token: it is reported as ``SIG-TIMESTAMP-MALFORMED``.
    """
    try:
        unsigned = signer_info["unsigned_attrs"]
        if isinstance(unsigned, asn1_core.Void):
            return None
        tokens = [
            value
            for attribute in unsigned
            if attribute["type"].dotted == SIGNATURE_TIMESTAMP_OID
            for value in attribute["values"]
        ]
    except Exception as exc:  # damaged unsigned attributes do not touch the signature itself
        logger.info("unreadable unsigned attributes: %r", exc)
        return _malformed()
    checks: list[TimestampCheck] = []
    for token in tokens:
        try:
            check = await _check_token(token, signer_info, tsa_anchors, now)
        except Exception as exc:  # a hostile token can break any layer of the stack
            logger.info("unreadable timestamp token: %r", exc)
            check = _malformed()
        if check.ok:
            return check
        checks.append(check)
    return checks[0] if checks else None


async def _check_token(
    token: Any, signer_info: asn1_cms.SignerInfo, tsa_anchors: Sequence[Any], now: datetime
) -> TimestampCheck:
    if not isinstance(token, asn1_cms.ContentInfo):
        token = asn1_cms.ContentInfo.load(token.dump(), strict=True)
    if token["content_type"].native != "signed_data":
        return _malformed()
    signed_data = token["content"]
    tst_info = _tst_info(signed_data)
    gen_time: datetime = tst_info["gen_time"].native
    imprint = tst_info["message_imprint"]
    imprint_algorithm = imprint["hash_algorithm"]["algorithm"].native
    token_imprint: bytes = imprint["hashed_message"].native

    problems: list[str] = []
    if imprint_algorithm not in _IMPRINT_DIGESTS:
        problems.append("SIG-TIMESTAMP-WEAK-ALGORITHM")
        imprint_matches = False
    else:
        signature_value = signer_info["signature"].native
        imprint_matches = hashlib.new(imprint_algorithm, signature_value).digest() == token_imprint
        if not imprint_matches:
            problems.append("SIG-TIMESTAMP-IMPRINT-MISMATCH")

    context = ValidationContext(
        trust_roots=list(tsa_anchors),
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=now,
    )
    # The imprint is compared above; pyHanko is given the token's own so that its "intact"
    # speaks only of the token's integrity.
    status: dict[str, Any] = await validate_tst_signed_data(
        signed_data, context, lambda _algorithm: token_imprint
    )
    tsa_certificate = x509.load_der_x509_certificate(status["signing_cert"].dump())
    signature_valid = bool(status["intact"] and status["valid"])
    if not signature_valid:
        problems.append("SIG-TIMESTAMP-SIGNATURE-INVALID")
    else:
        problems += _tsa_problems(tsa_certificate, gen_time, now, status)

    return TimestampCheck(
        gen_time=gen_time,
        tsa_name=_tsa_name(tst_info, tsa_certificate),
        tsa_certificate_subject=tsa_certificate.subject.rfc4514_string(),
        serial_number=format(tst_info["serial_number"].native, "x"),
        policy=tst_info["policy"].dotted,
        imprint_matches=imprint_matches,
        signature_valid=signature_valid,
        trusted=signature_valid and not problems,
        problems=tuple(problems),
    )


def _tsa_problems(
    certificate: x509.Certificate, gen_time: datetime, now: datetime, status: dict[str, Any]
) -> list[str]:
    """Trust in the TSA: purpose, validity at genTime and now, chain to the anchors.

    Validity and purpose are checked here as well as by pyHanko because pyHanko skips both for
    a certificate that is itself a trust anchor.
    """
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    usage = _tsa_usage_problem(certificate)
    if usage is not None:
        return [usage]
    if not start <= gen_time <= end:
        return ["SIG-TIMESTAMP-TSA-CERT-INVALID-AT-GENTIME"]
    if not start <= now <= end:
        return ["SIG-TIMESTAMP-TSA-CERT-EXPIRED"]
    if status["trust_problem_indic"] is not None or status["validation_path"] is None:
        return ["SIG-TIMESTAMP-UNTRUSTED"]
    return []


def _tsa_name(tst_info: asn1_tsp.TSTInfo, certificate: x509.Certificate) -> str:
    """The TSA's name as the token states it, else the subject of its certificate."""
    name = tst_info["tsa"]
    if isinstance(name, asn1_core.Void):
        return certificate.subject.rfc4514_string()
    if name.name == "directory_name":
        if name.chosen == asn1_x509.Name.load(certificate.subject.public_bytes()):
            return certificate.subject.rfc4514_string()
        return str(name.chosen.human_friendly)
    return str(name.native)


def _malformed() -> TimestampCheck:
    return TimestampCheck(
        gen_time=None,
        tsa_name="",
        tsa_certificate_subject="",
        serial_number="",
        policy="",
        imprint_matches=False,
        signature_valid=False,
        trusted=False,
        problems=("SIG-TIMESTAMP-MALFORMED",),
    )
