"""``preservation fonds add|update|close|list|show``, in text and --json, English and Vietnamese."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from preservation.catalog import AipRecord
from preservation.cli import main
from preservation.fonds import read_fonds
from preservation.repository import Repository
from preservation.storage import open_location

NAME = "Ủy ban nhân dân tỉnh Nghệ An"


def run(home: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def cli(home: Path, *args: str, code: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run(home, *args, "--json", code=code).stdout)
    return data


def aip(aip_id: str, version: int = 1, package: str = "", fonds: str = "H41") -> AipRecord:
    return AipRecord(aip_id, version, f"Hồ sơ {aip_id}", f"2026-11-2{version}T10:00:00+07:00",
                     "tt05", "SIP_hoso", 2, 100, "ab" * 32, "CN=x", "Lưu trữ tỉnh",
                     package_id=package, fonds_code=fonds, objid=f"urn:{fonds}:uuid-{aip_id}")


def test_add_list_show(home: Path) -> None:
    added = cli(home, "fonds", "add", "H41", "--name", NAME, "--start-date", "1976",
                "--language", "01", "--language", "02", "--history", "Thành lập năm 1976.")
    assert added["ok"] is True and added["locations"] == 2
    assert added["fonds"]["language"] == "06" and added["fonds"]["status"] == "open"
    cli(home, "fonds", "add", "A-2", "--name", "Sở Nội vụ", "--status", "closed",
        "--end-date", "2025")

    with Repository.open(home) as repo:  # both copies hold the record, for a rebuild
        for loc in repo.config.storage:
            codes = [r.code for r in read_fonds(open_location(loc.url))]
            assert codes == ["A-2", "H41"]
        repo.catalog.register_aip(aip("p1"), [], [], [])
        repo.catalog.register_aip(aip("p2", 2, package="p1"), [], [], [])
        repo.catalog.register_aip(aip("old", fonds=""), [], [], [])

    listed = cli(home, "fonds", "list")
    assert [(f["code"], f["status"], f["counts"]["aips"]) for f in listed["fonds"]] == [
        ("A-2", "closed", 0), ("H41", "open", 2)]
    assert listed["unassigned"]["aips"] == 1

    shown = cli(home, "fonds", "show", "H41")
    assert shown["fonds"]["name"] == NAME
    assert shown["fonds"]["counts"] == {"aips": 2, "packages": 1, "files": 4, "bytes": 200}
    assert [(a["id"], a["version"], a["package_id"]) for a in shown["aips"]] == [
        ("p1", 1, "p1"), ("p2", 2, "p1")]

    text = run(home, "fonds", "show", "H41").stdout
    assert NAME in text and "p2" in text
    assert "H41" in run(home, "fonds", "list").stdout
    assert "trạng thái: mở" in run(home, "--lang", "vi", "fonds", "show", "H41").stdout


def test_update_and_close(home: Path) -> None:
    first = cli(home, "fonds", "add", "H41", "--name", NAME)["fonds"]
    updated = cli(home, "fonds", "update", "H41", "--name", "UBND tỉnh Nghệ An",
                  "--language", "09")["fonds"]
    assert (updated["name"], updated["language"], updated["status"]) == (
        "UBND tỉnh Nghệ An", "09", "open")
    assert updated["created"] == first["created"]
    closed = cli(home, "fonds", "close", "H41", "--end-date", "30/06/2025")
    assert closed["fonds"]["status"] == "closed" and closed["fonds"]["end_date"] == "30/06/2025"
    assert cli(home, "fonds", "show", "H41")["fonds"]["status"] == "closed"
    with Repository.open(home) as repo:
        backend = open_location(repo.config.storage[0].url)
        assert len(list(backend.list("fonds/H41/"))) == 3  # write-once: one object per change
        [latest] = read_fonds(backend)
        assert latest.status == "closed" and latest.name == "UBND tỉnh Nghệ An"


def test_errors_have_codes_and_exit_2(home: Path) -> None:
    cli(home, "fonds", "add", "H41", "--name", NAME)
    duplicate = cli(home, "fonds", "add", "H41", "--name", "x", code=2)
    assert duplicate["error"]["code"] == "FONDS-EXISTS"
    assert cli(home, "fonds", "show", "NOPE", code=2)["error"]["code"] == "FONDS-UNKNOWN"
    assert cli(home, "fonds", "update", "NOPE", "--name", "x",
               code=2)["error"]["code"] == "FONDS-UNKNOWN"

    invalid = cli(home, "fonds", "add", "H 41", "--name", " ", "--start-date", "2030",
                  "--end-date", "2020", "--language", "12", code=2)
    assert invalid["ok"] is False
    assert {f["code"] for f in invalid["report"]["findings"]} == {
        "FONDS-CODE-INVALID", "FONDS-NAME-EMPTY", "FONDS-DATES-REVERSED",
        "FONDS-LANGUAGE-INVALID"}
    assert cli(home, "fonds", "list")["fonds"][0]["name"] == NAME  # nothing else registered

    vi = run(home, "--lang", "vi", "fonds", "add", "H41", "--name", "x", code=2)
    assert "FONDS-EXISTS" in vi.stderr and "đã được đăng ký" in vi.stderr
    vi_invalid = run(home, "--lang", "vi", "fonds", "add", "H41", "--name", "x",
                     "--start-date", "32/01/2020", code=2)
    assert "FONDS-DATE-INVALID" in vi_invalid.stdout and "ngày tháng" in vi_invalid.stdout


def test_an_empty_registry(home: Path) -> None:
    assert cli(home, "fonds", "list") == {
        "ok": True, "fonds": [], "unassigned": {"aips": 0, "packages": 0, "files": 0,
                                                "bytes": 0}}
    assert "No fonds" in run(home, "fonds", "list").stdout
