"""The accepted-formats policy: which PRONOM formats a submission's content may be in.

Policy is data, not code: the shipped default (``policies/formats.toml``) is TT05's list mapped to
PRONOM identifiers, and an archive can point ``[validation] formats_policy`` at its own file. The
file's keys are documented in the shipped file's comments. Loading is strict: an unknown key, a
value of the wrong type, a malformed PUID or a PUID listed twice raises
:class:`~preservation.errors.ConfigError` naming the file and the key (exit code 2), because a
typing mistake in a policy must never silently accept or reject formats.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from preservation.errors import ConfigError
from preservation.findings import Severity

__all__ = ["SHIPPED", "AcceptedFormat", "FormatPolicy", "load_format_policy"]

#: Name of the shipped default policy inside the ``policies`` package.
SHIPPED = "formats.toml"

_PUID = re.compile(r"(x-)?fmt/[0-9]+")
_EXTENSION = re.compile(r"[a-z0-9][a-z0-9_+-]*")
_SEVERITIES = {s.value: s for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)}

_TOP_KEYS = {"name", "source", "rules", "group"}
_RULE_KEYS = {
    "unidentified": Severity.WARNING,
    "not_accepted": Severity.ERROR,
    "digitised_not_pdfa": Severity.WARNING,
    "digitised_no_text_layer": Severity.WARNING,
}
_GROUP_KEYS = {"name", "label_vi", "unidentified_extensions", "formats"}
_FORMAT_KEYS = {"puid", "name", "pdfa", "born_digital_only"}


@dataclass(frozen=True)
class AcceptedFormat:
    """One accepted PRONOM format."""

    puid: str
    name: str
    group: str
    #: a PDF/A version (fido tells them apart by the XMP claim)
    pdfa: bool = False
    #: accepted for born-digital items only (plain PDF); a digitised item needs PDF/A
    born_digital_only: bool = False


@dataclass(frozen=True)
class FormatPolicy:
    """What content formats are accepted, and how severe each kind of departure is."""

    name: str
    formats: tuple[AcceptedFormat, ...]
    #: extension (lower case, no dot) → group, for formats PRONOM has no signature for
    unidentified_extensions: tuple[tuple[str, str], ...] = ()
    unidentified: Severity = Severity.WARNING
    not_accepted: Severity = Severity.ERROR
    digitised_not_pdfa: Severity = Severity.WARNING
    digitised_no_text_layer: Severity = Severity.WARNING
    source: str = ""
    #: the file it was loaded from, or "" for the shipped default
    origin: str = ""

    @cached_property
    def by_puid(self) -> Mapping[str, AcceptedFormat]:
        return {f.puid: f for f in self.formats}

    @cached_property
    def extension_groups(self) -> Mapping[str, str]:
        return dict(self.unidentified_extensions)

    def accepted(self, puid: str | None) -> AcceptedFormat | None:
        """The policy's entry for ``puid``, or None when it is not accepted."""
        return self.by_puid.get(puid) if puid else None

    def accepted_extension(self, extension: str) -> str | None:
        """The group accepting an unidentifiable file with this extension (no dot), if any."""
        return self.extension_groups.get(extension.lower().lstrip("."))

    @property
    def label(self) -> str:
        """How reports name the policy: its name, and its file when it is not the shipped one."""
        return f"{self.name} ({self.origin})" if self.origin else self.name


def load_format_policy(path: Path | None = None) -> FormatPolicy:
    """Load a policy file; ``None`` loads the shipped TT05 default.

    Raises :class:`~preservation.errors.ConfigError` (code ``CONFIG-INVALID`` or
    ``CONFIG-SYNTAX``) naming the file and the offending key.
    """
    if path is None:
        text = (resources.files("policies") / SHIPPED).read_text(encoding="utf-8")
        source = f"policies/{SHIPPED}"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: the formats policy cannot be read: {e}",
                              location=str(path)) from e
        source = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source} is not valid TOML: {e}", code="CONFIG-SYNTAX",
                          location=source) from e
    return _policy(data, source, origin="" if path is None else str(path))


def _fail(source: str, key: str, message: str) -> ConfigError:
    return ConfigError(f"{source}: {key}: {message}", location=source)


