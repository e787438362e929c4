"""Hostile XML is refused; schemas load offline; what we write is UTF-8 and NFC."""

from __future__ import annotations

import io
import time
import unicodedata
from pathlib import Path

import pytest
from lxml import etree

from preservation.errors import PreservationError, XmlError
from preservation.xmlsafe import (
    load_schema,
    parse_bytes,
    parse_file,
    validate,
    write_xml,
    xml_bytes,
)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<foo>&xxe;</foo>
"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]>
<foo/>
"""

# attribute defaults in an internal subset can move the root into the METS namespace
NAMESPACE_SPOOF = b"""<!DOCTYPE mets [<!ATTLIST mets xmlns CDATA "http://www.loc.gov/METS/">]>
<mets/>
"""

EXTERNAL_DTD = b"""<!DOCTYPE foo SYSTEM "http://example.invalid/foo.dtd">
<foo>&bar;</foo>
"""


def _code(exc: pytest.ExceptionInfo[XmlError]) -> str:
    return exc.value.code


def test_billion_laughs_rejected_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(XmlError) as exc:
        parse_bytes(BILLION_LAUGHS)
    # libxml2 >= 2.11 stops it as an entity amplification; older ones parse and we refuse the
    # DOCTYPE; either way it is unsafe, never expanded
    assert _code(exc) == "XML-UNSAFE"
    assert time.monotonic() - started < 5  # generous: expansion would take far longer


@pytest.mark.parametrize("data", [XXE, PARAMETER_ENTITY, NAMESPACE_SPOOF, EXTERNAL_DTD])
def test_doctype_tricks_rejected(data: bytes) -> None:
    with pytest.raises(XmlError) as exc:
        parse_bytes(data)
    assert _code(exc) == "XML-UNSAFE"
    assert "root:" not in str(exc.value)  # /etc/passwd never read into the message


def test_external_entity_not_resolved_even_by_the_parser(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    data = (f'<!DOCTYPE foo [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]><foo>&xxe;</foo>').encode()
    with pytest.raises(XmlError) as exc:
        parse_bytes(data)
    assert "TOP-SECRET" not in str(exc.value)


def test_resource_limits_are_unsafe() -> None:
    with pytest.raises(XmlError) as exc:
        parse_bytes(b"<a>" * 3000 + b"</a>" * 3000)  # deeper than libxml2 allows without huge_tree
    assert _code(exc) == "XML-UNSAFE"


def test_xml_error_is_a_preservation_error() -> None:
    with pytest.raises(PreservationError):
        parse_bytes(b"<a>")


def test_oversize_rejected_before_parsing(tmp_path: Path) -> None:
    data = b"<a>" + b"x" * 2000 + b"</a>"
    with pytest.raises(XmlError) as exc:
        parse_bytes(data, max_bytes=1000)
    assert _code(exc) == "XML-TOO-LARGE"
    path = tmp_path / "big.xml"
    path.write_bytes(data)
    with pytest.raises(XmlError) as exc:
        parse_file(path, max_bytes=1000)
    assert _code(exc) == "XML-TOO-LARGE"
    assert parse_file(path, max_bytes=len(data)).getroot().tag == "a"


def test_malformed_error_has_line_number(tmp_path: Path) -> None:
    data = b'<?xml version="1.0"?>\n<a>\n  <b>\n</a>\n'
    with pytest.raises(XmlError) as exc:
        parse_bytes(data)
    assert _code(exc) == "XML-MALFORMED"
    assert "line 4" in exc.value.message
    assert exc.value.location == "line 4"
    path = tmp_path / "bad.xml"
    path.write_bytes(data)
    with pytest.raises(XmlError) as exc:
        parse_file(path)
    assert exc.value.location == f"{path}:4"


def test_plain_document_parses_with_comments_and_whitespace() -> None:
    tree = parse_bytes(b"<a>\n  <!-- note -->\n  <b>t\xe1\xbb\x87p</b>\n</a>")
    assert tree.getroot().findtext("b") == "tệp"
    assert tree.getroot().text == "\n  "  # remove_blank_text=False keeps whitespace


def test_load_schema_offline_cached_and_aliased() -> None:
    assert load_schema("mets") is load_schema("mets")
    assert load_schema("mets.xsd") is load_schema("mets")
    assert load_schema("premis-v3-0.xsd") is load_schema("premis")
    for name in ("xlink", "csip"):
        assert isinstance(load_schema(name), etree.XMLSchema)
    with pytest.raises(XmlError) as exc:
        load_schema("ead.xsd")
    assert _code(exc) == "XML-SCHEMA"


def test_validate_reports_line_numbers_and_csip_attributes() -> None:
    data = (
        b'<mets xmlns="http://www.loc.gov/METS/"\n'
        b' xmlns:csip="https://DILCIS.eu/XML/METS/CSIPExtensionMETS"\n'
        b' csip:CONTENTINFORMATIONTYPE="BOGUS">\n'
        b"<structMap><div/></structMap></mets>"
    )
    errors = validate(parse_bytes(data), "mets")
    assert len(errors) == 1
    assert errors[0].startswith("line 3:")  # libxml2 reports where the tag ends
    assert "CONTENTINFORMATIONTYPE" in errors[0]
    ok = data.replace(b"BOGUS", b"MIXED")
    assert validate(parse_bytes(ok), "mets") == []


def test_write_xml_is_utf8_nfc_and_keeps_requested_text_exact(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "Quyết định")
    root = etree.Element("r", label=nfd)
    etree.SubElement(root, "a").text = nfd
    etree.SubElement(root, "keep").text = nfd
    etree.SubElement(root, "edge").text = "\u0338x"  # must not compose with markup ('>' + U+0338)
    data = xml_bytes(root, keep_exact={"keep"})
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<r ')
    back = parse_bytes(data).getroot()
    nfc = unicodedata.normalize("NFC", nfd)
    assert back.get("label") == nfc
    assert back.findtext("a") == nfc
    assert back.findtext("keep") == nfd
    assert back.findtext("edge") == "\u0338x"
    assert root.findtext("a") == nfd  # the caller's tree is not modified
    path = tmp_path / "out.xml"
    write_xml(root, path, keep_exact={"keep"})
    assert path.read_bytes() == data
    stream = io.BytesIO()
    write_xml(root, stream, keep_exact={"keep"})
    assert stream.getvalue() == data
    assert b"\n  <a>" in data  # pretty printed
