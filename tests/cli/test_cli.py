"""The command line end to end, with --json, on the embedded default and with an S3 copy."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from preservation.cli import main
from preservation.findings import catalogue
from preservation.repository import Repository
from sip.samples import make_sample_transfer, sample_files
from tests.helpers import tree_digest
from tests.s3server import SeaweedFS


def cli(home: Path, *args: str, code: int = 0) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_whole_path_on_the_embedded_default(tmp_path: Path) -> None:
    home = tmp_path / "archive"
    init = cli(home, "init", "--json")
    assert init["test_identity"] is True and len(init["storage"]) == 2

    transfer = make_sample_transfer(tmp_path / "Chuyển giao 2026")
    before = tree_digest(transfer)
    refused = cli(home, "ingest", str(transfer), "--json", code=1)  # no fonds: nothing done
    assert [f["code"] for f in refused["report"]["findings"]] == ["INGEST-FONDS-REQUIRED"]
    cli(home, "fonds", "add", "H41", "--name", "Văn phòng UBND tỉnh", "--json")
    ingested = cli(home, "ingest", str(transfer), "--fonds", "H41", "--json")
    aip_id = ingested["aip_id"]
    assert (ingested["fonds"], ingested["version"], ingested["record_status"]) == \
        ("H41", 1, "NEW")
    assert [c["location"] for c in ingested["copies"]] == ["copy1", "copy2"]
    assert tree_digest(transfer) == before

    assert cli(home, "audit", "--all", "--json")["ok"] is True

    listed = cli(home, "aip", "list", "--json")
    assert [a["id"] for a in listed["aips"]] == [aip_id]
    shown = cli(home, "aip", "show", aip_id, "--json")
    names = {f["original_name"] for f in shown["files"] if f["role"] == "content"}
    assert names == set(sample_files())

    # one corrupted byte in one copy: exit 1, the copy and the file are named
    record = next(f for f in shown["files"] if f["role"] == "content")
    target = home / "storage" / "copy2" / aip_id / record["path"]
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    failed = cli(home, "audit", aip_id, "--json", code=1)
    assert failed["failed_copies"] == [f"{aip_id}@copy2"]
    [finding] = failed["aips"][0]["copies"][1]["findings"]
    assert finding["code"] == "AUDIT-CHECKSUM-MISMATCH"
    assert finding["location"]["path"] == f"copy2:{record['path']}"

    out = tmp_path / "bản sao"
    dip = cli(home, "dip", "create", aip_id, "-o", str(out), "--archivist", "Lê Thị Đọc",
              "--json")
    assert dip["source_copy"] == "copy1"
    with Repository.open(home) as repo:
        [event] = [e for e in repo.catalog.events(aip_id) if e.type == "dissemination"]
        assert event.outcome == "success" and dip["dip_id"] in event.detail
    for name, content in sample_files().items():
        assert (out / "representations/rep1/data" / name).read_bytes() == content


def test_vietnamese_messages(tmp_path: Path) -> None:
    home = tmp_path / "archive"
    cli(home, "init", "--json")
    missing = CliRunner().invoke(main, ["--home", str(home), "--lang", "vi", "audit", "--all",
                                        "--json"])
    assert missing.exit_code == 0  # nothing to audit is not a failure
    transfer = make_sample_transfer(tmp_path / "t")
    (transfer / "data" / "Mục lục hồ sơ.csv").write_bytes(b"changed")
    rejected = CliRunner().invoke(main, ["--home", str(home), "--lang", "vi", "ingest",
                                         str(transfer), "--json"])
    assert rejected.exit_code == 1
    report = json.loads(rejected.stdout)["report"]
    assert "BAGIT-MANIFEST-MISMATCH" in {f["code"] for f in report["findings"]}
    messages = [f["message"] for f in report["findings"]]
    assert messages and all(unicodedata.is_normalized("NFC", m) for m in messages)


def test_usage_errors_are_translated_from_the_message_catalogue(tmp_path: Path) -> None:
    """Every coded error reaches --lang vi in Vietnamese, not only those of one command."""
    home = tmp_path / "archive"
    cli(home, "init", "--json")
    cli(home, "fonds", "add", "H41", "--name", "Văn phòng UBND tỉnh", "--json")
    catalog = str(home / "catalog.sqlite")
    assert Path(catalog).is_file()
    for lang in ("en", "vi"):
        refused = cli(home, "--lang", lang, "catalog", "rebuild", "--into", catalog, "--json",
                      code=2)
        assert refused["error"]["code"] == "REBUILD-CATALOG-NOT-EMPTY"
        vietnamese = refused["error"]["message"] == catalogue()["REBUILD-CATALOG-NOT-EMPTY"].vi
        assert vietnamese == (lang == "vi")


def test_versions_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "archive"
    cli(home, "init", "--json")
    cli(home, "fonds", "add", "H41", "--name", "Văn phòng UBND tỉnh", "--json")
    unknown = cli(home, "ingest", str(make_sample_transfer(tmp_path / "t0")), "--fonds", "H99",
                  "--json", code=1)
    assert unknown["report"]["findings"][0]["code"] == "INGEST-FONDS-UNKNOWN"
    v1 = cli(home, "ingest", str(make_sample_transfer(tmp_path / "t1")), "--fonds", "H41",
             "--archivist", "Trần Thị B", "--json")["aip_id"]
    supplement = make_sample_transfer(tmp_path / "t2", title="Bổ sung")
    v2 = cli(home, "ingest", str(supplement), "--supplement", v1, "--json")
    assert (v2["version"], v2["previous_id"], v2["package_id"], v2["fonds"],
            v2["record_status"]) == (2, v1, v1, "H41", "SUPPLEMENT")
    assert all(c["reused"] > 0 for c in v2["copies"])
    both = cli(home, "ingest", str(supplement), "--supplement", v1, "--replace", v1, "--json",
               code=2)
    assert both["error"]["code"] == "INGEST-VERSION-OPTIONS"
    stale = cli(home, "ingest", str(supplement), "--replace", v1, "--json", code=1)
    assert stale["report"]["findings"][0]["code"] == "INGEST-NOT-LATEST-VERSION"
    shown = cli(home, "aip", "show", v1, "--json")
    assert [(v["id"], v["version"], v["latest"]) for v in shown["versions"]] == \
        [(v1, 1, False), (v2["aip_id"], 2, True)]
    listed = cli(home, "aip", "list", "--json")["aips"]
    assert {(a["id"], a["fonds_code"], a["version"]) for a in listed} == \
        {(v1, "H41", 1), (v2["aip_id"], "H41", 2)}
    text = CliRunner().invoke(main, ["--home", str(home), "aip", "show", v2["aip_id"]])
    assert text.exit_code == 0 and "version 2" in text.output and "fonds H41" in text.output


@pytest.mark.parametrize("args", [["audit"], ["audit", "--all", "some-id"]])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    home = tmp_path / "archive"
    cli(home, "init", "--json")
    cli(home, *args, "--json", code=2)


def test_unknown_aip_exits_2(tmp_path: Path) -> None:
    home = tmp_path / "archive"
    cli(home, "init", "--json")
    out = cli(home, "audit", "no-such-aip", "--json", code=2)
    assert out["error"]["code"] == "AUDIT-UNKNOWN-AIP"


def test_unknown_config_key_is_a_configuration_error(tmp_path: Path) -> None:
    home = tmp_path / "archive"
    cli(home, "init", "--json")
    config = home / "preservation.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[catalog]", "[catalog]\nurll = \"typo\""), encoding="utf-8")
    out = cli(home, "aip", "list", "--json", code=2)
    assert out["error"]["code"] == "CONFIG-UNKNOWN-KEY"
    assert "catalog.urll" in out["error"]["message"]


def test_missing_repository_exits_2(tmp_path: Path) -> None:
    out = cli(tmp_path / "nowhere", "aip", "list", "--json", code=2)
    assert out["error"]["code"] == "CONFIG-MISSING"


def test_init_refuses_an_existing_repository(tmp_path: Path) -> None:
    home = tmp_path / "archive"
    cli(home, "init", "--json")
    assert cli(home, "init", "--json", code=2)["error"]["code"] == "REPO-EXISTS"


def test_demo_runs_the_whole_path(tmp_path: Path) -> None:
    out = cli(tmp_path / "archive", "demo", "--json")
    assert out["ok"] is True and out["audit"]["intact"] is True
    assert out["sip_kind"] == "tt05-hoso"
    access = Path(out["access_copy"]) / "representations/rep1/data"
    served = sorted(p.read_bytes() for p in access.iterdir())
    producer = Path(out["transfer"]).parent / "tai-lieu"
    assert served == sorted(p.read_bytes() for p in producer.iterdir())


@pytest.mark.s3
def test_one_copy_on_seaweedfs_s3(tmp_path: Path, seaweedfs: SeaweedFS, s3_url: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path with copy2 on a real S3 server, configured the standard boto3 way."""
    for key, value in seaweedfs.environ().items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "archive"
    local = (tmp_path / "copy1").as_uri()
    init = cli(home, "init", "--location", local, "--location", s3_url, "--json")
    assert init["storage"][1]["url"] == s3_url

    transfer = make_sample_transfer(tmp_path / "transfer")
    cli(home, "fonds", "add", "TEST", "--name", "Phông thử nghiệm", "--json")
    aip_id = cli(home, "ingest", str(transfer), "--fonds", "TEST", "--json")["aip_id"]
    assert cli(home, "audit", "--all", "--json")["ok"] is True

    bucket, _, prefix = s3_url[len("s3://"):].partition("/")
    shown = cli(home, "aip", "show", aip_id, "--json")
    record = next(f for f in shown["files"] if f["role"] == "content")
    key = f"{prefix}/{aip_id}/{record['path']}"
    client = seaweedfs.client()
    stored = client.get_object(Bucket=bucket, Key=key)
    assert stored["Metadata"].get("sha256") == record["sha256"]
    client.put_object(Bucket=bucket, Key=key, Body=b"silently replaced")
    failed = cli(home, "audit", "--all", "--json", code=1)
    assert failed["failed_copies"] == [f"{aip_id}@copy2"]

    out = tmp_path / "dip"
    assert cli(home, "dip", "create", aip_id, "-o", str(out), "--json")["source_copy"] == "copy1"
    for name, content in sample_files().items():
        assert (out / "representations/rep1/data" / name).read_bytes() == content
