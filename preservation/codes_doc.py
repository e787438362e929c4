"""The list of every finding code, rendered as Markdown from the message catalogue.

``docs/codes.md`` is generated from ``preservation/messages/*.toml`` by this module, so the page an
archivist reads and the messages the validators print never drift apart:

    python -m preservation.codes_doc -o docs/codes.md     # regenerate
    python -m preservation.codes_doc --check              # exit 1 if docs/codes.md is stale

The page groups codes by message file (one file per family: BagIt, E-ARK, TT05, content …), with
a short introduction per group, a table of contents, and for each code its severity, the spec
requirement it checks, the message and the advice in English and Vietnamese. ``{param}``
placeholders are shown as they stand in the templates. The output is deterministic: files in a
fixed family order, codes in file order, no dates.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from preservation.findings import Severity

__all__ = [
    "DEFAULT_OUTPUT",
    "MessageEntry",
    "MessageFile",
    "main",
    "message_files",
    "placeholders",
    "render",
]

#: Where the generated page lives in a source checkout.
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "codes.md"
REGENERATE = "python -m preservation.codes_doc -o docs/codes.md"
TEXT_KEYS = ("en", "vi", "fix_en", "fix_vi")


@dataclass(frozen=True)
class MessageEntry:
    """One code exactly as its TOML file states it (texts not normalised)."""

    code: str
    severity: str
    requirement: str | None
    en: str
    vi: str
    fix_en: str
    fix_vi: str
    keys: tuple[str, ...]  # every key of the table, for typo checks


@dataclass(frozen=True)
class MessageFile:
    """One ``preservation/messages/*.toml`` file."""

    name: str  # "bagit.toml"
    comment: str  # its leading comment block, without the "#"
    entries: tuple[MessageEntry, ...] = field(default_factory=tuple)

    @property
    def stem(self) -> str:
        return self.name.removesuffix(".toml")


def _leading_comment(text: str) -> str:
    lines: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    return "\n".join(lines).strip()


def _text(spec: dict[str, object], key: str) -> str:
    value = spec.get(key, "")
    return value if isinstance(value, str) else ""


def message_files() -> list[MessageFile]:
    """Every message file of the package, sorted by name, read as written."""
    out: list[MessageFile] = []
    folder = resources.files("preservation") / "messages"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        text = entry.read_text(encoding="utf-8")
        data = tomllib.loads(text)
        entries = []
        for code, spec in data.items():
            if not isinstance(spec, dict):
                raise ValueError(f"{entry.name}: {code} is not a table")
            requirement = spec.get("requirement")
            entries.append(MessageEntry(
                code=code, severity=str(spec.get("severity", "")),
                requirement=requirement if isinstance(requirement, str) else None,
                en=_text(spec, "en"), vi=_text(spec, "vi"),
                fix_en=_text(spec, "fix_en"), fix_vi=_text(spec, "fix_vi"),
                keys=tuple(spec)))
        out.append(MessageFile(entry.name, _leading_comment(text), tuple(entries)))
    return out


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def placeholders(template: str) -> set[str]:
    """The ``{name}`` parameters a template uses (``{{`` and ``}}`` are literal braces)."""
    return {m[1] for m in _PLACEHOLDER.finditer(template.replace("{{", "").replace("}}", ""))}


# --- groups ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Group:
    title_en: str
    title_vi: str
    intro_en: str
    intro_vi: str


_EARK = _Group(
    "E-ARK CSIP and SIP", "Gói E-ARK CSIP và SIP",
    "The E-ARK Common Specification (CSIP 2.0.4) and SIP requirements; requirements are the "
    "specification's own ids (CSIP1 …), EARK-… codes are checks no single requirement names "
    "(file references, orphan files, the METS schema). MUST rules are errors, SHOULD rules "
    "warnings, MAY rules information.",
    "Các yêu cầu của đặc tả chung E-ARK (CSIP 2.0.4) và của gói SIP; cột yêu cầu ghi mã yêu cầu "
    "của chính đặc tả (CSIP1 …), các mã EARK-… là những kiểm tra không thuộc riêng yêu cầu nào "
    "(tham chiếu tệp, tệp không được khai báo, lược đồ METS). Quy tắc MUST là lỗi, SHOULD là "
    "cảnh báo, MAY là thông tin.")

#: Families in the order a submission meets them; files not named here follow, by name.
_GROUPS: dict[str, _Group] = {
    "sip": _Group(
        "Submission kind", "Loại gói tin",
        "What `preservation sip validate` decides before any detailed check: which kind of "
        "package it was given (TT05, E-ARK, BagIt) and whether the options fit it.",
        "Kết luận của lệnh `preservation sip validate` trước mọi bước kiểm tra chi tiết: gói "
        "tin thuộc loại nào (Thông tư 05, E-ARK, BagIt) và các tuỳ chọn có phù hợp không."),
    "archive": _Group(
        "Opening a package: ZIP files and hostile input",
        "Mở gói tin: tệp ZIP và dữ liệu đầu vào độc hại",
        "Checks made when a submission is opened, before anything is extracted or read: ZIP-… "
        "codes concern the ZIP file itself (zip bombs, sizes, ratios, entry counts, damaged "
        "headers); PKG-… codes concern the package's names and files, whether they came in a "
        "folder or a ZIP (paths escaping the package, links, colliding names).",
        "Các kiểm tra khi mở gói nộp lưu, trước khi giải nén hay đọc bất cứ tệp nào: các mã "
        "ZIP-… liên quan đến bản thân tệp ZIP (bom nén, dung lượng, tỉ lệ nén, số lượng mục, "
        "phần đầu bị hỏng); các mã PKG-… liên quan đến tên và tệp trong gói, dù gói được nộp "
        "dưới dạng thư mục hay ZIP (đường dẫn trỏ ra ngoài gói, liên kết, tên trùng nhau)."),
    "bagit": _Group(
        "BagIt bags (RFC 8493)", "Gói BagIt (RFC 8493)",
        "The BagIt validator: bagit.txt, manifests and tag manifests, bag-info.txt, "
        "Payload-Oxum, fetch.txt and unsafe or colliding paths. Requirements name the section "
        "of RFC 8493 (drafts 0.93–0.97 follow the same sections).",
        "Trình kiểm tra gói BagIt: bagit.txt, tệp kê khai dữ liệu và tệp kê khai thẻ, "
        "bag-info.txt, Payload-Oxum, fetch.txt và các đường dẫn không an toàn hoặc trùng nhau. "
        "Cột yêu cầu ghi mục tương ứng của RFC 8493 (các bản dự thảo 0.93–0.97 dùng cùng cách "
        "đánh số)."),
    "bagit_profile": _Group(
        "BagIt Profiles", "Quy cách BagIt (BagIt Profile)",
        "Checks of a bag against the BagIt Profile named with `--profile` (bagit-profiles "
        "specification 1.1.0–1.4.0). Requirements name the profile field that sets the rule.",
        "Đối chiếu gói BagIt với quy cách BagIt được chỉ định bằng tuỳ chọn `--profile` (đặc tả "
        "BagIt Profiles 1.1.0–1.4.0). Cột yêu cầu ghi tên trường của quy cách đặt ra quy tắc."),
    "eark": _EARK,
    "csip": _EARK,
    "tt05": _Group(
        "TT05 packages (Circular 05)", "Gói theo Thông tư 05",
        "The Vietnamese TT05 submission package (Circular 05/2025/TT-BNV, Appendices III and "
        "IV), the rules it adds to E-ARK: layout, METS conventions, the tie between "
        "data files and EAD_DOC records, EAD.xml and EAD_DOC fields, code lists and the "
        "required-when rules.",
        "Gói nộp lưu theo Thông tư 05/2025/TT-BNV (Phụ lục III và IV), các quy tắc bổ sung "
        "cho E-ARK: cấu trúc thư mục, quy ước METS, liên kết giữa tệp dữ "
        "liệu và bản ghi EAD_DOC, các trường của EAD.xml và EAD_DOC, danh mục mã và các quy tắc "
        "bắt buộc theo điều kiện."),
    "xml": _Group(
        "XML files", "Tệp XML",
        "Reading any XML file of a package: well-formedness, hostile constructs (DOCTYPE, "
        "entities) and size limits.",
        "Đọc các tệp XML trong gói: đúng cú pháp, các cấu trúc có thể gây hại (DOCTYPE, thực "
        "thể) và giới hạn dung lượng."),
    "content": _Group(
        "Content: formats, PDF signatures, PDF/A, viruses",
        "Nội dung: định dạng, chữ ký số PDF, PDF/A, mã độc",
        "Checks of the documents themselves: format identification against the accepted "
        "formats, PDF digital signatures, PDF/A claims and text layers, encryption, empty files "
        "and virus scanning.",
        "Kiểm tra bản thân tài liệu: nhận dạng định dạng so với danh mục định dạng được chấp "
        "nhận, chữ ký số trong PDF, khai báo PDF/A và lớp văn bản, mã hoá, tệp rỗng và quét "
        "mã độc."),
    "catalogue": _Group(
        "SIP creation from a catalogue", "Tạo gói SIP từ bảng kê",
        "Problems found by `preservation sip create` in the producer's catalogue (a CSV or XLSX "
        "spreadsheet of dossier and document metadata) and its folder of documents. Each is "
        "located at the catalogue file, with the spreadsheet row as the line and the column "
        "header as a parameter; field rules follow TT05 Appendices III and IV.",
        "Các lỗi mà lệnh `preservation sip create` phát hiện trong bảng kê của bên giao nộp "
        "(bảng tính CSV hoặc XLSX chứa siêu dữ liệu hồ sơ và tài liệu) và trong thư mục tài "
        "liệu kèm theo. Mỗi lỗi được chỉ rõ tại tệp bảng kê, với số dòng của bảng tính và tên "
        "cột; quy tắc các trường theo Phụ lục III và IV của Thông tư 05."),
    "audit": _Group(
        "Fixity audits", "Kiểm tra tính toàn vẹn định kỳ",
        "Findings of `preservation audit` and of reading a stored AIP copy back: missing or "
        "changed objects, manifests and signatures.",
        "Kết quả của lệnh `preservation audit` và của việc đọc lại bản lưu gói AIP: đối tượng "
        "bị thiếu hoặc bị thay đổi, tệp kê khai và chữ ký số."),
}
_ORDER = ("sip", "archive", "bagit", "bagit_profile", "eark", "csip", "tt05", "xml", "content",
          "catalogue", "audit")

_SEVERITY_VI = {
    Severity.ERROR.value: "lỗi",
    Severity.WARNING.value: "cảnh báo",
    Severity.INFO.value: "thông tin",
    Severity.NOT_CHECKED.value: "chưa kiểm tra",
}


def _group(file: MessageFile) -> _Group:
    known = _GROUPS.get(file.stem)
    if known is not None:
        return known
    title = file.stem.replace("_", " ").capitalize()
    paragraph = file.comment.split("\n\n")[0].replace("\n", " ") if file.comment else ""
    return _Group(title, title, paragraph, "")


def _ordered(files: Sequence[MessageFile]) -> list[MessageFile]:
    rank = {stem: i for i, stem in enumerate(_ORDER)}
    return sorted(files, key=lambda f: (rank.get(f.stem, len(rank)), f.name))


# --- Markdown -------------------------------------------------------------------------------------

_ESCAPE = re.compile(r"([\\*_\[\]<>|#])")
_CODE_SPAN = re.compile(r"(`[^`]+`)")


def _inline(text: str) -> str:
    """Message text as Markdown: specials escaped, ``{param}`` shown as code, `code` kept."""
    text = unicodedata.normalize("NFC", " ".join(text.split()))
    parts = _CODE_SPAN.split(text) if text.count("`") % 2 == 0 else [text]
    out: list[str] = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(part)
            continue
        part = part.replace("`", "\\`")
        pieces = re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", part)
        out.extend(f"`{p}`" if i % 2 else _ESCAPE.sub(r"\\\1", p)
                   for i, p in enumerate(pieces))
    return "".join(out)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _severity(value: str) -> str:
    return f"{value} ({_SEVERITY_VI.get(value, '?')})"


def _entry(entry: MessageEntry) -> list[str]:
    params = sorted(set().union(*(placeholders(getattr(entry, k)) for k in TEXT_KEYS)))
    facts = [f"**Severity / Mức độ:** {_severity(entry.severity)}"]
    if entry.requirement:
        facts.append(f"**Requirement / Yêu cầu:** {_inline(entry.requirement)}")
    if params:
        facts.append("**Parameters / Tham số:** " + ", ".join(f"`{p}`" for p in params))
    return [
        f"### {entry.code}",
        "",
        "- " + " · ".join(facts),
        f"- **Message:** {_inline(entry.en) or '—'}",
        f"- **Thông báo:** {_inline(entry.vi) or '—'}",
        f"- **How to fix:** {_inline(entry.fix_en) or '—'}",
        f"- **Cách khắc phục:** {_inline(entry.fix_vi) or '—'}",
        "",
    ]


_PREAMBLE = """\
# Finding codes / Mã kết quả kiểm tra

Every problem the repository reports — when it validates a submission (`preservation sip validate`,
`preservation ingest`) or audits stored copies (`preservation audit`) — is a *finding* with a stable
code, a severity, a location (a path inside the package, a line, an XPath) and a message in English
and Vietnamese. This page lists every code, grouped by family, with what it means and how to fix it.
Words in `{braces}` are filled in with the details of each finding (a file name, a value …).

Mỗi vấn đề mà hệ thống phát hiện — khi kiểm tra gói nộp lưu (`preservation sip validate`,
`preservation ingest`) hoặc kiểm tra các bản lưu (`preservation audit`) — là một *kết quả kiểm tra*
gồm mã cố định, mức độ, vị trí (đường dẫn trong gói, số dòng, XPath) và thông báo bằng tiếng Anh và
tiếng Việt. Trang này liệt kê mọi mã theo từng nhóm, kèm ý nghĩa và cách khắc phục. Các từ trong
`{ngoặc nhọn}` được thay bằng thông tin cụ thể của từng kết quả (tên tệp, giá trị …).
"""

_SEVERITY_TABLE = (
    ("error", "The package is rejected (exit code 1).", "Gói bị từ chối (mã thoát 1)."),
    ("warning", "Accepted; worth telling the producer.",
     "Vẫn được chấp nhận; nên thông báo cho bên giao nộp."),
    ("info", "For the record.", "Chỉ để ghi nhận."),
    ("not-checked", "A check could not run; nothing is skipped silently.",
     "Một bước kiểm tra không thực hiện được; không bước nào bị bỏ qua âm thầm."),
)


def render(files: Sequence[MessageFile] | None = None) -> str:
    """The whole page; ``files`` defaults to the package's message files."""
    ordered = _ordered(message_files() if files is None else files)
    lines = [
        f"<!-- Generated from preservation/messages/*.toml by `{REGENERATE}`. "
        "Do not edit by hand. -->",
        "",
        _PREAMBLE,
        "| Severity | Mức độ | Effect | Tác động |",
        "|---|---|---|---|",
        *(f"| {name} | {_SEVERITY_VI[name]} | {en} | {vi} |" for name, en, vi in _SEVERITY_TABLE),
        "",
        "## Contents / Mục lục",
        "",
    ]
    total = sum(len(f.entries) for f in ordered)
    for file in ordered:
        group = _group(file)
        title = group.title_en if group.title_en == group.title_vi else (
            f"{group.title_en} / {group.title_vi}")
        lines.append(f"- [{title}](#group-{_slug(file.stem)}) — `{file.name}`, "
                     f"{len(file.entries)} codes / mã")
    lines += ["", f"{total} codes in all / Tổng cộng {total} mã.", ""]
    for file in ordered:
        group = _group(file)
        title = group.title_en if group.title_en == group.title_vi else (
            f"{group.title_en} / {group.title_vi}")
        lines += [f'<a id="group-{_slug(file.stem)}"></a>', "", f"## {title}", ""]
        lines += [f"Source / Nguồn: `preservation/messages/{file.name}`.", ""]
        for intro in (group.intro_en, group.intro_vi):
            if intro:
                lines += [unicodedata.normalize("NFC", intro), ""]
        lines += ["| Code / Mã | Severity / Mức độ | Requirement / Yêu cầu |", "|---|---|---|"]
        for entry in file.entries:
            lines.append(f"| [{entry.code}](#{_slug(entry.code)}) | "
                         f"{_severity(entry.severity)} | "
                         f"{_inline(entry.requirement) if entry.requirement else '—'} |")
        lines.append("")
        for entry in file.entries:
            lines += _entry(entry)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m preservation.codes_doc",
        description="Render every finding code as Markdown (docs/codes.md).")
    parser.add_argument("-o", "--output", type=Path,
                        help="write the page here (default: standard output)")
    parser.add_argument("--check", action="store_true",
                        help="compare with the file (-o, default docs/codes.md) instead of "
                             "writing; exit 1 if it is out of date")
    args = parser.parse_args(argv)
    page = render().encode("utf-8")
    if args.check:
        target: Path = args.output or DEFAULT_OUTPUT
        try:
            current = target.read_bytes()
        except OSError:
            current = None
        if current != page:
            sys.stderr.write(f"{target} is out of date with preservation/messages/*.toml; "
                             f"regenerate it with: {REGENERATE}\n")
            return 1
        return 0
    if args.output is None:
        sys.stdout.buffer.write(page)
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.output.with_name(args.output.name + ".tmp")
    temporary.write_bytes(page)
    os.replace(temporary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
