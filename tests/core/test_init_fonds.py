"""``init --default-fonds CODE [--fonds-name NAME]``: the default fonds in the configuration and,
with a name, registered (catalog and every location), so the first ingest needs no ``--fonds``."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aip.ingest import ingest
from preservation.cli import main
from preservation.config import CONFIG_NAME
from preservation.errors import UsageError
from preservation.fonds import FondsInvalidError, read_fonds
from preservation.repository import Repository, init_repository
from preservation.storage import open_location
from sip.samples import make_sample_transfer

NAME = "Phông Ủy ban nhân dân tỉnh Nghệ An"


def _repository_table(home: Path) -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads(
        (home / CONFIG_NAME).read_text(encoding="utf-8"))["repository"]
    return table


def test_init_registers_the_default_fonds_and_an_ingest_needs_no_fonds(tmp_path: Path) -> None:
    home = tmp_path / "archive"
    config = init_repository(home, name="Lưu trữ lịch sử tỉnh", default_fonds="H41",
                             fonds_name=NAME)
    assert config.default_fonds == "H41"
    assert _repository_table(home)["default_fonds"] == "H41"
    with Repository.open(home) as repo:
        fonds = repo.catalog.fonds("H41")
        assert fonds is not None and fonds.name == NAME and fonds.status == "open"
        for loc in repo.config.storage:  # on storage too: a rebuilt catalog finds it
            backend = open_location(loc.url, **loc.options)
            try:
                assert [(r.code, r.name) for r in read_fonds(backend)] == [("H41", NAME)]
            finally:
                backend.close()
        result = ingest(repo.config, make_sample_transfer(tmp_path / "transfer"),
                        identity=repo.identity(), catalog=repo.catalog)
        assert result.fonds_code == "H41"


def test_init_with_a_code_only_names_it_without_registering(tmp_path: Path) -> None:
    home = tmp_path / "archive"
    init_repository(home, name="Archive", default_fonds="H41")
    assert _repository_table(home)["default_fonds"] == "H41"
    with Repository.open(home) as repo:
        assert repo.catalog.fonds_list() == []


def test_init_without_a_fonds_writes_an_empty_default(tmp_path: Path) -> None:
    home = tmp_path / "archive"
    config = init_repository(home, name="Archive")
    assert config.default_fonds == "" and _repository_table(home)["default_fonds"] == ""


@pytest.mark.parametrize("name", ["", NAME])
def test_a_bad_fonds_code_is_refused_before_anything_is_written(tmp_path: Path,
                                                                name: str) -> None:
    home = tmp_path / "archive"
    with pytest.raises(FondsInvalidError) as caught:
        init_repository(home, name="Archive", default_fonds="H 41/ư", fonds_name=name)
    assert caught.value.code == "FONDS-INVALID"
    assert "FONDS-CODE-INVALID" in caught.value.report.codes()
    assert not home.exists()


def test_a_bad_fonds_name_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    home = tmp_path / "archive"
    with pytest.raises(FondsInvalidError) as caught:
        init_repository(home, name="Archive", default_fonds="H41", fonds_name="x" * 600)
    assert "FONDS-NAME-TOO-LONG" in caught.value.report.codes()
    assert not home.exists()


def test_a_fonds_name_needs_a_code(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        init_repository(tmp_path / "archive", name="Archive", fonds_name=NAME)
    assert caught.value.code == "REPO-FONDS-NAME-WITHOUT-CODE"
    assert not (tmp_path / "archive").exists()


def _cli(home: Path, *args: str, code: int = 0) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["--home", str(home), *args, "--json"],
                                catch_exceptions=False)
    assert result.exit_code == code, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_cli_init_default_fonds(tmp_path: Path) -> None:
    home = tmp_path / "archive"
    out = _cli(home, "init", "--default-fonds", "H41", "--fonds-name", NAME)
    assert (out["default_fonds"], out["fonds_registered"]) == ("H41", True)
    assert _cli(home, "fonds", "show", "H41")["fonds"]["name"] == NAME
    other = _cli(tmp_path / "other", "init", "--default-fonds", "H41")
    assert (other["default_fonds"], other["fonds_registered"]) == ("H41", False)
    refused = _cli(tmp_path / "third", "init", "--fonds-name", NAME, code=2)
    assert refused["error"]["code"] == "REPO-FONDS-NAME-WITHOUT-CODE"


def test_an_init_whose_fonds_record_fails_can_be_run_again(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """A location refusing the fonds record (FONDS-PUBLISH-FAILED) leaves no keys, catalog or
    storage folders behind (SIGN-EXISTS would refuse the next init), and nothing that was
    there before is removed."""
    import preservation.fonds as fonds_module
    from preservation.fonds_record import FondsPublishError

    def refuse(*args: object, **kwargs: object) -> str:
        raise FondsPublishError("FONDS-PUBLISH-FAILED", location="copy1", fonds="H41",
                                store="copy1", error="disk full")

    home = tmp_path / "archive"
    home.mkdir()
    (home / "notes.txt").write_text("already here", encoding="utf-8")
    monkeypatch.setattr(fonds_module, "publish_fonds", refuse)
    with pytest.raises(FondsPublishError) as caught:
        init_repository(home, name="Archive", default_fonds="H41", fonds_name=NAME)
    assert caught.value.code == "FONDS-PUBLISH-FAILED"
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]
    monkeypatch.undo()
    config = init_repository(home, name="Archive", default_fonds="H41", fonds_name=NAME)
    assert config.default_fonds == "H41"
    with Repository.open(home) as repo:
        assert repo.catalog.fonds("H41") is not None
