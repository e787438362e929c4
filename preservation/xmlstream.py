"""XML documents written as a stream, so that memory does not grow with their size.

A writer describes a document once, against an :class:`XmlSink`: it opens the container
elements (``with sink.open(tag, attrib) as parent:``), builds the small subtrees that go inside
(one PREMIS object, one METS ``file``) as ordinary lxml children of ``parent``, and calls
:meth:`XmlSink.flush` after each. Two sinks run the same description:

- :class:`StreamSink` writes the containers with :class:`lxml.etree.xmlfile` and each flushed
  subtree as lxml serialises it, then drops it, so a document listing 100,000 files never
  exists as a tree. The output is what :func:`preservation.xmlsafe.xml_bytes` makes of the
  whole tree: UTF-8, pretty printed the same way, NFC-normalised (but the text of the
  ``keep_exact`` tags), each namespace declared once on the root (``xmlfile.write(element)``
  would repeat every declaration in scope on each subtree: they are left out).
- :class:`TreeSink` builds the whole lxml tree, for small documents and for tests comparing it
  with the streamed one.

:func:`write_document` streams to a file and returns its size and SHA-256 (computed as the bytes
go out, never by reading the file back); :func:`document_bytes` returns the bytes of a small one.
An element with neither text nor children that is a container (opened) is written
``<a></a>``, not ``<a/>``: the same document for every XML reader.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import unicodedata
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import IO, Any, Protocol, cast

from lxml import etree

#: what every XML file we write starts with (as :func:`preservation.xmlsafe.xml_bytes` writes it)
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_INDENT = "  "
_INDENT_BYTES = b"  "
#: how many complete subtrees a stream keeps before writing them (a few KiB each)
BATCH = 64

#: namespace prefix (None: the default namespace) -> namespace URI (keys typed Any: Mapping is
#: invariant in its key, and a map without a default namespace is a Mapping[str, str])
NamespaceMap = Mapping[Any, str]


class XmlSink(Protocol):
    """Where a document description goes: a stream (:class:`StreamSink`) or a tree."""

    def open(self, tag: str, attrib: Mapping[str, str] | None = None,
             nsmap: NamespaceMap | None = None) -> AbstractContextManager[etree._Element]:
        """Open the element ``tag``; a context manager yielding the parent for its children.

        Its attributes are final when it is opened (a stream cannot go back to them).
        ``nsmap`` is accepted on the root only (ValueError below it); the children must
        not have text after them (tails, ValueError when streamed).
        """

    def flush(self) -> None:
        """The children added to the open element so far are complete (a stream writes them)."""


class TreeSink:
    """Builds the described document as one lxml tree (:attr:`root`)."""

    def __init__(self) -> None:
        self.root: etree._Element | None = None
        self._stack: list[etree._Element] = []

    @contextmanager
    def open(self, tag: str, attrib: Mapping[str, str] | None = None,
             nsmap: NamespaceMap | None = None) -> Iterator[etree._Element]:
        if nsmap:
            _root_only(nsmap, len(self._stack))
        if self._stack:
            el = etree.SubElement(self._stack[-1], tag, dict(attrib or {}),
                                  nsmap=cast(Any, nsmap))
        else:
            el = self.root = etree.Element(tag, dict(attrib or {}), nsmap=cast(Any, nsmap))
        self._stack.append(el)
        try:
            yield el
        finally:
            self._stack.pop()

    def flush(self) -> None:
        """Nothing to do: the tree keeps everything."""


class StreamSink:
    """Writes the described document through an unbuffered :class:`lxml.etree.xmlfile`.

    The open (container) elements are written by the ``xmlfile``; each flushed subtree is
    serialised by lxml on its own and written to the same binary stream, without the namespace
    declarations lxml repeats on a subtree taken out of its document (they are in scope from
    the root), then dropped.
    """

    def __init__(self, xf: Any, target: IO[bytes] | HashingWriter,
                 keep_exact: Collection[str] = ()) -> None:
        self._xf = xf  # unbuffered: what it writes is in ``target`` before the next raw write
        self._target = target
        self._keep = frozenset(keep_exact)
        #: per open element: its scratch parent (children not written yet), whether children
        #: were written (its end tag then goes on its own line), and per child tag the start
        #: of a serialised child up to the end of the declarations lxml adds to it
        self._open: list[tuple[etree._Element, list[bool], dict[str, bytes]]] = []
        self._nsmap: dict[str | None, str] = {}

    @contextmanager
    def open(self, tag: str, attrib: Mapping[str, str] | None = None,
             nsmap: NamespaceMap | None = None) -> Iterator[etree._Element]:
        depth = len(self._open)
        if self._open:
            self.flush(force=True)
            self._open[-1][1][0] = True
            self._target.write(b"\n" + _INDENT_BYTES * depth)
        if nsmap:
            _root_only(nsmap, depth)
            self._nsmap = dict(nsmap)
        # the scratch parent holds children until they are written; it declares every
        # namespace in scope, so its children need no declarations of their own
        scratch = etree.Element(tag, nsmap=cast(Any, self._nsmap or None))
        written = [False]
        attrib = {k: _nfc(v) for k, v in attrib.items()} if attrib else {}
        with self._xf.element(tag, attrib, nsmap=nsmap):
            self._open.append((scratch, written, {}))
            try:
                yield scratch
                self.flush(force=True)
            finally:
                self._open.pop()
            if written[0]:
                self._target.write(b"\n" + _INDENT_BYTES * depth)

    def flush(self, *, force: bool = False) -> None:
        """The children of the innermost open element added so far are complete: they are
        written and dropped once :data:`BATCH` of them wait (all of them when ``force``, as
        before the next element opens or this one closes)."""
        if not self._open:
            return
        scratch, written, starts = self._open[-1]
        if len(scratch) >= (1 if force else BATCH):
            depth = len(self._open)
            indent = b"\n" + _INDENT_BYTES * depth
            self._target.write(b"".join(indent + self._serialised(scratch, child, depth, starts)
                                        for child in scratch))
            written[0] = True
            del scratch[:]

    def _serialised(self, scratch: etree._Element, child: etree._Element, depth: int,
                    starts: dict[str, bytes]) -> bytes:
        """``child`` as UTF-8, NFC, pretty printed at ``depth``, without repeated namespace
        declarations. Text after a child (its tail) has no place in a stream that indents
        each child on its own line: ValueError rather than silently dropping it."""
        if child.tail is not None and child.tail.strip():
            raise ValueError(f"text after a child of {scratch.tag} cannot be streamed: "
                             f"{child.tail[:200]!r}")
        if not isinstance(child.tag, str):  # a comment or processing instruction
            if child.text and not child.text.isascii():
                child.text = _nfc(child.text)  # as nfc_in_place does on the tree path
            return etree.tostring(child, encoding="UTF-8", with_tail=False)
        etree.indent(child, _INDENT, level=depth)
        data = etree.tostring(child, encoding="UTF-8", with_tail=False)
        if not data.isascii():  # only non-ASCII text can change under NFC
            nfc_in_place(child, self._keep)
            data = etree.tostring(child, encoding="UTF-8", with_tail=False)
        start = starts.get(child.tag)
        if start is None:
            # what lxml writes for a bare child of the same tag: "<qname decls/>"
            probe = etree.SubElement(scratch, child.tag)
            start = starts[child.tag] = etree.tostring(probe, encoding="UTF-8")[:-2]
            scratch.remove(probe)
        name_end = start.find(b" ")
        if name_end < 0:  # no declarations to drop
            return data
        if not data.startswith(start) or data[len(start):len(start) + 1] not in b" />":
            raise ValueError(f"unexpected serialisation of {child.tag}: {data[:200]!r}")
        return start[:name_end] + data[len(start):]


def _root_only(nsmap: NamespaceMap, depth: int) -> None:
    """Namespaces are declared on the root only: a stream declares each once there and
    writes its subtrees without declarations (one declared on an inner container would be
    dropped from the children of a later sibling that still used it)."""
    if depth:
        raise ValueError(f"namespaces {dict(nsmap)!r} declared below the root: declare every "
                         "namespace of the document on its root element")


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def nfc_in_place(element: etree._Element, keep_exact: Collection[str] = ()) -> None:
    """NFC-normalise the text, tails and attribute values of ``element`` and its descendants,
    but the text of elements whose Clark-notation tag is in ``keep_exact`` (e.g. PREMIS
    originalName records the producer's name as submitted, NFD or not)."""
    for node in element.iter():
        text = node.text
        if text and not text.isascii() and node.tag not in keep_exact:
            node.text = _nfc(text)
        tail = node.tail
        if tail and not tail.isascii():
            node.tail = _nfc(tail)
        for key, value in cast(list[tuple[str, str]], node.items()):
            if not value.isascii():
                node.set(key, _nfc(value))


class HashingWriter:
    """A binary stream that forwards what it is given and counts and hashes it (SHA-256)."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._target.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA-256 of everything written so far."""
        return self._hash.hexdigest()


Body = Callable[[XmlSink], None]


def stream_document(target: IO[bytes] | HashingWriter, body: Body, *,
                    keep_exact: Collection[str] = ()) -> None:
    """Write the document ``body`` describes to the binary stream ``target``: UTF-8, with
    :data:`XML_DECLARATION`, pretty printed, NFC-normalised except the ``keep_exact`` tags'
    text (Clark notation)."""
    target.write(XML_DECLARATION)
    with etree.xmlfile(target, encoding="UTF-8", buffered=False) as xf:
        body(StreamSink(xf, target, keep_exact))
    target.write(b"\n")


def write_document(path: str | os.PathLike[str], body: Body, *,
                   keep_exact: Collection[str] = ()) -> tuple[int, str]:
    """Stream the document to ``path`` (replaced); return its size and lower-case SHA-256.

    A description that fails half way (a value the writer refuses) leaves no file behind.
    """
    try:
        with open(path, "wb") as f:
            out = HashingWriter(f)
            stream_document(out, body, keep_exact=keep_exact)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return out.size, out.sha256


def document_bytes(body: Body, *, keep_exact: Collection[str] = ()) -> bytes:
    """The streamed document as bytes (for documents known to be small, and tests)."""
    buffer = io.BytesIO()
    stream_document(buffer, body, keep_exact=keep_exact)
    return buffer.getvalue()


def document_tree(body: Body) -> etree._Element:
    """The document as one lxml tree (not normalised: :func:`~preservation.xmlsafe.xml_bytes`
    does that when it is serialised)."""
    sink = TreeSink()
    body(sink)
    if sink.root is None:
        raise ValueError("the document description opened no root element")
    return sink.root


__all__ = [
    "XML_DECLARATION",
    "Body",
    "HashingWriter",
    "StreamSink",
    "TreeSink",
    "XmlSink",
    "document_bytes",
    "document_tree",
    "nfc_in_place",
    "stream_document",
    "write_document",
]
