"""The one SIP validator: kind detection, one report, `preservation sip validate`, and ingest
refusing exactly what the validator rejects."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import bagit
import pytest
from click.testing import CliRunner

import sip.content
import sip.tt05
import sip.validate
import sip.xmlload
from preservation.cli import main
from preservation.findings import Severity
from preservation.formats import FormatIdentificationError, FormatIdentifier
from preservation.xmlsafe import parse_bytes
from sip.package import PackageTree
from sip.samples import make_sample_transfer
from sip.tt05 import looks_like_tt05
from sip.tt05_model import PackageKind
from sip.validate import ValidationOptions, open_sip
from tests.sip.eark_fixtures import build_package
from tests.sip.tt05_fixtures import build as tt05_build

NO_CONTENT = ValidationOptions(check_content=False)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return target


def test_a_plain_bag_is_detected_and_every_payload_file_is_content(tmp_path: Path) -> None:
    bag = make_sample_transfer(tmp_path / "bag")
    with open_sip(bag, tmp_path / "work") as sub:
        assert sub.valid, [f.code for f in sub.report.errors]
        assert sub.kind_label == "bagit"
        assert sub.report.kind == "bagit"
        assert {f.role.value for f in sub.files} == {"content"}
        assert len(sub.files) == 3
        assert all(f.path.startswith("data/") and len(f.sha256) == 64 for f in sub.files)
        assert set(sub.formats) == {f.path for f in sub.files}
        pdf = next(f for f in sub.files if f.path.endswith(".pdf"))
        assert sub.formats[pdf.path].puid is not None


def test_a_zipped_bag_is_extracted_privately_and_removed_afterwards(tmp_path: Path) -> None:
    bag = make_sample_transfer(tmp_path / "bag")
    archive = zip_folder(bag, tmp_path / "bag.zip")
    work = tmp_path / "work"
    with open_sip(archive, work, NO_CONTENT) as sub:
        assert sub.valid, [f.code for f in sub.report.errors]
        assert sub.kind_label == "bagit"
        assert sub.root is not None and work in sub.root.parents
        root = sub.root
    assert not root.exists()


def test_a_folder_that_is_no_package_is_rejected_with_its_code(tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "note.txt").write_text("x")
    with open_sip(folder, tmp_path / "work") as sub:
        assert not sub.valid
        assert "SIP-KIND-UNKNOWN" in sub.report.codes()
        assert sub.files == ()


def test_a_bad_bag_keeps_every_finding_and_lists_no_files(tmp_path: Path) -> None:
    bag = make_sample_transfer(tmp_path / "bag")
    victim = next((bag / "data").rglob("*.csv"))
    victim.write_bytes(b"changed")
    rel = victim.relative_to(bag).as_posix()
    with open_sip(bag, tmp_path / "work", NO_CONTENT) as sub:
        assert not sub.valid
        located = {(f.code, f.location.path) for f in sub.report.errors}
        # the changed bytes (manifest) and the changed size (Payload-Oxum): both reported
        assert located == {("BAGIT-MANIFEST-MISMATCH", rel),
                           ("BAGIT-INFO-OXUM-MISMATCH", "bag-info.txt")}
        assert sub.files == ()


def test_an_identifier_that_cannot_load_is_a_not_checked_finding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> FormatIdentifier:
        raise FormatIdentificationError("fido could not load its signature files: test")

    monkeypatch.setattr(sip.validate, "FormatIdentifier", broken)
    monkeypatch.setattr(sip.content, "FormatIdentifier", broken)
    bag = make_sample_transfer(tmp_path / "bag")
    with open_sip(bag, tmp_path / "work") as sub:
        unavailable = [f for f in sub.report.findings if f.code == "FMT-IDENTIFIER-UNAVAILABLE"]
        assert len(unavailable) == 1
        assert unavailable[0].severity is Severity.NOT_CHECKED
        assert unavailable[0].location.path is None
        assert sub.formats == {}
        # the other checks still ran and the package is still judged: not-checked is no error
        assert "VIRUS-NOT-CHECKED" in sub.report.codes()
        assert sub.valid, [f.code for f in sub.report.errors]


def test_cli_validate_exit_codes_and_json(tmp_path: Path) -> None:
    bag = make_sample_transfer(tmp_path / "bag")
    code, out = run("--home", str(tmp_path / "nohome"), "sip", "validate", str(bag), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["ok"] is True and data["kind"] == "bagit"

    (bag / "bagit.txt").write_text("BagIt-Version: 9.9\nTag-File-Character-Encoding: UTF-8\n")
    code, out = run("--home", str(tmp_path / "nohome"), "sip", "validate", str(bag), "--json")
    assert code == 1, out
    data = json.loads(out)
    assert data["ok"] is False
    finding = next(f for f in data["findings"] if f["severity"] == "error")
    assert {"code", "severity", "location", "message"} <= set(finding)
    assert finding["location"]["path"]

    code, out = run("sip", "validate", str(tmp_path / "missing"), "--json")
    assert code == 2, out


def test_cli_validate_speaks_vietnamese(tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    code, out = run("--home", str(tmp_path / "nohome"), "sip", "validate", str(folder),
                    "--lang", "vi")
    assert code == 1
    assert "KHÔNG HỢP LỆ" in out and "SIP-KIND-UNKNOWN" in out


def test_profile_on_a_non_bag_is_a_warning_not_silence(tmp_path: Path) -> None:
    from sip.bagit_profile import load_profile

    profile_path = tmp_path / "profile.json"
    profile_path.write_text(json.dumps({
        "BagIt-Profile-Info": {
            "BagIt-Profile-Identifier": "https://example.org/profile.json",
            "BagIt-Profile-Version": "1.3.0", "Source-Organization": "Example",
            "External-Description": "test", "Version": "1"},
        "Accept-BagIt-Version": ["1.0"],
    }))
    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    options = ValidationOptions(check_content=False, profile=load_profile(profile_path))
    with open_sip(folder, tmp_path / "work", options) as sub:
        assert "SIP-PROFILE-NOT-APPLICABLE" in sub.report.codes()


def test_eark_corpus_valid_sip_is_accepted(shared_dir: Path, tmp_path: Path) -> None:
    corpus = shared_dir / "corpora" / "eark-dev"
    rows = [line.split("\t") for line in
            (corpus / "expected.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    valid = [r[0] for r in rows if r[1] == "valid" and "/SIP/" in r[0]]
    assert valid
    package = tmp_path / "pkg"
    shutil.copytree(corpus / valid[0], package)
    # the ../shared copy of the corpus had its text files' line endings converted (see
    # tests/sip/test_eark_corpus.py): strict by default, accepted when the archive says so
    with open_sip(package, tmp_path / "work", NO_CONTENT) as sub:
        assert sub.kind_label == "eark"
        assert "EARK-LINE-ENDINGS-CHANGED" in {f.code for f in sub.report.errors}
    tolerant = ValidationOptions(check_content=False, tolerate_line_endings=True)
    with open_sip(package, tmp_path / "work", tolerant) as sub:
        assert sub.valid, [(f.code, str(f.location)) for f in sub.report.errors]
        assert any(f.role.value == "content" for f in sub.files)


def test_a_bag_wrapping_an_eark_package_is_checked_as_both(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    build_package(bag, objid="uuid-0001", folder="pkg")
    bagit.make_bag(str(bag), checksums=["sha256"])
    with open_sip(bag, tmp_path / "work") as sub:
        assert sub.valid, [(f.code, str(f.location)) for f in sub.report.errors]
        assert sub.kind_label == "bagit+eark"
        content = [f for f in sub.files if f.role.value == "content"]
        assert [f.path for f in content] == ["data/pkg/representations/rep1/data/report.txt"]
        assert content[0].original_name == "report.txt"
        assert set(sub.formats) == {content[0].path}
        assert any(f.path == "data/pkg/METS.xml" and f.role.value == "metadata"
                   for f in sub.files)
    # a wrong checksum inside the wrapped package is found although the bag itself is valid
    (bag / "data/pkg/representations/rep1/data/report.txt").write_bytes(b"The annual repor!\n")
    # the bag's own manifest is stale now too: re-bag the payload to isolate the METS check
    rebuilt = tmp_path / "bag2"
    shutil.copytree(bag / "data", rebuilt)
    bagit.make_bag(str(rebuilt), checksums=["sha256"])
    with open_sip(rebuilt, tmp_path / "work", NO_CONTENT) as sub:
        assert not sub.valid
        assert "CSIP71-CHECKSUM-MISMATCH" in sub.report.codes()
        assert not any(c.startswith("BAGIT-") for c in {f.code for f in sub.report.errors})


@pytest.mark.parametrize("as_zip", [False, True])
def test_nothing_is_written_into_the_producers_package(tmp_path: Path, as_zip: bool) -> None:
    from tests.helpers import tree_digest

    bag = make_sample_transfer(tmp_path / "bag")
    subject = zip_folder(bag, tmp_path / "bag.zip") if as_zip else bag
    before = tree_digest(bag), subject.read_bytes() if as_zip else b""
    with open_sip(subject, tmp_path / "work") as sub:
        assert sub.valid
    assert (tree_digest(bag), subject.read_bytes() if as_zip else b"") == before


def test_findings_inside_a_wrapped_package_are_located_from_the_bag(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    build_package(bag, objid="uuid-0001", folder="pkg")
    (bag / "pkg/documentation/extra.txt").write_text("not in the METS\n")
    bagit.make_bag(str(bag), checksums=["sha256"])
    with open_sip(bag, tmp_path / "work", NO_CONTENT) as sub:
        assert not sub.valid
        orphan = next(f for f in sub.report.errors if f.code == "EARK-FILE-ORPHAN")
        assert orphan.location.path == "data/pkg/documentation/extra.txt"
        assert all((f.location.path or "").startswith(("data/", "bag")) or
                   f.location.path is None for f in sub.report.findings)


def test_a_bag_whose_payload_is_the_package_itself_is_named_after_the_bag(
        tmp_path: Path) -> None:
    folder = build_package(tmp_path, objid="uuid-0001")  # tmp_path/uuid-0001
    bagit.make_bag(str(folder), checksums=["sha256"])  # its files move into data/
    with open_sip(folder, tmp_path / "work", NO_CONTENT) as sub:
        assert sub.valid, [(f.code, str(f.location)) for f in sub.report.findings]
        assert sub.kind_label == "bagit+eark"
        assert "CSIP1-OBJID-NOT-FOLDER-NAME" not in sub.report.codes()


def test_files_beside_the_records_are_virus_scanned_too(tmp_path: Path) -> None:
    """Documentation, metadata and schemas are not records (their format is not judged), but
    a virus in them must not reach the archive."""
    from tests.sip.eark_fixtures import FILES
    from tests.sip.pdf_fixtures import EICAR, ClamdStandIn

    files = dict(FILES)
    files["documentation/setup.txt"] = EICAR
    package = build_package(tmp_path / "in", objid="uuid-0001", files=files)
    socket_dir = tmp_path / "s"
    socket_dir.mkdir()
    with ClamdStandIn(socket_dir) as clamd:
        options = ValidationOptions(clamd=clamd.address)
        with open_sip(package, tmp_path / "work", options) as sub:
            virus = [f for f in sub.report.errors if f.code == "VIRUS-FOUND"]
            assert [f.location.path for f in virus] == ["documentation/setup.txt"]
            scanned = next(f for f in sub.report.findings if f.code == "VIRUS-SCANNED")
            assert int(scanned.params["count"]) == len(files) + 1  # + METS.xml
            assert "documentation/setup.txt" not in sub.formats


def test_a_broken_bag_and_a_broken_inner_package_are_reported_together(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    build_package(bag, objid="uuid-0001", folder="pkg")
    bagit.make_bag(str(bag), checksums=["sha256"])
    (bag / "data/pkg/representations/rep1/data/report.txt").write_bytes(b"changed!\n")
    with open_sip(bag, tmp_path / "work", NO_CONTENT) as sub:
        codes = sub.report.codes()
        assert any(c.startswith("BAGIT-") for c in codes)  # the bag's manifest disagrees
        assert "CSIP71-CHECKSUM-MISMATCH" in codes  # and so does the METS inside
        assert sub.files == ()


def test_a_tt05_package_is_detected_once_and_its_xml_parsed_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = parse_bytes

    def counting(data: bytes, **kwargs: Any) -> Any:
        parsed.append(str(kwargs.get("source")))
        return real(data, **kwargs)

    detected: list[Path] = []
    real_detect = looks_like_tt05

    def detect(tree: PackageTree) -> PackageKind | None:
        detected.append(tree.root)
        return real_detect(tree)

    real_streamed = sip.xmlload.read_streamed

    def streaming(data: bytes, **kwargs: Any) -> Any:  # a METS file, read as a stream
        parsed.append(str(kwargs.get("source")))
        return real_streamed(data, **kwargs)

    monkeypatch.setattr(sip.xmlload, "parse_bytes", counting)
    monkeypatch.setattr(sip.xmlload, "read_streamed", streaming)
    monkeypatch.setattr(sip.validate, "looks_like_tt05", detect)
    monkeypatch.setattr(sip.tt05, "looks_like_tt05", detect)
    package = tt05_build(tmp_path / "in", PackageKind.HOSO)
    with open_sip(package, tmp_path / "work", NO_CONTENT) as sub:
        assert sub.valid, [f.code for f in sub.report.errors]
        assert sub.kind_label == "tt05-hoso"
    assert len(detected) == 1
    assert parsed.count("metadata/descriptive/EAD.xml") == 1
    assert parsed.count("METS.xml") == 1
    assert len(parsed) == len(set(parsed))  # no package XML file is parsed twice
