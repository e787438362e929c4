"""One validator for every kind of submission: detect the kind, run every check, one report.

:func:`open_sip` is what ``preservation sip validate`` and ``preservation ingest`` both call, so
ingest refuses exactly what the validator rejects, with the same report. The steps:

1. open the package (:mod:`sip.archive`): a folder is used in place and never modified; a ZIP is
   inspected entry by entry and only then extracted into a private folder under the work dir;
2. detect the kind: a BagIt bag (``bagit.txt``) — checked, optionally against a BagIt Profile,
   and if its payload is itself an E-ARK or TT05 package that is checked too; a TT05 SIP_hoso /
   SIP_tailieu; any other E-ARK CSIP/SIP; anything else is rejected with SIP-KIND-UNKNOWN;
3. read every file once (SHA-256, in parallel), check the package rules, then the content of
   every record (formats against the policy, PDF signatures, PDF/A, encryption, empty files,
   viruses).

The user never says which kind a package is. The result is a :class:`~sip.submission.Submission`
with the report and, when valid, every file with its SHA-256 and format for the AIP builder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from policies.formats import FormatPolicy, load_format_policy
from preservation.config import ValidationConfig
from preservation.diskmap import DiskMap
from preservation.findings import Finding, Report
from preservation.formats import FormatIdentificationError, FormatIdentifier
from preservation.progress import Progress, no_progress
from preservation.spooled import MappedSequence
from sip import submission as sip_submission
from sip.archive import OpenedPackage, open_package
from sip.bagit import BagCheck, validate_bag
from sip.bagit_profile import BagitProfile, check_profile
from sip.content import ContentItem, ContentOptions, check_content
from sip.eark import looks_like_eark, validate_eark
from sip.package import PackageTree
from sip.safety import check_tree_safety
from sip.submission import FileRole, SipKind, Submission, SubmittedFile, spooled_files
from sip.tt05 import looks_like_tt05, validate_tt05
from sip.tt05_model import PackageKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationOptions:
    """What the archive decided about checking submissions (from ``[validation]``)."""

    historical_archive: bool = True
    format_policy: FormatPolicy | None = None  # None: the shipped TT05 list
    pdf_trust_roots: tuple[x509.Certificate, ...] = ()
    clamd: str | None = None
    profile: BagitProfile | None = None
    check_content: bool = True
    #: accept files changed only in their line endings in transit (a warning, not an error)
    tolerate_line_endings: bool = False

    @classmethod
    def from_config(cls, config: ValidationConfig, *, profile: BagitProfile | None = None
                    ) -> ValidationOptions:
        roots: list[x509.Certificate] = []
        for path in config.pdf_trust_anchors:
            roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        return cls(historical_archive=config.historical_archive,
                   format_policy=load_format_policy(config.formats_policy),
                   pdf_trust_roots=tuple(roots), clamd=config.clamd or None, profile=profile,
                   tolerate_line_endings=config.line_endings == "tolerate")


@contextlib.contextmanager
def open_sip(path: Path, work_dir: Path, options: ValidationOptions | None = None, *,
             progress: Progress = no_progress) -> Iterator[Submission]:
    """Validate the submission at ``path``; yield it while its files are readable.

    A ZIP's private extraction is removed when the ``with`` block ends. Raises
    :class:`~preservation.errors.NotFoundError` when ``path`` cannot be opened at all (exit 2);
    everything wrong *inside* the package is a finding in ``submission.report``.
    """
    options = options or ValidationOptions()
    report = Report(subject=path.name or str(path))
    submission = Submission(source=path, report=report)
    opened = open_package(path, work_dir, report)
    if opened is None:
        yield submission
        return
    with opened:
        _validate(opened, submission, options, progress)
        report.kind = submission.kind_label
        yield submission


def _validate(opened: OpenedPackage, sub: Submission, options: ValidationOptions,
              progress: Progress) -> None:
    sub.name, sub.root = opened.name, opened.root
    report = sub.report
    tree = PackageTree(opened.root)
    serialized = "application/zip" if opened.is_zip else None
    if tree.is_file("bagit.txt"):
        _validate_bag(tree, sub, options, serialized, progress)
    else:
        if options.profile is not None:
            report.add("SIP-PROFILE-NOT-APPLICABLE", None)
        check_tree_safety(tree, report)
        tree.hash_all(("sha256",), progress=lambda n: progress("validate", n, None))
        _validate_package(tree, "", sub, options, opened.name, report)
    if sub.kind is SipKind.UNKNOWN:
        return
    if options.check_content:
        _check_content(tree, sub, options, progress)
    if not report.valid:
        sub.files = ()


def _validate_bag(tree: PackageTree, sub: Submission, options: ValidationOptions,
                  serialized: str | None, progress: Progress) -> None:
    # the bag is listed once: the listing of ``tree`` is the one the BagIt checks use
    check = validate_bag(tree.root, progress=lambda n: progress("validate", n, None),
                         tree=tree.tree)
    sub.report.extend(check.report.findings)
    sub.kind = SipKind.BAGIT
    sub.info = check.info
    sub.title = _bag_title(check)
    if options.profile is not None:
        check_profile(options.profile, check, tree.root, sub.report, serialized=serialized,
                      tree=tree.tree)
    inner = _inner_package(tree)
    sub.files = spooled_files(
        SubmittedFile(p.bag_path, p.fs_path, p.size, p.digests["sha256"], FileRole.CONTENT,
                      p.bag_path.removeprefix("data/"))
        for p in check.payload if "sha256" in p.digests)
    del check  # its payload is in sub.files now
    if inner is None:
        return
    # The payload is an E-ARK / TT05 package: check it as one too, even when the bag itself has
    # problems, so the producer gets every finding at once (its files were hashed already).
    # Its findings are located from the bag's top, like the bag's own.
    sub.wrapped_in_bag = True
    inner_tree = PackageTree(tree.root / inner)
    inner_tree.seed_digests(  # the payload files that have a SHA-256
        (f.path.removeprefix(f"{inner}/"), "sha256", f.sha256) for f in sub.files)
    # "data" itself is no package name: then the package is named after the bag
    name = inner.rsplit("/", 1)[-1] if inner != "data" else sub.name
    inner_report = Report(sub.report.subject)
    _validate_package(inner_tree, inner, sub, options, name, inner_report)
    sub.report.extend(_relocated(f, inner) for f in inner_report.findings)


def _relocated(finding: Finding, prefix: str) -> Finding:
    path = finding.location.path
    return dataclasses.replace(finding, location=dataclasses.replace(
        finding.location, path=f"{prefix}/{path}" if path else prefix))


def _inner_package(tree: PackageTree) -> str | None:
    """``data`` or ``data/<one folder>`` when it holds a METS.xml, else None."""
    if tree.is_file("data/METS.xml"):
        return "data"
    only = tree.only_child("data")
    if only is not None and tree.is_file(f"data/{only}/METS.xml"):
        return f"data/{only}"
    return None


def _validate_package(tree: PackageTree, prefix: str, sub: Submission,
                      options: ValidationOptions, name: str, report: Report) -> None:
    """Check an E-ARK or TT05 package at ``tree`` (``prefix``: its place in the submission)."""
    tt05_kind = looks_like_tt05(tree)
    digitised: DiskMap[None] = DiskMap(keep=sip_submission.KEEP, what="digitised file")
    if tt05_kind is not None:
        validate_eark(tree, report, tt05=True, name=name,
                      tolerate_line_endings=options.tolerate_line_endings)
        record = validate_tt05(tree, report, historical_archive=options.historical_archive,
                               package_name=name, kind=tt05_kind)
        sub.kind = (SipKind.TT05_HOSO if tt05_kind is PackageKind.HOSO
                    else SipKind.TT05_TAILIEU)
        sub.title = record.fields.get("title") or sub.title
        sub.tt05 = record
        sub.info = tuple(record.fields.items())
        sub.identifiers.update({k: v for k, v in (("objid", record.objid),
                                                  ("fileCode", record.file_code),
                                                  ("fonds", record.fonds_code)) if v})
        digitised.update((path, None) for doc in record.documents if doc.digitised
                         for path in doc.data_files)
    elif looks_like_eark(tree):
        package = validate_eark(tree, report, name=name, list_files=False,  # not used here
                                tolerate_line_endings=options.tolerate_line_endings)
        sub.kind = SipKind.EARK
        if package.objid:
            sub.identifiers["objid"] = package.objid
    elif not sub.wrapped_in_bag:
        report.add("SIP-KIND-UNKNOWN", None)
        return
    else:
        return
    sub.package_prefix = prefix
    sub.files = spooled_files(_package_files(tree, prefix, digitised))
    digitised.close()


def _package_files(tree: PackageTree, prefix: str, digitised: Container[str]
                   ) -> Iterator[SubmittedFile]:
    for rel, listed in tree.files.items():
        digest = tree.digest(rel, "sha256")
        if digest is None:
            continue  # unreadable or changed: already an error finding
        parts = rel.split("/")
        is_content = len(parts) >= 4 and parts[0] == "representations" and parts[2] == "data"
        full = f"{prefix}/{rel}" if prefix else rel
        yield SubmittedFile(
            full, tree.root / rel, listed.size, digest,
            FileRole.CONTENT if is_content else FileRole.METADATA,
            "/".join(parts[3:]) if is_content else rel,
            representation=parts[1] if is_content else None,
            digitised=rel in digitised)


def _check_content(tree: PackageTree, sub: Submission, options: ValidationOptions,
                   progress: Progress) -> None:
    content = sub.content()
    if not content:
        return
    items = MappedSequence(content, _content_item)
    content_options = ContentOptions(policy=options.format_policy or load_format_policy(None),
                                     trust_roots=options.pdf_trust_roots, clamd=options.clamd)
    # read once, after the content files (while sub.files stays the same)
    others = (f.path for f in sub.files if f.role is FileRole.METADATA)
    try:
        identifier = FormatIdentifier()
    except FormatIdentificationError as e:
        # the formats cannot be checked: FMT-IDENTIFIER-UNAVAILABLE, every other check still runs
        log.warning("format identification unavailable: %s", e.message)
        identifier = None
        sub.report.add("FMT-IDENTIFIER-UNAVAILABLE", None, error=e.message)
    with identifier if identifier is not None else contextlib.nullcontext():
        sub.formats = check_content(tree, items, sub.report, content_options,
                                    identifier=identifier, identify=identifier is not None,
                                    progress=lambda n: progress("content", n, len(items)),
                                    scan_also=others)
        if identifier is not None:
            sub.fido_version = identifier.fido_version
            sub.signature_version = identifier.signature_version


def _content_item(f: SubmittedFile) -> ContentItem:
    return ContentItem(f.path, digitised=f.digitised)


def _bag_title(check: BagCheck) -> str | None:
    for label, value in check.info:
        if label.lower() in ("title", "external-description") and value.strip():
            return " ".join(value.split())
    return None
