"""Catalog rebuild of a tampered copy: each damage to a stored AIP is named by its code and place.

An AIP is ingested into a test repository (two folder locations, copy1 and copy2), its stored
objects are then damaged — a file deleted, bytes changed, a manifest or bag-info.txt rewritten and
re-signed by someone holding the key — and the catalog is rebuilt from storage alone. Damage to
both copies leaves the AIP unregistered with every finding of every copy; damage to one copy only
registers the AIP from the other, records the damaged copy as failed and reports each of its
findings with its place (as warnings), then REBUILD-COPY-INCOMPLETE as the copy's summary.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from aip.ingest import IngestResult, ingest
from aip.rebuild import RebuildResult, rebuild_catalog
from aip.rebuild_facts import PACKAGE_PREMIS
from preservation.catalog import Catalog
from preservation.findings import Severity
from preservation.fonds import make_fonds, register_fonds
from preservation.manifest import MANIFEST, SIGNATURE, TAGMANIFEST
from preservation.repository import Repository
from preservation.signing import SigningIdentity, sign_detached
from preservation.storage import open_locations
from sip.samples import make_sample_transfer
from tests.aip.stored_aips import (
    BAG_INFO,
    forge_copy,
    forge_payload,
    looping_link,
    without_bag_info_field,
    write_object,
)
from tests.helpers import TEST_FONDS, location_root
from tests.signing.signing_pki import ThrowawayCA

COPIES = (0, 1)
REP_PREMIS = "data/representations/rep1/metadata/preservation/PREMIS_rep1.xml"


@pytest.fixture
def stored(repo: Repository, tmp_path: Path) -> IngestResult:
    """The sample transfer ingested, its fonds registered on storage too."""
    with open_locations(repo.config) as backends:
        register_fonds(repo.catalog, backends, make_fonds(TEST_FONDS, "Phông thử nghiệm"))
    return ingest(repo.config, make_sample_transfer(tmp_path / "transfer"),
                  identity=repo.identity(), catalog=repo.catalog, fonds=TEST_FONDS)


def rebuild(repo: Repository, tmp_path: Path, name: str = "rebuilt") -> RebuildResult:
    with Catalog(tmp_path / f"{name}.sqlite") as rebuilt:
        return rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())


def located(result: RebuildResult) -> set[tuple[str, str]]:
    return {(f.code, str(f.location)) for f in result.report.findings}


def severities(result: RebuildResult, code: str) -> set[Severity]:
    return {f.severity for f in result.report.findings if f.code == code}


def folder(repo: Repository, aip_id: str, index: int) -> Path:
    return location_root(repo.config, index) / aip_id


def content_paths(repo: Repository, aip_id: str) -> list[str]:
    return sorted(f.path for f in repo.catalog.files(aip_id) if f.role == "content")


def assert_skipped(result: RebuildResult, aip_id: str, code: str, path: str | None) -> None:
    """Not registered, for ``code`` alone, found at ``path`` (``None``: the copy) of both."""
    assert [(s.aip_id, s.reasons) for s in result.skipped] == [(aip_id, (code,))]
    for name in ("copy1", "copy2"):
        where = f"{name}:{aip_id}" if path is None else f"{name}:{aip_id}/{path}"
        assert (code, where) in located(result), sorted(located(result))
    assert ("REBUILD-AIP-SKIPPED", aip_id) in located(result)
    assert not result.ok


@pytest.mark.parametrize("lost", ["content", TAGMANIFEST, "bagit.txt"])
def test_a_deleted_object_is_missing_where_it_was(repo: Repository, stored: IngestResult,
                                                  tmp_path: Path, lost: str) -> None:
    path = content_paths(repo, stored.aip_id)[0] if lost == "content" else lost
    for index in COPIES:
        (folder(repo, stored.aip_id, index) / path).unlink()
    assert_skipped(rebuild(repo, tmp_path), stored.aip_id, "REBUILD-OBJECT-MISSING", path)


def test_a_signature_too_large_to_be_one_is_unreadable(repo: Repository, stored: IngestResult,
                                                       tmp_path: Path) -> None:
    for index in COPIES:
        write_object(folder(repo, stored.aip_id, index) / SIGNATURE, bytes(5 * 1024 * 1024))
    assert_skipped(rebuild(repo, tmp_path), stored.aip_id, "REBUILD-COPY-UNREADABLE", None)


def test_an_aip_folder_that_cannot_be_listed_is_unreadable(repo: Repository,
                                                           stored: IngestResult,
                                                           tmp_path: Path) -> None:
    """copy1's folder became a link to itself; copy2 lost its signature: nothing to register."""
    aip_id = stored.aip_id
    looping_link(folder(repo, aip_id, 0))
    (folder(repo, aip_id, 1) / SIGNATURE).unlink()
    result = rebuild(repo, tmp_path)
    assert result.skipped[0].reasons == ("REBUILD-COPY-UNREADABLE", "REBUILD-NO-SIGNATURE")
    assert ("REBUILD-COPY-UNREADABLE", f"copy1:{aip_id}/") in located(result)


