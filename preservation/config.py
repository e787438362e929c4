"""The repository configuration: one TOML file in the repository home.

``preservation init`` writes it; every command reads it. Unknown keys are errors (a typo must not
silently turn off a copy or a check). Relative paths are relative to the home folder.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from preservation.catalog_url import CatalogTarget, parse_catalog_url
from preservation.errors import ConfigError
from preservation.fonds import code_is_valid
from preservation.storage.filesystem import DURABILITY_MODES

CONFIG_NAME = "preservation.toml"
HOME_ENV = "PRESERVATION_HOME"
DEFAULT_HOME = "archive"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

#: Options a ``[[storage]]`` entry may carry besides name and url, by scheme.
_STORAGE_OPTIONS: dict[str, dict[str, type]] = {
    #: durability: "immediate" (default: each object is on disk when put returns) or
    #: "deferred" (one flush per ingest, see preservation.storage.filesystem);
    #: early_copies: an ingest copies the transfer here while it validates it (default false,
    #: see aip.ingest_early)
    "file": {"durability": str, "early_copies": bool},
    "s3": {
        "endpoint_url": str,
        "region": str,
        "profile": str,
        "retention_mode": str,
        "retention_days": int,
        "multipart_threshold": int,
        "part_size": int,
    },
}


@dataclass(frozen=True)
class StorageConfig:
    name: str
    url: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SigningConfig:
    """Where the archive's signing identity is: PEM key + certificate, or a PKCS#12 file."""

    certificate: Path | None = None
    key: Path | None = None
    pkcs12: Path | None = None
    #: environment variable holding the PKCS#12 passphrase (else the CLI prompts)
    passphrase_env: str = "PRESERVATION_P12_PASSPHRASE"
    chain: tuple[Path, ...] = ()
    #: certificates an AIP signature must chain to (defaults to the signing certificate)
    trust_anchors: tuple[Path, ...] = ()
    test_identity: bool = False
    #: RFC 3161 time-stamping authority (http:// or https:// URL) that timestamps every AIP
    #: signature; "" = no timestamp (the signing time is then only the signer's own claim)
    tsa_url: str = ""


@dataclass(frozen=True)
class ValidationConfig:
    """How submissions are checked (``[validation]``)."""

    #: "historical" (a provincial/central historical archive: transfers must be kept permanently)
    #: or "agency" (an agency archive: every TT05 retention code is accepted)
    archive_type: str = "historical"
    #: accepted-formats policy (TOML); None = the shipped TT05 list (policies/formats.toml)
    formats_policy: Path | None = None
    #: certificates PDF signatures must chain to; none = trust is "not checked"
    pdf_trust_anchors: tuple[Path, ...] = ()
    #: clamd address, "unix:///run/clamav/clamd.ctl" or "tcp://127.0.0.1:3310"; "" = no scan
    clamd: str = ""
    #: "strict": a file that matches its declared checksum only after converting its line
    #: endings (changed in transit) is an error; "tolerate": a warning
    line_endings: str = "strict"

    @property
    def historical_archive(self) -> bool:
        return self.archive_type == "historical"


