"""A BagIt Profile (bagit-profiles specification 1.1.0–1.4.0), read strictly from a local JSON file.

:func:`load_profile` turns a profile file into a frozen :class:`BagitProfile` or raises
:class:`ProfileError` (code ``PROFILE-INVALID``, exit code 2) naming the file and the key at fault:
malformed JSON, duplicate keys, a value of the wrong type, a missing required field, an unknown
``BagIt-Profile-Version`` or a profile that contradicts itself (a required manifest that is not
allowed, ``Fetch.txt-Required`` without ``Allow-Fetch.txt`` …). Nothing is ever fetched from the
network: a profile is named by its identifier (a URI) but read from the file the archivist gives.

Keys this module does not understand (extensions such as APTrust's ``Other-Info``, or a ``regex``
in a ``Bag-Info`` tag) are kept in :attr:`BagitProfile.unchecked`, so the check reports them as
"not checked" instead of silently ignoring a constraint the profile's author meant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from preservation.errors import NotFoundError, UsageError

__all__ = [
    "KNOWN_SPEC_VERSIONS",
    "MAX_PROFILE_BYTES",
    "BagitProfile",
    "ProfileError",
    "TagRule",
    "load_profile",
    "matches_any",
]

#: Versions of the BagIt Profiles specification this module implements. A profile without
#: ``BagIt-Profile-Version`` is read as 1.1.0, as the specification says.
KNOWN_SPEC_VERSIONS = ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0")
#: The most read from a profile file; profiles are a few kilobytes.
MAX_PROFILE_BYTES = 4 * 1024 * 1024

SERIALIZATION_VALUES = ("forbidden", "required", "optional")
_INFO_REQUIRED = ("Source-Organization", "External-Description", "Version",
                  "BagIt-Profile-Identifier")
_TAG_KEYS = frozenset({"required", "values", "repeatable", "description", "recommended"})
_TOP_KEYS = frozenset({
    "BagIt-Profile-Info", "Bag-Info", "Manifests-Required", "Manifests-Allowed",
    "Allow-Fetch.txt", "Fetch.txt-Required", "Data-Empty", "Serialization",
    "Accept-Serialization", "Accept-BagIt-Version", "Tag-Manifests-Required",
    "Tag-Manifests-Allowed", "Tag-Files-Required", "Tag-Files-Allowed",
    "Payload-Files-Required", "Payload-Files-Allowed",
})
_BAGIT_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class ProfileError(UsageError):
    """The BagIt Profile file is malformed or inconsistent (exit code 2)."""

    code = "PROFILE-INVALID"


@dataclass(frozen=True)
class TagRule:
    """What a profile says about one bag-info.txt tag (the ``Bag-Info`` section)."""

    label: str
    required: bool = False
    values: tuple[str, ...] = ()  # empty: any value
    repeatable: bool = True
    recommended: bool = False
    description: str = ""


@dataclass(frozen=True)
class BagitProfile:
    """A parsed BagIt Profile; defaults are those of the specification."""

    source: str  # the file it was read from, for messages
    identifier: str
    source_organization: str
    external_description: str
    version: str
    spec_version: str  # BagIt-Profile-Version ("1.1.0" when absent)
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    bag_info: tuple[TagRule, ...] = ()
    manifests_required: tuple[str, ...] = ()
    manifests_allowed: tuple[str, ...] | None = None  # None: any
    tag_manifests_required: tuple[str, ...] = ()
    tag_manifests_allowed: tuple[str, ...] | None = None
    tag_files_required: tuple[str, ...] = ()
    tag_files_allowed: tuple[str, ...] = ("*",)
    payload_files_required: tuple[str, ...] = ()
    payload_files_allowed: tuple[str, ...] | None = None
    allow_fetch: bool = True
    fetch_required: bool = False
    data_empty: bool = False
    serialization: str = "optional"
    accept_serialization: tuple[str, ...] = ()
    accept_bagit_version: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()  # keys (as "Section/key") this module does not enforce


def matches_any(path: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``path`` matches one of the profile's path patterns.

    As in the specification (and bagit-profiles-validator), ``*`` stands for zero or more
    characters, ``/`` included, so the default ``["*"]`` allows every tag file; ``?`` and
    ``[…]`` are glob(7) classes. Matching is case-sensitive.
    """
    return any(fnmatchcase(path, pattern) for pattern in patterns)


