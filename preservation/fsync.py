"""Making files and folders written outside the storage backends durable (``fsync``).

Exports and access copies are written into folders of the user's choice; the dissemination event
that records them must never describe files a crash could still lose, so their writers flush
them first with these helpers. The filesystem storage backend uses :func:`fsync_directory` too.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_file(path: Path) -> None:
    """Flush a regular file's bytes and metadata to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory: str | os.PathLike[str], *, missing_ok: bool = False) -> None:
    """Flush a folder's entries, so that names created or removed in it survive a crash.
    ``missing_ok``: a folder that has just been removed has nothing left to flush."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` (links are not followed), then ``root``'s
    entry in its parent."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                fsync_file(path)
        fsync_directory(Path(folder))
    fsync_directory(root.parent)


__all__ = ["fsync_directory", "fsync_file", "fsync_tree"]
