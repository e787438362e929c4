"""Read an XML file of a submitted package into a tree, or into findings when it cannot be read.

Every validator loads package XML through :func:`load_xml`, so a malformed, hostile (DOCTYPE,
entity expansion, external entities) or oversized file is always the same finding, with the file
and line, and the validator goes on with the rest of the package. A METS file is loaded with
:func:`load_mets` instead: read as a stream (:mod:`sip.mets_stream`), its per-document and
per-file elements on disk, and checked against its schema without ever holding its tree, so a
METS file of many thousand documents takes memory that does not grow with them.
"""

from __future__ import annotations

import io
import re
import threading
import weakref
from collections.abc import Collection

from lxml import etree

from preservation.diskmap import DiskMap
from preservation.errors import XmlError
from preservation.findings import Finding, Report
from preservation.spooled import KEEP as SPOOL_KEEP
from preservation.xmlsafe import DEFAULT_MAX_BYTES, load_schema, parse_bytes, validate
from sip.bagit_tree import ChangedError, describe_error
from sip.mets_stream import StreamedMets
from sip.mets_stream import read_streamed as read_streamed  # a test may count the reads
from sip.package import PackageTree

_LINE = re.compile(r":(\d+)$")
#: file names whose parsed tree is kept on the PackageTree (see load_xml)
_KEPT = frozenset({"METS.xml", "EAD.xml"})
#: files from this size on are schema-validated on a throwaway tree (see load_validated_xml);
#: for a smaller one the ID tables do not matter and one parse is cheaper
VALIDATE_APART_BYTES = 1024 * 1024
#: ID values the streamed validity check keeps in memory (the rest in a DiskMap's database)
KEEP = SPOOL_KEEP
#: IDs checked against those seen before a batch at a time (one transaction past KEEP)
_ID_BATCH = 1024
#: attributes whose values are document-wide unique IDs (``xs:ID`` in mets.xsd; ``xml:id``)
_ID_ATTRIBUTES = ("ID", "{http://www.w3.org/XML/1998/namespace}id")
_stream_lock = threading.Lock()
#: the METS files :func:`load_mets` read, per package tree: the file and its schema errors
_STREAMED: weakref.WeakKeyDictionary[PackageTree, dict[str, tuple[StreamedMets,
                                                                  list[str] | None]]] = (
    weakref.WeakKeyDictionary())


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


def load_mets(tree: PackageTree, rel: str, report: Report, *, schema: str | None = None,
              element_only: Collection[str] = frozenset(), max_bytes: int = DEFAULT_MAX_BYTES
              ) -> tuple[StreamedMets | None, list[str] | None]:
    """A METS file read as a stream (:func:`sip.mets_stream.read_streamed`: its repeated
    elements on disk, so memory does not grow with them), with the same findings as
    :func:`load_xml` (told once per report, the file read once per package tree), and, with
    ``schema``, its schema errors (validated apart from it, see :func:`_validated`; None: a whole
    tree parsed earlier by :func:`load_xml`, which the caller validates itself).
    ``element_only``: as for :func:`load_validated_xml`. :func:`release_xml` forgets it."""
    files = _STREAMED.setdefault(tree, {})
    cache = tree.parsed_xml
    if rel in files:
        mets, errors = files[rel]
        if schema is not None and errors is None and cache[rel][0] is None:
            errors = _errors_again(tree, rel, max_bytes, schema, frozenset(element_only))
            files[rel] = (mets, errors)
        _tell(report, cache[rel][1], cache[rel][2])
        return mets, errors
    if rel in cache and cache[rel][0] is not None:  # a whole tree load_xml kept: use it
        parsed, findings, told = cache[rel]
        assert parsed is not None
        mets = StreamedMets.of_tree(parsed.getroot())
        files[rel] = (mets, None)
        _tell(report, findings, told)
        return mets, None
    if rel in cache:  # read before and forgotten (or unreadable): read again, quietly
        _, findings, told = cache[rel]
        streamed, errors = None, None
        if not findings:
            scratch = Report(rel)
            streamed, errors = _stream(tree, rel, scratch, max_bytes, schema,
                                       frozenset(element_only))
            findings, told = _read_again(tree, rel, scratch, findings, told)
    else:
        scratch = Report(rel)
        streamed, errors = _stream(tree, rel, scratch, max_bytes, schema,
                                   frozenset(element_only))
        findings, told = tuple(scratch.findings), {}
        cache[rel] = (None, findings, told)
    if streamed is not None:
        files[rel] = (streamed, errors)
    _tell(report, findings, told)
    return streamed, errors