def _known(table: Mapping[str, Any], allowed: set[str], source: str, where: str) -> None:
    for key in table:
        if key not in allowed:
            name = f"{where}.{key}" if where else key
            raise _fail(source, name, f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _typed(value: Any, kind: type, source: str, key: str) -> Any:
    # bool is an int in Python: keep "pdfa = 1" from passing as a boolean and the reverse
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _fail(source, key, f"must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _text(table: Mapping[str, Any], key: str, source: str, where: str, *,
          required: bool = True) -> str:
    if key not in table:
        if required:
            raise _fail(source, f"{where}.{key}" if where else key, "is required")
        return ""
    value: str = _typed(table[key], str, source, f"{where}.{key}" if where else key)
    if required and not value.strip():
        raise _fail(source, f"{where}.{key}" if where else key, "must not be empty")
    return value


def _policy(data: Mapping[str, Any], source: str, origin: str) -> FormatPolicy:
    _known(data, _TOP_KEYS, source, "")
    rules = _typed(data.get("rules", {}), dict, source, "rules")
    _known(rules, set(_RULE_KEYS), source, "rules")
    severities: dict[str, Severity] = {}
    for key, default in _RULE_KEYS.items():
        raw = _typed(rules.get(key, default.value), str, source, f"rules.{key}")
        if raw not in _SEVERITIES:
            raise _fail(source, f"rules.{key}",
                        f"{raw!r} is not one of {', '.join(sorted(_SEVERITIES))}")
        severities[key] = _SEVERITIES[raw]

    groups = _typed(data.get("group", []), list, source, "group")
    if not groups:
        raise _fail(source, "group", "at least one [[group]] of accepted formats is required")
    formats: list[AcceptedFormat] = []
    seen: dict[str, str] = {}
    extensions: dict[str, str] = {}
    for index, group in enumerate(groups):
        where = f"group[{index}]"
        group = _typed(group, dict, source, where)
        _known(group, _GROUP_KEYS, source, where)
        group_name = _text(group, "name", source, where)
        _text(group, "label_vi", source, where, required=False)
        for i, ext in enumerate(_typed(group.get("unidentified_extensions", []), list, source,
                                       f"{where}.unidentified_extensions")):
            key = f"{where}.unidentified_extensions[{i}]"
            ext = _typed(ext, str, source, key)
            if not _EXTENSION.fullmatch(ext):
                raise _fail(source, key, f"{ext!r} is not a lower-case extension without a dot")
            if ext in extensions:
                raise _fail(source, key, f"extension {ext!r} is listed twice")
            extensions[ext] = group_name
        if "formats" not in group:
            raise _fail(source, f"{where}.formats", "is required")
        entries = _typed(group["formats"], list, source, f"{where}.formats")
        for i, entry in enumerate(entries):
            key = f"{where}.formats[{i}]"
            entry = _typed(entry, dict, source, key)
            _known(entry, _FORMAT_KEYS, source, key)
            puid = _text(entry, "puid", source, key)
            if not _PUID.fullmatch(puid):
                raise _fail(source, f"{key}.puid", f"{puid!r} is not a PRONOM PUID "
                            "(fmt/NNN or x-fmt/NNN)")
            if puid in seen:
                raise _fail(source, f"{key}.puid", f"{puid} is already listed ({seen[puid]})")
            seen[puid] = key
            pdfa = _typed(entry.get("pdfa", False), bool, source, f"{key}.pdfa")
            born = _typed(entry.get("born_digital_only", False), bool, source,
                          f"{key}.born_digital_only")
            if pdfa and born:
                raise _fail(source, key, "a PDF/A format cannot be born_digital_only")
            formats.append(AcceptedFormat(puid=puid, name=_text(entry, "name", source, key),
                                          group=group_name, pdfa=pdfa, born_digital_only=born))
    return FormatPolicy(
        name=_text(data, "name", source, ""),
        source=_text(data, "source", source, "", required=False),
        formats=tuple(formats),
        unidentified_extensions=tuple(extensions.items()),
        origin=origin,
        unidentified=severities["unidentified"],
        not_accepted=severities["not_accepted"],
        digitised_not_pdfa=severities["digitised_not_pdfa"],
        digitised_no_text_layer=severities["digitised_no_text_layer"],
    )
