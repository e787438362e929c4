"""Read an XML file of a submitted package into a tree, or into findings when it cannot be read.

Every validator loads package XML through :func:`load_xml`, so a malformed, hostile (DOCTYPE,
entity expansion, external entities) or oversized file is always the same finding, with the file
and line, and the validator goes on with the rest of the package.
"""

from __future__ import annotations

import re
import weakref

from lxml import etree

from preservation.errors import XmlError
from preservation.findings import Report
from preservation.xmlsafe import DEFAULT_MAX_BYTES, parse_bytes
from sip.bagit_tree import ChangedError, describe_error
from sip.package import PackageTree

_LINE = re.compile(r":(\d+)$")
#: file names whose parsed tree is kept on the PackageTree (see load_xml)
_KEPT = frozenset({"METS.xml", "EAD.xml"})


def load_xml(tree: PackageTree, rel: str, report: Report, *,
             max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree | None:
    """Parse package file ``rel``; on failure add XML-* findings located at ``rel`` and return None.

    The result is kept on ``tree``: when two validators (E-ARK and TT05) load the same METS file
    into one report, it is read and parsed once and its problems are reported once. Callers must
    not modify the returned tree.

    Codes: XML-TOO-LARGE (over ``max_bytes``, nothing read), XML-UNSAFE (DOCTYPE, entities,
    resource limits), XML-MALFORMED (not well-formed, with its line), XML-UNREADABLE (I/O error or
    the file changed while being read).
    """
    cache = tree.parsed_xml
    if rel in cache:
        parsed, findings, told = cache[rel]
        if parsed is None and findings == ():  # not kept (see below): parse again, quietly
            parsed = _load(tree, rel, Report(rel), max_bytes)
    else:
        scratch = Report(rel)
        parsed = _load(tree, rel, scratch, max_bytes)
        findings, told = tuple(scratch.findings), {}
        # METS files and the package's EAD.xml are read by several validators (and by TT05
        # detection): keep their trees; other records (one EAD_DOC per document, thousands of
        # them) only their findings, so memory does not grow with the number of documents
        kept = parsed if rel.rsplit("/", 1)[-1] in _KEPT else None
        cache[rel] = (kept, findings, told)
    # each report hears about a file's problems once. Reports are known by id, with a weak
    # reference: once a (throwaway) report is freed its id may be reused by a new one, whose
    # reference check then fails, so the new report is told too
    known = told.get(id(report))
    if known is None or known() is not report:
        told[id(report)] = weakref.ref(report)
        report.extend(findings)
    return parsed


def release_xml(tree: PackageTree, *rels: str) -> None:
    """Forget the trees :func:`load_xml` keeps on ``tree`` for ``rels`` (a METS file of many
    thousand documents is tens of MiB of C memory): their findings stay (each report is still
    told once); a later :func:`load_xml` parses the file again, quietly."""
    cache = tree.parsed_xml
    for rel in rels:
        entry = cache.get(rel)
        if entry is not None and entry[0] is not None:
            cache[rel] = (None, entry[1], entry[2])


def _load(tree: PackageTree, rel: str, report: Report, max_bytes: int
          ) -> etree._ElementTree | None:
    size = tree.size(rel)
    if size is None:
        raise KeyError(rel)
    if size > max_bytes:
        report.add("XML-TOO-LARGE", rel, size=size, limit=max_bytes)
        return None
    try:
        data = tree.read_bytes(rel, max_bytes)
    except (OSError, ChangedError) as error:
        reason = describe_error(error) if isinstance(error, OSError) else "changed while read"
        report.add("XML-UNREADABLE", rel, error=reason)
        return None
    try:
        return parse_bytes(data, max_bytes=max_bytes, source=rel)
    except XmlError as error:
        match = _LINE.search(error.location or "")
        code = error.code if error.code in ("XML-UNSAFE", "XML-TOO-LARGE") else "XML-MALFORMED"
        report.add(code, rel, line=int(match.group(1)) if match else None,
                   error=error.message, size=size, limit=max_bytes)
        return None
