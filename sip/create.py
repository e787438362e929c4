"""``sip create``: a TT05 SIP (ZIP) from a folder of documents and a CSV/XLSX catalogue.

Steps: read the catalogue (:mod:`sip.catalogue`); match each document row to its file in SRC
(listed once, links not followed, names compared in NFC); derive docId, docCode, totalDoc; write
the SIP folder with :func:`sip.tt05_writer.write_tt05_sip` into a private work folder next to the
output; ZIP it (one top folder named OBJID, entries in sorted order) to a temporary name and link
it into place. Nothing is written when the catalogue has an error, an existing output is never
overwritten, and SRC is only read.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import tempfile
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path

from preservation.errors import NotFoundError, UsageError
from preservation.findings import Report
from preservation.hashing import CHUNK
from preservation.paths import path_problems, printable
from preservation.timeutil import VIETNAM
from sip.bagit_tree import Tree, walk
from sip.catalogue import FILE, CatalogueData, read_catalogue
from sip.tt05_model import PackageKind, Tt05Document, Tt05Package
from sip.tt05_writer import write_tt05_sip
from sip.validate import ValidationOptions, open_sip

log = logging.getLogger(__name__)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _match_files(src: Path, tree: Tree, data: CatalogueData, catalogue: Path,
                 report: Report) -> dict[int, str]:
    """Row → the file's path as on disk (relative to SRC), for every row whose file is usable."""
    files = {_nfc(rel): rel for rel in tree.files}
    not_regular = {_nfc(rel): "link" for rel in tree.symlinks}
    not_regular |= {_nfc(rel): "folder" for rel in tree.dirs}
    not_regular |= {_nfc(rel): kind for rel, kind in tree.specials}
    column = data.header(FILE)
    found: dict[int, str] = {}
    first_row: dict[str, int] = {}
    for doc in data.documents:
        if not doc.file:
            continue
        wanted = doc.file.replace("\\", "/")  # a path typed on Windows
        problems = path_problems(wanted)
        if problems:
            report.add("CATALOGUE-FILE-UNSAFE", data.name, line=doc.row, column=column,
                       file=printable(doc.file), problems=", ".join(problems))
            continue
        key = posixpath.normpath(_nfc(wanted))
        if key in first_row:
            report.add("CATALOGUE-FILE-TWICE", data.name, line=doc.row, column=column,
                       file=printable(doc.file), other_row=first_row[key])
            continue
        first_row[key] = doc.row
        if key in files:
            found[doc.row] = files[key]
        elif key in not_regular:
            report.add("CATALOGUE-FILE-NOT-REGULAR", data.name, line=doc.row, column=column,
                       file=printable(doc.file), kind=not_regular[key])
        else:
            report.add("CATALOGUE-FILE-MISSING", data.name, line=doc.row, column=column,
                       file=printable(doc.file))
    own = _own_catalogue(src, catalogue)
    for nfc, rel in files.items():
        if nfc not in first_row and rel != own:
            report.add("CATALOGUE-FILE-NOT-LISTED", data.name, file=printable(rel))
    return found


def _own_catalogue(src: Path, catalogue: Path) -> str | None:
    """The catalogue's path relative to SRC when it lives inside SRC (it is not a document)."""
    try:
        return catalogue.resolve().relative_to(src.resolve()).as_posix()
    except ValueError:
        return None


def _check_doc_ids(data: CatalogueData, report: Report) -> None:
    column = data.header("docId")
    for doc in data.documents:
        doc_id = doc.fields.get("docId", "")
        name = f"EAD_DOC_{doc_id}.xml"
        if doc_id and ("/" in doc_id or path_problems(name) or doc_id.strip() != doc_id):
            report.add("CATALOGUE-BAD-DOCID", data.name, line=doc.row, column=column,
                       value=printable(doc_id))


def _package(src: Path, data: CatalogueData, paths: dict[int, str], fonds_code: str | None,
             agency: str | None) -> Tt05Package:
    documents = []
    for doc in data.documents:
        rel = paths[doc.row]
        suffix = posixpath.splitext(rel)[1].lower()
        documents.append(Tt05Document(doc.fields, src / rel, f"{doc.fields['docId']}{suffix}"))
    return Tt05Package(data.kind, data.package, tuple(documents), fonds_code=fonds_code,
                       agency=agency)


