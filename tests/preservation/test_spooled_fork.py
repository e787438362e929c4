"""A spooled sequence read by forked children (the content-check workers read their items from
one): the spool is flushed when complete, so no child writes an inherited buffer again."""

from __future__ import annotations

import os

import pytest

from preservation.spooled import spooled


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_readers_leave_the_spool_file_as_it_was() -> None:
    records = [(f"data/{i}.pdf", i) for i in range(50)]
    seq = spooled(records, lambda r: r, lambda v: (v[0], v[1]), keep=0)
    spool = seq._spool_of()  # type: ignore[attr-defined]
    fd = spool._file.fileno()
    size = os.fstat(fd).st_size
    assert size > 0  # flushed by spooled() itself, before any read
    children = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            ok = list(seq) == records
            os._exit(0 if ok else 1)
        children.append(pid)
    statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    assert statuses == [0, 0, 0]
    assert os.fstat(fd).st_size == size  # no child wrote anything
    assert list(seq) == records
