"""A filesystem location's incoming area (early copies) and ``FilesystemBackend.adopt``: files
copied in complete and read-only, published by a hard link, never seen as objects, removed
whole; a killed owner's area swept, a live one's left alone."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path

import pytest

from preservation.errors import ObjectExistsError
from preservation.storage.filesystem import FilesystemBackend
from preservation.storage.incoming import INCOMING, LOCK, IncomingArea, sweep_incoming


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "transfer"
    (path / "thư mục").mkdir(parents=True)
    (path / "thư mục" / "văn bản.txt").write_bytes(b"noi dung " * 1000)
    (path / "empty").write_bytes(b"")
    return path


def test_a_copy_is_complete_read_only_and_invisible_to_listing(root: Path, source: Path) -> None:
    store = FilesystemBackend(root.as_uri())
    area = IncomingArea(str(root))
    try:
        size = area.copy_in("thư mục/văn bản.txt", str(source / "thư mục" / "văn bản.txt"))
        assert size == 9000
        assert area.copy_in("empty", str(source / "empty")) == 0
        copy = area.take("thư mục/văn bản.txt", 9000)
        assert copy is not None
        assert Path(copy).read_bytes() == b"noi dung " * 1000
        assert stat.S_IMODE(os.stat(copy).st_mode) == 0o444
        assert area.take("thư mục/văn bản.txt", 8999) is None  # not the size validated
        assert area.take("missing", 0) is None
        assert list(store.list()) == []  # '.incoming' is never a key
        names = [p.name for p in Path(area.path).rglob("*")]
        assert not [n for n in names if n.startswith(".tmp-")]
    finally:
        area.close()
    assert list(root.iterdir()) == []  # the area, its lock and .incoming are gone


def test_symbolic_links_and_special_files_are_not_copied(root: Path, source: Path) -> None:
    (source / "link").symlink_to(source / "empty")
    os.mkfifo(source / "fifo")
    area = IncomingArea(str(root))
    try:
        with pytest.raises(OSError) as link:
            area.copy_in("link", str(source / "link"))
        assert link.value.errno == errno.ELOOP
        with pytest.raises(OSError):
            area.copy_in("fifo", str(source / "fifo"))  # opened without waiting, refused
        assert area.take("link", 0) is None and area.take("fifo", 0) is None
    finally:
        area.close()


def test_adopt_publishes_the_copy_under_its_key_without_copying(root: Path,
                                                                 source: Path) -> None:
    store = FilesystemBackend(root.as_uri(), durability="deferred")
    area = IncomingArea(str(root))
    try:
        area.copy_in("a/b.txt", str(source / "thư mục" / "văn bản.txt"))
        copy = area.take("a/b.txt", 9000)
        assert copy is not None
        inode = os.stat(copy).st_ino
        assert store.adopt("aip/data/b.txt", copy, size=9000)
        target = root / "aip" / "data" / "b.txt"
        assert os.stat(target).st_ino == inode  # the same file: linked, not copied
        assert not os.path.exists(copy)  # its incoming name is gone
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o444
        assert [o.key for o in store.list()] == ["aip/data/b.txt"]
        store.sync()
        # a key that exists is refused as by put; a copy that is gone or of another size is
        # not adopted (the caller puts the bytes)
        area.copy_in("again", str(source / "thư mục" / "văn bản.txt"))
        again = area.take("again", 9000)
        assert again is not None
        with pytest.raises(ObjectExistsError):
            store.adopt("aip/data/b.txt", again, size=9000)
        assert not store.adopt("aip/data/c.txt", again, size=1)
        assert not store.adopt("aip/data/d.txt", again + "-missing", size=9000)
        assert [o.key for o in store.list()] == ["aip/data/b.txt"]
    finally:
        area.close()
        store.close()


def empty_copy(area: IncomingArea, source: Path) -> str:
    """The transfer's empty file copied in as ``x``; its path in the area."""
    area.copy_in("x", str(source / "empty"))
    copy = area.take("x", 0)
    assert copy is not None
    return copy


