"""Configuration: strict, with every problem naming its section and key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from preservation.config import dump_toml, load_config, parse_config
from preservation.errors import ConfigError


def base() -> dict[str, Any]:
    return {
        "repository": {"name": "Archive", "min_copies": 2},
        "catalog": {"url": "sqlite:///catalog.sqlite"},
        "signing": {"certificate": "keys/c.pem", "key": "keys/k.pem"},
        "storage": [{"name": "a", "url": "file:///srv/a"},
                    {"name": "b", "url": "s3://bucket/prefix", "endpoint_url": "http://x",
                     "retention_mode": "COMPLIANCE", "retention_days": 3650}],
    }


def test_a_good_configuration_parses(tmp_path: Path) -> None:
    config = parse_config(base(), tmp_path)
    assert [s.name for s in config.storage] == ["a", "b"]
    assert config.storage[1].options == {"endpoint_url": "http://x",
                                         "retention_mode": "COMPLIANCE", "retention_days": 3650}
    assert config.catalog_path == tmp_path / "catalog.sqlite"
    assert config.signing.certificate == tmp_path / "keys/c.pem"


def test_the_default_fonds_sits_beside_the_archive_code(tmp_path: Path) -> None:
    assert parse_config(base(), tmp_path).default_fonds == ""
    data = base()
    data["repository"].update(archive_code="VN-LTLS", default_fonds="H41.01")
    config = parse_config(data, tmp_path)
    assert (config.archive_code, config.default_fonds) == ("VN-LTLS", "H41.01")
    assert parse_config(tomllib.loads(dump_toml(data)), tmp_path) == config


def test_dump_toml_round_trips(tmp_path: Path) -> None:
    data = base()
    data["repository"]["name"] = 'Chi cục "Văn thư" \\ Lưu trữ'
    assert tomllib.loads(dump_toml(data, {"storage": "two\nlines"})) == data


@pytest.mark.parametrize(("change", "code", "words"), [
    (lambda d: d["catalog"].update(urll="x"), "CONFIG-UNKNOWN-KEY", "catalog.urll"),
    (lambda d: d.update(extra={}), "CONFIG-UNKNOWN-KEY", "extra"),
    (lambda d: d["storage"][0].update(endpoint_url="x"), "CONFIG-UNKNOWN-KEY", "endpoint_url"),
    (lambda d: d.pop("catalog"), "CONFIG-INVALID", "catalog"),
    (lambda d: d["storage"].pop(), "CONFIG-INVALID", "min_copies"),
    (lambda d: d["storage"][1].update(name="a"), "CONFIG-INVALID", "unique"),
    (lambda d: d["storage"][0].update(url="ftp://x"), "CONFIG-INVALID", "scheme"),
    (lambda d: d["storage"][0].update(name="Bad Name"), "CONFIG-INVALID", "name"),
    (lambda d: d["storage"][0].update(name="copy1\n"), "CONFIG-INVALID", "name"),
    (lambda d: d["storage"][0].update(durability="sometimes"), "CONFIG-INVALID",
     "storage[0].durability"),
    (lambda d: d["storage"][0].update(durability=True), "CONFIG-INVALID", "durability"),
    (lambda d: d["storage"][1].update(durability="deferred"), "CONFIG-UNKNOWN-KEY",
     "durability"),
    (lambda d: d["storage"][1].update(retention_mode="FOREVER"), "CONFIG-INVALID", "COMPLIANCE"),
    (lambda d: d["storage"][1].pop("retention_days"), "CONFIG-INVALID", "together"),
    (lambda d: d["repository"].update(min_copies=True), "CONFIG-INVALID", "int"),
    (lambda d: d["signing"].update(pkcs12="x.p12"), "CONFIG-INVALID", "not both"),
    (lambda d: d["catalog"].update(url="mysql://x"), "CONFIG-CATALOG-URL", "catalog URL"),
    (lambda d: d["repository"].update(default_fonds="Phông 1"), "CONFIG-INVALID",
     "repository.default_fonds"),
    (lambda d: d["repository"].update(default_fonds=7), "CONFIG-INVALID", "str"),
    (lambda d: d["repository"].update(default_fond="H41"), "CONFIG-UNKNOWN-KEY",
     "repository.default_fond"),
])
def test_bad_configurations_are_refused(tmp_path: Path, change: Any, code: str,
                                        words: str) -> None:
    data = base()
    change(data)
    with pytest.raises(ConfigError) as info:
        parse_config(data, tmp_path)
    assert info.value.code == code
    assert words in info.value.message


def test_a_file_location_may_defer_durability(tmp_path: Path) -> None:
    """``durability`` reaches the filesystem backend, which then flushes once per sync()."""
    from preservation.storage import open_location
    from preservation.storage.filesystem import FilesystemBackend

    data = base()
    (tmp_path / "a").mkdir()
    data["storage"][0].update(url=(tmp_path / "a").as_uri(), durability="deferred")
    config = parse_config(data, tmp_path)
    loc = config.location("a")
    assert loc.options == {"durability": "deferred"}
    backend = open_location(loc.url, **loc.options)
    assert isinstance(backend, FilesystemBackend) and backend.durability == "deferred"
    backend.close()
    data["storage"][0].pop("durability")
    assert parse_config(data, tmp_path).location("a").options == {}


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        load_config(tmp_path)
    assert missing.value.code == "CONFIG-MISSING"
    (tmp_path / "preservation.toml").write_text("[repository\n")
    with pytest.raises(ConfigError) as bad:
        load_config(tmp_path)
    assert bad.value.code == "CONFIG-SYNTAX"


def test_home_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from preservation.config import resolve_home

    monkeypatch.setenv("PRESERVATION_HOME", str(tmp_path / "h"))
    assert resolve_home() == tmp_path / "h"
    assert resolve_home(tmp_path / "x") == tmp_path / "x"
