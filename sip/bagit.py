"""Validate a producer's BagIt bag (RFC 8493, and the 0.93–0.97 drafts) before ingest.

:func:`validate_bag` collects every finding into one report (kind ``"bagit"``) and returns, with
it, what ingest needs next: the declared version and encoding, the bag-info.txt entries in order,
and every payload file with its size and digests, computed in the same single read that verified
the manifests.

Safety: the bag is never modified and links are never followed. The bag is listed once
(:mod:`sip.bagit_tree`); paths named by manifests or fetch.txt are only *matched* against that
listing, never joined to the root or opened, so ``../../etc/passwd`` or ``/tmp/x`` is a finding,
not a read. Names shown in findings go through :func:`preservation.paths.printable`. The checks
themselves are in :mod:`sip.bagit_checks`, tag-file parsing in :mod:`sip.bagit_text`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preservation.errors import NotFoundError, UsageError
from preservation.findings import Report
from preservation.paths import printable
from preservation.spooled import KEEP as SPOOL_KEEP
from preservation.spooled import spooled
from sip.bagit_checks import SUPPORTED_ALGORITHMS, BagValidation
from sip.bagit_hash import Hashed
from sip.bagit_tree import Tree, describe_error
from sip.bagit_tree import walk as _walk

__all__ = ["SUPPORTED_ALGORITHMS", "BagCheck", "PayloadFile", "validate_bag"]

#: Payload files of a :class:`BagCheck` kept in memory; the rest are in a temporary file.
KEEP = SPOOL_KEEP  # preservation.spooled.KEEP; a test may lower it here


@dataclass(frozen=True, slots=True)
class PayloadFile:
    """One payload file: its path in the bag, where to read it, its size and digests."""

    bag_path: str  # exactly as on disk and in the manifest, e.g. "data/Tờ trình.pdf"
    fs_path: Path
    size: int
    digests: dict[str, str]  # algorithm → lower-case hex, for compute ∪ manifest algorithms


@dataclass(frozen=True)
class BagCheck:
    """The result of :func:`validate_bag`."""

    report: Report
    version: str | None  # as declared in bagit.txt ("1.0", "0.97"); None if missing/malformed
    encoding: str | None  # Tag-File-Character-Encoding as declared; None if missing
    info: tuple[tuple[str, str], ...]  # bag-info.txt (package-info.txt) in order, repeats kept
    #: sorted by bag_path; a read-only sequence, past the first few in a temporary file
    payload: Sequence[PayloadFile]
    manifest_algorithms: tuple[str, ...] = ()  # verified payload manifest algorithms

    @property
    def valid(self) -> bool:
        return self.report.valid


def validate_bag(path: Path, *, progress: Callable[[int], None] | None = None,
                 compute: Sequence[str] = ("sha256",), tree: Tree | None = None) -> BagCheck:
    """Validate the bag at ``path``; every problem becomes a finding of the returned report.

    ``compute`` names digests wanted for every payload file besides those the manifests use.
    ``progress(n)`` is called in this thread with the bytes read since the last call.
    ``tree``: a listing of ``path`` made by :func:`sip.bagit_tree.walk` (by a caller that
    listed it already), used instead of listing it again.
    Raises :class:`NotFoundError` if ``path`` does not exist or cannot be listed, and
    :class:`UsageError` for an algorithm in ``compute`` that is not supported.
    """
    root = Path(path)
    unknown = [a for a in compute if a not in SUPPORTED_ALGORITHMS]
    if unknown:
        raise UsageError(f"unsupported digest algorithm(s): {', '.join(unknown)}; "
                         f"supported: {', '.join(SUPPORTED_ALGORITHMS)}")
    try:
        root_mode = os.stat(root).st_mode
    except OSError as error:
        raise NotFoundError(f"no bag at {root}: {describe_error(error)}",
                            location=str(root)) from error
    report = Report(subject=str(root), kind="bagit")
    empty = BagCheck(report, None, None, (), ())
    if not stat.S_ISDIR(root_mode):
        report.add("BAGIT-NOT-A-BAG", "bagit.txt", file=printable(root.name))
        return empty
    try:
        os.lstat(root / "bagit.txt")
    except FileNotFoundError:
        report.add("BAGIT-NOT-A-BAG", "bagit.txt", file=printable(root.name))
        return empty
    except OSError as error:
        raise NotFoundError(f"cannot open {root}: {describe_error(error)}",
                            location=str(root)) from error
    if tree is None:
        try:
            tree = _walk(root)
        except OSError as error:
            raise NotFoundError(f"cannot list {root}: {describe_error(error)}",
                                location=str(root)) from error
    outcome = BagValidation(root, tree, report, tuple(compute), progress).run()
    return BagCheck(
        report=report,
        version=outcome.declaration.version,
        encoding=outcome.declaration.encoding,
        info=tuple((e.label, e.value) for e in outcome.info),
        payload=_spooled_payload(root, outcome.payload),
        manifest_algorithms=outcome.manifest_algorithms)


def _spooled_payload(root: Path, hashed: Iterable[Hashed]) -> Sequence[PayloadFile]:
    """Every hashed payload file as a :class:`PayloadFile`, past the first :data:`KEEP` in a
    temporary file: its path in the bag, size and digests (``fs_path`` is made again from the
    bag's root when one is read back)."""
    def encode(p: PayloadFile) -> tuple[Any, ...]:
        return p.bag_path, p.size, p.digests

    def decode(values: tuple[Any, ...]) -> PayloadFile:
        bag_path, size, digests = values
        return PayloadFile(bag_path, root / bag_path, size, digests)

    return spooled((PayloadFile(h.listed.rel, root / h.listed.rel, h.listed.size, h.digests)
                    for h in hashed), encode, decode, keep=KEEP, what="payload file")
