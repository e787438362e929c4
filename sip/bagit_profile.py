"""Check a validated BagIt bag against a BagIt Profile (bagit-profiles specification 1.1.0–1.4.0).

A profile (:mod:`sip.bagit_profile_model`, read by :func:`load_profile`) is an agreement between a
producer and the archive about the optional parts of the bags they exchange: which bag-info.txt
tags must be there and with which values, which manifest algorithms, which tag and payload files,
whether fetch.txt and serialization are allowed, which BagIt versions.

:func:`check_profile` runs after :func:`sip.bagit.validate_bag` and adds a ``PROFILE-…`` finding
to the same report for every constraint the bag breaks; it never stops at the first. The
specification calls a wrong serialization or BagIt version "fatal"; here they are errors like the
others, and the remaining checks still run so the producer gets the whole list at once.

The bag is listed with :func:`sip.bagit_tree.walk` (links are never followed); bag-info.txt is
parsed again only to give each finding its line number.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from preservation.findings import Report
from preservation.paths import printable
from sip.bagit import BagCheck
from sip.bagit_checks import MAX_DECLARATION_BYTES, MAX_INFO_BYTES
from sip.bagit_profile_model import (
    BagitProfile,
    ProfileError,
    TagRule,
    load_profile,
    matches_any,
)
from sip.bagit_text import parse_declaration, parse_info, read_lines
from sip.bagit_tree import ChangedError, Tree, describe_error, open_listed, walk

__all__ = ["BagitProfile", "ProfileError", "TagRule", "check_profile", "load_profile"]

log = logging.getLogger(__name__)

_MANIFEST = re.compile(r"^(tag)?manifest-(.+)\.txt$", re.DOTALL)
_IDENTIFIER_LABEL = "bagit-profile-identifier"
#: Top-level files the BagIt specification itself defines: not "tag files" for Tag-Files-Allowed.
_BAGIT_FILES = frozenset({"bagit.txt", "bag-info.txt", "package-info.txt", "fetch.txt"})
#: How many allowed values or patterns a message lists before it says "…".
_SHOWN = 12


def _listing(values: Iterable[str]) -> str:
    items = [printable(v) for v in values]
    if len(items) > _SHOWN:
        items = [*items[:_SHOWN], "…"]
    return ", ".join(items) if items else "—"


def _info_name(version: str | None) -> str:
    try:
        major, minor = (int(p) for p in (version or "").split(".")[:2])
    except ValueError:
        return "bag-info.txt"
    return "package-info.txt" if (major, minor) < (0, 96) else "bag-info.txt"


def _info_lines(root: Path, tree: Tree, name: str, check: BagCheck) -> list[int] | None:
    """The line of each ``check.info`` entry, by parsing the file again (its findings are
    already in the report, so they go to a scratch report); None if it cannot be matched."""
    scratch = Report(subject="profile-lines")
    declaration_file, info_file = tree.files.get("bagit.txt"), tree.files.get(name)
    if declaration_file is None or info_file is None or info_file.size > MAX_INFO_BYTES:
        return None
    try:
        with open_listed(root, declaration_file) as stream:
            declaration = parse_declaration(stream.read(MAX_DECLARATION_BYTES), scratch)
        with open_listed(root, info_file) as stream:
            elements = parse_info(read_lines(stream, codec=declaration.codec, name=name,
                                             report=scratch),
                                  name=name, declaration=declaration, report=scratch)
    except (OSError, ChangedError):
        return None
    if [(e.label, e.value) for e in elements] != list(check.info):
        return None
    return [e.line for e in elements]


class _ProfileCheck:
    """One run: the profile, the bag's listing and what validate_bag read."""

    def __init__(self, profile: BagitProfile, check: BagCheck, root: Path, report: Report,
                 serialized: str | None, tree: Tree | None) -> None:
        self.profile = profile
        self.check = check
        self.root = root
        self.report = report
        self.serialized = serialized
        self.tree = tree

    def run(self) -> None:
        for key in self.profile.unchecked:
            self.report.add("PROFILE-KEY-NOT-CHECKED", None, key=printable(key),
                            profile=printable(self.profile.source))
        self.serialization()
        self.bagit_version()
        tree = self.tree
        if tree is None:
            try:
                tree = walk(self.root)
            except OSError as error:
                self.report.add("PROFILE-NOT-CHECKED", ".", error=describe_error(error))
                return
        self.bag_info(tree)
        self.manifests(tree)
        self.tag_files(tree)
        self.payload_files(tree)
        self.fetch(tree)
        self.data_empty(tree)

    # --- serialization and version --------------------------------------------------------------

    def serialization(self) -> None:
        profile, mime = self.profile, self.serialized
        if mime is None:
            if profile.serialization == "required":
                self.report.add("PROFILE-SERIALIZATION-REQUIRED", ".",
                                accepted=_listing(profile.accept_serialization))
            return
        mime = mime.strip().lower()
        if profile.serialization == "forbidden":
            self.report.add("PROFILE-SERIALIZATION-FORBIDDEN", ".", mime=printable(mime))
        elif profile.accept_serialization and mime not in profile.accept_serialization:
            self.report.add("PROFILE-SERIALIZATION-NOT-ACCEPTED", ".", mime=printable(mime),
                            accepted=_listing(profile.accept_serialization))

    def bagit_version(self) -> None:
        version = self.check.version
        if version is None:
            self.report.add("PROFILE-BAGIT-VERSION-NOT-CHECKED", "bagit.txt",
                            accepted=_listing(self.profile.accept_bagit_version))
        elif version not in self.profile.accept_bagit_version:
            self.report.add("PROFILE-BAGIT-VERSION-NOT-ACCEPTED", "bagit.txt", line=1,
                            version=printable(version),
                            accepted=_listing(self.profile.accept_bagit_version))

    # --- bag-info.txt ---------------------------------------------------------------------------

    def bag_info(self, tree: Tree) -> None:
        name = _info_name(self.check.version)
        profile, report = self.profile, self.report
        if name not in tree.files:
            needed = [r.label for r in profile.bag_info if r.required]
            if needed:
                report.add("PROFILE-INFO-FILE-MISSING", name, file=name, labels=_listing(needed))
            else:
                report.add("PROFILE-IDENTIFIER-MISSING", name, file=name,
                           identifier=printable(profile.identifier))
            return
        lines = _info_lines(self.root, tree, name, self.check)
        entries = [(label, value, lines[i] if lines else None)
                   for i, (label, value) in enumerate(self.check.info)]
        for rule in profile.bag_info:
            self.tag_rule(rule, name, [(v, n) for label, v, n in entries
                                       if label.lower() == rule.label.lower()])
        claimed = [(v, n) for label, v, n in entries if label.lower() == _IDENTIFIER_LABEL]
        if not claimed:
            report.add("PROFILE-IDENTIFIER-MISSING", name, file=name,
                       identifier=printable(profile.identifier))
        elif all(v.strip() != profile.identifier for v, _ in claimed):
            report.add("PROFILE-IDENTIFIER-MISMATCH", name, line=claimed[0][1], file=name,
                       found=_listing(v for v, _ in claimed),
                       identifier=printable(profile.identifier))

    def tag_rule(self, rule: TagRule, name: str, found: list[tuple[str, int | None]]) -> None:
        report, label = self.report, printable(rule.label)
        if not found:
            if rule.required:
                report.add("PROFILE-TAG-REQUIRED", name, file=name, label=label)
            elif rule.recommended:
                report.add("PROFILE-TAG-RECOMMENDED", name, file=name, label=label)
            return
        if not rule.repeatable and len(found) > 1:
            report.add("PROFILE-TAG-REPEATED", name, line=found[1][1], file=name, label=label,
                       count=len(found))
        if rule.values:
            for value, line in found:
                if value not in rule.values:
                    report.add("PROFILE-TAG-VALUE", name, line=line, file=name, label=label,
                               value=printable(value), allowed=_listing(rule.values))

    # --- manifests, tag files, payload files ----------------------------------------------------

    def manifests(self, tree: Tree) -> None:
        present: dict[bool, dict[str, str]] = {False: {}, True: {}}  # is_tag → algorithm → file
        for rel in tree.files:
            match = _MANIFEST.match(rel)
            if match is not None and "/" not in rel:
                present[bool(match[1])][match[2].lower()] = rel
        profile = self.profile
        for is_tag, required, allowed in (
                (False, profile.manifests_required, profile.manifests_allowed),
                (True, profile.tag_manifests_required, profile.tag_manifests_allowed)):
            prefix = "PROFILE-TAGMANIFEST" if is_tag else "PROFILE-MANIFEST"
            stem = "tagmanifest" if is_tag else "manifest"
            for algorithm in required:
                if algorithm not in present[is_tag]:
                    file = f"{stem}-{algorithm}.txt"
                    self.report.add(f"{prefix}-REQUIRED", printable(file),
                                    file=printable(file), algorithm=printable(algorithm))
            if allowed is None:
                continue
            for algorithm, rel in sorted(present[is_tag].items()):
                if algorithm not in allowed:
                    self.report.add(f"{prefix}-NOT-ALLOWED", printable(rel),
                                    file=printable(rel), algorithm=printable(algorithm),
                                    allowed=_listing(allowed))

    def tag_files(self, tree: Tree) -> None:
        for rel in self.profile.tag_files_required:
            if rel not in tree.files:
                self.report.add("PROFILE-TAGFILE-REQUIRED", printable(rel), file=printable(rel))
        allowed = self.profile.tag_files_allowed
        for rel in tree.files:
            if rel.startswith("data/") or ("/" not in rel and (
                    rel in _BAGIT_FILES or _MANIFEST.match(rel))):
                continue
            if not matches_any(rel, allowed):
                self.report.add("PROFILE-TAGFILE-NOT-ALLOWED", printable(rel),
                                file=printable(rel), allowed=_listing(allowed))

    def payload_files(self, tree: Tree) -> None:
        folders = set(tree.dirs)
        for rel in self.profile.payload_files_required:
            present = (rel.rstrip("/") in folders if rel.endswith("/")
                       else rel in tree.files or rel in folders)
            if not present:
                self.report.add("PROFILE-PAYLOAD-REQUIRED", printable(rel), file=printable(rel))
        allowed = self.profile.payload_files_allowed
        if allowed is None:
            return
        for rel in tree.files:
            if rel.startswith("data/") and not matches_any(rel, allowed):
                self.report.add("PROFILE-PAYLOAD-NOT-ALLOWED", printable(rel),
                                file=printable(rel), allowed=_listing(allowed))

    # --- fetch.txt and Data-Empty ---------------------------------------------------------------

    def fetch(self, tree: Tree) -> None:
        present = "fetch.txt" in tree.files or "fetch.txt" in tree.not_regular()
        if present and not self.profile.allow_fetch:
            self.report.add("PROFILE-FETCH-NOT-ALLOWED", "fetch.txt")
        elif not present and self.profile.fetch_required:
            self.report.add("PROFILE-FETCH-REQUIRED", "fetch.txt")

    def data_empty(self, tree: Tree) -> None:
        if not self.profile.data_empty:
            return
        count = octets = 0  # one pass, no list of the payload files
        for rel, f in tree.files.items():
            if rel.startswith("data/"):
                count += 1
                octets += f.size
        if count > 1 or octets > 0:
            self.report.add("PROFILE-DATA-NOT-EMPTY", "data", count=count, octets=octets)


def check_profile(profile: BagitProfile, check: BagCheck, bag_root: Path, report: Report, *,
                  serialized: str | None = None, tree: Tree | None = None) -> None:
    """Add a ``PROFILE-…`` finding to ``report`` for every way the bag breaks ``profile``.

    ``check`` is what :func:`sip.bagit.validate_bag` returned for ``bag_root``; ``serialized`` is
    the MIME type of the file the bag came in (``"application/zip"``), None for a folder; a
    listing of ``bag_root`` made by :func:`sip.bagit_tree.walk` may be passed as ``tree``.
    """
    log.debug("checking %s against the BagIt Profile %s", bag_root, profile.identifier)
    _ProfileCheck(profile, check, Path(bag_root), report, serialized, tree).run()
