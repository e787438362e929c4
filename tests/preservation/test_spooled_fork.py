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


def test_a_mapped_sequence_reads_through_its_items() -> None:
    import copy
    import pickle

    from preservation.spooled import MappedSequence

    items = spooled(range(7), lambda i: (i,), lambda v: int(v[0]), keep=2)
    doubled = MappedSequence(items, lambda i: 2 * i)
    assert len(doubled) == 7 and doubled[3] == 6 and doubled[-1] == 12
    assert doubled[1:3] == [2, 4] and list(doubled) == [0, 2, 4, 6, 8, 10, 12]
    assert doubled == (0, 2, 4, 6, 8, 10, 12) and doubled != [0, 2]
    assert copy.copy(MappedSequence(items, str)) == tuple(map(str, range(7)))
    assert pickle.loads(pickle.dumps(MappedSequence([1, 2], abs))) == (1, 2)
