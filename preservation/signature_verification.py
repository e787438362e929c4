"""Verifying a detached CMS signature over an AIP's tagmanifest, and judging its signer's trust.

Signatures are verified with pyHanko, because cryptography has no CMS verification API. Nothing
in this module touches the network: trust comes only from the anchors the caller passes, and
revocation is not checked (no CRLs or OCSP responses are fetched). Trusted time (RFC 3161
timestamps on the signature) lives in :mod:`preservation.timestamps`; :func:`verify_detached`
checks the tokens it finds and judges the signer's certificate at the time they prove.
:mod:`preservation.signing` re-exports the public names.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.general import extract_signer_info
from pyhanko.sign.validation.generic_cms import (
    async_validate_detached_cms,
    extract_self_reported_ts,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

from preservation.aio import run_sync
from preservation.signing_identity import aware_now, is_test_certificate
from preservation.timestamps import TIMESTAMP_PROBLEMS, TimestampCheck, async_check_timestamps

logger = logging.getLogger(__name__)

__all__ = ["SIGNATURE_PROBLEMS", "SignatureCheck", "verify_detached"]

# pyHanko by default demands nonRepudiation. An AIP signature is an integrity seal made by a
# system, for which RFC 5280 names digitalSignature; national CAs issue nonRepudiation for
# document signing. Either bit is enough.
_SIGNER_KEY_USAGE = KeyUsageConstraints(
    key_usage=frozenset({"digital_signature", "non_repudiation"}), match_all_key_usages=False
)
_WEAK_ALGORITHM = frozenset(
    {
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    }
)


SIGNATURE_PROBLEMS: dict[str, str] = {
    "SIG-MALFORMED": "the signature file is not a readable CMS SignedData",
    "SIG-DIGEST-MISMATCH": "the signed data has changed since it was signed",
    "SIG-SIGNATURE-INVALID": "the signature value does not verify with the signer's key",
    "SIG-TRUST-NOT-CHECKED": "the signer was not checked because the signature does not verify",
    "SIG-CERT-EXPIRED-AT-SIGNING": (
        "the signer's certificate was not valid at the time the signature claims"
    ),
    "SIG-CERT-EXPIRED-AT-TIMESTAMP": (
        "the signer's certificate was not valid at the time proven by the timestamp"
    ),
    "SIG-CERT-EXPIRED-NO-TIMESTAMP": (
        "the signer's certificate has expired and no valid timestamp proves the signature was"
        " made while it was valid (the signing time is only the signer's own claim)"
    ),
    "SIG-WEAK-ALGORITHM": "the signature uses an algorithm too weak to be trusted",
    "SIG-UNTRUSTED": "the signer's certificate does not chain to a trusted anchor",
    **TIMESTAMP_PROBLEMS,
}
"""English description of every problem code :func:`verify_detached` can report."""


@dataclass(frozen=True)
class SignatureCheck:
    """What :func:`verify_detached` found. Codes in ``problems`` are stable finding codes.

    ``intact``: the data's digest matches the signed one and the signature over the signed
    attributes verifies with the signer's key. ``trusted``: the signer's certificate chains to
    one of the trust anchors and was valid at ``validity_time`` — the genTime of a verified
    timestamp, else the signing time it claims, which counts only while the certificate is still
    valid now. It is evaluated only when the signature itself verifies (otherwise
    ``SIG-TRUST-NOT-CHECKED``). ``signing_time`` is the signer's own claim (the signingTime
    attribute), not a proof of time; ``timestamp`` holds the proof, if any.
    """

    intact: bool
    trusted: bool
    signer_subject: str
    signer_serial: str
    signing_time: datetime | None
    signer_certificate_sha256: str
    signer_is_test_identity: bool
    problems: tuple[str, ...]
    #: the RFC 3161 signature timestamp, None when the signature carries none
    timestamp: TimestampCheck | None = None
    #: the moment the signer's certificate was judged at, and why that moment: "timestamp"
    #: (a verified timestamp's genTime), "claimed signing time" or "verification time"
    validity_time: datetime | None = None
    validity_basis: str = ""

    @property
    def ok(self) -> bool:
        """Intact, made by a trusted signer, and any timestamp it carries verifies."""
        return self.intact and self.trusted and (self.timestamp is None or self.timestamp.ok)

    @property
    def timestamped(self) -> bool:
        """The signature carries a timestamp that verifies: its signing time is proven."""
        return self.timestamp is not None and self.timestamp.ok

    @property
    def problem_descriptions(self) -> tuple[str, ...]:
        """The problems in words (English), in the order of :attr:`problems`."""
        return tuple(SIGNATURE_PROBLEMS.get(code, code) for code in self.problems)


def verify_detached(
    signature_der: bytes,
    data: bytes,
    trust_anchors: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
    tsa_trust_anchors: Sequence[x509.Certificate] | None = None,
) -> SignatureCheck:
    """Check a detached CMS signature over ``data`` against the given trust anchors only.

    Never raises on a hostile or garbled signature: it comes back with ``SIG-MALFORMED``.
    When the signature carries an RFC 3161 timestamp that verifies (imprint over this
    signature, the TSA's signature, a timeStamping certificate chaining to ``tsa_trust_anchors``
    — default: ``trust_anchors`` — valid at genTime and at ``now``), the signer's certificate is
    judged at the timestamp's genTime: an AIP signed while its certificate was valid stays
    verifiable after the certificate expires (``SIG-CERT-EXPIRED-AT-TIMESTAMP`` otherwise).
    Without one, it is judged at the signing time the signature claims (capped at ``now``;
    ``SIG-CERT-EXPIRED-AT-SIGNING``), and the claim is accepted only while the certificate is
    still valid at ``now`` (``SIG-CERT-EXPIRED-NO-TIMESTAMP``): after that, nothing but the
    signer's word dates the signature. No network access; revocation is not checked.
    """
    checked_at = aware_now(now)
    anchors = [_asn1_certificate(a) for a in trust_anchors]
    tsa_anchors = (
        anchors if tsa_trust_anchors is None else [_asn1_certificate(a) for a in tsa_trust_anchors]
    )
    try:
        return _check_signature(signature_der, data, anchors, tsa_anchors, checked_at)
    except Exception as exc:  # hostile input can break any layer of the ASN.1 and CMS stack
        logger.info("unreadable CMS signature: %r", exc)
        return SignatureCheck(
            intact=False,
            trusted=False,
            signer_subject="",
            signer_serial="",
            signing_time=None,
            signer_certificate_sha256="",
            signer_is_test_identity=False,
            problems=("SIG-MALFORMED",),
        )


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


async def _validate(
    signed_data: Any, data: bytes, anchors: list[Any], tsa_anchors: list[Any], checked_at: datetime
) -> tuple[Any, TimestampCheck | None, datetime, str]:
    """pyHanko's status, the timestamp, and the moment (with its basis) validity was judged at."""
    signer_info = extract_signer_info(signed_data)
    timestamp = await async_check_timestamps(signer_info, tsa_anchors, checked_at)
    claimed = extract_self_reported_ts(signer_info)
    if timestamp is not None and timestamp.ok and timestamp.gen_time is not None:
        moment, basis = min(timestamp.gen_time, checked_at), "timestamp"
    elif claimed is not None:
        moment, basis = min(claimed, checked_at), "claimed signing time"
    else:
        moment, basis = checked_at, "verification time"
    context = ValidationContext(
        trust_roots=anchors, allow_fetching=False, revocation_mode="soft-fail", moment=moment
    )
    status = await async_validate_detached_cms(
        data,
        _without_unsigned_attributes(signed_data),
        signer_validation_context=context,
        key_usage_settings=_SIGNER_KEY_USAGE,
    )
    return status, timestamp, moment, basis


