"""The accepted-formats policy (policies/formats.py and the shipped policies/formats.toml)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

import policies.formats as formats_module
from policies.formats import load_format_policy
from preservation.errors import ConfigError
from preservation.findings import Severity
from tests.sip.pdf_fixtures import identifier

# One PRONOM identifier for each entry of TT05's list (TT05.md, "Accepted content formats").
TT05_EXAMPLES = {
    "txt": "x-fmt/111", "rtf": "fmt/355", "doc": "fmt/40", "docx": "fmt/412", "odt": "fmt/291",
    "PDF/A-1b": "fmt/354", "PDF/A-2b": "fmt/477", "PDF/A-3b": "fmt/480",
    "csv": "x-fmt/18", "xls": "fmt/61", "xlsx": "fmt/214", "ods": "fmt/295",
    "htm": "fmt/100", "ppt": "fmt/126", "pptx": "fmt/215", "odp": "fmt/293",
    "jpeg": "fmt/43", "gif 89a": "fmt/4", "tiff": "fmt/353", "png": "fmt/13",
    "MPEG-1": "x-fmt/385", "MPEG-2": "x-fmt/386", "MPEG-4": "fmt/199", "avi": "fmt/5",
    "wmv": "fmt/133", "mov": "x-fmt/384", "mp3": "fmt/134", "wma": "fmt/132",
}

MINIMAL = 'name = "Test"\n[[group]]\nname = "text"\nformats = [{ puid = "fmt/18", name = "PDF" }]\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "formats.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_policy_covers_the_tt05_list() -> None:
    policy = load_format_policy(None)
    missing = {kind: puid for kind, puid in TT05_EXAMPLES.items() if not policy.accepted(puid)}
    assert not missing
    assert policy.accepted_extension("aac") == "audio"  # no PRONOM signature for raw AAC
    assert policy.accepted("fmt/3") is None  # GIF 87a: TT05 names 89a
    assert policy.origin == "" and policy.label == policy.name


def test_shipped_puids_exist_in_fidos_signatures() -> None:
    policy = load_format_policy(None)
    unknown = [f.puid for f in policy.formats if identifier().format_info(f.puid) is None]
    assert unknown == []


def test_pdfa_flags_match_pronom() -> None:
    policy = load_format_policy(None)
    flagged = {f.puid for f in policy.formats if f.pdfa}
    assert flagged == {"fmt/95", "fmt/354", "fmt/476", "fmt/477", "fmt/478", "fmt/479",
                       "fmt/480", "fmt/481"}
    for puid in flagged:
        assert "PDF/A" in (identifier().pronom_name(puid) or "")
    plain = {f.puid for f in policy.formats if f.born_digital_only}
    assert {"fmt/18", "fmt/276", "fmt/1129"} <= plain
    for puid in plain:
        info = identifier().format_info(puid)
        assert info is not None and info.mime == "application/pdf"


def test_shipped_file_documents_every_key() -> None:
    text = (resources.files("policies") / "formats.toml").read_text(encoding="utf-8")
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    keys = (formats_module._TOP_KEYS | set(formats_module._RULE_KEYS)
            | formats_module._GROUP_KEYS | formats_module._FORMAT_KEYS)
    assert [k for k in sorted(keys) if k not in header] == []


def test_default_severities() -> None:
    policy = load_format_policy(None)
    assert (policy.unidentified, policy.not_accepted, policy.digitised_not_pdfa,
            policy.digitised_no_text_layer) == (Severity.WARNING, Severity.ERROR,
                                                Severity.WARNING, Severity.WARNING)


def test_custom_policy_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[rules]\nunidentified = "error"\n')
    policy = load_format_policy(path)
    assert [f.puid for f in policy.formats] == ["fmt/18"]
    assert policy.unidentified is Severity.ERROR
    assert policy.origin == str(path) and str(path) in policy.label


@pytest.mark.parametrize(("text", "key"), [
    ("colour = 1\n" + MINIMAL, "colour"),
    (MINIMAL.replace('name = "Test"\n', 'name = "Test"\n[rules]\nunknown = "error"\n'),
     "rules.unknown"),
    (MINIMAL + '[rules]\nnot_accepted = "fatal"\n', "rules.not_accepted"),
    (MINIMAL + "[rules]\nunidentified = 2\n", "rules.unidentified"),
    (MINIMAL.replace('name = "text"', 'name = "text"\nlabel = "x"'), "group[0].label"),
    (MINIMAL.replace('name = "PDF" }', 'name = "PDF", pdf_a = true }'),
     "group[0].formats[0].pdf_a"),
    (MINIMAL.replace('name = "PDF" }', 'name = "PDF", pdfa = 1 }'),
     "group[0].formats[0].pdfa"),
    (MINIMAL.replace('"fmt/18"', '"fmt18"'), "group[0].formats[0].puid"),
    (MINIMAL.replace('name = "PDF" }', 'name = "PDF" }, { puid = "fmt/18", name = "again" }'),
     "group[0].formats[1].puid"),
    (MINIMAL.replace(', name = "PDF"', ""), "group[0].formats[0].name"),
    (MINIMAL.replace('formats = [{ puid = "fmt/18", name = "PDF" }]', ""), "group[0].formats"),
    ('name = "Test"\n', "group"),
    ("[[group]]\nname = \"x\"\nformats = []\n", "name"),
    (MINIMAL.replace('name = "text"', 'name = "text"\nunidentified_extensions = [".AAC"]'),
     "group[0].unidentified_extensions[0]"),
    (MINIMAL.replace('name = "PDF" }', 'name = "PDF", pdfa = true, born_digital_only = true }'),
     "group[0].formats[0]"),
])
def test_strict_loading_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_format_policy(path)
    assert str(path) in error.value.message
    assert f": {key}:" in error.value.message
    assert error.value.code == "CONFIG-INVALID"


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_format_policy(write(tmp_path, "name = \n"))
    assert error.value.code == "CONFIG-SYNTAX"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_format_policy(tmp_path / "absent.toml")
    assert str(tmp_path / "absent.toml") in error.value.message
