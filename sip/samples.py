"""A sample transfer for the demo and the tests: a BagIt bag with Vietnamese file names and a PDF.

Names come in both Unicode forms that real transfers mix (NFC from Windows, NFD from macOS),
never colliding, so an ingest must carry both through unchanged.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import bagit

PDF_TEXT = "To trinh ve viec chuyen giao tai lieu luu tru - Demo"


def minimal_pdf(text: str = PDF_TEXT, *, padding: bytes = b"") -> bytes:
    """A small, valid one-page PDF 1.4 with a line of (ASCII) text and a correct xref table.

    ``padding`` (bytes without newlines) is written as a comment after the header, to make
    bigger files for benchmarks.
    """
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
    header = b""
    if padding:
        header = b"%" + padding.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n"
    return pdf_from_objects(objects, comment=header)


def pdf_from_objects(objects: list[bytes], *, version: bytes = b"1.4",
                     comment: bytes = b"") -> bytes:
    """A PDF file of these numbered objects (1 = the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n" + comment)
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


#: The sample dossier's catalogue: Vietnamese headers, as an archivist types them in Excel.
SAMPLE_CATALOGUE_ROWS: tuple[tuple[str, ...], ...] = (
    ("Cấp", "Mã hồ sơ", "Tiêu đề hồ sơ", "Thời hạn bảo quản", "Chế độ sử dụng", "Ngôn ngữ",
     "Thời gian bắt đầu", "Thời gian kết thúc", "Mức độ tin cậy", "Chế độ dự phòng",
     "Tên loại văn bản", "Số của văn bản", "Ký hiệu của văn bản", "Ngày, tháng, năm văn bản",
     "Tên cơ quan, tổ chức ban hành", "Trích yếu nội dung", "Số lượng trang", "Quy trình xử lý",
     "Tệp"),
    ("hồ sơ", "000.00.00.H41.2025.05", "Hồ sơ về công tác lưu trữ năm 2025 (demo)", "Vĩnh viễn",
     "Công khai", "Tiếng Việt", "06/01/2025", "15/12/2025", "Gốc điện tử", "0",
     "", "", "", "", "", "", "", "", ""),
    ("văn bản", "", "", "", "", "", "", "", "", "", "Tờ trình", "05", "TTr-VPUB", "06/01/2025",
     "Văn phòng Ủy ban nhân dân tỉnh Nghệ An", "Về việc chuyển giao tài liệu lưu trữ điện tử",
     "1", "0", "Tờ trình số 05-TTr.pdf"),
    ("văn bản", "", "", "", "", "", "", "", "", "", "Biên bản", "12", "BB-LTLS", "15/12/2025",
     "Lưu trữ lịch sử tỉnh Nghệ An", "Biên bản giao nhận tài liệu lưu trữ điện tử", "1", "0",
     "Biên bản giao nhận.pdf"),
)


def make_sample_sip_source(folder: Path) -> tuple[Path, Path]:
    """A producer's folder of PDFs and its CSV catalogue (what ``sip create`` starts from).

    Returns ``(documents folder, catalogue.csv)``; ``folder`` must not exist.
    """
    documents = folder / "tai-lieu"
    documents.mkdir(parents=True)
    (documents / "Tờ trình số 05-TTr.pdf").write_bytes(minimal_pdf())
    (documents / "Biên bản giao nhận.pdf").write_bytes(
        minimal_pdf("Bien ban giao nhan tai lieu luu tru dien tu - Demo"))
    catalogue = folder / "muc-luc.csv"
    lines = (",".join(f'"{cell}"' for cell in row) for row in SAMPLE_CATALOGUE_ROWS)
    catalogue.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return documents, catalogue
