"""Storing AIPs and changing what an archive holds on storage, for the tests of rebuild, audit
and export.

:func:`ingest_tt05` stores a TT05 AIP. The other helpers work on a ``file://`` location of a test
repository: they rewrite stored objects in place (they are read-only files), as bit rot, a
careless operator or someone holding the archive's signing key would. Nothing here is imported by
the library.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from aip.ingest import ingest
from preservation.findings import Report
from preservation.manifest import MANIFEST, SIGNATURE, TAGMANIFEST, parse_bag_info
from preservation.repository import Repository
from preservation.signing import sign_detached
from sip.create import create_sip
from sip.samples import make_sample_sip_source
from sip.tt05_model import PackageKind
from sip.tt05_writer import write_tt05_sip
from tests.helpers import add_test_fonds, location_root
from tests.signing.signing_pki import ThrowawayCA
from tests.sip import tt05_fixtures as fixtures

BAG_INFO = "bag-info.txt"
Signer = Callable[[bytes], bytes]
FONDS = "H41"  # the fonds of the sample SIP


def tt05_sip(tmp_path: Path, source: str = "sample") -> Path:
    """A TT05 SIP: ``sample`` (``sip create`` from a folder and its catalogue, as a ZIP),
    ``dossier`` (a mixed SIP_hoso) or ``batch`` (a SIP_tailieu), the last two as folders."""
    if source == "sample":
        src, catalogue = make_sample_sip_source(tmp_path / "producer")
        report = Report("create")
        out = create_sip(src, catalogue, PackageKind.HOSO, tmp_path / "sip.zip",
                         fonds_code=FONDS, agency="Văn phòng UBND tỉnh Nghệ An", report=report)
        assert out is not None, [(f.code, str(f.location)) for f in report.findings]
        return out
    (tmp_path / "sources").mkdir(parents=True)
    package = (fixtures.dossier if source == "dossier" else fixtures.batch)(tmp_path / "sources")
    return write_tt05_sip(package, tmp_path / "sip", created=fixtures.CREATED)


def ingest_tt05(repo: Repository, tmp_path: Path, source: str = "sample") -> str:
    """Ingest :func:`tt05_sip` ``source`` into ``repo`` (its fonds registered); the AIP's id."""
    add_test_fonds(repo.catalog, FONDS)
    add_test_fonds(repo.catalog, fixtures.FONDS)
    result = ingest(repo.config, tt05_sip(tmp_path, source), identity=repo.identity(),
                    catalog=repo.catalog)
    return result.aip_id


def write_object(path: Path, data: bytes) -> None:
    """Replace a stored (read-only) object's bytes."""
    if path.exists():
        path.chmod(0o644)
    path.write_bytes(data)


def forge_copy(repo: Repository, aip_id: str, files: Mapping[str, bytes],
               tags: Mapping[str, str] | None = None, *, index: int = 0,
               drop: Iterable[str] = (), sign: Signer | None = None) -> None:
    """Write ``files`` (tag files) into the copy of the AIP on location ``index``, list them
    (and ``tags``: name → digest; without the names in ``drop``) in its tagmanifest and sign
    that with the archive's own key (or ``sign``): a forgery by someone holding the key, which
    only the checks after the signature can catch."""
    folder = location_root(repo.config, index) / aip_id
    listed = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in
              (folder / TAGMANIFEST).read_text(encoding="utf-8").splitlines()}
    for name, data in files.items():
        write_object(folder / name, data)
        listed[name] = hashlib.sha256(data).hexdigest()
    listed.update(tags or {})
    for name in drop:
        listed.pop(name, None)
    tagmanifest = "".join(f"{digest}  {name}\n" for name, digest in sorted(listed.items()))
    signer = sign or (lambda data: sign_detached(repo.identity(), data))
    write_object(folder / TAGMANIFEST, tagmanifest.encode())
    write_object(folder / SIGNATURE, signer(tagmanifest.encode()))