def _stream(tree: PackageTree, rel: str, report: Report, max_bytes: int, schema: str | None,
            element_only: frozenset[str]) -> tuple[StreamedMets | None, list[str] | None]:
    """:func:`_load` for a METS file read as a stream."""
    data = _read(tree, rel, report, max_bytes)
    if data is None:
        return None, None
    errors = _validated(data, rel, max_bytes, schema, element_only) if schema else None
    try:
        mets = read_streamed(data, max_bytes=max_bytes, source=rel)
    except XmlError as error:
        _malformed(report, rel, error, tree.size(rel), max_bytes)
        return None, None
    _drop_blanks(mets.root.getroottree(), element_only)
    return mets, errors


def _errors_again(tree: PackageTree, rel: str, max_bytes: int, schema: str,
                  element_only: frozenset[str]) -> list[str] | None:
    """The schema errors of a METS file read before without them (read again, quietly)."""
    data = _read(tree, rel, Report(rel), max_bytes)
    return None if data is None else _validated(data, rel, max_bytes, schema, element_only)


def _read_again(tree: PackageTree, rel: str, scratch: Report,
                findings: tuple[Finding, ...], told: dict[int, weakref.ref[Report]]
                ) -> tuple[tuple[Finding, ...], dict[int, weakref.ref[Report]]]:
    """After a file read cleanly before was read again into ``scratch``: its findings and
    who heard them. A second read that fails (the file changed meanwhile, or cannot be read
    now) must not leave its caller with no tree and no finding: its findings become the
    file's, told afresh to every report (each heard the first read's none)."""
    if not scratch.findings:
        return findings, told
    findings, told = tuple(scratch.findings), {}
    tree.parsed_xml[rel] = (None, findings, told)
    return findings, told


def _tell(report: Report, findings: tuple[Finding, ...],
          told: dict[int, weakref.ref[Report]]) -> None:
    """Each report hears about a file's problems once. Reports are known by id, with a weak
    reference: once a (throwaway) report is freed its id may be reused by a new one, whose
    reference check then fails, so the new report is told too."""
    known = told.get(id(report))
    if known is None or known() is not report:
        told[id(report)] = weakref.ref(report)
        report.extend(findings)


def _load_cached(tree: PackageTree, rel: str, report: Report, max_bytes: int,
                 schema: str | None, element_only: frozenset[str]
                 ) -> tuple[etree._ElementTree | None, list[str] | None]:
    cache = tree.parsed_xml
    errors: list[str] | None = None
    if rel in cache:
        parsed, findings, told = cache[rel]
        if parsed is None and findings == ():  # not kept (see below): parse again, quietly
            scratch = Report(rel)
            parsed, _ = _load(tree, rel, scratch, max_bytes, None, element_only)
            findings, told = _read_again(tree, rel, scratch, findings, told)
    else:
        scratch = Report(rel)
        parsed, errors = _load(tree, rel, scratch, max_bytes, schema, element_only)
        findings, told = tuple(scratch.findings), {}
        # METS files and the package's EAD.xml are read by several validators (and by TT05
        # detection): keep their trees; other records (one EAD_DOC per document, thousands of
        # them) only their findings, so memory does not grow with the number of documents
        kept = parsed if rel.rsplit("/", 1)[-1] in _KEPT else None
        cache[rel] = (kept, findings, told)
    _tell(report, findings, told)
    return parsed, errors


def release_xml(tree: PackageTree, *rels: str) -> None:
    """Forget the trees :func:`load_xml` keeps on ``tree`` for ``rels`` (a METS file of many
    thousand documents is tens of MiB of C memory): their findings stay (each report is still
    told once); a later :func:`load_xml` parses the file again, quietly."""
    cache = tree.parsed_xml
    files = _STREAMED.get(tree, {})
    for rel in rels:
        streamed = files.pop(rel, None)
        if streamed is not None:
            streamed[0].close()
        entry = cache.get(rel)
        if entry is not None and entry[0] is not None:
            cache[rel] = (None, entry[1], entry[2])


