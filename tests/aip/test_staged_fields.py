"""StagedObject as plain values for a spooled sequence, and back, equal."""

from __future__ import annotations

import marshal
from pathlib import Path

from aip.tt05_aip_bag import StagedObject, staged_fields, staged_from_fields
from preservation.formats import FormatId
from preservation.spooled import spooled


def test_staged_objects_round_trip_through_a_spool() -> None:
    objects = [
        StagedObject("data/rep1/data/000001.pdf", Path("/sip/thư mục/a.pdf"), 10, "ab" * 32,
                     "content", "thư mục/a.pdf", FormatId("fmt/276", "PDF", "1.7",
                                                         "application/pdf", "signature")),
        StagedObject("data/rep1/data/000002.txt", None, 4, "cd" * 32, "content", "b.txt",
                     None, "aip/uuid/data/rep1/data/000002.txt"),
        StagedObject("bagit.txt", Path("/staging/bagit.txt"), 55, "ef" * 32, "tag"),
    ]
    assert [staged_from_fields(marshal.loads(marshal.dumps(staged_fields(o))))
            for o in objects] == objects
    assert list(spooled(objects * 3, staged_fields, staged_from_fields, keep=1)) == objects * 3