def test_a_bag_re_signed_by_a_stranger_is_untrusted(repo: Repository, stored: IngestResult,
                                                    tmp_path: Path) -> None:
    ca = ThrowawayCA.create("Someone else's CA")
    key = ec.generate_private_key(ec.SECP256R1())
    stranger = SigningIdentity(key, ca.issue(key), (ca.certificate,))
    for index in COPIES:
        forge_copy(repo, stored.aip_id, {}, index=index,
                   sign=lambda data: sign_detached(stranger, data))
    result = rebuild(repo, tmp_path)
    assert_skipped(result, stored.aip_id, "REBUILD-SIGNATURE-UNTRUSTED", SIGNATURE)
    [finding] = [f for f in result.report.findings
                 if f.code == "REBUILD-SIGNATURE-UNTRUSTED" and "copy1" in str(f.location)]
    assert "AIP signer" in finding.params["signer"]


def test_a_signed_manifest_with_a_broken_line_is_unreadable(repo: Repository,
                                                             stored: IngestResult,
                                                             tmp_path: Path) -> None:
    for index in COPIES:
        text = (folder(repo, stored.aip_id, index) / MANIFEST).read_bytes()
        forge_copy(repo, stored.aip_id, {MANIFEST: text + b"not a manifest line\n"},
                   index=index)
    assert_skipped(rebuild(repo, tmp_path), stored.aip_id, "REBUILD-MANIFEST-UNREADABLE",
                   MANIFEST)


def test_a_signed_tagmanifest_that_leaves_out_bagit_txt_is_incomplete(
        repo: Repository, stored: IngestResult, tmp_path: Path) -> None:
    for index in COPIES:
        forge_copy(repo, stored.aip_id, {}, index=index, drop=["bagit.txt"])
    result = rebuild(repo, tmp_path)
    assert_skipped(result, stored.aip_id, "REBUILD-TAGMANIFEST-INCOMPLETE", TAGMANIFEST)
    assert {f.params["file"] for f in result.report.findings
            if f.code == "REBUILD-TAGMANIFEST-INCOMPLETE"} == {"bagit.txt"}


def test_a_grown_file_breaks_the_payload_oxum(repo: Repository, stored: IngestResult,
                                              tmp_path: Path) -> None:
    """A folder location keeps no SHA-256: the listing's sizes against bag-info.txt show it."""
    path = content_paths(repo, stored.aip_id)[0]
    for index in COPIES:
        target = folder(repo, stored.aip_id, index) / path
        write_object(target, target.read_bytes() + b"\n")
    assert_skipped(rebuild(repo, tmp_path), stored.aip_id, "REBUILD-PAYLOAD-OXUM-MISMATCH",
                   BAG_INFO)


