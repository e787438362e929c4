"""The pieces of a TT05 SIP that are not METS: ``<simpledc>`` records, schemas, MIME types, IDs.

Used by :mod:`sip.tt05_writer`. The descriptive records are flat ``<simpledc>`` elements without
a namespace (TT05.md, "Package-level record"): one child per field of
:mod:`sip.tt05_model`, in the model's order, empty when the value is blank, followed by any extra
fields the caller supplied. The schemas every package carries in ``schemas/`` are the packaged
copies in ``preservation/schemas``.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Mapping
from importlib import resources
from urllib.parse import quote

from lxml import etree

from sip.tt05_model import FieldSpec

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

#: name in the package's schemas/ folder → packaged file in preservation/schemas.
PACKAGE_SCHEMAS: Mapping[str, str] = {
    "mets1_12.xsd": "mets.xsd",  # METS 1.12.1, its xlink import pointing at the sibling xlink.xsd
    "xlink.xsd": "xlink.xsd",
    "DILCISExtensionMETS.xsd": "DILCISExtensionMETS.xsd",
    "DILCISExtensionSIPMETS.xsd": "DILCISExtensionSIPMETS.xsd",
    "ead.xsd": "ead.xsd",
    "ead_doc.xsd": "ead_doc.xsd",
    "ead_pic.xsd": "ead_pic.xsd",
    "ead_media.xsd": "ead_media.xsd",
}

#: the accepted TT05 content formats (TT05.md, "Accepted content formats") and our own files.
#: A fixed table, so a package does not depend on the machine's /etc/mime.types.
MIME_TYPES: Mapping[str, str] = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".rtf": "application/rtf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".csv": "text/csv",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".htm": "text/html",
    ".html": "text/html",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".png": "image/png",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".mp4": "video/mp4",
    ".avi": "video/x-msvideo",
    ".wmv": "video/x-ms-wmv",
    ".mov": "video/quicktime",
    ".mp3": "audio/mpeg",
    ".wma": "audio/x-ms-wma",
    ".aac": "audio/aac",
    ".xml": "application/xml",
    ".xsd": "application/octet-stream",  # TT05: schemas are declared as octet-stream
}
_HREF_SAFE = "/!$&'()*+,;=@-._~"  # RFC 3986 pchar minus ":" (a colon would read as a scheme)


def mime_type(name: str) -> str:
    """The MIME type of a file name by its extension; ``application/octet-stream`` if unknown."""
    return MIME_TYPES.get(posixpath.splitext(name)[1].lower(), "application/octet-stream")


def schema_bytes(package_name: str) -> bytes:
    """The bytes of one schema the package carries (a key of :data:`PACKAGE_SCHEMAS`)."""
    packaged = PACKAGE_SCHEMAS[package_name]
    return (resources.files("preservation") / "schemas" / packaged).read_bytes()


def href(rel: str) -> str:
    """A relative URL for a clean "/"-separated path; percent-encodes only what must be."""
    return quote(rel, safe=_HREF_SAFE)


def base_uuid(objid: str) -> uuid.UUID:
    """The UUID the package's METS IDs derive from: the OBJID's own UUID when it has one."""
    text = objid.removeprefix("urn:").removeprefix("uuid:").removeprefix("uuid-")
    try:
        return uuid.UUID(text)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, objid)


class IdMaker:
    """Deterministic METS IDs: ``uuid-<UPPER UUID v5>`` and ``ID-<UPPER UUID v5>`` for files."""

    def __init__(self, base: uuid.UUID) -> None:
        self._base = base

    def __call__(self, role: str) -> str:
        return "uuid-" + str(uuid.uuid5(self._base, role)).upper()

    def file(self, rel: str) -> str:
        return "ID-" + str(uuid.uuid5(self._base, "file:" + rel)).upper()


def simpledc(
    specs: tuple[FieldSpec, ...], values: Mapping[str, str], schema_href: str | None = None
) -> etree._Element:
    """A ``<simpledc>`` record: every field of ``specs`` in order (empty when blank), then extras.

    ``schema_href`` (relative to the record) becomes ``xsi:noNamespaceSchemaLocation``.
    """
    root = etree.Element("simpledc", nsmap={"xsi": XSI_NS})
    if schema_href:
        root.set(f"{{{XSI_NS}}}noNamespaceSchemaLocation", schema_href)
    known = {spec.name for spec in specs}
    for spec in specs:
        etree.SubElement(root, spec.name).text = values.get(spec.name, "") or None
    for name, value in values.items():
        if name not in known:
            etree.SubElement(root, name).text = value or None
    return root
