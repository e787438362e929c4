"""The ingest events of a transfer of many signed PDFs out of memory (issue 4, SCALE): one
PREMIS event per signed PDF (and per file clamd refused) is spooled past a (lowered)
:data:`aip.model.KEEP`, the signature findings and objects by path are DiskMaps, and not a byte
of either PREMIS record changes."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from aip import model
from aip.model import AipDescription, ContentFile, Event, EventCodec, FormatId, spooled_uuids
from aip.premis import premis_package_bytes, premis_representation_bytes
from aip.provenance import ingest_provenance
from preservation.findings import Report
from preservation.findings_spool import SpooledSequence
from sip.submission import FileRole, SipKind, Submission, SubmittedFile

WHEN = datetime(2026, 5, 4, 9, 30, tzinfo=timezone(timedelta(hours=7)))
AIP = "0b6c6a38-63c4-4b77-a5a4-6bfa3f0e2f11"
PDF_FORMAT = FormatId(puid="fmt/95", name="PDF/A-1a", mime="application/pdf", basis="signature")
COUNT = 12


class _People:
    organisation = "Lưu trữ lịch sử tỉnh Nghệ An"
    person = "osuser"


def _path(n: int) -> str:
    return f"representations/rep1/data/doc{n:03d}.pdf"


def _submission() -> Submission:
    """``COUNT`` PDFs, each signed (a valid and, for every third, an untrusted signature);
    clamd refused every fourth."""
    report = Report(subject="sip", kind="eark")
    report.add("VIRUS-SCANNED", None, count=str(COUNT), engine="ClamAV 1.0.7/27000")
    for n in range(COUNT):
        report.add("SIG-PDF-VALID", _path(n), field="Sig1", signer=f"CN=Văn thư {n}")
        if n % 3 == 0:
            report.add("SIG-PDF-TRUST-NOT-CHECKED", _path(n), field="Sig1")
        if n % 4 == 0:
            report.add("VIRUS-FILE-NOT-CHECKED", _path(n), reason="size limit")
    files = tuple(SubmittedFile(path=_path(n), fs_path=Path("/nonexistent") / _path(n),
                                size=100 + n, sha256=f"{n:064x}", role=FileRole.CONTENT,
                                original_name=f"doc{n:03d}.pdf", representation="rep1")
                  for n in range(COUNT))
    return Submission(source=Path("/nonexistent/sip"), report=report, name="uuid-SIP",
                      kind=SipKind.EARK, files=files, fido_version="1.6.1",
                      signature_version="v109", formats={f.path: PDF_FORMAT for f in files})


def _describe(monkeypatch: pytest.MonkeyPatch, keep: int) -> AipDescription:
    monkeypatch.setattr(model, "KEEP", keep)
    rng = random.Random(5)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4))
    submission = _submission()
    files = model.spooled_content_files(
        ContentFile(str(uuid.uuid4()), f"representations/rep1/data/{n:06d}.pdf",
                    f.original_name, f.size, f.sha256, PDF_FORMAT, "application/pdf")
        for n, f in enumerate(submission.content(), 1))
    agents, events = ingest_provenance(submission, files, _People(), WHEN, desc_uuid=AIP)
    return AipDescription(uuid=AIP, label="Hồ sơ", created=WHEN,
                          organisation=_People.organisation, software_name="preservation",
                          software_version="1.0", files=files, events=events, agents=agents)


def test_events_past_keep_are_spooled_and_premis_is_unchanged(
        monkeypatch: pytest.MonkeyPatch) -> None:
    big = _describe(monkeypatch, 10_000)
    expected = (premis_package_bytes(big), premis_representation_bytes(big))
    small = _describe(monkeypatch, 3)
    assert isinstance(small.events, SpooledSequence)
    assert small.events._spool_of() is not None  # past KEEP: in the temporary file
    assert small.events == big.events
    signed = [e for e in small.events if e.type == "digital signature validation"]
    refused = [e for e in small.events if e.type == "virus check"
               and e.detail == "clamd did not scan this file"]
    assert len(signed) == COUNT and len(refused) == COUNT // 4
    assert signed[3].outcome == "warning" and signed[1].outcome == "success"
    assert signed[5].outcome_detail == "SIG-PDF-VALID field “Sig1” signer CN=Văn thư 5"
    assert all(e.datetime is WHEN for e in small.events)
    assert (premis_package_bytes(small), premis_representation_bytes(small)) == expected


def test_a_repeated_event_uuid_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    desc = _describe(monkeypatch, 3)
    events = list(desc.events)
    twice = replace(events[-1], uuid=events[7].uuid)
    with pytest.raises(ValueError, match=f"duplicate event UUID {events[7].uuid}"):
        premis_package_bytes(replace(desc, events=(*events[:-1], twice)))
    with pytest.raises(ValueError, match="badly formed"):
        premis_package_bytes(replace(desc, events=(*events[:-1], replace(twice, uuid="x"))))


def test_the_event_codec_keeps_shared_object_lists_and_moments(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "KEEP", 1)
    every = spooled_uuids(str(uuid.uuid4()) for _ in range(5))
    other = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=-5)))
    events = [Event(str(uuid.uuid4()), "ingestion", model.EVENT_TYPES["ingestion"], WHEN,
                    "success", "d", "o", ("a",), every),
              Event(str(uuid.uuid4()), "validation", model.EVENT_TYPES["validation"], other,
                    "warning", object_uuids=("x", "y"), object_roles=(("z", "source"),)),
              Event(str(uuid.uuid4()), "virus check", model.EVENT_TYPES["virus check"], WHEN,
                    "success", object_uuids=every)]
    codec = EventCodec(WHEN)
    back = [codec.decode(codec.encode(e)) for e in events]
    assert back == events
    assert back[0].object_uuids is every and back[2].object_uuids is every
    assert back[0].datetime is WHEN and back[1].datetime == other
    assert back[1].datetime.utcoffset() == other.utcoffset()


@pytest.mark.parametrize("keep", [3, 100_000])
def test_a_repeated_file_uuid_is_refused_past_keep_too(monkeypatch: pytest.MonkeyPatch,
                                                       keep: int) -> None:
    desc = _describe(monkeypatch, keep)
    files = list(desc.files)
    twice = replace(files[-1], uuid=files[2].uuid)
    with pytest.raises(ValueError, match=f"duplicate object UUID {files[2].uuid}"):
        premis_package_bytes(replace(desc, files=(*files[:-1], twice)))
    as_aip = replace(files[-1], uuid=desc.uuid)
    with pytest.raises(ValueError, match=f"duplicate object UUID {desc.uuid}"):
        premis_package_bytes(replace(desc, files=(*files[:-1], as_aip)))
