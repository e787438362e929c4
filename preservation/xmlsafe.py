"""Safe XML in and out: hostile-input parsing, offline schema validation, NFC serialisation.

Everything XML that comes from a package goes through :func:`parse_bytes` / :func:`parse_file`:
no entity expansion, no network, no DTD loading, a size cap, and no DOCTYPE at all (an internal
subset can declare entities, and its attribute defaults can even move the root element into
another namespace). Schemas are the official XSDs shipped in ``preservation/schemas`` and are
never fetched from the network. What we write is UTF-8, pretty printed and NFC-normalised, as
TT05 expects of Vietnamese text.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import threading
from collections.abc import Collection, Iterable, Iterator
from functools import cache
from importlib import resources
from typing import IO, Any, cast

from lxml import etree

from preservation.errors import XmlError
from preservation.xmlstream import XML_DECLARATION, nfc_in_place

#: default cap on an XML document read from a package (a METS of 100 000 files is ~60 MB)
DEFAULT_MAX_BYTES = 256 * 1024 * 1024

_SCHEMA_PACKAGE = "preservation"
_SCHEMA_FOLDER = "schemas"

#: schema name -> the packaged XSD files it is made of. "mets" includes the E-ARK CSIP
#: extension: mets.xsd only allows foreign attributes laxly, so without it ``csip:`` attributes
#: would pass unchecked.
SCHEMA_FILES: dict[str, tuple[str, ...]] = {
    "mets": ("mets.xsd", "DILCISExtensionMETS.xsd"),
    "premis": ("premis-v3-0.xsd",),
    "xlink": ("xlink.xsd",),
    "csip": ("DILCISExtensionMETS.xsd",),
}
_ALIASES = {files[0]: name for name, files in SCHEMA_FILES.items()}

_XS = "http://www.w3.org/2001/XMLSchema"
_SCHEMA_BASE = "preservation-schemas:///"
_validate_lock = threading.Lock()
_UNSAFE_ERRORS = {etree.ErrorTypes.ERR_RESOURCE_LIMIT, etree.ErrorTypes.ERR_ENTITY_LOOP}


def _parser() -> etree.XMLParser:
    """A fresh hardened parser (lxml parsers must not be shared between threads)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_bytes(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, source: str | None = None
) -> etree._ElementTree:
    """Parse untrusted XML bytes; raise :class:`XmlError` if too large, malformed or unsafe."""
    if len(data) > max_bytes:
        raise XmlError(
            f"XML document is {len(data)} bytes, over the limit of {max_bytes}",
            code="XML-TOO-LARGE",
            location=source,
        )
    try:
        root = etree.fromstring(data, _parser(), base_url=source or "")
    except etree.XMLSyntaxError as e:
        raise _syntax_error(e, source) from e
    tree = root.getroottree()
    _reject_doctype(tree, source)
    return tree


def _syntax_error(e: etree.XMLSyntaxError, source: str | None) -> XmlError:
    """XML-UNSAFE for entity loops and resource limits (depth, text size), else XML-MALFORMED."""
    line, column = e.position
    message = re.sub(r", line \d+, column \d+$", "", e.msg or "")
    unsafe = getattr(e, "code", None) in _UNSAFE_ERRORS  # "code" is missing from lxml-stubs
    return XmlError(
        f"{'unsafe' if unsafe else 'malformed'} XML at line {line}, column {column}: {message}",
        code="XML-UNSAFE" if unsafe else "XML-MALFORMED",
        location=f"{source}:{line}" if source else f"line {line}",
    )


