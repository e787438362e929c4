"""A repository home: its configuration, catalog and signing identity, opened together.

``init_repository`` lays out a new home with the embedded default (two filesystem locations and
a SQLite catalog inside the home), and optionally names and registers the archive's default fonds
so that the first ingest needs no ``--fonds``. ``Repository`` is what every command works through.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from preservation.catalog import Catalog
from preservation.config import CONFIG_NAME, Config, dump_toml, load_config, parse_config
from preservation.errors import ConfigError, SigningError, UsageError
from preservation.findings import Report
from preservation.fonds import (
    MAX_CODE,
    FondsInvalidError,
    FondsRecord,
    code_is_valid,
    make_fonds,
    register_fonds,
)
from preservation.signing import (
    CERT_FILE_NAME,
    KEY_FILE_NAME,
    SigningIdentity,
    create_test_identity,
    load_pem_identity,
    load_pkcs12,
)
from preservation.storage.filesystem import root_from_url
from preservation.storage.locations import open_locations

PassphraseSource = Callable[[str], bytes | None]

_COMMENTS = {
    "repository": "The archive running this repository. min_copies: verified copies every AIP "
                  "must have.",
    "catalog": "The catalog is an index; every fact in it is also in the AIPs on storage.\n"
               "url: sqlite:///FILE (relative to this folder) or postgresql://USER@HOST:PORT/DB "
               "for a shared\ninstallation (password from PGPASSWORD or ~/.pgpass, not here).",
    "signing": "The identity that signs every AIP (CMS over its tagmanifest). Either certificate "
               "+ key (PEM),\nor pkcs12 with the passphrase in the environment variable "
               "passphrase_env. trust_anchors: certificates an\nAIP signature must chain to "
               "(keep old ones when the certificate changes).",
    "storage": "Storage locations: file:///absolute/path (optional: durability = "
               "\"immediate\" or \"deferred\";\nearly_copies = true to copy a transfer "
               "here while it is validated, for slow or network storage)\nor s3://bucket/prefix "
               "(credentials, "
               "endpoint and region the standard boto3 way; optional:\nendpoint_url, region, "
               "profile, retention_mode, retention_days).",
    "policies": "Policy files (formats, retention, access, audit schedules); empty: the shipped "
                "defaults.",
}


def init_repository(
    home: Path,
    *,
    name: str,
    locations: Sequence[str] = (),
    signing_p12: Path | None = None,
    passphrase: bytes | None = None,
    archive_code: str = "",
    default_fonds: str = "",
    fonds_name: str = "",
) -> Config:
    """Create a repository home and its configuration; refuse to touch an existing one.

    ``default_fonds`` is written as ``[repository] default_fonds`` (the fonds of an ingest that
    names none). With ``fonds_name`` that fonds is also registered (catalog row and a record on
    every location, as ``preservation fonds add CODE --name NAME`` does), so the repository is
    ready for its first ingest; without it only the configuration names the code, which suits
    a home made over storage that already holds the fonds (then ``catalog rebuild``). The
    configuration file is written last, and an init that fails (a bad fonds code or name, a
    location that refuses the fonds record) removes what it created (keys, catalog, storage
    folders; never what was there before), so it can simply be run again.
    """
    home = home.absolute()
    config_path = home / CONFIG_NAME
    if config_path.exists():
        raise UsageError(f"a repository already exists at {home}", code="REPO-EXISTS",
                         location=str(config_path))
    if not name.strip():
        raise UsageError("the archive name must not be empty", code="REPO-NAME-EMPTY")
    fonds = _default_fonds(default_fonds.strip(), fonds_name)
    created = _Created()
    try:
        return _init(home, config_path, created, name=name, locations=locations,
                     signing_p12=signing_p12, passphrase=passphrase, archive_code=archive_code,
                     default_fonds=default_fonds.strip(), fonds=fonds)
    except BaseException:
        created.undo()
        raise


def _init(home: Path, config_path: Path, created: _Created, *, name: str,
          locations: Sequence[str], signing_p12: Path | None, passphrase: bytes | None,
          archive_code: str, default_fonds: str, fonds: FondsRecord | None) -> Config:
    created.mkdir(home)
    keys = home / "keys"
    created.mkdir(keys)
    if not locations:
        locations = tuple((home / "storage" / n).as_uri() for n in ("copy1", "copy2"))
    storage = [{"name": f"copy{i}", "url": url} for i, url in enumerate(locations, 1)]

    signing: dict[str, object]
    if signing_p12 is not None:
        identity = load_pkcs12(signing_p12, passphrase)
        anchors = created.file(keys / "trust-anchors.pem")
        anchors.write_bytes(b"".join(
            c.public_bytes(serialization.Encoding.PEM)
            for c in (identity.certificate, *identity.chain)))
        signing = {"pkcs12": str(signing_p12.absolute()),
                   "passphrase_env": "PRESERVATION_P12_PASSPHRASE",
                   "trust_anchors": ["keys/trust-anchors.pem"], "test_identity": False}
    else:
        for path in (keys / KEY_FILE_NAME, keys / CERT_FILE_NAME):  # before: it may fail half way
            created.file(path)
        key_path, cert_path = create_test_identity(keys, name)
        signing = {"certificate": str(cert_path.relative_to(home)),
                   "key": str(key_path.relative_to(home)),
                   "trust_anchors": [str(cert_path.relative_to(home))],
                   "test_identity": True}
    data: dict[str, object] = {
        "repository": {"name": name, "archive_code": archive_code,
                       "default_fonds": default_fonds, "min_copies": 2},
        "catalog": {"url": "sqlite:///catalog.sqlite"},
        "signing": signing,
        "storage": storage,
        "policies": {"files": []},
    }
    text = dump_toml(data, _COMMENTS)
    config = parse_config(tomllib.loads(text), home, source=str(config_path))
    for loc in config.storage:
        if loc.url.startswith("file://"):
            # the URL is percent-encoded ("lưu trữ" → "l%C6%B0u%20tr%E1%BB%AF"): decode it
            # exactly as the filesystem backend will when it opens the location
            created.mkdir(root_from_url(loc.url))
    catalog_path = config.catalog_target.path
    if catalog_path is not None:  # the SQLite file and its journals: this call makes them
        for suffix in ("", "-journal", "-wal", "-shm"):
            created.file(catalog_path.with_name(catalog_path.name + suffix))
    with Catalog(config.catalog_target) as catalog:
        if fonds is not None and catalog.fonds(fonds.code) is None:
            with open_locations(config) as backends:
                register_fonds(catalog, backends, fonds)
    tmp = created.file(config_path.with_suffix(".toml.tmp"))
    tmp.write_text("# Preservation repository configuration (written by `preservation init`).\n"
                   + text, encoding="utf-8")
    os.replace(tmp, config_path)
    return config


class _Created:
    """What one ``init`` call creates (folders that did not exist, files it writes), so that
    a failed init removes exactly that and can be run again (never anything that was there)."""

    def __init__(self) -> None:
        self._dirs: list[Path] = []
        self._files: list[Path] = []

    def mkdir(self, path: Path) -> None:
        """``path`` and its missing parents; the topmost missing one is remembered."""
        missing = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True)
        if missing:
            self._dirs.append(missing[-1])

    def file(self, path: Path) -> Path:
        """``path``, about to be written by this call (it must not exist yet)."""
        if not path.exists():
            self._files.append(path)
        return path

    def undo(self) -> None:
        for path in reversed(self._files):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        for path in reversed(self._dirs):  # a folder this call made holds only what it wrote
            shutil.rmtree(path, ignore_errors=True)


def _default_fonds(code: str, name: str) -> FondsRecord | None:
    """The fonds ``init`` registers (None: none to register), checked before anything is
    written; a bad code or name raises :class:`FondsInvalidError` (FONDS-INVALID)."""
    if name.strip() and not code:
        raise UsageError("a fonds name needs the fonds code (--default-fonds CODE)",
                         code="REPO-FONDS-NAME-WITHOUT-CODE")
    if not code:
        return None
    if name.strip():
        return make_fonds(code, name)
    if not code_is_valid(code):
        report = Report(subject=f"fonds {code}", kind="fonds")
        report.add("FONDS-CODE-INVALID", "code", fonds=code, limit=MAX_CODE)
        raise FondsInvalidError(report)
    return None


class Repository:
    """An open repository home. Close it (or use ``with``) to close the catalog."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._catalog: Catalog | None = None

    @classmethod
    def open(cls, home: str | os.PathLike[str] | None = None) -> Repository:
        return cls(load_config(home))

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog(self.config.catalog_target)
        return self._catalog

    def trust_anchors(self) -> list[x509.Certificate]:
        """Certificates an AIP signature must chain to (default: the signing certificate)."""
        signing = self.config.signing
        paths = signing.trust_anchors or ((signing.certificate,) if signing.certificate else ())
        if not paths:
            raise ConfigError("signing.trust_anchors is empty: audits could not trust any "
                              "signature", code="CONFIG-NO-TRUST-ANCHORS")
        out: list[x509.Certificate] = []
        for path in paths:
            try:
                out.extend(x509.load_pem_x509_certificates(path.read_bytes()))
            except (OSError, ValueError) as e:
                raise ConfigError(f"cannot read trust anchor {path}: {e}",
                                  code="CONFIG-TRUST-ANCHOR", location=str(path)) from e
        return out

    def identity(self, passphrase: PassphraseSource | None = None) -> SigningIdentity:
        """Load the signing identity; ``passphrase(env_name)`` supplies a PKCS#12 passphrase."""
        signing = self.config.signing
        if signing.pkcs12 is not None:
            secret = os.environ.get(signing.passphrase_env)
            value = secret.encode() if secret is not None else (
                passphrase(signing.passphrase_env) if passphrase else None)
            if value is None:
                raise SigningError(
                    f"the PKCS#12 passphrase is needed: set {signing.passphrase_env}",
                    code="SIGN-P12-PASSPHRASE", location=str(signing.pkcs12))
            return load_pkcs12(signing.pkcs12, value)
        assert signing.key is not None and signing.certificate is not None
        return load_pem_identity(signing.key, signing.certificate, signing.chain)
