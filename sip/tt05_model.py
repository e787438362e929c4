"""The TT05 (Circular 05/2025/TT-BNV) SIP model: field sets, code lists and the package record.

One module holds what the circular fixes, so the validator (:mod:`sip.tt05`), the package writer
(:mod:`sip.tt05_writer`) and the spreadsheet reader of ``sip create`` agree on every field name,
type, length limit and code list. Values are kept as strings keyed by field name, exactly as they
appear in the ``<simpledc>`` records (see ../shared/spec/TT05.md, "Package-level record" and
"Document record").
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class FieldType(enum.StrEnum):
    STRING = "string"  # free text, limit counts characters (not bytes)
    CODE = "code"  # one value of a code list
    CODES = "codes"  # one or more codes of a list, separated by commas ("01,02")
    DATE = "date"  # DD/MM/YYYY (AIP also MM/YYYY and YYYY)
    NUMBER = "number"  # a non-negative integer
    FLAG = "flag"  # 1 or 0


# --- Code lists (value → Vietnamese label) --------------------------------------------------------

MAINTENANCE: Mapping[str, str] = {
    "01": "Vĩnh viễn", "02": "70 năm", "03": "50 năm", "04": "30 năm", "05": "20 năm",
    "06": "10 năm", "07": "Khác",
}
MODE: Mapping[str, str] = {"01": "Công khai", "02": "Sử dụng có điều kiện", "03": "Mật"}
LANGUAGE: Mapping[str, str] = {
    "01": "Tiếng Việt", "02": "Tiếng Anh", "03": "Tiếng Pháp", "04": "Tiếng Nga",
    "05": "Tiếng Trung", "06": "Tiếng Việt + Tiếng Anh", "07": "Tiếng Việt + Tiếng Nga",
    "08": "Tiếng Việt + Tiếng Pháp", "09": "Hán Nôm",
    "10": "Tiếng Việt + Tiếng Trung", "11": "Khác",
}
PHYSICAL_FORMAT: Mapping[str, str] = {"01": "Tốt", "02": "Bình thường", "03": "Hư hỏng"}
CONFIDENCE_LEVEL: Mapping[str, str] = {"01": "Gốc điện tử", "02": "Số hóa", "03": "Hỗn hợp"}
RISK_RECOVERY_STATUS: Mapping[str, str] = {"01": "Đã thực hiện", "02": "Chưa thực hiện"}
FLAG: Mapping[str, str] = {"1": "Có", "0": "Không"}
SOURCE: Mapping[str, str] = {"0": "Văn bản đi", "1": "Văn bản đến"}
TYPE_NAME: Mapping[str, str] = {
    "01": "Nghị quyết", "02": "Quyết định", "03": "Chỉ thị", "04": "Quy chế", "05": "Quy định",
    "06": "Thông cáo", "07": "Thông báo", "08": "Hướng dẫn", "09": "Chương trình",
    "10": "Kế hoạch", "11": "Phương án", "12": "Đề án", "13": "Dự án", "14": "Báo cáo",
    "15": "Tờ trình", "16": "Giấy ủy quyền", "17": "Phiếu gửi", "18": "Phiếu chuyển",
    "19": "Phiếu báo", "20": "Biên bản", "21": "Hợp đồng", "22": "Công văn", "23": "Công điện",
    "24": "Bản ghi nhớ", "25": "Bản thỏa thuận", "26": "Giấy mời", "27": "Giấy giới thiệu",
    "28": "Giấy nghỉ phép", "29": "Thư công", "30": "Bản đồ", "31": "Bản vẽ kỹ thuật",
    "32": "Khác",
}
# Where one combined code exists for a pair of languages, writers prefer it (TT05.md).
COMBINED_LANGUAGES: Mapping[frozenset[str], str] = {
    frozenset({"01", "02"}): "06", frozenset({"01", "04"}): "07",
    frozenset({"01", "03"}): "08", frozenset({"01", "05"}): "10",
}

DIGITISED = "02"
MIXED = "03"
BORN_DIGITAL = "01"
PERMANENT = "01"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a ``<simpledc>`` record."""

    name: str
    label_vi: str
    kind: FieldType
    required: bool = False
    max_length: int | None = None  # STRING only, in characters
    codes: Mapping[str, str] | None = None  # CODE / CODES / FLAG


def _s(name: str, label: str, length: int, required: bool = False) -> FieldSpec:
    return FieldSpec(name, label, FieldType.STRING, required, length)


def _c(name: str, label: str, codes: Mapping[str, str], required: bool = False,
       kind: FieldType = FieldType.CODE) -> FieldSpec:
    return FieldSpec(name, label, kind, required, None, codes)


def _n(name: str, label: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, label, FieldType.NUMBER, required)


def _d(name: str, label: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, label, FieldType.DATE, required)


