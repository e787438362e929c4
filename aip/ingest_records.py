"""What an ingest registers in the catalog: the AIP record (with its fonds and version links),
its files (with the key that holds each one's bytes), copies and events."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from aip.builder import BuiltAip
from preservation import SOFTWARE_NAME, __version__
from preservation.catalog import AipRecord, CopyRecord, EventRecord, FileRecord
from preservation.config import Config
from preservation.events import AgentRecord, new_event
from preservation.timeutil import iso

if TYPE_CHECKING:
    from aip.ingest import CopyResult


def replication_event(aip_id: str, copy: CopyResult, agents: tuple[AgentRecord, ...]
                       ) -> EventRecord:
    reused = (f"; {copy.reused} unchanged objects of the previous version referenced"
              if copy.reused else "")
    if copy.copied_in:
        reused += (f"; {copy.copied_in} objects of the previous version that this location "
                   "lacked copied in from another location (SHA-256 checked)")
    return new_event(aip_id, "replication", datetime.fromisoformat(copy.verified_at), "success",
                     detail=f"complete copy written and read back: {copy.objects} objects, "
                            f"{copy.bytes} bytes{reused}",
                     outcome_detail=copy.url, location=copy.location, agents=agents)


def catalog_records(
    config: Config, built: BuiltAip, copies: Sequence[CopyResult],
    replications: list[EventRecord],
) -> tuple[AipRecord, Iterator[FileRecord], list[CopyRecord], Iterator[EventRecord]]:
    """The catalog rows of a built and replicated AIP: its version facts, fonds and OBJID as
    the builder described them (``built.description``), its files (a generator, for one pass:
    :func:`file_records`), copies and events (a generator too)."""
    aid = built.uuid
    desc = built.description
    agent = f"{SOFTWARE_NAME} {__version__}"
    aip = AipRecord(
        id=aid, version=desc.version, label=one_line(built.label),
        created=iso(built.created), source_kind=desc.source_kind,
        source_name=one_line(built.source_name),
        file_count=sum(1 for o in built.objects if o.role == "content"),
        total_size=built.content_size, tagmanifest_sha256=built.tagmanifest_sha256,
        signer=built.signer, organisation=one_line(config.name),
        package_id=desc.package_uuid, previous_id=desc.previous_uuid,
        record_status=desc.record_status, fonds_code=desc.fonds_code,
        objid=desc.objid or f"urn:uuid:{aid}", arc_file_code=one_line(built.arc_file_code))
    copy_records = [CopyRecord(aid, c.location, c.url, c.verified_at, "ok", c.verified_at)
                    for c in copies]
    # a generator, like the files: an ingest of signed PDFs has an event per PDF
    events = itertools.chain(
        (EventRecord(e.uuid, aid, e.type, iso(e.datetime), e.outcome, e.detail,
                     e.outcome_detail, None, agent) for e in desc.events), replications)
    return aip, file_records(built), copy_records, events


def file_records(built: BuiltAip) -> Iterator[FileRecord]:
    """The catalog row of every object of the AIP, in ``built.objects`` order, one at a time
    (the catalog inserts them in batches: never all of an AIP's files in memory at once)."""
    aid = built.uuid
    for o in built.objects:
        yield FileRecord(aid, o.bag_path, o.role, o.size, o.sha256, o.original_name,
                         o.format.puid if o.format else None,
                         o.format.name if o.format else None, o.stored_key or None)


def one_line(value: str) -> str:
    """A value as bag-info.txt holds it (one line, single spaces), so that a catalog rebuilt
    from storage answers exactly as this one."""
    return " ".join(value.split())