def test_a_copier_stopped_at_once_leaves_only_complete_files(root: Path, source: Path) -> None:
    """The child process copying a folder: stopped (SIGTERM) while it runs, whatever it left
    under a real name is complete, nothing torn (.tmp-) remains, and it says how many."""
    for i in range(300):
        (source / "thư mục" / f"f{i:03d}").write_bytes(bytes([i % 256]) * (i * 97))
    area = IncomingArea(str(root))
    try:
        copier = area.copy_tree(str(source))
        copier.terminate()
        assert not copier.wait()  # stopped when asked: no problem to report
        names = [p for p in Path(area.path).rglob("*") if p.is_file()]
        assert not [p for p in names if p.name.startswith(".tmp-")]
        for path in names:
            rel = path.relative_to(area.path)
            assert path.read_bytes() == (source / rel).read_bytes()
        assert copier.copied == len(names)
    finally:
        area.close()
    assert list(root.iterdir()) == []


def test_adopt_where_no_link_can_be_made_leaves_nothing_and_says_so(
        root: Path, source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another filesystem mounted under the root (EXDEV): not adopted, no directory left."""
    store = FilesystemBackend(root.as_uri())
    area = IncomingArea(str(root))
    try:
        copy = empty_copy(area, source)

        def no_link(src: str, dst: str) -> None:
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(os, "link", no_link)
        assert not store.adopt("aip/deep/x", copy, size=0)
        assert not (root / "aip").exists()
        assert os.path.exists(copy)
    finally:
        area.close()


def test_adopt_on_an_immediate_location_flushes_the_file_and_its_directory(
        root: Path, source: Path, fsyncs: list[int]) -> None:
    store = FilesystemBackend(root.as_uri())
    area = IncomingArea(str(root))
    try:
        copy = empty_copy(area, source)
        before = len(fsyncs)
        assert store.adopt("aip/x", copy, size=0)
        assert len(fsyncs) - before >= 3  # the file, its new directory's parent, its directory
    finally:
        area.close()


def test_the_sweep_removes_abandoned_areas_and_leaves_live_ones(root: Path,
                                                               source: Path) -> None:
    live = IncomingArea(str(root))
    live.copy_in("kept", str(source / "empty"))
    base = root / INCOMING
    dead = base / "0dead"  # a killed owner's: its lock file is free
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "f").write_bytes(b"x")
    (base / ("0dead" + LOCK)).write_bytes(b"")
    orphan = base / "1orphan"  # no lock at all: killed between the folder and the lock
    orphan.mkdir()
    stray = base / ("2gone" + LOCK)  # killed between the lock and the folder
    stray.write_bytes(b"")
    try:
        assert sweep_incoming(str(root)) == 2
        assert sorted(p.name for p in base.iterdir()) == sorted(
            [Path(live.path).name, Path(live.path).name + LOCK])
        assert live.take("kept", 0) is not None
    finally:
        live.close()
    assert not base.exists()
    assert sweep_incoming(str(root)) == 0


def test_a_held_lock_keeps_its_area_from_another_process(root: Path) -> None:
    """flock is per open file: a second open (as another process would) cannot take it."""
    live = IncomingArea(str(root))
    try:
        fd = os.open(live.path + LOCK, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        assert sweep_incoming(str(root)) == 0
        assert os.path.isdir(live.path)
    finally:
        live.close()


def test_a_sweep_between_the_lock_file_and_its_lock_cannot_expose_a_live_area(
    root: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another ingest's sweep runs after a new area's lock file is made and before it is
    locked: the sweep finds it free and removes it. The area must not stay with a lock that no
    file names (the next sweep would take it for abandoned): it starts over under a new name."""
    real_flock = fcntl.flock
    swept: list[int] = []

    def flock(fd: int, operation: int) -> None:
        if not swept:  # the new area's own lock: a concurrent sweep runs just before it
            monkeypatch.setattr(fcntl, "flock", real_flock)
            swept.append(sweep_incoming(str(root)))
        real_flock(fd, operation)

    other = IncomingArea(str(root))  # another running ingest's area keeps .incoming there
    monkeypatch.setattr(fcntl, "flock", flock)
    area = IncomingArea(str(root))
    try:
        assert swept == [0]  # it removed the free lock file, no area
        assert os.path.exists(area.path + LOCK)
        area.copy_in("kept", str(source / "empty"))
        assert sweep_incoming(str(root)) == 0
        assert area.take("kept", 0) is not None
    finally:
        area.close()
        other.close()
    assert not (root / INCOMING).exists()
