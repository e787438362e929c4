"""The message catalogue is complete and consistent, and docs/codes.md is generated from it.

Each test lists every offender (file and code), not just the first, so one run tells a writer of
message files everything to fix.
"""

from __future__ import annotations

import string
import unicodedata
from pathlib import Path

import pytest

from preservation.codes_doc import (
    DEFAULT_OUTPUT,
    REGENERATE,
    TEXT_KEYS,
    MessageEntry,
    MessageFile,
    main,
    message_files,
    placeholders,
    render,
)
from preservation.findings import Severity, catalogue

ALLOWED_KEYS = {"severity", "requirement", *TEXT_KEYS}
RESERVED_PARAMS = {"path", "line", "xpath", "severity"}  # taken by Report.add itself


def entries() -> list[tuple[str, MessageEntry]]:
    return [(f.name, e) for f in message_files() for e in f.entries]


def test_catalogue_loads() -> None:
    codes = catalogue()
    assert len(codes) == len(entries())
    assert {e.code for _, e in entries()} == set(codes)


def test_every_code_has_all_four_texts() -> None:
    offenders = [f"{name} {e.code}: {key}" for name, e in entries() for key in TEXT_KEYS
                 if not getattr(e, key).strip()]
    assert offenders == [], "empty or missing texts:\n" + "\n".join(offenders)


def test_every_severity_is_valid() -> None:
    valid = {s.value for s in Severity}
    offenders = [f"{name} {e.code}: {e.severity!r}" for name, e in entries()
                 if e.severity not in valid]
    assert offenders == [], "severity must be one of " + ", ".join(sorted(valid)) + ":\n" + \
        "\n".join(offenders)


def test_no_unknown_keys() -> None:
    offenders = [f"{name} {e.code}: {key}" for name, e in entries() for key in e.keys
                 if key not in ALLOWED_KEYS]
    assert offenders == [], "unknown keys (typos?):\n" + "\n".join(offenders)


def test_codes_are_upper_case_with_hyphens() -> None:
    offenders = [f"{name} {e.code}" for name, e in entries()
                 if not e.code.replace("-", "").isalnum() or e.code != e.code.upper()]
    assert offenders == []


def test_vietnamese_text_is_nfc() -> None:
    offenders = [f"{name} {e.code}: {key}" for name, e in entries() for key in ("vi", "fix_vi")
                 if unicodedata.normalize("NFC", getattr(e, key)) != getattr(e, key)]
    assert offenders == [], "Vietnamese text not in NFC:\n" + "\n".join(offenders)


def test_vietnamese_text_is_not_a_copy_of_the_english() -> None:
    offenders = [f"{name} {e.code}: {vi}" for name, e in entries()
                 for en, vi in ((e.en, e.vi), (e.fix_en, e.fix_vi))
                 if vi.strip() and (vi == en or vi.isascii())]
    assert offenders == [], "Vietnamese text missing (English copy or no diacritics):\n" + \
        "\n".join(offenders)


def test_templates_are_well_formed() -> None:
    offenders = []
    for name, e in entries():
        for key in TEXT_KEYS:
            try:
                list(string.Formatter().parse(getattr(e, key)))
            except ValueError as error:
                offenders.append(f"{name} {e.code}: {key}: {error}")
    assert offenders == [], "\n".join(offenders)


def test_same_placeholders_in_both_languages() -> None:
    offenders = []
    for name, e in entries():
        for en_key, vi_key in (("en", "vi"), ("fix_en", "fix_vi")):
            en, vi = placeholders(getattr(e, en_key)), placeholders(getattr(e, vi_key))
            if en != vi:
                offenders.append(f"{name} {e.code}: only in {en_key}: {sorted(en - vi)}, "
                                 f"only in {vi_key}: {sorted(vi - en)}")
    assert offenders == [], "placeholders differ between languages:\n" + "\n".join(offenders)


def test_no_reserved_parameter_names() -> None:
    offenders = [f"{name} {e.code}: {sorted(used & RESERVED_PARAMS)}" for name, e in entries()
                 if (used := set().union(*(placeholders(getattr(e, k)) for k in TEXT_KEYS)))
                 & RESERVED_PARAMS]
    assert offenders == [], "parameters named like Report.add's own arguments:\n" + \
        "\n".join(offenders)


# --- the generated page --------------------------------------------------------------------------

def test_render_lists_every_code_once() -> None:
    page = render()
    for _, e in entries():
        assert page.count(f"\n### {e.code}\n") == 1, e.code
    assert page == unicodedata.normalize("NFC", page)
    assert page.endswith("\n") and not page.endswith("\n\n")


def test_render_is_deterministic() -> None:
    assert render() == render()
    files = message_files()
    assert render(list(reversed(files))) == render(files)


def test_render_shows_placeholders_and_escapes_markdown() -> None:
    entry = MessageEntry(code="DEMO-CODE", severity="warning", requirement="RFC8493 §2.1.3",
                         en="{file} lists manifest-*.txt <twice> | `bagit.txt` as is",
                         vi="{file} liệt kê manifest-*.txt <hai lần>",
                         fix_en="Fix {file}.", fix_vi="Sửa {file}.",
                         keys=("severity", "requirement", *TEXT_KEYS))
    page = render([MessageFile("demo.toml", "Demo findings.\n\nMore.", (entry,))])
    assert "- **Message:** `{file}` lists manifest-\\*.txt \\<twice\\> \\| `bagit.txt` as is" \
        in page
    assert "- **Thông báo:** `{file}` liệt kê manifest-\\*.txt \\<hai lần\\>" in page
    assert "[DEMO-CODE](#demo-code)" in page
    assert '<a id="group-demo"></a>' in page and "Demo findings." in page
    assert "**Parameters / Tham số:** `file`" in page


def test_check_mode_reports_a_stale_file(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "codes.md"
    assert main(["-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render()
    assert main(["--check", "-o", str(target)]) == 0
    target.write_text("stale\n", encoding="utf-8")
    assert main(["--check", "-o", str(target)]) == 1
    assert REGENERATE in capsys.readouterr().err


def test_docs_codes_md_is_current() -> None:
    """docs/codes.md must be byte-identical to what the catalogue renders today."""
    if not DEFAULT_OUTPUT.is_file():
        pytest.fail(f"{DEFAULT_OUTPUT} is missing; generate it with: {REGENERATE}")
    current = DEFAULT_OUTPUT.read_bytes()
    if current != render().encode("utf-8"):
        pytest.fail(f"docs/codes.md is out of date with preservation/messages/*.toml "
                    f"(a code was added or a text changed). Regenerate it with:\n    {REGENERATE}"
                    "\nand commit the result.", pytrace=False)
