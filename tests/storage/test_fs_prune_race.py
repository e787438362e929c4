"""A filesystem location's directories pruned under a put or an adopt, at the worst moments.

A delete removes the directories it empties (``_prune``) while puts into the same prefix may be
making them (``_make_parents``): each race is staged here deterministically, by having
``os.mkdir`` run the concurrent put or delete at the moment a thread switch could run it.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from preservation.errors import StorageError
from preservation.storage import open_location
from preservation.storage.filesystem import FilesystemBackend
from preservation.storage.fs_directories import ATTEMPTS

DATA = b"the object"
Mkdir = Callable[..., None]


def put_bytes(backend: FilesystemBackend, key: str, data: bytes = DATA) -> None:
    backend.put(key, io.BytesIO(data), size=len(data), sha256=hashlib.sha256(data).hexdigest())


def read_all(backend: FilesystemBackend, key: str) -> bytes:
    with backend.open(key) as stream:
        return stream.read()


def location(root: Path) -> FilesystemBackend:
    backend = open_location(root.as_uri())
    assert isinstance(backend, FilesystemBackend)
    return backend


def stage(monkeypatch: pytest.MonkeyPatch, directory: Path,
          race: Callable[[Mkdir, str], None], times: int = 1) -> list[str]:
    """Run ``race(real_mkdir, path)`` instead of the first ``times`` ``os.mkdir`` of
    ``directory``; returns the list of paths it ran for."""
    real_mkdir: Mkdir = os.mkdir
    fired: list[str] = []

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.fspath(path) == str(directory) and len(fired) < times:
            fired.append(os.fspath(path))
            race(lambda *a, **k: real_mkdir(path, *args, **kwargs), os.fspath(path))
            return
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    return fired


def made_then_pruned(other: FilesystemBackend, other_key: str) -> Callable[[Mkdir, str], None]:
    """Another writer makes the directory first and puts ``other_key`` into it, so our
    ``mkdir`` finds it there; before we look at what is there, the other writer deletes its
    object and prunes the directory, empty again."""

    def race(mkdir: Mkdir, path: str) -> None:
        put_bytes(other, other_key)  # its own os.mkdir of the directory is the real one
        try:
            mkdir()  # ours: FileExistsError
        finally:
            other.delete(other_key)

    return race


def made_pruned_and_made_again(other: FilesystemBackend, other_key: str
                               ) -> Callable[[Mkdir, str], None]:
    """As :func:`made_then_pruned`, and a third writer makes the directory again before we
    look: what we find is a directory (one look, not two that could disagree)."""

    def race(mkdir: Mkdir, path: str) -> None:
        made_then_pruned(other, other_key)(mkdir, path)
        os.mkdir(path)  # the real one again (ours was the one staged)

    return race


def parent_pruned(other: FilesystemBackend, other_key: str) -> Callable[[Mkdir, str], None]:
    """Between our ``mkdir`` of a parent and that of its child, another writer puts
    ``other_key`` into the parent and deletes it, pruning the parent we just made."""

    def race(mkdir: Mkdir, path: str) -> None:
        put_bytes(other, other_key)
        other.delete(other_key)
        mkdir()  # ours: FileNotFoundError

    return race


@pytest.mark.parametrize("depth", ["prefix", "shared/prefix"])
def test_put_into_a_directory_made_and_pruned_by_others_while_it_makes_it(
    root: Path, monkeypatch: pytest.MonkeyPatch, depth: str
) -> None:
    store, other = location(root), location(root)
    fired = stage(monkeypatch, root / depth, made_then_pruned(other, f"{depth}/other"))

    put_bytes(store, f"{depth}/k")

    assert fired
    assert read_all(store, f"{depth}/k") == DATA
    assert {info.key for info in store.list()} == {f"{depth}/k"}
    store.delete(f"{depth}/k")
    assert list(root.iterdir()) == []


def test_put_into_a_directory_made_pruned_and_made_again_while_it_makes_it(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, other = location(root), location(root)
    fired = stage(monkeypatch, root / "a", made_pruned_and_made_again(other, "a/other"))

    put_bytes(store, "a/b/k")

    assert fired
    assert read_all(store, "a/b/k") == DATA
    assert {info.key for info in store.list()} == {"a/b/k"}


def test_put_whose_new_parent_is_pruned_before_its_child_is_made(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, other = location(root), location(root)
    fired = stage(monkeypatch, root / "a" / "b", parent_pruned(other, "a/other"))

    put_bytes(store, "a/b/k")

    assert fired
    assert read_all(store, "a/b/k") == DATA
    assert {info.key for info in store.list()} == {"a/b/k"}


@pytest.mark.parametrize("race", ["made-then-pruned", "parent-pruned"])
def test_adopt_into_directories_pruned_by_others_while_it_makes_them(
    root: Path, monkeypatch: pytest.MonkeyPatch, race: str
) -> None:
    store, other = location(root), location(root)
    copy = root / ".incoming-test"  # adopt links a file of the same filesystem
    copy.write_bytes(DATA)
    if race == "made-then-pruned":
        fired = stage(monkeypatch, root / "a", made_then_pruned(other, "a/other"))
    else:
        fired = stage(monkeypatch, root / "a" / "b", parent_pruned(other, "a/other"))

    assert store.adopt("a/b/k", str(copy), size=len(DATA))

    assert fired
    assert not copy.exists()
    assert read_all(store, "a/b/k") == DATA
    assert {info.key for info in store.list()} == {"a/b/k"}


def test_a_directory_pruned_at_every_attempt_is_reported_not_retried_forever(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, other = location(root), location(root)
    fired = stage(monkeypatch, root / "a" / "b", parent_pruned(other, "a/other"), times=ATTEMPTS)

    with pytest.raises(StorageError) as caught:
        put_bytes(store, "a/b/k")

    assert len(fired) == ATTEMPTS
    assert "vanished" in str(caught.value)
    assert caught.value.location == f"{store.url}#a/b/k"
    assert list(root.iterdir()) == []


def test_an_object_where_a_directory_must_go_is_still_a_conflict(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry is for a directory that vanished: a name taken by an object is still refused,
    with its code and location, and nothing is removed."""
    store, other = location(root), location(root)

    def object_made_first(mkdir: Mkdir, path: str) -> None:
        put_bytes(other, "a")  # another writer's object, where our directory would go
        mkdir()

    stage(monkeypatch, root / "a", object_made_first)

    with pytest.raises(StorageError) as caught:
        put_bytes(store, "a/k")

    assert caught.value.code == "STORAGE-KEY-CONFLICT"
    assert caught.value.location == f"{store.url}#a/k"
    assert read_all(store, "a") == DATA
    assert {info.key for info in store.list()} == {"a"}


def test_a_listing_passes_over_objects_deleted_while_it_walks(root: Path) -> None:
    """A directory is read in one go, each file's size then asked for: an object deleted in
    between, and its directory pruned, is simply not listed."""
    store = location(root)
    for key in ("d/a", "d/b", "d/c"):
        put_bytes(store, key)
    listing = store.list("d/")
    first = next(listing).key
    for key in {"d/a", "d/b", "d/c"} - {first}:
        store.delete(key)

    assert list(listing) == []
    store.delete(first)
    assert list(store.list()) == [] and list(root.iterdir()) == []
