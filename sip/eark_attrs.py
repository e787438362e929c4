"""Attribute rules shared by every file reference of a METS file: ``mdRef``, ``file``/``FLocat``
and ``mptr`` (LOCTYPE, xlink:type, xlink:href, MIMETYPE, SIZE, CREATED, CHECKSUM, CHECKSUMTYPE).

CSIP repeats the same rule for each section under its own requirement id (CSIP22–30 for
``dmdSec``, CSIP36–44 for ``digiprovMD``, CSIP49–57 for ``rightsMD``, CSIP68–79 for files,
CSIP110–112 for ``mptr``: href, type, LOCTYPE); :class:`sip.eark_model.AttributeRules` names
them, so a finding carries the id of the section it was found in.
"""

from __future__ import annotations

import mimetypes
from functools import cache

from lxml import etree

from sip.eark_model import (
    MEDIA_TOP_LEVEL,
    MEDIA_TYPE_SYNTAX,
    MIMETYPE_MAX,
    XLINK_HREF,
    XLINK_TYPE,
    AttributeRules,
    MetsDoc,
    Reference,
    SectionKind,
)
from sip.eark_model import SECTION_RULES as SECTION_RULES  # the section checkers' table
from sip.mets_stream import Record

#: IANA-registered media types common in archives that Python's built-in table lacks.
_EXTRA_MEDIA_TYPES = frozenset({
    "application/epub+zip", "application/gzip", "application/mbox", "application/msword",
    "application/mxf", "application/ogg", "application/rtf", "application/sql",
    "application/tei+xml", "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/warc", "application/x-7z-compressed", "application/x-bzip2",
    "application/xhtml+xml", "application/xml-dtd", "application/xslt+xml",
    "application/zstd", "application/pdf", "application/json", "application/ld+json",
    "application/dicom", "application/pkcs7-signature", "application/x-siard",
    "application/vnd.geo+json", "application/gml+xml", "application/rdf+xml",
    "audio/flac", "audio/mp4", "audio/ogg", "audio/wav", "audio/vnd.wave", "audio/webm",
    "audio/x-ms-wma", "audio/x-flac", "audio/midi", "audio/aiff", "audio/x-matroska",
    "image/jp2", "image/jpx", "image/jpm", "image/webp", "image/dicom-rle", "image/x-dpx",
    "image/x-adobe-dng", "image/x-ms-bmp", "image/x-icon", "image/jxl",
    "text/markdown", "text/rtf", "text/calendar", "text/x-markdown", "text/javascript",
    "video/mp2t", "video/ogg", "video/x-matroska", "video/x-ms-wmv", "video/x-flv",
    "video/3gpp", "video/h264", "video/mj2", "video/x-ms-asf", "video/avi", "video/x-dv",
    "model/gltf+json", "model/gltf-binary", "model/obj", "model/stl", "model/vrml",
    "font/otf", "font/ttf", "font/woff", "font/woff2", "font/collection",
    "message/global", "multipart/mixed", "multipart/related", "multipart/signed",
})


@cache
def _known_media_types() -> frozenset[str]:
    table = mimetypes.MimeTypes()  # the built-in table only, never the host's mime.types
    known = set(table.types_map[True].values()) | set(table.types_map[False].values())
    return frozenset(t.lower() for t in known | _EXTRA_MEDIA_TYPES)


def media_type_ok(value: str) -> bool:
    """An IANA media type: ``type/subtype`` with a registered top-level type and a subtype that
    is known, vendor/personal/experimental (``vnd.``, ``prs.``, ``x-``) or uses a structured
    suffix (``+xml``); parameters are allowed."""
    value = value.strip()
    if not MEDIA_TYPE_SYNTAX.match(value):
        return False
    essence = value.split(";", 1)[0].strip().lower()
    top, subtype = essence.split("/", 1)
    if top not in MEDIA_TOP_LEVEL:
        return False
    return (essence in _known_media_types() or subtype.startswith(("vnd.", "prs.", "x-"))
            or "+" in subtype)


def check_locator(doc: MetsDoc, element: etree._Element | Record, section: SectionKind,
                  rules: AttributeRules) -> None:
    """LOCTYPE, xlink:type and xlink:href; a usable href becomes a :class:`Reference`."""
    loctype = element.get("LOCTYPE")
    if rules.loctype:
        if loctype is None:
            doc.add(f"{rules.loctype}-LOCTYPE-MISSING", element)
        elif loctype != "URL":
            doc.add(f"{rules.loctype}-LOCTYPE-NOT-URL", element, value=loctype)
    if rules.xlink_type:
        xtype = element.get(XLINK_TYPE)
        if xtype is None:
            doc.add(f"{rules.xlink_type}-XLINK-TYPE-MISSING", element)
        elif xtype != "simple":
            doc.add(f"{rules.xlink_type}-XLINK-TYPE-NOT-SIMPLE", element, value=xtype)
    href = element.get(XLINK_HREF)
    if href is None or not href.strip():
        doc.add(f"{rules.href or 'EARK'}-HREF-MISSING", element)
        return
    if loctype in (None, "URL"):
        doc.references.append(Reference(doc, element, section))


def check_file_attributes(doc: MetsDoc, element: etree._Element | Record,
                          rules: AttributeRules) -> None:
    """MDTYPE, MIMETYPE, SIZE, CREATED, CHECKSUM and CHECKSUMTYPE of an mdRef or file."""
    if rules.mdtype and element.get("MDTYPE") is None:
        doc.add(f"{rules.mdtype}-MDTYPE-MISSING", element)
    if rules.mimetype:
        mime = element.get("MIMETYPE")
        if mime is None:
            doc.add(f"{rules.mimetype}-MIMETYPE-MISSING", element)
        elif len(mime) > MIMETYPE_MAX:
            doc.add(f"{rules.mimetype}-MIMETYPE-TOO-LONG", element, length=len(mime),
                    limit=MIMETYPE_MAX)
        elif not media_type_ok(mime):
            doc.add(f"{rules.mimetype}-MIMETYPE-INVALID", element, value=mime)
    for attribute, requirement in (("SIZE", rules.size), ("CREATED", rules.created),
                                   ("CHECKSUM", rules.checksum),
                                   ("CHECKSUMTYPE", rules.checksumtype)):
        if requirement and element.get(attribute) is None:
            doc.add(f"{requirement}-{attribute}-MISSING", element)