def _zip(folder: Path, target: Path, moment: datetime) -> None:
    """ZIP ``folder`` (as its own top folder) into ``target``: sorted, fixed timestamps."""
    stamp = moment.astimezone(VIETNAM).timetuple()[:6]
    entries = sorted(p for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(target, "x", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in entries:
            name = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            large = path.stat().st_size > 2**31
            with path.open("rb") as src, archive.open(info, "w", force_zip64=large) as dst:
                shutil.copyfileobj(src, dst, CHUNK)


def _publish(temporary: Path, out: Path) -> None:
    """Move ``temporary`` to ``out`` without ever replacing an existing ``out``."""
    try:
        os.link(temporary, out)  # fails if out exists: no overwrite, even in a race
    except FileExistsError as e:
        raise UsageError(f"{out} already exists; it is never overwritten",
                         location=str(out)) from e
    except OSError:  # no hard links here (e.g. some network file systems)
        if out.exists():
            raise UsageError(f"{out} already exists; it is never overwritten",
                             location=str(out)) from None
        os.rename(temporary, out)
        return
    temporary.unlink()


def _validates(folder: Path, work: Path, report: Report, options: ValidationOptions) -> bool:
    """Run the repository's own validator on the package just written (content included: an
    empty or unaccepted file is caught here, not at the archive). Its problems join ``report``."""
    with open_sip(folder, work, options) as checked:
        if checked.valid:
            return True
        report.add("CATALOGUE-PACKAGE-INVALID", None, count=len(checked.report.errors))
        report.extend(f for f in checked.report.findings if f.code != "VIRUS-NOT-CHECKED")
        return False


def create_sip(
    src: Path,
    catalogue: Path,
    kind: PackageKind,
    out: Path,
    *,
    fonds_code: str | None,
    agency: str | None,
    report: Report,
    created: datetime | None = None,
    options: ValidationOptions | None = None,
) -> Path | None:
    """Build the TT05 SIP of ``src`` described by ``catalogue`` as the ZIP ``out``.

    Returns ``out``, or None (writing nothing) when ``report`` holds an error about the
    catalogue or the files. Raises :class:`NotFoundError` when SRC or the catalogue cannot be
    opened and :class:`UsageError` when ``out`` exists.

    ``options``: how the archive checks submissions (its ``[validation]`` settings: formats
    policy, archive type, clamd, line endings); the package built is checked with them, as
    ``sip validate`` and ingest would. Default: :class:`ValidationOptions` ``()``.
    """
    if not src.is_dir():
        raise NotFoundError(f"source folder {src} does not exist", location=str(src))
    if not catalogue.is_file():
        raise NotFoundError(f"catalogue {catalogue} does not exist", location=str(catalogue))
    if out.exists() or out.is_symlink():
        raise UsageError(f"{out} already exists; it is never overwritten", location=str(out))
    if out.resolve().is_relative_to(src.resolve()):
        raise UsageError(f"{out} is inside the source folder, which is never written to",
                         location=str(out))
    data = read_catalogue(catalogue, kind, report)
    try:
        tree = walk(src)
    except OSError as e:
        raise NotFoundError(f"cannot list {src}: {e.strerror}", location=str(src)) from e
    paths = _match_files(src, tree, data, catalogue, report)
    _check_doc_ids(data, report)
    if not report.valid:
        log.info("catalogue %s has %d errors; nothing written", catalogue, len(report.errors))
        return None
    package = _package(src, data, paths, fonds_code, agency)
    moment = created or datetime.now(VIETNAM)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".sip-create-", dir=out.parent))
    try:
        folder = write_tt05_sip(package, work / "package", created=moment)
        if not _validates(folder, work / "check", report, options or ValidationOptions()):
            log.info("the SIP built from %s would be rejected; nothing written", catalogue)
            return None
        partial = work / "package.zip"
        _zip(folder, partial, moment)
        _publish(partial, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("TT05 SIP %s written to %s", folder.name, out)
    return out
