"""Hostile XML inside a package, read through sip.xmlload.load_xml: refused, never followed.

Every attack points at a secret file in ``tmp_path`` (and, for the network, at a listening socket
on loopback): the tests prove that the secret never reaches the result or the report and that no
connection was attempted.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from preservation.findings import Report, Severity
from sip.package import PackageTree
from sip.xmlload import load_xml

SECRET = "TOP-SECRET-7f3a9c"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_text(SECRET)
    (path.parent / "evil.dtd").write_text(
        f'<!ENTITY leak SYSTEM "file://{path}">\n<!ENTITY inline "{SECRET}">\n')
    return path


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A socket on loopback that nobody should ever connect to."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def nobody_connected(sock: socket.socket) -> bool:
    try:
        connection, _ = sock.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


def load(tmp_path: Path, text: str | bytes, **kwargs: int
         ) -> tuple[etree._ElementTree | None, Report]:
    package = tmp_path / "pkg"
    package.mkdir(exist_ok=True)
    (package / "METS.xml").write_bytes(text.encode() if isinstance(text, str) else text)
    report = Report(subject="pkg")
    tree = load_xml(PackageTree(package), "METS.xml", report, **kwargs)
    return tree, report


def assert_refused(tree: object, report: Report, code: str) -> None:
    assert tree is None
    assert report.codes() == {code}, report.to_dict()
    assert all(f.severity is Severity.ERROR and f.location.path == "METS.xml"
               for f in report.findings)
    for lang in ("en", "vi"):
        assert SECRET not in json.dumps(report.to_dict(lang), ensure_ascii=False)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<mets>&lol9;</mets>
"""


def test_billion_laughs(tmp_path: Path) -> None:
    tree, report = load(tmp_path, BILLION_LAUGHS)
    assert_refused(tree, report, "XML-UNSAFE")


def test_quadratic_blowup(tmp_path: Path) -> None:
    big = "A" * 50_000
    text = (f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "{big}">]>'
            f"<m>{'&a;' * 5_000}</m>")
    tree, report = load(tmp_path, text)
    assert_refused(tree, report, "XML-UNSAFE")


def test_external_entity_file(tmp_path: Path, secret: Path) -> None:
    text = (f'<?xml version="1.0"?><!DOCTYPE mets [<!ENTITY xxe SYSTEM "file://{secret}">]>'
            "<mets>&xxe;</mets>")
    tree, report = load(tmp_path, text)
    assert_refused(tree, report, "XML-UNSAFE")


def test_external_entity_etc_passwd(tmp_path: Path) -> None:
    text = ('<?xml version="1.0"?><!DOCTYPE mets [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            "<mets>&xxe;</mets>")
    tree, report = load(tmp_path, text)
    assert_refused(tree, report, "XML-UNSAFE")
    assert "root:" not in json.dumps(report.to_dict())


def test_external_entity_network(tmp_path: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    text = (f'<?xml version="1.0"?><!DOCTYPE mets [<!ENTITY xxe SYSTEM '
            f'"http://127.0.0.1:{port}/leak">]><mets>&xxe;</mets>')
    tree, report = load(tmp_path, text)
    assert_refused(tree, report, "XML-UNSAFE")
    assert nobody_connected(listener)


def test_external_dtd(tmp_path: Path, secret: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    for system in (f"file://{secret.parent / 'evil.dtd'}", f"http://127.0.0.1:{port}/evil.dtd"):
        text = f'<?xml version="1.0"?><!DOCTYPE mets SYSTEM "{system}"><mets>&inline;</mets>'
        tree, report = load(tmp_path, text)
        assert_refused(tree, report, "XML-UNSAFE")
    assert nobody_connected(listener)


def test_parameter_entities(tmp_path: Path, secret: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    text = (f'<?xml version="1.0"?><!DOCTYPE mets [\n'
            f'<!ENTITY % file SYSTEM "file://{secret}">\n'
            f'<!ENTITY % dtd SYSTEM "http://127.0.0.1:{port}/exfil.dtd">\n'
            f'%dtd;\n]><mets>&send;</mets>')
    tree, report = load(tmp_path, text)
    assert_refused(tree, report, "XML-UNSAFE")
    assert nobody_connected(listener)


def test_xinclude_is_not_processed(tmp_path: Path, secret: Path) -> None:
    """XInclude needs no DOCTYPE: the document loads, but the included file is never read."""
    text = ('<mets xmlns:xi="http://www.w3.org/2001/XInclude">'
            f'<xi:include href="file://{secret}" parse="text"/></mets>')
    tree, report = load(tmp_path, text)
    assert tree is not None and report.findings == []
    assert SECRET.encode() not in etree.tostring(tree)


def test_oversized_xml_is_not_read(tmp_path: Path) -> None:
    text = "<mets>" + "<x/>" * 1000 + "</mets>"
    tree, report = load(tmp_path, text, max_bytes=1024)
    assert_refused(tree, report, "XML-TOO-LARGE")
    assert report.findings[0].params["limit"] == "1024"


def test_deeply_nested_xml(tmp_path: Path) -> None:
    depth = 100_000
    text = "<a>" * depth + "</a>" * depth
    tree, report = load(tmp_path, text)
    assert_refused(tree, report, "XML-UNSAFE")
    assert report.findings[0].location.line == 1


def test_a_plain_document_still_loads(tmp_path: Path) -> None:
    tree, report = load(tmp_path, '<?xml version="1.0" encoding="UTF-8"?><mets OBJID="x"/>')
    assert tree is not None and report.findings == []
