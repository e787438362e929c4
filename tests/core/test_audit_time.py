"""Proof of time on stored AIP signatures, and a copy that cannot be listed, as the catalog
rebuild and the fixity audit see them.

An AIP signed long ago by a certificate that has expired since, without an RFC 3161 timestamp,
is still authentic but nothing proves when it was signed; an AIP whose timestamp token was
damaged on storage keeps a valid signature but loses its proof of time. A rebuild registers both
(a warning: the AIP is authentic); the audit of the rebuilt catalog fails their copies (an error:
the proof of time the archive relies on is gone or broken).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aip.ingest import ingest
from aip.rebuild import rebuild_catalog
from preservation.audit import AipAudit, audit
from preservation.catalog import Catalog
from preservation.manifest import SIGNATURE
from preservation.repository import Repository, init_repository
from preservation.timestamps import SIGNATURE_TIMESTAMP_OID
from sip.samples import make_sample_transfer
from tests.aip.stored_aips import (
    backdated_signer,
    configure_tsa,
    forge_copy,
    unlistable_tree,
    write_object,
)
from tests.helpers import add_test_fonds, location_root, prepare_test_home
from tests.signing.signing_pki import NOW, ThrowawayCA
from tests.signing.tsa import dummy_stamper, issue_tsa_certificate, serve_tsa

COPIES = (0, 1)


def ingested(repo: Repository, tmp_path: Path) -> str:
    return ingest(repo.config, make_sample_transfer(tmp_path / "transfer"),
                  identity=repo.identity(), catalog=repo.catalog,
                  fonds=add_test_fonds(repo.catalog)).aip_id


def copy_findings(result: AipAudit) -> list[set[tuple[str, str]]]:
    return [{(f.code, str(f.location)) for f in c.report.findings} for c in result.copies]


def test_an_expired_signer_without_a_timestamp(
        repo: Repository, tmp_path: Path) -> None:
    """The bag re-signed (same tagmanifest, the same signature on both copies) as the archive's
    former key signed it a month ago; that key's certificate expired yesterday."""
    aip_id = ingested(repo, tmp_path)
    ca = ThrowawayCA.create("Former archive CA")
    key = ec.generate_private_key(ec.SECP256R1())
    expired = ca.issue(key, not_before=NOW - timedelta(days=3650),
                       not_after=NOW - timedelta(days=1))
    sign = functools.cache(backdated_signer(ca, key, expired, NOW - timedelta(days=30)))
    for index in COPIES:
        forge_copy(repo, aip_id, {}, index=index, sign=sign)
    anchors = [ca.certificate]
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        result = rebuild_catalog(repo.config, rebuilt, anchors)
        [audited] = audit(repo.config, rebuilt, None, anchors)
    assert result.registered == [aip_id] and result.ok
    warned = {(f.code, str(f.location)) for f in result.report.findings}
    assert ("REBUILD-SIGNATURE-NO-PROOF-OF-TIME", f"copy1:{aip_id}/{SIGNATURE}") in warned
    assert not any(c.ok for c in audited.copies)
    assert copy_findings(audited) == [
        {("AUDIT-SIGNATURE-NO-PROOF-OF-TIME", f"{name}:{SIGNATURE}")}
        for name in ("copy1", "copy2")]


@pytest.fixture
def timestamped_repo(tmp_path: Path) -> Iterator[Repository]:
    """A repository whose AIP signatures carry a timestamp from a local TSA."""
    home = tmp_path / "archive"
    init_repository(home, name="Lưu trữ (TSA test)")
    prepare_test_home(home)
    tsa_ca = ThrowawayCA.create("Throwaway TSA root")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with serve_tsa(dummy_stamper(key, issue_tsa_certificate(tsa_ca, key), tsa_ca)) as url:
        configure_tsa(home, url, tsa_ca)
        with Repository.open(home) as repo:
            yield repo


def damage_token(signature: bytes) -> bytes:
    """One bit of the timestamp token's TSTInfo flipped (outside what the signer signed)."""
    signer = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    [token] = [value for attribute in signer["unsigned_attrs"]
               if attribute["type"].dotted == SIGNATURE_TIMESTAMP_OID
               for value in attribute["values"]]
    tst_info = token["content"]["encap_content_info"]["content"].contents
    at = signature.find(tst_info) + len(tst_info) - 1
    return signature[:at] + bytes([signature[at] ^ 0x01]) + signature[at + 1:]


def test_a_damaged_timestamp_token(
        timestamped_repo: Repository, tmp_path: Path) -> None:
    repo = timestamped_repo
    aip_id = ingest(repo.config, make_sample_transfer(tmp_path / "transfer"),
                    identity=repo.identity(), catalog=repo.catalog).aip_id
    for index in COPIES:
        stored = location_root(repo.config, index) / aip_id / SIGNATURE
        write_object(stored, damage_token(stored.read_bytes()))
    anchors = repo.trust_anchors()
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        result = rebuild_catalog(repo.config, rebuilt, anchors)
        [audited] = audit(repo.config, rebuilt, None, anchors)
    assert result.registered == [aip_id] and result.ok
    [warning] = [f for f in result.report.findings if f.code == "REBUILD-TIMESTAMP-INVALID"]
    assert str(warning.location) == f"copy1:{aip_id}/{SIGNATURE}"
    assert "SIG-TIMESTAMP-SIGNATURE-INVALID" in warning.params["problems"]
    assert not any(c.ok for c in audited.copies)
    assert copy_findings(audited) == [{("AUDIT-TIMESTAMP-INVALID", f"{name}:{SIGNATURE}")}
                                      for name in ("copy1", "copy2")]


def test_a_copy_whose_prefix_cannot_be_listed(repo: Repository, tmp_path: Path) -> None:
    """A stray folder tree too deep to list under copy1's prefix: every object reads back, the
    search for objects that should not be there cannot run."""
    aip_id = ingested(repo, tmp_path)
    unlistable_tree(location_root(repo.config, 0) / aip_id / "lost+found")
    [audited] = audit(repo.config, repo.catalog, [aip_id], repo.trust_anchors())
    assert copy_findings(audited) == [{("AUDIT-LIST-FAILED", "copy1")}, set()]
    assert not audited.copies[0].ok
