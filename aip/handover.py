"""The handover list of an export: ``handover.csv`` and ``handover.pdf`` (Vietnamese + English).

The CSV is UTF-8 with a byte order mark, so that Excel shows the Vietnamese text, one row per
package (its ZIP's size and SHA-256) followed by one row per document (its data file's size and
SHA-256 inside the ZIP); every header names the column in Vietnamese and English. The PDF is the
paper the two parties sign: A4 landscape, the title "DANH MỤC HỒ SƠ, TÀI LIỆU BÀN GIAO", the
archive's name and the date, one table row per package, the totals, and the signature blocks of
the handing-over party (Bên giao) and the receiving party (Bên nhận).

The PDF embeds (a subset of) DejaVu Sans, shipped in ``aip/fonts`` with its licence, so the
Vietnamese glyphs render and the text extracts on any machine; it is written with fpdf2. All text
is NFC.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from preservation import SOFTWARE_NAME, __version__

TITLE_VI = "DANH MỤC HỒ SƠ, TÀI LIỆU BÀN GIAO"
TITLE_EN = "List of dossiers and documents handed over"
FONT = "DejaVuSans"

CSV_COLUMNS = (
    "STT / No.",
    "Cấp / Level",
    "Mã hồ sơ lưu trữ / arcFileCode",
    "Mã hồ sơ / fileCode",
    "Mã văn bản / docCode",
    "Tiêu đề, trích yếu / Title",
    "Số văn bản / Documents",
    "Dung lượng (byte) / Size (bytes)",
    "Tệp / File",
    "SHA-256",
    "Mã phông / Fonds",
    "Mã AIP / AIP ID",
)
LEVEL_PACKAGE = "Hồ sơ / Dossier"
LEVEL_DOCUMENT = "Văn bản / Document"


@dataclass(frozen=True)
class HandoverDocument:
    doc_code: str
    title: str
    path: str  # inside the package
    size: int
    sha256: str


@dataclass(frozen=True)
class HandoverPackage:
    """One handed-over package (one ZIP) and its documents."""

    number: int
    arc_file_code: str
    file_code: str
    title: str
    documents: tuple[HandoverDocument, ...]
    zip_name: str
    size: int  # of the ZIP
    sha256: str  # of the ZIP, lower-case hex
    aip_id: str
    fonds_code: str = ""


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def csv_rows(packages: Sequence[HandoverPackage]) -> list[list[str]]:
    """The CSV table (header first) as lists of NFC strings."""
    rows = [list(CSV_COLUMNS)]
    for p in packages:
        rows.append([str(p.number), LEVEL_PACKAGE, p.arc_file_code, p.file_code, "", p.title,
                     str(len(p.documents)), str(p.size), p.zip_name, p.sha256, p.fonds_code,
                     p.aip_id])
        for n, d in enumerate(p.documents, 1):
            rows.append([f"{p.number}.{n}", LEVEL_DOCUMENT, p.arc_file_code, p.file_code,
                         d.doc_code, d.title, "", str(d.size), f"{p.zip_name}:{d.path}",
                         d.sha256, p.fonds_code, p.aip_id])
    return [[_nfc(cell) for cell in row] for row in rows]


def write_handover_csv(path: Path, packages: Sequence[HandoverPackage]) -> None:
    """``path`` (must not exist) as UTF-8 with BOM, CRLF line ends (RFC 4180, what Excel reads)."""
    with open(path, "x", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows(csv_rows(packages))


def font_file(bold: bool = False) -> Path:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return Path(str(resources.files("aip") / "fonts" / name))


def write_handover_pdf(path: Path, packages: Sequence[HandoverPackage], *, archive_name: str,
                       when: datetime) -> None:
    """The signed-on-paper handover list, A4 landscape; ``path`` must not exist."""
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(_nfc(f"{TITLE_VI} / {TITLE_EN}"))
    pdf.set_author(_nfc(archive_name))
    pdf.set_creator(f"{SOFTWARE_NAME} {__version__}")
    pdf.set_lang("vi")
    pdf.set_creation_date(when)
    pdf.add_font(FONT, "", str(font_file()))
    pdf.add_font(FONT, "B", str(font_file(bold=True)))
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.epw

    pdf.set_font(FONT, "B", 14)
    pdf.cell(width, 8, _nfc(TITLE_VI), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 11)
    pdf.cell(width, 6, _nfc(TITLE_EN), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FONT, "", 10)
    stamp = when.isoformat("T", "seconds")
    for line in (f"Lưu trữ / Archive: {archive_name}",
                 f"Ngày lập / Date: {when.strftime('%d/%m/%Y')} ({stamp})"):
        pdf.cell(width, 6, _nfc(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    pdf.set_font(FONT, "", 8)
    heading = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
    widths = (10, 46, 40, 58, 20, 26, 77)
    with pdf.table(col_widths=widths, width=width, headings_style=heading, line_height=4.2,
                   text_align=("CENTER", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "LEFT"),
                   first_row_as_headings=True, repeat_headings=1) as table:
        table.row([_nfc(t) for t in (
            "STT\nNo.", "Mã hồ sơ lưu trữ\narcFileCode", "Mã hồ sơ\nfileCode",
            "Tiêu đề hồ sơ\nTitle", "Số văn bản\nDocuments", "Dung lượng (byte)\nSize (bytes)",
            "Tệp ZIP, SHA-256\nZIP file, SHA-256")])
        for p in packages:
            table.row([_nfc(t) for t in (
                str(p.number), p.arc_file_code, p.file_code, p.title, str(len(p.documents)),
                _grouped(p.size), f"{p.zip_name}\n{p.sha256}")])

    documents = sum(len(p.documents) for p in packages)
    size = sum(p.size for p in packages)
    pdf.ln(3)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(width, 6, _nfc(
        f"Tổng cộng / Total: {len(packages)} hồ sơ / dossiers, {documents} văn bản / documents, "
        f"{_grouped(size)} byte / bytes"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(width, 5, _nfc(
        "Mỗi hồ sơ là một gói SIP theo Thông tư 05/2025/TT-BNV (tệp ZIP); giá trị SHA-256 dùng "
        "để kiểm tra tính toàn vẹn khi nhận. / Each dossier is a TT05 SIP (ZIP file); check its "
        "SHA-256 on receipt."), new_x="LMARGIN", new_y="NEXT")
    _signatures(pdf, width)
    data = bytes(pdf.output())
    with open(path, "xb") as f:
        f.write(data)


def _grouped(number: int) -> str:
    """1.234.567: thousands grouped with dots, as Vietnamese documents write them."""
    return f"{number:,}".replace(",", ".")


def _signatures(pdf: FPDF, width: float) -> None:
    if pdf.get_y() > pdf.eph - 30:
        pdf.add_page()
    pdf.ln(8)
    half = width / 2
    pdf.set_font(FONT, "B", 11)
    pdf.cell(half, 6, _nfc("BÊN GIAO / Handing over"), align="C")
    pdf.cell(half, 6, _nfc("BÊN NHẬN / Receiving"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    pdf.cell(half, 5, _nfc("(Ký, ghi rõ họ tên / Signature, full name)"), align="C")
    pdf.cell(half, 5, _nfc("(Ký, ghi rõ họ tên / Signature, full name)"), align="C",
             new_x="LMARGIN", new_y="NEXT")