def forge_payload(repo: Repository, aip_id: str, changes: Mapping[str, bytes | None], *,
                  index: int = 0) -> None:
    """Change payload files (``None``: remove the file and its manifest line) of one copy and
    re-sign consistently: manifest, Payload-Oxum in bag-info.txt, tagmanifest, signature."""
    folder = location_root(repo.config, index) / aip_id
    manifest = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in
                (folder / MANIFEST).read_text(encoding="utf-8").splitlines()}
    for path, data in changes.items():
        target = folder / path
        if data is None:
            target.unlink()
            manifest.pop(path)
        else:
            write_object(target, data)
            manifest[path] = hashlib.sha256(data).hexdigest()
    octets = sum((folder / path).stat().st_size for path in manifest)
    bag_info = (folder / BAG_INFO).read_text(encoding="utf-8")
    old = parse_bag_info(bag_info.encode())["Payload-Oxum"]
    bag_info = bag_info.replace(f"Payload-Oxum: {old}", f"Payload-Oxum: {octets}.{len(manifest)}")
    text = "".join(f"{digest}  {path}\n" for path, digest in sorted(manifest.items()))
    forge_copy(repo, aip_id, {MANIFEST: text.encode(), BAG_INFO: bag_info.encode()},
               index=index)


def without_bag_info_field(repo: Repository, aip_id: str, field: str, index: int = 0) -> bytes:
    """bag-info.txt of a stored copy without the line of ``field``."""
    text = (location_root(repo.config, index) / aip_id / BAG_INFO).read_text(encoding="utf-8")
    kept = [line for line in text.splitlines(keepends=True)
            if not line.startswith(f"{field}:")]
    assert len(kept) < len(text.splitlines()), f"{field} is not in bag-info.txt"
    return "".join(kept).encode()


def backdated_signer(ca: ThrowawayCA, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
                     certificate: x509.Certificate, signed_at: datetime) -> Signer:
    """Sign as on ``signed_at`` (the signingTime attribute), whatever the certificate's
    validity today: how the signature of an AIP stored years ago looks now."""
    def der(cert: x509.Certificate) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    private = asn1_keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    signer = SimpleSigner(der(certificate), private,
                          SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                              [der(ca.certificate)]))

    def sign(data: bytes) -> bytes:
        info = asyncio.run(signer.async_sign_general_data(
            data, "sha256", detached=True,
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=signed_at)))
        out: bytes = info.dump()
        return out

    return sign


def configure_tsa(home: Path, url: str, ca: ThrowawayCA) -> None:
    """Point [signing] at the TSA and trust its CA next to the archive's own certificate."""
    config = home / "preservation.toml"
    anchors = home / "keys" / "trust.pem"
    own = (home / "keys" / "signing-cert.pem").read_bytes()
    anchors.write_bytes(own + ca.certificate.public_bytes(serialization.Encoding.PEM))
    text = config.read_text(encoding="utf-8")
    text = text.replace("[signing]\n", f'[signing]\ntsa_url = "{url}"\n', 1)
    text = text.replace('trust_anchors = ["keys/signing-cert.pem"]',
                        'trust_anchors = ["keys/trust.pem"]')
    config.write_text(text, encoding="utf-8")


def unlistable_tree(folder: Path, depth: int = 20) -> None:
    """Nested folders whose full path is longer than the system allows (PATH_MAX, 4096 bytes):
    a stray tree no path-based listing can enter (ENAMETOOLONG), whoever runs the test."""
    folder.mkdir(parents=True, exist_ok=True)
    current = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d" * 250, dir_fd=current)
            deeper = os.open("d" * 250, os.O_RDONLY | os.O_DIRECTORY, dir_fd=current)
            os.close(current)
            current = deeper
    finally:
        os.close(current)


def looping_link(path: Path) -> None:
    """Replace the folder ``path`` by a symbolic link to itself: listing it fails (ELOOP)."""
    shutil.rmtree(path, ignore_errors=True)
    path.symlink_to(path.name)