def parse_file(
    path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> etree._ElementTree:
    """Parse an untrusted XML file, reading at most ``max_bytes`` + 1 bytes."""
    source = os.fspath(path)
    with open(source, "rb") as f:
        data = f.read(max_bytes + 1)
    return parse_bytes(data, max_bytes=max_bytes, source=source)


def _reject_doctype(tree: etree._ElementTree, source: str | None) -> None:
    """Refuse any DOCTYPE: none of our formats uses one, and it is how XML attacks start."""
    dtd = tree.docinfo.internalDTD
    if dtd is None and not tree.docinfo.doctype:
        return
    entities = [e.name for e in cast(Any, dtd).iterentities()] if dtd is not None else []
    detail = f" declaring entities {', '.join(entities)}" if entities else ""
    raise XmlError(
        f"DOCTYPE declaration{detail} is not accepted", code="XML-UNSAFE", location=source
    )


class CountingReader:
    """A binary stream read through for a streaming parser: the bytes are counted and hashed
    (SHA-256) as the parser reads them, and a stream past ``max_bytes`` (default
    :data:`DEFAULT_MAX_BYTES`) is refused
    (XML-TOO-LARGE) without being read further."""

    def __init__(self, stream: Any, *, max_bytes: int | None = None,
                 source: str | None = None) -> None:
        self._stream = stream
        self._max = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
        self._source = source
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        want = self._max + 1 - self.size  # never more than one byte past the cap
        data: bytes = self._stream.read(want if size < 0 else min(size, want))
        self.size += len(data)
        if self.size > self._max:
            raise XmlError(f"XML document is over the limit of {self._max} bytes",
                           code="XML-TOO-LARGE", location=self._source)
        self._hash.update(data)
        return data

    def drain(self) -> None:
        """Read what the parser left (after the root element), so :attr:`sha256` covers
        the whole stream."""
        while self.read(1 << 20):
            pass

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA-256 of the bytes read so far."""
        return self._hash.hexdigest()


def iterparse(stream: CountingReader, *, events: tuple[str, ...] = ("end",),
              huge_tree: bool = False) -> Iterator[tuple[str, etree._Element]]:
    """Stream-parse untrusted XML with the options of :func:`parse_bytes` (no entities, no
    network, no DTD loading, no DOCTYPE, the size cap of ``stream``); raise :class:`XmlError`.

    ``huge_tree`` lifts libxml2's 10 MB limit on one text or attribute value (never the byte
    cap, which ``stream`` enforces): a value of a document we wrote may grow with the package,
    e.g. a METS ``Metadata`` div's DMDID lists every dmdSec. The caller clears what it has read.
    """
    source = stream._source
    parser = etree.iterparse(stream, events=events, resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=huge_tree, remove_blank_text=False)
    try:
        yield from parser
    except etree.XMLSyntaxError as e:
        raise _syntax_error(e, source) from e
    _reject_doctype(parser.root.getroottree(), source)


class _PackagedSchemaResolver(etree.Resolver):
    """Serve xs:import/xs:include from the packaged XSDs; refuse everything else."""

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:  # type: ignore[override]
        name = system_url.rsplit("/", 1)[-1]
        try:
            data = _schema_text(name)
        except FileNotFoundError:
            # not a schema: the import fails inside XMLSchema(), which load_schema reports
            data = b"<not-a-packaged-schema/>"
        return self.resolve_string(data, context, base_url=_SCHEMA_BASE + name)


def _schema_text(name: str) -> bytes:
    if "/" in name or "\\" in name or not name.endswith(".xsd"):
        raise FileNotFoundError(name)
    return (resources.files(_SCHEMA_PACKAGE) / _SCHEMA_FOLDER / name).read_bytes()


def _driver(files: tuple[str, ...]) -> bytes:
    """A tiny schema that imports each packaged XSD under its target namespace."""
    root = etree.Element(f"{{{_XS}}}schema", nsmap={"xs": _XS})
    for name in files:
        target = etree.fromstring(_schema_text(name), _parser()).get("targetNamespace")
        etree.SubElement(root, f"{{{_XS}}}import", namespace=target or "", schemaLocation=name)
    return etree.tostring(root)


def load_schema(name: str) -> etree.XMLSchema:
    """Load a packaged schema ("mets", "premis", "xlink", "csip" or its file name), offline.

    Loaded once per process; imports are served from the package, never from the network.
    """
    key = _ALIASES.get(name, name)
    if key not in SCHEMA_FILES:
        raise XmlError(f"unknown schema {name!r}", code="XML-SCHEMA")
    return _load(key)


@cache
def _load(key: str) -> etree.XMLSchema:
    parser = _parser()
    parser.resolvers.add(_PackagedSchemaResolver())
    driver = _driver(SCHEMA_FILES[key])
    doc = etree.fromstring(driver, parser, base_url=_SCHEMA_BASE + "driver.xsd")
    try:
        return etree.XMLSchema(doc)
    except etree.XMLSchemaParseError as e:
        raise XmlError(f"schema {key!r} does not load: {e}", code="XML-SCHEMA") from e


def validate(tree: etree._ElementTree | etree._Element, schema_name: str) -> list[str]:
    """Validate against a packaged schema; return every error as "line N: message"."""
    schema = load_schema(schema_name)
    with _validate_lock:  # a schema's error_log is shared state
        schema.validate(tree)
        return [f"line {e.line}: {e.message}" for e in cast(Iterable[Any], schema.error_log)]


def _normalised(element: etree._Element, keep_exact: Collection[str]) -> etree._Element:
    """A copy of ``element`` with all text, tails and attribute values in NFC.

    Text of elements whose Clark-notation tag is in ``keep_exact`` is left byte-exact (e.g.
    PREMIS originalName must record the producer's name as submitted, NFD or not).
    """
    out = copy.deepcopy(element)
    nfc_in_place(out, keep_exact)
    return out


def xml_bytes(element: etree._Element, *, keep_exact: Collection[str] = ()) -> bytes:
    """Serialise as UTF-8 with an XML declaration, pretty printed, NFC-normalised.

    For a whole tree in memory; a document as large as the package (PREMIS, METS) is streamed
    with :mod:`preservation.xmlstream`, which writes the same bytes.
    """
    body = etree.tostring(_normalised(element, keep_exact), encoding="UTF-8", pretty_print=True)
    return XML_DECLARATION + body


def write_xml(
    element: etree._Element,
    path_or_stream: str | os.PathLike[str] | IO[bytes],
    *,
    keep_exact: Collection[str] = (),
) -> None:
    """Write :func:`xml_bytes` of ``element`` to a path or a binary stream."""
    data = xml_bytes(element, keep_exact=keep_exact)
    if isinstance(path_or_stream, str | os.PathLike):
        with open(path_or_stream, "wb") as f:
            f.write(data)
    else:
        path_or_stream.write(data)


__all__ = [
    "DEFAULT_MAX_BYTES",
    "SCHEMA_FILES",
    "CountingReader",
    "iterparse",
    "load_schema",
    "parse_bytes",
    "parse_file",
    "validate",
    "write_xml",
    "xml_bytes",
]
