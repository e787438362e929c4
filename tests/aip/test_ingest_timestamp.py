"""Trusted time end to end: with `[signing] tsa_url`, every AIP signature carries an RFC 3161
timestamp from the TSA, the PREMIS/catalog event says so, and the audit verifies it."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from aip.ingest import ingest
from preservation.audit import audit
from preservation.errors import SigningError
from preservation.repository import Repository, init_repository
from sip.samples import make_sample_transfer
from tests.aip.stored_aips import configure_tsa
from tests.helpers import location_root, prepare_test_home, tree_digest
from tests.signing.signing_pki import ThrowawayCA
from tests.signing.tsa import dummy_stamper, issue_tsa_certificate, serve_tsa


@pytest.fixture(scope="module")
def tsa_ca() -> ThrowawayCA:
    return ThrowawayCA.create("Throwaway TSA root")


def test_aip_signature_is_timestamped_and_audited(tmp_path: Path, tsa_ca: ThrowawayCA) -> None:
    home = tmp_path / "archive"
    init_repository(home, name="Lưu trữ (TSA test)")
    prepare_test_home(home)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stamper = dummy_stamper(key, issue_tsa_certificate(tsa_ca, key), tsa_ca)
    with serve_tsa(stamper) as url:
        configure_tsa(home, url, tsa_ca)
        with Repository.open(home) as repo:
            assert "trust.pem" in str(repo.config.signing.trust_anchors[0])
            result = ingest(repo.config, make_sample_transfer(tmp_path / "t"),
                            identity=repo.identity(), catalog=repo.catalog)
            events = [e for e in repo.catalog.events(result.aip_id)
                      if e.type == "digital signature generation"]
            assert len(events) == 1 and "RFC 3161 timestamp" in events[0].detail
            (aip_audit,) = audit(repo.config, repo.catalog, [result.aip_id],
                                 repo.trust_anchors())
    assert aip_audit.ok, [f.code for c in aip_audit.copies for f in c.report.findings]
    for copy in aip_audit.copies:
        check = copy.signature
        assert check is not None and check.timestamp is not None
        assert check.timestamp.ok and check.validity_basis == "timestamp"
        assert "TSA" in check.timestamp.tsa_name


def test_a_refusing_tsa_fails_the_ingest_before_anything_is_stored(
        tmp_path: Path, tsa_ca: ThrowawayCA) -> None:
    """(A TSA that never answers is cut off by the client's timeout: tests/signing.)"""
    home = tmp_path / "archive"
    init_repository(home, name="Lưu trữ (TSA test)")
    prepare_test_home(home)
    transfer = make_sample_transfer(tmp_path / "t")
    before = tree_digest(transfer)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stamper = dummy_stamper(key, issue_tsa_certificate(tsa_ca, key), tsa_ca)
    with serve_tsa(stamper, "rejection") as url:
        configure_tsa(home, url, tsa_ca)
        with Repository.open(home) as repo:
            with pytest.raises(SigningError) as caught:
                ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog)
            assert caught.value.code.startswith("SIG-TSA-")
            assert list(repo.catalog.aips()) == []
            for index in (0, 1):
                assert not any(location_root(repo.config, index).iterdir())
    assert tree_digest(transfer) == before