class _Reader:
    """Typed access to the decoded JSON, raising ProfileError at ``file:key``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> ProfileError:
        return ProfileError(f"{message} ({key})", location=f"{self.source}:{key}")

    def string(self, value: Any, key: str, *, empty: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, found {_json_type(value)}")
        if not empty and not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        # The specification's ABNF writes booleans quoted ("true"), its examples bare (true).
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self.fail(key, f"expected true or false, found {_json_type(value)}")

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of strings, found {_json_type(value)}")
        out = tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(value))
        if len(set(out)) != len(out):
            raise self.fail(key, "lists the same value twice")
        return out

    def mapping(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected an object, found {_json_type(value)}")
        return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _read_json(path: Path) -> Any:
    source = str(path)
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_PROFILE_BYTES + 1)
    except FileNotFoundError as error:
        raise NotFoundError(f"no BagIt Profile at {source}", location=source) from error
    except OSError as error:
        raise NotFoundError(f"cannot read the BagIt Profile {source}: "
                            f"{error.strerror or type(error).__name__}",
                            location=source) from error
    if len(data) > MAX_PROFILE_BYTES:
        raise ProfileError(f"the BagIt Profile is larger than {MAX_PROFILE_BYTES} bytes",
                           location=source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProfileError(f"the BagIt Profile is not UTF-8 text (byte {error.start})",
                           location=source) from error
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        raise ProfileError(f"the BagIt Profile is not valid JSON: {error.msg}",
                           location=f"{source}:{error.lineno}:{error.colno}") from error
    except (ValueError, RecursionError) as error:
        raise ProfileError(f"the BagIt Profile is not valid JSON: {error}",
                           location=source) from error


def load_profile(path: Path) -> BagitProfile:
    """Read and check the BagIt Profile at ``path`` (a local file; never fetched).

    Raises :class:`ProfileError` (``PROFILE-INVALID``) for anything malformed or inconsistent,
    :class:`preservation.errors.NotFoundError` if the file cannot be opened.
    """
    raw = _read_json(Path(path))
    read = _Reader(str(path))
    top = read.mapping(raw, "(top level)")
    unchecked = [key for key in top if key not in _TOP_KEYS]

    if "BagIt-Profile-Info" not in top:
        raise read.fail("BagIt-Profile-Info", "the required section is missing")
    info = read.mapping(top["BagIt-Profile-Info"], "BagIt-Profile-Info")
    for name in _INFO_REQUIRED:
        if name not in info:
            raise read.fail(f"BagIt-Profile-Info.{name}", "the required field is missing")
    fields = {name: read.string(info[name], f"BagIt-Profile-Info.{name}")
              for name in _INFO_REQUIRED}
    spec_version = "1.1.0"
    if "BagIt-Profile-Version" in info:
        spec_version = read.string(info["BagIt-Profile-Version"],
                                   "BagIt-Profile-Info.BagIt-Profile-Version").strip()
        if spec_version not in KNOWN_SPEC_VERSIONS:
            raise read.fail("BagIt-Profile-Info.BagIt-Profile-Version",
                            f"unknown specification version {spec_version!r}; known: "
                            + ", ".join(KNOWN_SPEC_VERSIONS))
    contacts = {name: read.string(info[name], f"BagIt-Profile-Info.{name}", empty=True)
                if name in info else None
                for name in ("Contact-Name", "Contact-Email", "Contact-Phone")}

    rules: list[TagRule] = []
    bag_info = read.mapping(top.get("Bag-Info", {}), "Bag-Info")
    seen_labels: set[str] = set()
    for label, spec in bag_info.items():
        key = f"Bag-Info.{label}"
        if not label.strip() or ":" in label:
            raise read.fail(key, "is not a valid bag-info.txt label")
        if label.lower() in seen_labels:
            raise read.fail(key, "the tag is defined twice (labels differ only in case)")
        seen_labels.add(label.lower())
        spec = read.mapping(spec, key)
        unchecked += [f"Bag-Info/{label}/{k}" for k in spec if k not in _TAG_KEYS]
        rules.append(TagRule(
            label=label,
            required=read.boolean(spec.get("required", False), f"{key}.required"),
            values=read.strings(spec.get("values", []), f"{key}.values"),
            repeatable=read.boolean(spec.get("repeatable", True), f"{key}.repeatable"),
            recommended=read.boolean(spec.get("recommended", False), f"{key}.recommended"),
            description=read.string(spec.get("description", ""), f"{key}.description",
                                    empty=True)))

    def strings(key: str) -> tuple[str, ...]:
        return read.strings(top[key], key) if key in top else ()

    def optional(key: str) -> tuple[str, ...] | None:
        return read.strings(top[key], key) if key in top else None

    def boolean(key: str, default: bool) -> bool:
        return read.boolean(top[key], key) if key in top else default

    serialization = "optional"
    if "Serialization" in top:
        serialization = read.string(top["Serialization"], "Serialization").strip().lower()
        if serialization not in SERIALIZATION_VALUES:
            raise read.fail("Serialization", "must be one of " + ", ".join(SERIALIZATION_VALUES))
    if "Accept-BagIt-Version" not in top:
        raise read.fail("Accept-BagIt-Version", "at least one BagIt version is required")
    versions = strings("Accept-BagIt-Version")
    if not versions:
        raise read.fail("Accept-BagIt-Version", "at least one BagIt version is required")
    for i, version in enumerate(versions):
        if not _BAGIT_VERSION.match(version):
            raise read.fail(f"Accept-BagIt-Version[{i}]", f"{version!r} is not a version number")

    profile = BagitProfile(
        source=str(path),
        identifier=fields["BagIt-Profile-Identifier"].strip(),
        source_organization=fields["Source-Organization"],
        external_description=fields["External-Description"],
        version=fields["Version"],
        spec_version=spec_version,
        contact_name=contacts["Contact-Name"],
        contact_email=contacts["Contact-Email"],
        contact_phone=contacts["Contact-Phone"],
        bag_info=tuple(rules),
        manifests_required=tuple(a.lower() for a in strings("Manifests-Required")),
        manifests_allowed=_lower(optional("Manifests-Allowed")),
        tag_manifests_required=tuple(a.lower() for a in strings("Tag-Manifests-Required")),
        tag_manifests_allowed=_lower(optional("Tag-Manifests-Allowed")),
        tag_files_required=strings("Tag-Files-Required"),
        tag_files_allowed=optional("Tag-Files-Allowed") or (
            () if "Tag-Files-Allowed" in top else ("*",)),
        payload_files_required=strings("Payload-Files-Required"),
        payload_files_allowed=optional("Payload-Files-Allowed"),
        allow_fetch=boolean("Allow-Fetch.txt", True),
        fetch_required=boolean("Fetch.txt-Required", False),
        data_empty=boolean("Data-Empty", False),
        serialization=serialization,
        accept_serialization=tuple(m.strip().lower() for m in strings("Accept-Serialization")),
        accept_bagit_version=versions,
        unchecked=tuple(unchecked),
    )
    _check_consistency(profile, read)
    return profile


def _lower(values: tuple[str, ...] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(v.lower() for v in values)


def _check_consistency(profile: BagitProfile, read: _Reader) -> None:
    """The rules the specification sets between fields of one profile."""
    for required, allowed, key in (
            (profile.manifests_required, profile.manifests_allowed, "Manifests-Allowed"),
            (profile.tag_manifests_required, profile.tag_manifests_allowed,
             "Tag-Manifests-Allowed")):
        missing = [a for a in required if allowed is not None and a not in allowed]
        if missing:
            raise read.fail(key, "must include every required algorithm; missing: "
                            + ", ".join(missing))
    for required, patterns, key in (
            (profile.tag_files_required, profile.tag_files_allowed, "Tag-Files-Allowed"),
            (profile.payload_files_required, profile.payload_files_allowed,
             "Payload-Files-Allowed")):
        if patterns is None:
            continue
        missing = [p for p in required if not matches_any(p, patterns)]
        if missing:
            raise read.fail(key, "must cover every required path; not covered: "
                            + ", ".join(missing))
    for key, paths in (("Tag-Files-Required", profile.tag_files_required),
                       ("Payload-Files-Required", profile.payload_files_required)):
        for i, rel in enumerate(paths):
            parts = rel.rstrip("/").split("/")
            if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise read.fail(f"{key}[{i}]", f"{rel!r} is not a path relative to the bag")
            if key == "Payload-Files-Required" and not rel.startswith("data/"):
                raise read.fail(f"{key}[{i}]", f"{rel!r} is not under data/")
            if key == "Tag-Files-Required" and rel.startswith("data/"):
                raise read.fail(f"{key}[{i}]", f"{rel!r} is in the payload, not a tag file")
    if profile.fetch_required and not profile.allow_fetch:
        raise read.fail("Fetch.txt-Required", "is true while Allow-Fetch.txt is false")
    if profile.serialization == "required" and not profile.accept_serialization:
        raise read.fail("Accept-Serialization",
                        "Serialization is required, so at least one MIME type is needed")
