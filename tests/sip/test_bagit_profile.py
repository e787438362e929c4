"""BagIt Profiles: loading a profile strictly, and checking a bag against it.

Bags are made by bagit-python's ``make_bag`` on a copy in ``tmp_path``, then changed by hand; the
profile is a JSON file written next to them. Each failing case is named by the code it must raise
(and where). Tests assert codes and locations, never wording.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bagit
import pytest

from preservation.errors import NotFoundError, UsageError
from preservation.findings import Report, Severity
from sip.bagit import validate_bag
from sip.bagit_profile import BagitProfile, ProfileError, check_profile, load_profile

IDENTIFIER = "https://luutru.example.vn/bagit-profiles/giao-nop-v1.json"

BASE_PROFILE: dict[str, Any] = {
    "BagIt-Profile-Info": {
        "BagIt-Profile-Identifier": IDENTIFIER,
        "BagIt-Profile-Version": "1.4.0",
        "Source-Organization": "Lưu trữ lịch sử tỉnh (test)",
        "External-Description": "Quy cách gói giao nộp tài liệu số (test)",
        "Version": "1.0",
        "Contact-Email": "luutru@example.vn",
    },
    "Bag-Info": {
        "Source-Organization": {"required": True, "repeatable": False},
        "Contact-Email": {"recommended": True},
        "Bagging-Date": {"required": True},
        "Payload-Oxum": {"required": True, "repeatable": False},
    },
    "Manifests-Required": ["sha256"],
    "Manifests-Allowed": ["sha256", "sha512"],
    "Tag-Manifests-Required": ["sha256"],
    "Tag-Manifests-Allowed": ["sha256", "sha512"],
    "Allow-Fetch.txt": False,
    "Serialization": "optional",
    "Accept-Serialization": ["application/zip"],
    "Accept-BagIt-Version": ["0.97", "1.0"],  # bagit-python writes 0.97
}

BASE_INFO: dict[str, str | list[str]] = {
    "Source-Organization": "Sở Nội vụ tỉnh (test)",
    "Contact-Email": "vanthu@example.vn",
    "BagIt-Profile-Identifier": IDENTIFIER,
}

FILES = {"Tờ trình số 05.pdf": b"%PDF-1.4\n", "Hồ sơ 01/biên bản.txt": "Biên bản.\n".encode()}


def make_bag(tmp_path: Path, *, info: dict[str, str | list[str]] | None = None,
             files: dict[str, bytes] | None = None,
             checksums: tuple[str, ...] = ("sha256",)) -> Path:
    """A valid bag made by make_bag on a copy of a source folder (make_bag works in place)."""
    source = tmp_path / "source"
    for rel, data in (FILES if files is None else files).items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(data)
    source.mkdir(exist_ok=True)
    bag = tmp_path / "bag"
    shutil.copytree(source, bag)
    bagit.make_bag(str(bag), dict(BASE_INFO if info is None else info),
                   checksums=list(checksums))
    return bag


def write_profile(tmp_path: Path, profile: dict[str, Any], name: str = "profile.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(profile, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def profile_with(**changes: Any) -> dict[str, Any]:
    """BASE_PROFILE with top-level keys replaced (None removes a key); "Bag_Info" adds tags."""
    profile: dict[str, Any] = json.loads(json.dumps(BASE_PROFILE))
    for key, value in changes.items():
        key = key.replace("_", "-").replace("Fetch-txt", "Fetch.txt")
        if key == "Bag-Info-Extra":
            profile["Bag-Info"].update(value)
        elif value is None:
            profile.pop(key, None)
        else:
            profile[key] = value
    return profile


def run(tmp_path: Path, bag: Path, profile: dict[str, Any], *,
        serialized: str | None = None) -> Report:
    loaded = load_profile(write_profile(tmp_path, profile))
    check = validate_bag(bag)
    check_profile(loaded, check, bag, check.report, serialized=serialized)
    return check.report


def profile_findings(report: Report) -> list[tuple[str, str | None, int | None]]:
    return [(f.code, f.location.path, f.location.line) for f in report.findings
            if f.code.startswith("PROFILE-")]


# --- a conforming bag -----------------------------------------------------------------------------

def test_conforming_bag_has_no_profile_finding(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    report = run(tmp_path, bag, BASE_PROFILE)
    assert profile_findings(report) == []
    assert report.valid, [f.code for f in report.findings]


def test_serialized_zip_accepted(tmp_path: Path) -> None:
    report = run(tmp_path, make_bag(tmp_path), BASE_PROFILE, serialized="application/zip")
    assert profile_findings(report) == []


def test_optional_constraints_satisfied(tmp_path: Path) -> None:
    """Required payload folder and file present, allowed patterns matched, an empty payload
    file under Data-Empty, a required tag file present: no finding."""
    bag = make_bag(tmp_path, files={"README.txt": b"", "sub/.keep": b""})
    (bag / "data" / "sub" / ".keep").unlink()  # an empty folder stays; only README.txt
    (bag / "metadata").mkdir()
    (bag / "metadata" / "ead.xml").write_text("<ead/>", encoding="utf-8")
    profile = profile_with(
        Tag_Files_Required=["metadata/ead.xml"], Tag_Files_Allowed=["metadata/*"],
        Payload_Files_Required=["data/README.txt", "data/sub/"],
        Payload_Files_Allowed=["data/*.txt", "data/sub/*"], Data_Empty=True)
    assert profile_findings(run(tmp_path, bag, profile)) == []


# --- a failing case per code ---------------------------------------------------------------------

Mutation = Callable[[Path], None]


def _write(rel: str, text: str) -> Mutation:
    def mutate(bag: Path) -> None:
        (bag / rel).parent.mkdir(parents=True, exist_ok=True)
        (bag / rel).write_text(text, encoding="utf-8")
    return mutate


def _remove(rel: str) -> Mutation:
    return lambda bag: (bag / rel).unlink()


def _nothing(bag: Path) -> None:
    return None


def _break_version(bag: Path) -> None:
    (bag / "bagit.txt").write_text("BagIt-Version: x\nTag-File-Character-Encoding: UTF-8\n",
                                   encoding="utf-8")


# code, profile changes, make_bag keywords, mutation, expected location path
CASES: list[tuple[str, dict[str, Any], dict[str, Any], Mutation, str | None]] = [
    ("PROFILE-TAG-REQUIRED", {"Bag_Info_Extra": {"Contact-Name": {"required": True}}}, {},
     _nothing, "bag-info.txt"),
    ("PROFILE-TAG-RECOMMENDED", {"Bag_Info_Extra": {"Contact-Phone": {"recommended": True}}},
     {}, _nothing, "bag-info.txt"),
    ("PROFILE-TAG-REPEATED", {},
     {"info": {**BASE_INFO, "Source-Organization": ["Sở A", "Sở B"]}}, _nothing,
     "bag-info.txt"),
    ("PROFILE-TAG-VALUE",
     {"Bag_Info_Extra": {"Source-Organization": {"values": ["Sở Nội vụ tỉnh"]}}}, {},
     _nothing, "bag-info.txt"),
    ("PROFILE-IDENTIFIER-MISSING", {},
     {"info": {k: v for k, v in BASE_INFO.items() if k != "BagIt-Profile-Identifier"}},
     _nothing, "bag-info.txt"),
    ("PROFILE-IDENTIFIER-MISMATCH", {},
     {"info": {**BASE_INFO, "BagIt-Profile-Identifier": "https://other.example/p.json"}},
     _nothing, "bag-info.txt"),
    ("PROFILE-INFO-FILE-MISSING", {}, {}, _remove("bag-info.txt"), "bag-info.txt"),
    ("PROFILE-MANIFEST-REQUIRED", {"Manifests_Required": ["sha256", "sha512"]}, {}, _nothing,
     "manifest-sha512.txt"),
    ("PROFILE-MANIFEST-NOT-ALLOWED", {"Manifests_Allowed": ["sha256"]},
     {"checksums": ("sha256", "sha512")}, _nothing, "manifest-sha512.txt"),
    ("PROFILE-TAGMANIFEST-REQUIRED", {}, {}, _remove("tagmanifest-sha256.txt"),
     "tagmanifest-sha256.txt"),
    ("PROFILE-TAGMANIFEST-NOT-ALLOWED", {"Tag_Manifests_Allowed": ["sha256"]},
     {"checksums": ("sha256", "sha512")}, _nothing, "tagmanifest-sha512.txt"),
    ("PROFILE-TAGFILE-REQUIRED", {"Tag_Files_Required": ["metadata/ead.xml"]}, {}, _nothing,
     "metadata/ead.xml"),
    ("PROFILE-TAGFILE-NOT-ALLOWED", {"Tag_Files_Allowed": ["metadata/*"]}, {},
     _write("ghi-chú.txt", "ghi chú\n"), "ghi-chú.txt"),
    ("PROFILE-PAYLOAD-REQUIRED", {"Payload_Files_Required": ["data/README.txt"]}, {}, _nothing,
     "data/README.txt"),
    ("PROFILE-PAYLOAD-NOT-ALLOWED", {"Payload_Files_Allowed": ["data/*.txt"]}, {}, _nothing,
     "data/Tờ trình số 05.pdf"),
    ("PROFILE-FETCH-NOT-ALLOWED", {}, {},
     _write("fetch.txt", "https://example.org/x 5 data/x.txt\n"), "fetch.txt"),
    ("PROFILE-FETCH-REQUIRED", {"Allow_Fetch_txt": True, "Fetch_txt_Required": True}, {},
     _nothing, "fetch.txt"),
    ("PROFILE-DATA-NOT-EMPTY", {"Data_Empty": True}, {}, _nothing, "data"),
    ("PROFILE-SERIALIZATION-REQUIRED", {"Serialization": "required"}, {}, _nothing, "."),
    ("PROFILE-BAGIT-VERSION-NOT-ACCEPTED", {"Accept_BagIt_Version": ["1.0"]}, {}, _nothing,
     "bagit.txt"),
    ("PROFILE-BAGIT-VERSION-NOT-CHECKED", {}, {}, _break_version, "bagit.txt"),
    ("PROFILE-KEY-NOT-CHECKED", {"Other_Info": [{"APTrust-Info": {}}]}, {}, _nothing, None),
]


@pytest.mark.parametrize(("code", "changes", "bag_kwargs", "mutate", "where"), CASES,
                         ids=[c[0] for c in CASES])
def test_profile_violation(tmp_path: Path, code: str, changes: dict[str, Any],
                           bag_kwargs: dict[str, Any], mutate: Mutation,
                           where: str | None) -> None:
    bag = make_bag(tmp_path, **bag_kwargs)
    mutate(bag)
    report = run(tmp_path, bag, profile_with(**changes))
    found = [(c, path) for c, path, _ in profile_findings(report)]
    assert (code, where) in found, found
    assert {c for c, _ in found} == {code}, found


@pytest.mark.parametrize(("serialization", "accepted", "code"), [
    ("forbidden", [], "PROFILE-SERIALIZATION-FORBIDDEN"),
    ("optional", ["application/tar"], "PROFILE-SERIALIZATION-NOT-ACCEPTED"),
])
def test_serialized_bag_refused(tmp_path: Path, serialization: str, accepted: list[str],
                                code: str) -> None:
    profile = profile_with(Serialization=serialization, Accept_Serialization=accepted)
    report = run(tmp_path, make_bag(tmp_path), profile, serialized="application/zip")
    assert profile_findings(report) == [(code, ".", None)]


def test_severities(tmp_path: Path) -> None:
    """Recommended and identifier findings warn; the bag stays valid."""
    bag = make_bag(tmp_path, info={"Source-Organization": "Sở Nội vụ tỉnh (test)"})
    profile = profile_with(Bag_Info_Extra={"Contact-Phone": {"recommended": True}})
    report = run(tmp_path, bag, profile)
    severities = {f.code: f.severity for f in report.findings}
    assert severities == {"PROFILE-TAG-RECOMMENDED": Severity.WARNING,
                          "PROFILE-IDENTIFIER-MISSING": Severity.WARNING}
    assert report.valid


def test_bag_info_findings_carry_line_numbers(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, info={**BASE_INFO, "Source-Organization": ["Sở A", "Sở B"]})
    lines = (bag / "bag-info.txt").read_text(encoding="utf-8").splitlines()
    second = next(i for i, text in enumerate(lines, 1) if text == "Source-Organization: Sở B")
    profile = profile_with(Bag_Info_Extra={
        "Source-Organization": {"repeatable": False, "values": ["Sở A"]}})
    found = profile_findings(run(tmp_path, bag, profile))
    assert ("PROFILE-TAG-REPEATED", "bag-info.txt", second) in found
    assert ("PROFILE-TAG-VALUE", "bag-info.txt", second) in found
    assert len(found) == 2


def test_every_violation_reported_not_only_the_first(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, info={k: v for k, v in BASE_INFO.items()
                                   if k != "BagIt-Profile-Identifier"})
    (bag / "fetch.txt").write_text("https://example.org/x 5 data/x.txt\n", encoding="utf-8")
    profile = profile_with(
        Accept_BagIt_Version=["1.0"], Manifests_Required=["sha256", "sha512"],
        Bag_Info_Extra={"Contact-Name": {"required": True}}, Serialization="required")
    codes = {c for c, _, _ in profile_findings(run(tmp_path, bag, profile))}
    assert codes == {"PROFILE-BAGIT-VERSION-NOT-ACCEPTED", "PROFILE-MANIFEST-REQUIRED",
                     "PROFILE-TAG-REQUIRED", "PROFILE-SERIALIZATION-REQUIRED",
                     "PROFILE-FETCH-NOT-ALLOWED", "PROFILE-IDENTIFIER-MISSING"}


def test_symlink_is_not_a_required_tag_file(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    outside = tmp_path / "outside.xml"
    outside.write_text("<ead/>", encoding="utf-8")
    (bag / "metadata").mkdir()
    os.symlink(outside, bag / "metadata" / "ead.xml")
    profile = profile_with(Tag_Files_Required=["metadata/ead.xml"])
    found = profile_findings(run(tmp_path, bag, profile))
    assert found == [("PROFILE-TAGFILE-REQUIRED", "metadata/ead.xml", None)]


def test_unlistable_bag_is_not_checked(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    check = validate_bag(bag)
    profile = load_profile(write_profile(tmp_path, BASE_PROFILE))
    check_profile(profile, check, tmp_path / "gone", check.report)
    codes = [c for c, _, _ in profile_findings(check.report)]
    assert codes == ["PROFILE-NOT-CHECKED"]


def test_check_neither_writes_nor_uses_the_network(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bag = make_bag(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in bag.rglob("*")}

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the profile check must not use the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    report = run(tmp_path, bag, BASE_PROFILE)
    assert profile_findings(report) == []
    assert {p: p.stat().st_mtime_ns for p in bag.rglob("*")} == before


# --- loading profiles ----------------------------------------------------------------------------

# The two examples of the specification (v1.3.0, bagProfileFoo.json and bagProfileBar.json).
SPEC_FOO: dict[str, Any] = {
    "BagIt-Profile-Info": {
        "BagIt-Profile-Identifier": "http://www.library.yale.edu/mssa/bagitprofiles/disk_images.json",
        "Source-Organization": "Yale University",
        "Contact-Name": "Mark Matienzo",
        "External-Description": "BagIt Profile for packaging disk images",
        "Version": "0.3",
    },
    "Bag-Info": {
        "Bagging-Date": {"required": True},
        "Source-Organization": {"required": True,
                                "values": ["Simon Fraser University", "York University"]},
        "Contact-Phone": {"required": True},
    },
    "Manifests-Required": ["md5"],
    "Allow-Fetch.txt": False,
    "Serialization": "required",
    "Accept-Serialization": ["application/zip", "application/tar"],
    "Accept-BagIt-Version": ["0.96", "0.97"],
}
SPEC_BAR: dict[str, Any] = {
    "BagIt-Profile-Info": {
        "BagIt-Profile-Identifier": "http://canadiana.org/standards/bagit/tdr_ingest.json",
        "Source-Organization": "Candiana.org",
        "Contact-Name": "William Wueppelmann",
        "Contact-Email": "tdr@canadiana.com",
        "External-Description": "BagIt Profile for ingesting content into the C.O. TDR loading "
                                "dock.",
        "Version": "1.2",
    },
    "Bag-Info": {
        "Source-Organization": {"required": True,
                                "values": ["Simon Fraser University", "York University"]},
        "Organization-Address": {"required": True, "values": [
            "8888 University Drive Burnaby, B.C. V5A 1S6 Canada",
            "4700 Keele Street Toronto, Ontario M3J 1P3 Canada"]},
        "Contact-Name": {"required": True, "values": ["Mark Jordan", "Nick Ruest"]},
        "Contact-Phone": {"required": False},
        "Contact-Email": {"required": True},
        "External-Description": {"required": True},
        "External-Identifier": {"required": False},
        "Bag-Size": {"required": True},
        "Bag-Group-Identifier": {"required": False},
        "Bag-Count": {"required": True},
        "Internal-Sender-Identifier": {"required": False},
        "Internal-Sender-Description": {"required": False},
        "Bagging-Date": {"required": True},
        "Payload-Oxum": {"required": True},
    },
    "Manifests-Required": ["md5"],
    "Allow-Fetch.txt": False,
    "Serialization": "optional",
    "Accept-Serialization": ["application/zip"],
    "Tag-Manifests-Required": ["md5"],
    "Tag-Files-Required": ["DPN/dpnFirstNode.txt", "DPN/dpnRegistry"],
    "Accept-BagIt-Version": ["0.96"],
}


def test_spec_example_foo(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, SPEC_FOO))
    assert isinstance(profile, BagitProfile)
    assert profile.spec_version == "1.1.0"  # no BagIt-Profile-Version: 1.1.0 (the spec says so)
    assert profile.serialization == "required"
    assert profile.accept_bagit_version == ("0.96", "0.97")
    assert profile.allow_fetch is False
    assert profile.tag_files_allowed == ("*",)
    rules = {r.label: r for r in profile.bag_info}
    assert rules["Source-Organization"].values == ("Simon Fraser University", "York University")
    assert rules["Contact-Phone"].required and rules["Contact-Phone"].repeatable
    assert profile.unchecked == ()


def test_spec_example_bar(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, SPEC_BAR))
    assert profile.tag_files_required == ("DPN/dpnFirstNode.txt", "DPN/dpnRegistry")
    assert profile.tag_manifests_required == ("md5",)
    assert len(profile.bag_info) == 14


def test_spec_example_bar_against_a_bag(tmp_path: Path) -> None:
    """The Bar profile, a BagIt 0.97 folder bag without its DPN tag files."""
    report = run(tmp_path, make_bag(tmp_path), SPEC_BAR)
    codes = {c for c, _, _ in profile_findings(report)}
    assert {"PROFILE-BAGIT-VERSION-NOT-ACCEPTED", "PROFILE-MANIFEST-REQUIRED",
            "PROFILE-TAGMANIFEST-REQUIRED", "PROFILE-TAGFILE-REQUIRED", "PROFILE-TAG-REQUIRED",
            "PROFILE-TAG-VALUE", "PROFILE-IDENTIFIER-MISMATCH"} == codes


def test_profile_1_4_fields(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, profile_with(
        Payload_Files_Required=["data/README.txt"], Payload_Files_Allowed=["data/*"],
        Fetch_txt_Required=False, Data_Empty=False, Tag_Files_Allowed=[])))
    assert profile.spec_version == "1.4.0"
    assert profile.payload_files_required == ("data/README.txt",)
    assert profile.payload_files_allowed == ("data/*",)
    assert profile.tag_files_allowed == ()
    assert [r.label for r in profile.bag_info if r.recommended] == ["Contact-Email"]


def test_quoted_booleans_of_the_abnf(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, profile_with(
        Allow_Fetch_txt="true", Bag_Info_Extra={"Contact-Name": {"required": "false"}})))
    assert profile.allow_fetch is True
    assert not {r.label: r for r in profile.bag_info}["Contact-Name"].required


def _raw(text: str) -> Callable[[Path], Path]:
    def write(tmp_path: Path) -> Path:
        path = tmp_path / "profile.json"
        path.write_text(text, encoding="utf-8")
        return path
    return write


def _bytes(data: bytes) -> Callable[[Path], Path]:
    def write(tmp_path: Path) -> Path:
        path = tmp_path / "profile.json"
        path.write_bytes(data)
        return path
    return write


def _json(profile: dict[str, Any]) -> Callable[[Path], Path]:
    return lambda tmp_path: write_profile(tmp_path, profile)


def _without_info(field: str) -> dict[str, Any]:
    profile = profile_with()
    del profile["BagIt-Profile-Info"][field]
    return profile


def _info(**fields: Any) -> dict[str, Any]:
    profile = profile_with()
    profile["BagIt-Profile-Info"].update({k.replace("_", "-"): v for k, v in fields.items()})
    return profile


INVALID: list[tuple[str, Callable[[Path], Path], str]] = [
    ("malformed-json", _raw('{"BagIt-Profile-Info": {'), "profile.json:1:"),
    ("not-an-object", _raw("[1, 2]"), "(top level)"),
    ("duplicate-key", _raw('{"Serialization": "optional", "Serialization": "required"}'),
     "profile.json"),
    ("nan", _raw('{"Data-Empty": NaN}'), "profile.json"),
    ("not-utf8", _bytes(b'{"x": "\xff"}'), "profile.json"),
    ("info-missing", _json({k: v for k, v in BASE_PROFILE.items()
                            if k != "BagIt-Profile-Info"}), "BagIt-Profile-Info"),
    ("identifier-missing", _json(_without_info("BagIt-Profile-Identifier")),
     "BagIt-Profile-Info.BagIt-Profile-Identifier"),
    ("version-missing", _json(_without_info("Version")), "BagIt-Profile-Info.Version"),
    ("unknown-spec-version", _json(_info(BagIt_Profile_Version="9.9.9")),
     "BagIt-Profile-Info.BagIt-Profile-Version"),
    ("identifier-not-string", _json(_info(BagIt_Profile_Identifier=42)),
     "BagIt-Profile-Info.BagIt-Profile-Identifier"),
    ("required-not-boolean", _json(profile_with(Bag_Info_Extra={"X": {"required": "yes"}})),
     "Bag-Info.X.required"),
    ("values-not-list", _json(profile_with(Bag_Info_Extra={"X": {"values": "a"}})),
     "Bag-Info.X.values"),
    ("tag-not-object", _json(profile_with(Bag_Info_Extra={"X": True})), "Bag-Info.X"),
    ("list-not-strings", _json(profile_with(Manifests_Required=["sha256", 5])),
     "Manifests-Required[1]"),
    ("serialization-unknown", _json(profile_with(Serialization="sometimes")), "Serialization"),
    ("serialization-required-no-type",
     _json(profile_with(Serialization="required", Accept_Serialization=None)),
     "Accept-Serialization"),
    ("no-bagit-version", _json(profile_with(Accept_BagIt_Version=None)),
     "Accept-BagIt-Version"),
    ("empty-bagit-version", _json(profile_with(Accept_BagIt_Version=[])),
     "Accept-BagIt-Version"),
    ("bagit-version-not-string", _json(profile_with(Accept_BagIt_Version=[1.0])),
     "Accept-BagIt-Version[0]"),
    ("required-manifest-not-allowed",
     _json(profile_with(Manifests_Required=["md5"], Manifests_Allowed=["sha256"])),
     "Manifests-Allowed"),
    ("required-tagmanifest-not-allowed",
     _json(profile_with(Tag_Manifests_Required=["md5"])), "Tag-Manifests-Allowed"),
    ("required-tag-file-not-allowed",
     _json(profile_with(Tag_Files_Required=["a.txt"], Tag_Files_Allowed=["meta/*"])),
     "Tag-Files-Allowed"),
    ("required-payload-not-allowed",
     _json(profile_with(Payload_Files_Required=["data/a.pdf"],
                        Payload_Files_Allowed=["data/*.txt"])), "Payload-Files-Allowed"),
    ("payload-required-outside-data",
     _json(profile_with(Payload_Files_Required=["a.pdf"])), "Payload-Files-Required[0]"),
    ("tag-file-escapes", _json(profile_with(Tag_Files_Required=["../etc/passwd"])),
     "Tag-Files-Required[0]"),
    ("fetch-required-not-allowed",
     _json(profile_with(Fetch_txt_Required=True)), "Fetch.txt-Required"),
    ("data-empty-not-boolean", _json(profile_with(Data_Empty=1)), "Data-Empty"),
]


@pytest.mark.parametrize(("writer", "key"), [(w, k) for _, w, k in INVALID],
                         ids=[name for name, _, _ in INVALID])
def test_invalid_profile(tmp_path: Path, writer: Callable[[Path], Path], key: str) -> None:
    path = writer(tmp_path)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    error = caught.value
    assert isinstance(error, UsageError)  # exit code 2
    assert error.code == "PROFILE-INVALID"
    assert error.location is not None and error.location.startswith(str(path))
    assert key in error.location


def test_oversized_profile_is_not_read_whole(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sip.bagit_profile_model.MAX_PROFILE_BYTES", 1024)
    path = write_profile(tmp_path, profile_with(Bag_Info_Extra={
        f"Tag-{i}": {"description": "x" * 50} for i in range(40)}))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert caught.value.code == "PROFILE-INVALID"


def test_missing_profile_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as caught:
        load_profile(tmp_path / "nowhere.json")
    assert isinstance(caught.value, UsageError)


def test_unknown_keys_are_reported_not_ignored(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, profile_with(
        Other_Info=[{"APTrust-Info": {}}],
        Bag_Info_Extra={"Payload-Oxum": {"required": True, "regex": r"\d+\.\d+"}})))
    assert profile.unchecked == ("Other-Info", "Bag-Info/Payload-Oxum/regex")
