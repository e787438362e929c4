"""Events beside the AIP: one write-once PREMIS document per event, read back exactly."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from preservation.catalog import EventRecord
from preservation.errors import StorageError
from preservation.events import (
    AgentRecord,
    EventDocumentError,
    deletion_event,
    event_document,
    event_key,
    new_event,
    parse_event_document,
    publish_deletion,
    publish_event,
    read_event_documents,
    read_events,
    software_agent,
    standard_agents,
)
from preservation.hashing import sha256_bytes
from preservation.storage import StorageBackend, open_location
from preservation.xmlsafe import parse_bytes, validate

AIP = "0b6c6a38-63c4-4b77-a5a4-6bfa3f0e2f11"
ICT = timezone(timedelta(hours=7))
WHEN = datetime(2026, 5, 4, 9, 30, 1, 123000, tzinfo=ICT)
AGENTS = (software_agent(), AgentRecord("Lưu trữ lịch sử tỉnh", "organization", "", "authorizer"),
          AgentRecord("Nguyễn Văn A", "person", "", "implementer"))


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[list[StorageBackend]]:
    for name in ("copy1", "copy2"):
        (tmp_path / name).mkdir()
    opened = [open_location((tmp_path / name).as_uri()) for name in ("copy1", "copy2")]
    yield opened
    for b in opened:
        b.close()


def replication(when: datetime = WHEN, location: str | None = "copy1") -> EventRecord:
    return new_event(AIP, "replication", when, "success",
                     detail="complete copy written and read back: 12 objects",
                     outcome_detail="file:///srv/copy1", location=location, agents=AGENTS)


def test_key_is_compact_utc_time_then_event_uuid() -> None:
    event = replication()
    assert event_key(AIP, event) == f"events/{AIP}/20260504T023001123000Z-{event.id}.xml"


def test_document_is_schema_valid_and_round_trips() -> None:
    event = replication()
    data = event_document(event, AGENTS)
    root = parse_bytes(data).getroot()
    assert validate(root, "premis") == []
    back, agents = parse_event_document(data)
    assert back == event
    assert agents == AGENTS


def test_document_valid_against_official_schema(shared_dir: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(shared_dir / "schemas" / "premis-v3-0.xsd")))
    doc = etree.fromstring(event_document(replication(location=None), AGENTS))
    assert schema.validate(doc), schema.error_log


def test_document_links_the_aip_and_every_agent_with_its_role() -> None:
    root = parse_bytes(event_document(replication(), AGENTS)).getroot()
    ns = {"p": "http://www.loc.gov/premis/v3"}
    assert root.findtext("p:event/p:linkingObjectIdentifier/p:linkingObjectIdentifierValue",
                         namespaces=ns) == AIP
    assert root.findtext("p:event/p:linkingObjectIdentifier/p:linkingObjectIdentifierType",
                         namespaces=ns) == "UUID"
    roles = [r.text for r in root.iterfind("p:event/p:linkingAgentIdentifier/"
                                           "p:linkingAgentRole", ns)]
    assert roles == ["executing program", "authorizer", "implementer"]
    assert root.findtext("p:agent/p:agentVersion", namespaces=ns) == AGENTS[0].version


def test_published_on_every_location_and_read_back_in_time_order(
        backends: list[StorageBackend]) -> None:
    later = replication(WHEN + timedelta(minutes=5), "copy2")
    earlier = replication()
    assert publish_event(backends, later, AGENTS) == []
    assert publish_event(backends, earlier, AGENTS) == []
    for backend in backends:
        assert list(read_events(backend, AIP)) == [earlier, later]
        [(_, _, agents), _] = list(read_event_documents(backend, AIP))
        assert agents == AGENTS
    assert list(read_events(backends[0], "5d7e0c9e-0d6f-4a53-9a4f-6a6d2b8f9c01")) == []


def test_write_once_retry_is_fine_but_nothing_is_overwritten(
        backends: list[StorageBackend]) -> None:
    event = replication()
    assert publish_event(backends, event, AGENTS) == []
    assert publish_event(backends, event, AGENTS) == []  # same bytes: a retry
    changed = EventRecord(**{**event.__dict__, "outcome": "failure"})
    assert publish_event(backends, changed, AGENTS) == [b.describe() for b in backends]
    assert [e.outcome for e in read_events(backends[0], AIP)] == ["success"]


class Broken(StorageBackend):
    """A location that refuses every write."""

    def put(self, key, source, *, size, sha256, retention=None):  # type: ignore[no-untyped-def]
        raise StorageError("disk on fire")

    def open(self, key):  # type: ignore[no-untyped-def]
        raise StorageError("disk on fire")

    def head(self, key):  # type: ignore[no-untyped-def]
        return None

    def list(self, prefix=""):  # type: ignore[no-untyped-def]
        return iter(())

    def delete(self, key):  # type: ignore[no-untyped-def]
        raise StorageError("disk on fire")


def test_one_bad_location_does_not_stop_the_others(backends: list[StorageBackend]) -> None:
    broken = Broken("broken://x")
    event = replication()
    assert publish_event([broken, *backends], event, AGENTS) == ["broken://x"]
    assert list(read_events(backends[1], AIP)) == [event]


def test_a_foreign_document_is_an_error_not_silence(backends: list[StorageBackend]) -> None:
    data = b"<not-premis/>"
    key = f"events/{AIP}/20260504T023001123000Z-x.xml"
    backends[0].put(key, io.BytesIO(data), size=len(data), sha256=sha256_bytes(data))
    with pytest.raises(EventDocumentError):
        list(read_events(backends[0], AIP))


def test_a_bad_document_can_be_reported_without_hiding_the_others(
        backends: list[StorageBackend]) -> None:
    early, late = replication(WHEN), replication(WHEN + timedelta(hours=2))
    publish_event(backends[:1], early)
    publish_event(backends[:1], late)
    data = b"<not-premis/>"
    bad = f"events/{AIP}/{WHEN + timedelta(hours=1):%Y%m%dT%H%M%S}000000Z-x.xml"
    backends[0].put(bad, io.BytesIO(data), size=len(data), sha256=sha256_bytes(data))
    told: list[str] = []
    read = list(read_events(backends[0], AIP, on_error=lambda key, _e: told.append(key)))
    assert [e.id for e in read] == [early.id, late.id]
    assert told == [bad]


def test_deletion_event_names_refused_objects(backends: list[StorageBackend]) -> None:
    ok = deletion_event(AIP, WHEN, reason="failed ingest cleaned up", keys=["a", "b"])
    assert (ok.type, ok.outcome) == ("deletion", "success")
    event, failed = publish_deletion(backends, AIP, WHEN, reason="failed ingest cleaned up",
                                     keys=[f"{AIP}/bagit.txt"], refused=[f"{AIP}/data/x"],
                                     location="copy1", agents=AGENTS)
    assert failed == []
    assert event.outcome == "failure" and f"{AIP}/data/x" in event.outcome_detail
    assert list(read_events(backends[1], AIP)) == [event]


def test_standard_agents() -> None:
    agents = standard_agents("Org", "Trần Thị B")
    assert [(a.type, a.role) for a in agents] == [
        ("software", "executing program"), ("organization", "authorizer"),
        ("person", "implementer")]
    assert standard_agents("", "")[0] == software_agent()
    assert AgentRecord("x", "person").uuid == AgentRecord("x", "person").uuid


def test_a_deferred_location_is_synced_before_the_event_counts_as_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes
    import errno

    from preservation.storage import durability

    (tmp_path / "deferred").mkdir()
    deferred = open_location((tmp_path / "deferred").as_uri(), durability="deferred")
    flushed: list[int] = []

    def syncfs(fd: int) -> int:
        flushed.append(fd)
        return 0

    monkeypatch.setattr(durability, "SYNCFS", syncfs)
    assert publish_event([deferred], replication(), AGENTS) == []
    assert len(flushed) == 1

    def failing(_fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(durability, "SYNCFS", failing)
    event = replication(WHEN + timedelta(seconds=1))
    assert publish_event([deferred], event, AGENTS) == [deferred.describe()]
    deferred.close()
