"""A sample transfer for the demo and the tests: a BagIt bag with Vietnamese file names and a PDF.

Names come in both Unicode forms that real transfers mix (NFC from Windows, NFD from macOS),
never colliding, so an ingest must carry both through unchanged.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import bagit

PDF_TEXT = "To trinh ve viec chuyen giao tai lieu luu tru - Demo"


def minimal_pdf(text: str = PDF_TEXT) -> bytes:
    """A small, valid one-page PDF 1.4 with a line of (ASCII) text and a correct xref table."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 72 720 Td ({safe}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def sample_files() -> dict[str, bytes]:
    """Relative path → content of the sample transfer's payload."""
    nfc = "Hồ sơ 01/Tờ trình số 05-TTr.pdf"
    # the NFD name stands in its own folder: an NFC and an NFD spelling of one folder name
    # would be a (warned) collision
    nfd = unicodedata.normalize("NFD", "Biên bản bàn giao.txt")
    return {
        nfc: minimal_pdf(),
        nfd: "Biên bản bàn giao tài liệu lưu trữ điện tử.\n".encode(),
        "Mục lục hồ sơ.csv": "Mã hồ sơ,Tiêu đề\nHS-01,Tờ trình\n".encode(),
    }


def make_sample_transfer(target: Path, *, title: str = "Hồ sơ mẫu (demo)") -> Path:
    """Write the sample transfer as a BagIt bag at ``target`` (which must not exist)."""
    target.mkdir(parents=True)
    for rel, data in sample_files().items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    bagit.make_bag(str(target), {"Source-Organization": "Văn phòng UBND tỉnh (demo)",
                                 "Title": title}, checksums=["sha256"])
    return target
