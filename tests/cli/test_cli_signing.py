"""An institution's own certificate (PKCS#12) signs the AIPs; audits trust its CA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from preservation.cli import main
from sip.samples import make_sample_transfer
from tests.helpers import prepare_test_home
from tests.signing.signing_pki import ThrowawayCA

PASSPHRASE = "mật khẩu thử"


@pytest.fixture
def p12(tmp_path: Path) -> Path:
    ca = ThrowawayCA.create("Root CA of a test ministry")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "archive-seal.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"archive seal", key, ca.issue(key), [ca.certificate],
        serialization.BestAvailableEncryption(PASSPHRASE.encode())))
    return path


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = CliRunner(env=env).invoke(main, ["--home", str(home), *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_pkcs12_identity_signs_and_audits(tmp_path: Path, p12: Path) -> None:
    home = tmp_path / "archive"
    env = {"PRESERVATION_P12_PASSPHRASE": PASSPHRASE}
    code, init = run(home, "init", "--signing-p12", str(p12), env=env)
    assert code == 0 and init["test_identity"] is False
    assert PASSPHRASE not in (home / "preservation.toml").read_text(encoding="utf-8")
    prepare_test_home(home)

    transfer = make_sample_transfer(tmp_path / "transfer")
    code, ingested = run(home, "ingest", str(transfer), env=env)
    assert code == 0, ingested
    code, audited = run(home, "audit", "--all")  # no passphrase needed to audit
    assert code == 0
    signature = audited["aips"][0]["copies"][0]["signature"]
    assert signature["trusted"] and "AIP signer" in signature["signer"]


def test_missing_or_wrong_passphrase_is_refused(tmp_path: Path, p12: Path) -> None:
    home = tmp_path / "archive"
    code, out = run(home, "init", "--signing-p12", str(p12), env={})
    assert code == 2 and out["error"]["code"] == "SIGN-P12-PASSPHRASE"
    code, out = run(home, "init", "--signing-p12", str(p12),
                    env={"PRESERVATION_P12_PASSPHRASE": "wrong"})
    assert code == 2 and out["error"]["code"] == "SIGN-P12-PASSPHRASE"
    assert not (home / "preservation.toml").exists()

    run(home, "init", "--signing-p12", str(p12), env={"PRESERVATION_P12_PASSPHRASE": PASSPHRASE})
    transfer = make_sample_transfer(tmp_path / "transfer")
    code, out = run(home, "ingest", str(transfer), env={"PRESERVATION_P12_PASSPHRASE": ""})
    assert code == 2 and out["error"]["code"] == "SIGN-P12-PASSPHRASE"