def _load(tree: PackageTree, rel: str, report: Report, max_bytes: int, schema: str | None,
          element_only: frozenset[str]) -> tuple[etree._ElementTree | None, list[str] | None]:
    data = _read(tree, rel, report, max_bytes)
    if data is None:
        return None, None
    apart = schema is not None and len(data) >= VALIDATE_APART_BYTES
    errors = _validated(data, rel, max_bytes, schema, element_only) if apart and schema else None
    try:
        return _drop_blanks(parse_bytes(data, max_bytes=max_bytes, source=rel),
                            element_only), errors
    except XmlError as error:
        _malformed(report, rel, error, tree.size(rel), max_bytes)
        return None, None


def _read(tree: PackageTree, rel: str, report: Report, max_bytes: int) -> bytes | None:
    """The bytes of ``rel``, or None after an XML-TOO-LARGE or XML-UNREADABLE finding."""
    size = tree.size(rel)
    if size is None:
        raise KeyError(rel)
    if size > max_bytes:
        report.add("XML-TOO-LARGE", rel, size=size, limit=max_bytes)
        return None
    try:
        return tree.read_bytes(rel, max_bytes)
    except (OSError, ChangedError) as error:
        reason = describe_error(error) if isinstance(error, OSError) else "changed while read"
        report.add("XML-UNREADABLE", rel, error=reason)
        return None


def _malformed(report: Report, rel: str, error: XmlError, size: int | None,
               max_bytes: int) -> None:
    match = _LINE.search(error.location or "")
    code = error.code if error.code in ("XML-UNSAFE", "XML-TOO-LARGE") else "XML-MALFORMED"
    report.add(code, rel, line=int(match.group(1)) if match else None,
               error=error.message, size=size, limit=max_bytes)


def _validated(data: bytes, rel: str, max_bytes: int, schema: str,
               element_only: frozenset[str]) -> list[str] | None:
    """The schema errors of ``data``, validated on a tree freed on return (see
    :func:`load_validated_xml`); None when it does not parse (the real parse reports it).

    A valid file (every big METS of a healthy package) is known valid from a streamed check
    (:func:`_valid_streamed`) that never holds its tree; only a file that fails it is parsed
    into a throwaway tree, whose validation gives the errors as they always were."""
    if _valid_streamed(data, schema):
        return []
    try:
        throwaway = parse_bytes(data, max_bytes=max_bytes, source=rel)
    except XmlError:
        return None
    return validate(_drop_blanks(throwaway, element_only), schema)


def _valid_streamed(data: bytes, schema: str) -> bool:
    """Whether ``data`` is valid against ``schema``, checked while it is parsed (libxml2's
    streaming validation) with each element freed once read, so memory does not grow with the
    file. False when anything is wrong or unsure: a schema error (the parse stops at the first),
    malformed or unsafe XML (the same hardened settings as :func:`parse_bytes`; a file cut short
    is caught by its root never ending, as libxml2 reports no error for it while validating), or
    an ID value seen twice (freed elements no longer hold their IDs, so libxml2 could not see
    that one). The caller parses the same bytes next, which reports any other malformation."""
    seen: DiskMap[None] = DiskMap(keep=KEEP, what="XML ID")
    batch: list[str] = []  # IDs not yet in ``seen``: added a batch at a time, each batch
    total = 0  # ... then ``seen`` must hold as many IDs as were read, or one came twice
    ended = False  # the root element was read to its end (a truncated file never is)
    try:
        with _stream_lock:  # one validation context of a shared schema at a time
            events = etree.iterparse(
                io.BytesIO(data), events=("end",), schema=load_schema(schema),
                resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                remove_blank_text=False)
            for _event, element in events:
                for name in _ID_ATTRIBUTES:
                    value = element.get(name)
                    if value is not None:
                        batch.append(value)
                if len(batch) >= _ID_BATCH:
                    total += len(batch)
                    seen.update(dict.fromkeys(batch).items())
                    batch.clear()
                    if len(seen) != total:
                        return False
                ended = element.getparent() is None
                _free(element)
            total += len(batch)
            seen.update(dict.fromkeys(batch).items())
            if len(seen) != total:
                return False
            return ended and not any(e.level >= etree.ErrorLevels.ERROR
                                     for e in events.error_log)
    except etree.LxmlError:
        return False
    finally:
        seen.close()


def _free(element: etree._Element) -> None:
    """Free an element read by :func:`_valid_streamed`, and its earlier siblings."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


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