def test_a_size_premis_contradicts_is_a_size_mismatch(repo: Repository, stored: IngestResult,
                                                      tmp_path: Path) -> None:
    """PREMIS (re-signed) gives a content file another size of as many digits."""
    path = content_paths(repo, stored.aip_id)[0]
    size = (folder(repo, stored.aip_id, 0) / path).stat().st_size
    other = size + 1 if size % 10 != 9 else size - 1  # as many digits: the same Oxum
    tag = f"<premis:size>{size}</premis:size>".encode()
    for index in COPIES:
        [(document, premis)] = [  # the representation's PREMIS describes its files
            (rel, data) for rel in (PACKAGE_PREMIS, REP_PREMIS)
            if tag in (data := (folder(repo, stored.aip_id, index) / rel).read_bytes())]
        forged = premis.replace(tag, f"<premis:size>{other}</premis:size>".encode())
        forge_payload(repo, stored.aip_id, {document: forged}, index=index)
    result = rebuild(repo, tmp_path)
    assert result.skipped[0].reasons == ("REBUILD-SIZE-MISMATCH",)
    assert ("REBUILD-SIZE-MISMATCH", f"copy1:{stored.aip_id}/{path}") in located(result)


def test_a_shared_object_of_an_earlier_version_that_changed_size(
        repo: Repository, stored: IngestResult, tmp_path: Path) -> None:
    """Version 2 holds unchanged files as fetch.txt entries naming version 1's objects."""
    v2 = ingest(repo.config, make_sample_transfer(tmp_path / "again"), identity=repo.identity(),
                catalog=repo.catalog, supplement=stored.aip_id)
    shared = [f for f in repo.catalog.files(v2.aip_id) if f.stored_key]
    assert shared, "version 2 reuses the objects of version 1"
    key = shared[0].stored_key
    assert key is not None and key.startswith(f"{stored.aip_id}/")
    for index in COPIES:
        target = location_root(repo.config, index) / key
        write_object(target, target.read_bytes()[:-1])
    result = rebuild(repo, tmp_path)
    assert {s.aip_id for s in result.skipped} == {stored.aip_id, v2.aip_id}
    assert ("REBUILD-SIZE-MISMATCH", f"copy1:{key}") in located(result)
    assert ("REBUILD-SIZE-MISMATCH", f"copy2:{key}") in located(result)


def test_a_stray_object_under_the_prefix_is_reported_not_registered(
        repo: Repository, stored: IngestResult, tmp_path: Path) -> None:
    (folder(repo, stored.aip_id, 0) / "data" / "intruder.bin").write_bytes(b"x")
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        result = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        paths = {f.path for f in rebuilt.files(stored.aip_id)}
    assert result.registered == [stored.aip_id] and result.ok
    assert ("REBUILD-UNEXPECTED-OBJECT", f"copy1:{stored.aip_id}/data/intruder.bin") \
        in located(result)
    assert "data/intruder.bin" not in paths


def test_a_bag_info_without_an_expected_field_is_a_warning(repo: Repository,
                                                           stored: IngestResult,
                                                           tmp_path: Path) -> None:
    for index in COPIES:
        forged = without_bag_info_field(repo, stored.aip_id, "Internal-Sender-Identifier",
                                        index)
        forge_copy(repo, stored.aip_id, {BAG_INFO: forged}, index=index)
    result = rebuild(repo, tmp_path)
    assert result.registered == [stored.aip_id]
    [finding] = [f for f in result.report.findings
                 if f.code == "REBUILD-BAG-INFO-FIELD-MISSING"]
    assert str(finding.location) == f"copy1:{stored.aip_id}/{BAG_INFO}"
    assert finding.params["field"] == "Internal-Sender-Identifier"