@dataclass(frozen=True)
class Config:
    home: Path
    name: str
    storage: tuple[StorageConfig, ...]
    catalog_url: str
    signing: SigningConfig
    archive_code: str = ""
    #: the fonds (mã phông) an ingest uses when neither the command nor the SIP names one;
    #: "" = none (the ingest must then be told). It must be registered (preservation fonds add).
    default_fonds: str = ""
    min_copies: int = 2
    policy_files: tuple[Path, ...] = ()
    validation: ValidationConfig = field(default_factory=ValidationConfig)

    @property
    def work_dir(self) -> Path:
        """Private staging area for ingests and access copies (never inside a location)."""
        return self.home / "work"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def catalog_target(self) -> CatalogTarget:
        """The catalog: ``sqlite:///FILE`` (relative to the home) or ``postgresql://…``."""
        return parse_catalog_url(self.catalog_url, self.home)

    @property
    def catalog_path(self) -> Path:
        """The SQLite file of a ``sqlite:///`` catalog URL, resolved against the home."""
        target = self.catalog_target
        if target.path is None:
            raise ConfigError(f"the catalog is not a SQLite file but {target.display}",
                              code="CONFIG-CATALOG-URL")
        return target.path

    def location(self, name: str) -> StorageConfig:
        for loc in self.storage:
            if loc.name == name:
                return loc
        raise ConfigError(f"no storage location named {name!r}", code="CONFIG-NO-LOCATION")


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The repository home: the argument, else ``$PRESERVATION_HOME``, else ``./archive``."""
    chosen = home if home is not None else os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(chosen).expanduser().absolute()


def load_config(home: str | os.PathLike[str] | None = None) -> Config:
    """Read and check ``<home>/preservation.toml``."""
    root = resolve_home(home)
    path = root / CONFIG_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"no repository at {root} (missing {CONFIG_NAME}); run `preservation init {root}`",
            code="CONFIG-MISSING", location=str(path)) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}", code="CONFIG-SYNTAX",
                          location=str(path)) from e
    return parse_config(data, root, source=str(path))


def parse_config(data: Mapping[str, Any], home: Path, *, source: str = CONFIG_NAME) -> Config:
    """Check a decoded configuration; every problem names its section and key."""
    _known(data, {"repository", "catalog", "signing", "storage", "policies", "validation"},
           source, "")
    repo = _table(data, "repository", source)
    _known(repo, {"name", "archive_code", "default_fonds", "min_copies"}, source, "repository")
    catalog = _table(data, "catalog", source)
    _known(catalog, {"url"}, source, "catalog")
    signing = _table(data, "signing", source)
    _known(signing, {"certificate", "key", "pkcs12", "passphrase_env", "chain", "trust_anchors",
                     "test_identity", "tsa_url"}, source, "signing")
    policies = _table(data, "policies", source, required=False)
    _known(policies, {"files"}, source, "policies")
    validation = _table(data, "validation", source, required=False)
    _known(validation, {"archive_type", "formats_policy", "pdf_trust_anchors", "clamd",
                        "line_endings"}, source, "validation")

    storage_items = data.get("storage", [])
    if not isinstance(storage_items, list):
        raise _err(source, "storage", "must be an array of tables ([[storage]])")
    storage = tuple(_storage(item, i, source, home) for i, item in enumerate(storage_items))
    names = [s.name for s in storage]
    if len(set(names)) != len(names):
        raise _err(source, "storage", f"location names must be unique: {names}")

    config = Config(
        home=home,
        name=_get(repo, "name", str, source, "repository"),
        archive_code=_get(repo, "archive_code", str, source, "repository", default=""),
        default_fonds=_get(repo, "default_fonds", str, source, "repository", default=""),
        min_copies=_get(repo, "min_copies", int, source, "repository", default=2),
        storage=storage,
        catalog_url=_get(catalog, "url", str, source, "catalog"),
        signing=SigningConfig(
            certificate=_path(signing.get("certificate"), home, source, "signing.certificate"),
            key=_path(signing.get("key"), home, source, "signing.key"),
            pkcs12=_path(signing.get("pkcs12"), home, source, "signing.pkcs12"),
            passphrase_env=_get(signing, "passphrase_env", str, source, "signing",
                                default="PRESERVATION_P12_PASSPHRASE"),
            chain=_paths(signing.get("chain", []), home, source, "signing.chain"),
            trust_anchors=_paths(signing.get("trust_anchors", []), home, source,
                                 "signing.trust_anchors"),
            test_identity=_get(signing, "test_identity", bool, source, "signing", default=False),
            tsa_url=_get(signing, "tsa_url", str, source, "signing", default=""),
        ),
        policy_files=_paths(policies.get("files", []), home, source, "policies.files"),
        validation=ValidationConfig(
            archive_type=_get(validation, "archive_type", str, source, "validation",
                              default="historical"),
            formats_policy=_path(validation.get("formats_policy"), home, source,
                                 "validation.formats_policy"),
            pdf_trust_anchors=_paths(validation.get("pdf_trust_anchors", []), home, source,
                                     "validation.pdf_trust_anchors"),
            clamd=_get(validation, "clamd", str, source, "validation", default=""),
            line_endings=_get(validation, "line_endings", str, source, "validation",
                              default="strict"),
        ),
    )
    if config.validation.archive_type not in ("historical", "agency"):
        raise _err(source, "validation.archive_type", "must be \"historical\" or \"agency\"")
    if config.validation.line_endings not in ("strict", "tolerate"):
        raise _err(source, "validation.line_endings", "must be \"strict\" or \"tolerate\"")
    if config.default_fonds and not code_is_valid(config.default_fonds):
        raise _err(source, "repository.default_fonds",
                   f"{config.default_fonds!r} is not a fonds code (1-30 unaccented letters, "
                   "digits, '.', '-' or '_', starting with a letter or digit)")
    if config.min_copies < 1:
        raise _err(source, "repository.min_copies", "must be at least 1")
    if len(storage) < config.min_copies:
        raise _err(source, "storage",
                   f"{len(storage)} location(s) configured, min_copies is {config.min_copies}")
    has_pem = config.signing.certificate is not None or config.signing.key is not None
    if has_pem == (config.signing.pkcs12 is not None):
        raise _err(source, "signing", "give either certificate + key, or pkcs12 (not both)")
    if has_pem and (config.signing.certificate is None or config.signing.key is None):
        raise _err(source, "signing", "certificate and key go together")
    if config.signing.tsa_url and not config.signing.tsa_url.startswith(("http://", "https://")):
        raise _err(source, "signing.tsa_url", "must be an http:// or https:// URL")
    config.catalog_target  # noqa: B018 - checks the URL now rather than at first use
    return config


def _storage(item: Any, index: int, source: str, home: Path) -> StorageConfig:
    where = f"storage[{index}]"
    if not isinstance(item, dict):
        raise _err(source, where, "must be a table")
    url = _get(item, "url", str, source, where)
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme not in _STORAGE_OPTIONS:
        raise _err(source, f"{where}.url",
                   f"unknown scheme in {url!r} (use file:///absolute/path or s3://bucket/prefix)")
    allowed = _STORAGE_OPTIONS[scheme]
    _known(item, {"name", "url", *allowed}, source, where)
    name = _get(item, "name", str, source, where)
    if not _NAME.fullmatch(name):
        raise _err(source, f"{where}.name",
                   f"{name!r}: use 1-40 lower-case letters, digits, '-' or '_'")
    options = {k: _get(item, k, t, source, where) for k, t in allowed.items() if k in item}
    if scheme == "file":
        rest = url[len("file://"):]
        if not rest.startswith("/"):
            url = (home / unquote(rest)).resolve().as_uri()
    durability = options.get("durability")
    if durability is not None and durability not in DURABILITY_MODES:
        raise _err(source, f"{where}.durability",
                   f"must be {' or '.join(repr(m) for m in DURABILITY_MODES)}, not {durability!r}")
    mode = options.get("retention_mode")
    if mode is not None and mode not in ("COMPLIANCE", "GOVERNANCE"):
        raise _err(source, f"{where}.retention_mode", "must be COMPLIANCE or GOVERNANCE")
    if (mode is None) != ("retention_days" not in options):
        raise _err(source, where, "retention_mode and retention_days go together")
    return StorageConfig(name=name, url=url, options=options)


def _err(source: str, where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}", code="CONFIG-INVALID", location=source)


def _known(table: Mapping[str, Any], allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"unknown configuration key(s): {', '.join(prefix + k for k in unknown)} "
            f"(allowed: {', '.join(sorted(allowed))})",
            code="CONFIG-UNKNOWN-KEY", location=source)


def _table(data: Mapping[str, Any], key: str, source: str, *,
           required: bool = True) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        if required:
            raise _err(source, key, "section is missing")
        return {}
    if not isinstance(value, dict):
        raise _err(source, key, "must be a table")
    return value


_MISSING = object()


def _get(table: Mapping[str, Any], key: str, kind: type, source: str, where: str,
         default: Any = _MISSING) -> Any:
    if key not in table:
        if default is _MISSING:
            raise _err(source, f"{where}.{key}", "is required")
        return default
    value = table[key]
    # bool is a subclass of int: do not accept true as a number
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _err(source, f"{where}.{key}", f"must be a {kind.__name__}, not {value!r}")
    return value


def _path(value: Any, home: Path, source: str, where: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _err(source, where, "must be a non-empty path string")
    path = Path(value).expanduser()
    return path if path.is_absolute() else home / path


def _paths(values: Any, home: Path, source: str, where: str) -> tuple[Path, ...]:
    if not isinstance(values, list):
        raise _err(source, where, "must be a list of paths")
    out = []
    for v in values:
        p = _path(v, home, source, where)
        assert p is not None
        out.append(p)
    return tuple(out)


# --- writing -------------------------------------------------------------------------------

def dump_toml(data: Mapping[str, Any], comments: Mapping[str, str] | None = None) -> str:
    """Serialise the configuration shape (tables, arrays of tables, scalars, string lists)."""
    comments = comments or {}
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict):
            _dump_table(lines, f"[{key}]", value, comments.get(key))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                _dump_table(lines, f"[[{key}]]", item, comments.get(key) if i == 0 else None)
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _dump_table(lines: list[str], header: str, table: Mapping[str, Any],
                comment: str | None) -> None:
    if lines:
        lines.append("")
    if comment:
        lines.extend(f"# {c}" for c in comment.splitlines())
    lines.append(header)
    lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items())


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(c if c >= " " or c == "\t" else f"\\u{ord(c):04x}" for c in escaped)
        return f'"{escaped}"'
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")
