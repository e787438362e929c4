"""Read an XML file of a submitted package into a tree, or into findings when it cannot be read.

Every validator loads package XML through :func:`load_xml`, so a malformed, hostile (DOCTYPE,
entity expansion, external entities) or oversized file is always the same finding, with the file
and line, and the validator goes on with the rest of the package.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Collection

from lxml import etree

from preservation.errors import XmlError
from preservation.findings import Report
from preservation.xmlsafe import DEFAULT_MAX_BYTES, parse_bytes, validate
from sip.bagit_tree import ChangedError, describe_error
from sip.package import PackageTree

_LINE = re.compile(r":(\d+)$")
#: file names whose parsed tree is kept on the PackageTree (see load_xml)
_KEPT = frozenset({"METS.xml", "EAD.xml"})
#: files from this size on are schema-validated on a throwaway tree (see load_validated_xml);
#: for a smaller one the ID tables do not matter and one parse is cheaper
VALIDATE_APART_BYTES = 1024 * 1024


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
    return _load_cached(tree, rel, report, max_bytes, None, frozenset())[0]


def load_validated_xml(tree: PackageTree, rel: str, report: Report, schema: str, *,
                       element_only: Collection[str] = frozenset(),
                       max_bytes: int = DEFAULT_MAX_BYTES
                       ) -> tuple[etree._ElementTree | None, list[str] | None]:
    """:func:`load_xml`, and the errors of validating the file against the packaged schema
    ``schema`` (as :func:`preservation.xmlsafe.validate` gives them).

    The file is validated on a throwaway tree parsed from the same bytes, freed before the tree
    that is returned (and kept) is parsed: libxml2's schema validation registers every ``xs:ID``
    and ``xs:IDREF`` value of the tree it validates in tables that live as long as that tree
    (about a fifth of its size again: 2 KiB per document of a TT05 METS). Only a file of
    :data:`VALIDATE_APART_BYTES` or more is: the errors are None for a smaller one, when the tree
    was parsed before, or when it cannot be parsed (its findings say why); the caller then
    validates the returned tree itself.

    ``element_only``: Clark names of elements whose content ``schema`` declares element-only
    (no mixed content, no simple content). Their whitespace-only text and the whitespace-only
    tails of their children are dropped from both trees once parsed (every rule
    ignores that whitespace, as schema validation does; line numbers stay): in a METS file of
    many thousand documents they are an eighth of the tree. Elements of other names, and the
    content of these elements' other children, keep every character.
    """
    return _load_cached(tree, rel, report, max_bytes, schema, frozenset(element_only))


def _load_cached(tree: PackageTree, rel: str, report: Report, max_bytes: int,
                 schema: str | None, element_only: frozenset[str]
                 ) -> tuple[etree._ElementTree | None, list[str] | None]:
    cache = tree.parsed_xml
    errors: list[str] | None = None
    if rel in cache:
        parsed, findings, told = cache[rel]
        if parsed is None and findings == ():  # not kept (see below): parse again, quietly
            parsed, _ = _load(tree, rel, Report(rel), max_bytes, None, element_only)
    else:
        scratch = Report(rel)
        parsed, errors = _load(tree, rel, scratch, max_bytes, schema, element_only)
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
    return parsed, errors


def release_xml(tree: PackageTree, *rels: str) -> None:
    """Forget the trees :func:`load_xml` keeps on ``tree`` for ``rels`` (a METS file of many
    thousand documents is tens of MiB of C memory): their findings stay (each report is still
    told once); a later :func:`load_xml` parses the file again, quietly."""
    cache = tree.parsed_xml
    for rel in rels:
        entry = cache.get(rel)
        if entry is not None and entry[0] is not None:
            cache[rel] = (None, entry[1], entry[2])


def _load(tree: PackageTree, rel: str, report: Report, max_bytes: int, schema: str | None,
          element_only: frozenset[str]) -> tuple[etree._ElementTree | None, list[str] | None]:
    size = tree.size(rel)
    if size is None:
        raise KeyError(rel)
    if size > max_bytes:
        report.add("XML-TOO-LARGE", rel, size=size, limit=max_bytes)
        return None, None
    try:
        data = tree.read_bytes(rel, max_bytes)
    except (OSError, ChangedError) as error:
        reason = describe_error(error) if isinstance(error, OSError) else "changed while read"
        report.add("XML-UNREADABLE", rel, error=reason)
        return None, None
    apart = schema is not None and len(data) >= VALIDATE_APART_BYTES
    errors = _validated(data, rel, max_bytes, schema, element_only) if apart and schema else None
    try:
        return _drop_blanks(parse_bytes(data, max_bytes=max_bytes, source=rel),
                            element_only), errors
    except XmlError as error:
        match = _LINE.search(error.location or "")
        code = error.code if error.code in ("XML-UNSAFE", "XML-TOO-LARGE") else "XML-MALFORMED"
        report.add(code, rel, line=int(match.group(1)) if match else None,
                   error=error.message, size=size, limit=max_bytes)
        return None, None


def _validated(data: bytes, rel: str, max_bytes: int, schema: str,
               element_only: frozenset[str]) -> list[str] | None:
    """The schema errors of ``data``, validated on a tree freed on return (see
    :func:`load_validated_xml`); None when it does not parse (the real parse reports it)."""
    try:
        throwaway = parse_bytes(data, max_bytes=max_bytes, source=rel)
    except XmlError:
        return None
    return validate(_drop_blanks(throwaway, element_only), schema)


def _drop_blanks(parsed: etree._ElementTree, element_only: frozenset[str]
                 ) -> etree._ElementTree:
    """Drop the XML-whitespace-only text of ``element_only`` elements that have children, and
    the whitespace-only tails of their children, from the root down through such elements only
    (see :func:`load_validated_xml`)."""
    root = parsed.getroot()
    if root.tag not in element_only:
        return parsed
    stack = [root]
    while stack:
        element = stack.pop()
        if len(element) and _blank(element.text):
            element.text = None
        for child in element:
            if _blank(child.tail):
                child.tail = None
            if child.tag in element_only:
                stack.append(child)
    return parsed


def _blank(text: str | None) -> bool:
    """Text that is only XML whitespace (space, tab, CR, LF: not Python's wider isspace)."""
    return text is not None and not text.strip(" \t\r\n")