def test_an_aip_without_its_premis_cannot_be_described(repo: Repository,
                                                       stored: IngestResult,
                                                       tmp_path: Path) -> None:
    for index in COPIES:
        forge_payload(repo, stored.aip_id, {PACKAGE_PREMIS: None}, index=index)
    assert_skipped(rebuild(repo, tmp_path), stored.aip_id, "REBUILD-METADATA-MISSING",
                   PACKAGE_PREMIS)


def test_a_premis_that_is_not_xml_is_unreadable(repo: Repository, stored: IngestResult,
                                                tmp_path: Path) -> None:
    for index in COPIES:
        size = (folder(repo, stored.aip_id, index) / PACKAGE_PREMIS).stat().st_size
        forge_payload(repo, stored.aip_id, {PACKAGE_PREMIS: b"<" * size}, index=index)
    assert_skipped(rebuild(repo, tmp_path), stored.aip_id, "REBUILD-METADATA-UNREADABLE",
                   PACKAGE_PREMIS)


def test_a_second_copy_that_is_another_bag_differs(repo: Repository, stored: IngestResult,
                                                   tmp_path: Path) -> None:
    """copy2 is complete and signed, but its tagmanifest is not copy1's."""
    forge_copy(repo, stored.aip_id, {"extra-info.txt": b"Note: re-signed\n"}, index=1)
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        result = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        copies = {c.location: c.status for c in rebuilt.copies(stored.aip_id)}
    assert result.registered == [stored.aip_id]
    assert copies == {"copy1": "ok", "copy2": "failed"}
    [incomplete] = [f for f in result.report.findings if f.code == "REBUILD-COPY-INCOMPLETE"]
    assert str(incomplete.location) == f"copy2:{stored.aip_id}"
    assert incomplete.params["problems"] == "REBUILD-COPY-DIFFERS"
    assert ("REBUILD-COPY-DIFFERS", f"copy2:{stored.aip_id}") in located(result)
    assert result.ok  # registered from copy1; copy2's findings are warnings


def test_a_second_copy_whose_sizes_moved_within_the_oxum(repo: Repository,
                                                         stored: IngestResult,
                                                         tmp_path: Path) -> None:
    """One byte moved from one file of copy2 to another: the Payload-Oxum still holds, the
    comparison with copy1 file by file does not."""
    first, second = content_paths(repo, stored.aip_id)[:2]
    shorter = folder(repo, stored.aip_id, 1) / first
    longer = folder(repo, stored.aip_id, 1) / second
    write_object(shorter, shorter.read_bytes()[:-1])
    write_object(longer, longer.read_bytes() + b"\n")
    result = rebuild(repo, tmp_path)
    assert result.registered == [stored.aip_id]
    [incomplete] = [f for f in result.report.findings if f.code == "REBUILD-COPY-INCOMPLETE"]
    assert str(incomplete.location) == f"copy2:{stored.aip_id}"
    assert incomplete.params["problems"] == "REBUILD-SIZE-MISMATCH"
    mismatches = {(str(f.location), f.params["expected"], f.params["actual"])
                  for f in result.report.findings if f.code == "REBUILD-SIZE-MISMATCH"}
    size1 = (folder(repo, stored.aip_id, 0) / first).stat().st_size
    size2 = (folder(repo, stored.aip_id, 0) / second).stat().st_size
    assert mismatches == {(f"copy2:{stored.aip_id}/{first}", str(size1), str(size1 - 1)),
                          (f"copy2:{stored.aip_id}/{second}", str(size2), str(size2 + 1))}
    assert severities(result, "REBUILD-SIZE-MISMATCH") == {Severity.WARNING}


def test_an_aip_left_on_one_location_has_too_few_copies(repo: Repository,
                                                        stored: IngestResult,
                                                        tmp_path: Path) -> None:
    shutil.rmtree(folder(repo, stored.aip_id, 1))
    result = rebuild(repo, tmp_path)
    assert result.registered == [stored.aip_id]
    [finding] = [f for f in result.report.findings if f.code == "REBUILD-TOO-FEW-COPIES"]
    assert str(finding.location) == stored.aip_id
    assert (finding.params["copies"], finding.params["required"]) == ("1", "2")


