"""Small helpers for tests (importable as ``tests.helpers``)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from preservation.catalog import Catalog
from preservation.config import CONFIG_NAME, Config, load_config
from preservation.fonds import make_fonds
from preservation.storage import StorageBackend
from preservation.storage.filesystem import root_from_url


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every file under ``root`` (to prove a tree was not changed)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def location_root(config: Config, index: int) -> Path:
    """The folder of a file:// location."""
    url = config.storage[index].url
    assert url.startswith("file://")
    return root_from_url(url)


#: the fonds the suite's ingests belong to (registered by :func:`add_test_fonds`)
TEST_FONDS = "TEST"


def add_test_fonds(catalog: Catalog, code: str = TEST_FONDS,
                   name: str = "Phông lưu trữ thử nghiệm") -> str:
    """Register a fonds in the catalog (only there, not on storage) and return its code.

    Every AIP belongs to a registered fonds; tests that ingest a BagIt or E-ARK transfer (which
    names no fonds) register this one and pass ``fonds=TEST_FONDS`` or set it as the default.
    """
    if catalog.fonds(code) is None:
        catalog.add_fonds(make_fonds(code, name))
    return code


def set_default_fonds(home: Path, code: str = TEST_FONDS) -> None:
    """Write ``default_fonds`` into a repository's configuration (``[repository]`` table)."""
    path = home / CONFIG_NAME
    lines = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
             if not line.startswith("default_fonds =")]
    at = lines.index("[repository]\n") + 1
    lines.insert(at, f'default_fonds = "{code}"\n')
    path.write_text("".join(lines), encoding="utf-8")


def prepare_test_home(home: Path, code: str = TEST_FONDS) -> None:
    """Make a freshly initialised test repository ready to ingest transfers that name no fonds:
    ``code`` registered in its catalog and set as ``default_fonds``."""
    set_default_fonds(home, code)
    config = load_config(home)
    with Catalog(config.catalog_target) as catalog:
        add_test_fonds(catalog, code)


def intercept_writes(backend: StorageBackend, around: Callable[[str, Callable[[], Any]], Any]
                     ) -> None:
    """Route every object write of ``backend`` through ``around(key, write)``, which does the
    write by calling ``write()`` (and returns its result): ``put``, and on a filesystem
    location the ``adopt`` of a file the ingest copied there early (aip.ingest_early)."""
    real_put = backend.put

    def put(key: str, source: Any, **kw: Any) -> Any:
        return around(key, lambda: real_put(key, source, **kw))

    backend.put = put  # type: ignore[method-assign]
    real_adopt = getattr(backend, "adopt", None)
    if real_adopt is not None:
        def adopt(key: str, path: str, **kw: Any) -> Any:
            return around(key, lambda: real_adopt(key, path, **kw))

        backend.adopt = adopt  # type: ignore[attr-defined]