# SIP_hoso / AIP_hoso package record (EAD.xml), 18 fields. Required-when rules (paperFileCode,
# riskRecoveryStatus) are not expressed here; the validator applies them.
DOSSIER_FIELDS: tuple[FieldSpec, ...] = (
    _s("fileCode", "Mã hồ sơ", 100, True),
    _s("title", "Tiêu đề hồ sơ", 1000, True),
    _c("maintenance", "Thời hạn bảo quản", MAINTENANCE, True),
    _c("mode", "Chế độ sử dụng", MODE, True),
    _c("language", "Ngôn ngữ", LANGUAGE, True, FieldType.CODES),
    _d("startDate", "Thời gian bắt đầu", True),
    _d("endDate", "Thời gian kết thúc", True),
    _s("keyword", "Từ khóa", 100),
    _n("totalDoc", "Tổng số văn bản trong hồ sơ", True),
    _n("numberOfPaper", "Số lượng tờ"),
    _n("numberOfPage", "Số lượng trang"),
    _c("format", "Tình trạng vật lý", PHYSICAL_FORMAT),
    _s("inforSign", "Ký hiệu thông tin", 30),
    _c("confidenceLevel", "Mức độ tin cậy", CONFIDENCE_LEVEL, True),
    _s("paperFileCode", "Mã hồ sơ giấy gốc", 100),
    _c("riskRecovery", "Chế độ dự phòng", FLAG, True, FieldType.FLAG),
    _c("riskRecoveryStatus", "Tình trạng dự phòng", RISK_RECOVERY_STATUS),
    _s("description", "Ghi chú", 2000),
)

# SIP_tailieu package record, 5 fields.
BATCH_FIELDS: tuple[FieldSpec, ...] = (
    _s("fileCode", "Mã lô tài liệu", 100, True),
    _s("title", "Tiêu đề", 1000, True),
    _c("source", "Nguồn tài liệu", SOURCE, True, FieldType.FLAG),
    _n("totalDoc", "Tổng số tài liệu", True),
    _s("description", "Ghi chú", 2000),
)

# SIP document record (EAD_DOC_<docId>.xml), 21 fields.
DOCUMENT_FIELDS: tuple[FieldSpec, ...] = (
    _s("docId", "Mã định danh văn bản", 100, True),
    _s("docCode", "Mã văn bản", 100, True),
    _c("maintenance", "Thời hạn bảo quản", MAINTENANCE),
    _c("typeName", "Tên loại văn bản", TYPE_NAME, True),
    _s("codeNumber", "Số của văn bản", 11),
    _s("codeNotation", "Ký hiệu của văn bản", 30),
    _d("issuedDate", "Ngày, tháng, năm văn bản", True),
    _s("organName", "Tên cơ quan, tổ chức ban hành", 200, True),
    _s("subject", "Trích yếu nội dung", 500, True),
    _c("language", "Ngôn ngữ", LANGUAGE, True, FieldType.CODES),
    _n("numberOfPage", "Số lượng trang", True),
    _s("inforSign", "Ký hiệu thông tin", 30),
    _s("keyword", "Từ khóa", 100),
    _c("mode", "Chế độ sử dụng", MODE, True),
    _c("confidenceLevel", "Mức độ tin cậy", CONFIDENCE_LEVEL, True),
    _s("autograph", "Bút tích", 2000),
    _c("format", "Tình trạng vật lý", PHYSICAL_FORMAT),
    _c("riskRecovery", "Chế độ dự phòng", FLAG, False, FieldType.FLAG),
    _c("riskRecoveryStatus", "Tình trạng dự phòng", RISK_RECOVERY_STATUS),
    _c("process", "Quy trình xử lý", FLAG, False, FieldType.FLAG),
    _s("description", "Ghi chú", 500),
)


class PackageKind(enum.StrEnum):
    HOSO = "hoso"  # SIP_hoso: one dossier (Appendix III)
    TAILIEU = "tailieu"  # SIP_tailieu: loose documents (Appendix IV)

    @property
    def mets_type(self) -> str:
        return "Mixed" if self is PackageKind.HOSO else "Collection"

    @property
    def package_fields(self) -> tuple[FieldSpec, ...]:
        return DOSSIER_FIELDS if self is PackageKind.HOSO else BATCH_FIELDS


@dataclass(frozen=True)
class Tt05Document:
    """One document of a SIP: its record (field → value) and where its content comes from."""

    fields: Mapping[str, str]  # DOCUMENT_FIELDS names → values; docId required
    source: Path | None  # the content file to copy into representations/rep1/data/
    file_name: str | None = None  # name in data/ (default: <docId> + source suffix)

    @property
    def doc_id(self) -> str:
        return self.fields["docId"]


@dataclass(frozen=True)
class Tt05Package:
    """What a TT05 SIP says: kind, identifiers, package record and documents."""

    kind: PackageKind
    fields: Mapping[str, str]  # DOSSIER_FIELDS or BATCH_FIELDS names → values
    documents: tuple[Tt05Document, ...] = ()
    fonds_code: str | None = None  # mã phông, written as the root agent's IDENTIFICATIONCODE note
    agency: str | None = None  # producing organisation's name
    software: str = "preservation"
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def file_code(self) -> str:
        return self.fields["fileCode"]


def fields_by_name(specs: tuple[FieldSpec, ...]) -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in specs}
