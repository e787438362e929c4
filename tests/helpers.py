"""Small helpers for tests (importable as ``tests.helpers``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from preservation.config import Config


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
    return Path(url[len("file://"):])