def _without_unsigned_attributes(signed_data: Any) -> Any:
    """A copy of the SignedData without unsigned attributes (outside the signature anyway).

    The timestamp was checked on its own, against its own anchors; pyHanko would check it again
    against the signer's anchors and raise on a damaged token, hiding the signature's status.
    """
    if isinstance(extract_signer_info(signed_data)["unsigned_attrs"], asn1_core.Void):
        return signed_data
    copy = signed_data.copy()
    copy["signer_infos"][0]["unsigned_attrs"] = None
    return copy


def _check_signature(
    signature_der: bytes,
    data: bytes,
    anchors: list[Any],
    tsa_anchors: list[Any],
    checked_at: datetime,
) -> SignatureCheck:
    """The body of :func:`verify_detached`; any exception here means a malformed signature.

    Every field of the signer's certificate is read here too: cryptography and asn1crypto parse
    lazily, so a corrupted name or date surfaces only when it is first touched.
    """
    info = asn1_cms.ContentInfo.load(signature_der, strict=True)
    if info["content_type"].native != "signed_data":
        raise ValueError(f"content type {info['content_type'].native}, not signed_data")
    signed_data = info["content"]
    signing_time = extract_self_reported_ts(extract_signer_info(signed_data))
    status, timestamp, moment, basis = run_sync(
        _validate(signed_data, data, anchors, tsa_anchors, checked_at)
    )
    signer_der = status.signing_cert.dump()
    signer = x509.load_der_x509_certificate(signer_der)

    problems: list[str] = []
    if not status.intact:
        problems.append("SIG-DIGEST-MISMATCH")
    trusted = False
    if not status.valid:
        # pyHanko does not build a path for a signature that does not verify.
        problems += ["SIG-SIGNATURE-INVALID", "SIG-TRUST-NOT-CHECKED"]
    elif not signer.not_valid_before_utc <= moment <= signer.not_valid_after_utc:
        # Checked here as well: pyHanko skips validity checks on a certificate that is itself
        # a trust anchor (a self-signed test identity), so it would accept it expired.
        proven = basis == "timestamp"
        problems.append(
            "SIG-CERT-EXPIRED-AT-TIMESTAMP" if proven else "SIG-CERT-EXPIRED-AT-SIGNING"
        )
    elif status.trust_problem_indic in _WEAK_ALGORITHM:
        problems.append("SIG-WEAK-ALGORITHM")
    elif status.trust_problem_indic is not None or status.validation_path is None:
        problems.append("SIG-UNTRUSTED")
    elif basis != "timestamp" and checked_at > signer.not_valid_after_utc:
        problems.append("SIG-CERT-EXPIRED-NO-TIMESTAMP")
    else:
        trusted = True
    if timestamp is not None:
        problems += timestamp.problems
    return SignatureCheck(
        intact=bool(status.intact and status.valid),
        trusted=trusted,
        signer_subject=signer.subject.rfc4514_string(),
        signer_serial=format(signer.serial_number, "x"),
        signing_time=signing_time,
        signer_certificate_sha256=hashlib.sha256(signer_der).hexdigest(),
        signer_is_test_identity=is_test_certificate(signer),
        problems=tuple(problems),
        timestamp=timestamp,
        validity_time=moment,
        validity_basis=basis,
    )