def test_the_own_findings_of_a_damaged_second_copy_are_reported(repo: Repository,
                                                                stored: IngestResult,
                                                                tmp_path: Path) -> None:
    path = content_paths(repo, stored.aip_id)[0]
    (folder(repo, stored.aip_id, 1) / path).unlink()
    differs = rebuild(repo, tmp_path, "first")
    assert ("REBUILD-OBJECT-MISSING", f"copy2:{stored.aip_id}/{path}") in located(differs)
    forge_copy(repo, stored.aip_id, {"extra-info.txt": b"Note: re-signed\n"}, index=1)
    write_object(folder(repo, stored.aip_id, 1) / path,
                 (folder(repo, stored.aip_id, 0) / path).read_bytes())
    result = rebuild(repo, tmp_path, "second")
    [finding] = [f for f in result.report.findings if f.code == "REBUILD-COPY-DIFFERS"]
    assert str(finding.location) == f"copy2:{stored.aip_id}"
    assert finding.params["reference"] == "copy1"
    assert severities(result, "REBUILD-COPY-DIFFERS") == {Severity.WARNING}
    [missing] = [f for f in differs.report.findings if f.code == "REBUILD-OBJECT-MISSING"]
    assert missing.params["file"] == path and missing.severity is Severity.WARNING
    assert differs.registered == [stored.aip_id] and differs.ok


def test_a_stray_object_on_the_second_copy_is_reported_too(repo: Repository,
                                                           stored: IngestResult,
                                                           tmp_path: Path) -> None:
    """copy2 is complete (a warning leaves it so); its warning is reported as copy1's would."""
    (folder(repo, stored.aip_id, 1) / "data" / "intruder.bin").write_bytes(b"x")
    with Catalog(tmp_path / "rebuilt.sqlite") as rebuilt:
        result = rebuild_catalog(repo.config, rebuilt, repo.trust_anchors())
        copies = {c.location: c.status for c in rebuilt.copies(stored.aip_id)}
    assert result.registered == [stored.aip_id] and result.ok
    assert copies == {"copy1": "ok", "copy2": "ok"}
    assert ("REBUILD-UNEXPECTED-OBJECT", f"copy2:{stored.aip_id}/data/intruder.bin") \
        in located(result)
    assert "REBUILD-COPY-INCOMPLETE" not in result.report.codes()


def test_the_same_stray_object_on_both_copies_is_reported_on_each(
        repo: Repository, stored: IngestResult, tmp_path: Path) -> None:
    for index in COPIES:
        (folder(repo, stored.aip_id, index) / "data" / "intruder.bin").write_bytes(b"x")
    result = rebuild(repo, tmp_path)
    assert result.registered == [stored.aip_id] and result.ok
    assert {where for code, where in located(result) if code == "REBUILD-UNEXPECTED-OBJECT"} \
        == {f"{name}:{stored.aip_id}/data/intruder.bin" for name in ("copy1", "copy2")}


def test_a_second_copy_without_its_signature_is_reported_where_it_is(
        repo: Repository, stored: IngestResult, tmp_path: Path) -> None:
    """A copy left unsigned (an interrupted repair): its own finding and the summary."""
    (folder(repo, stored.aip_id, 1) / SIGNATURE).unlink()
    result = rebuild(repo, tmp_path)
    assert result.registered == [stored.aip_id]
    codes = [(f.code, str(f.location), f.severity) for f in result.report.findings
             if str(f.location).startswith("copy2:")]
    assert codes == [
        ("REBUILD-NO-SIGNATURE", f"copy2:{stored.aip_id}/{SIGNATURE}", Severity.WARNING),
        ("REBUILD-COPY-INCOMPLETE", f"copy2:{stored.aip_id}", Severity.WARNING)]
