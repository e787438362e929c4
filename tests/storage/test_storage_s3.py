"""What only the S3 backend does: server-side checksums, multipart, Object Lock, credentials.

The shared behaviour is in ``test_storage_contract.py``; these tests look at the bucket with a
raw boto3 client to check what actually reached the server.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import urllib3
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse, HTTPHeaders
from botocore.exceptions import ClientError

from preservation.errors import (
    ChecksumMismatchError,
    ConfigError,
    DeleteRefusedError,
    ObjectExistsError,
    StorageError,
)
from preservation.storage import Retention, StorageBackend, open_location
from preservation.storage.s3 import S3Backend
from tests.s3server import SeaweedFS

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MiB = 1024 * 1024
LARGE = 12 * MiB
SMALL_PARTS: dict[str, Any] = {"multipart_threshold": 5 * MiB, "part_size": 5 * MiB}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def put_bytes(backend: StorageBackend, key: str, data: bytes, **kwargs: Any) -> None:
    backend.put(key, io.BytesIO(data), size=len(data), sha256=sha256_hex(data), **kwargs)


def data_of(size: int, fill: int = 0x5A) -> bytes:
    return bytes([fill]) * size


@pytest.fixture
def client(seaweedfs: SeaweedFS) -> Iterator[S3Client]:
    """A raw client, to look at the bucket behind the backend's back."""
    raw = seaweedfs.client()
    yield raw
    raw.close()


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


def location(url: str, client: S3Client, **options: Any) -> S3Backend:
    backend = open_location(url, client=client, **options)
    assert isinstance(backend, S3Backend)
    return backend


# -- what reaches the server --------------------------------------------------------------


@pytest.mark.s3
def test_small_object_is_one_request_carrying_our_sha256(
    client: S3Client, s3_bucket: str, prefix: str
) -> None:
    data = data_of(1000)
    put_bytes(location(f"s3://{s3_bucket}/{prefix}", client, **SMALL_PARTS), "k", data)

    head = client.head_object(Bucket=s3_bucket, Key=f"{prefix}/k", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == b64_sha256(data)  # verified and kept by the server
    assert head["Metadata"] == {"sha256": sha256_hex(data)}
    assert "-" not in head["ETag"]


@pytest.mark.s3
def test_large_object_is_a_multipart_upload_with_the_whole_sha256_in_metadata(
    client: S3Client, s3_bucket: str, prefix: str
) -> None:
    data = bytes(range(256)) * (LARGE // 256)
    backend = location(f"s3://{s3_bucket}/{prefix}", client, **SMALL_PARTS)
    put_bytes(backend, "big", data)

    head = client.head_object(Bucket=s3_bucket, Key=f"{prefix}/big", ChecksumMode="ENABLED")
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 2 MiB
    assert head["ChecksumSHA256"].endswith("-3")  # composite: not the file's digest ...
    assert head["Metadata"] == {"sha256": sha256_hex(data)}  # ... which we keep ourselves
    info = backend.head("big")
    assert info is not None and info.sha256 == sha256_hex(data)


@pytest.mark.s3
@pytest.mark.parametrize("size", [10, LARGE], ids=["small", "12MiB"])
def test_failed_put_leaves_no_upload_behind(
    client: S3Client, s3_bucket: str, prefix: str, size: int
) -> None:
    backend = location(f"s3://{s3_bucket}/{prefix}", client, **SMALL_PARTS)
    with pytest.raises(ChecksumMismatchError):
        backend.put("k", io.BytesIO(data_of(size)), size=size, sha256="0" * 64)
    assert client.list_multipart_uploads(Bucket=s3_bucket, Prefix=prefix).get("Uploads", []) == []
    assert client.list_objects_v2(Bucket=s3_bucket, Prefix=prefix)["KeyCount"] == 0


@pytest.mark.s3
def test_server_refuses_bytes_that_do_not_match_the_announced_sha256(
    client: S3Client, s3_bucket: str, prefix: str
) -> None:
    """The server-side check the backend relies on, shown with a raw client."""
    with pytest.raises(ClientError) as caught:
        client.put_object(
            Bucket=s3_bucket, Key=f"{prefix}/k", Body=b"the bytes", ChecksumSHA256=b64_sha256(b"x")
        )
    assert caught.value.response["Error"]["Code"] == "BadDigest"
    assert client.list_objects_v2(Bucket=s3_bucket, Prefix=prefix)["KeyCount"] == 0


@pytest.mark.s3
@pytest.mark.parametrize(
    ("operation", "size"), [("PutObject", 1000), ("UploadPart", LARGE)], ids=["single", "part"]
)
def test_bytes_damaged_in_transit_are_refused_by_the_server(
    seaweedfs: SeaweedFS, client: S3Client, s3_bucket: str, prefix: str, operation: str, size: int
) -> None:
    """Flip one bit of the request body after our own check: the server must catch it."""
    damaging = seaweedfs.client()

    def flip_first_bit(request: AWSRequest, **_: Any) -> None:
        assert request.data is not None
        body = bytearray(request.data.getvalue())
        body[0] ^= 1
        request.data = io.BytesIO(bytes(body))

    damaging.meta.events.register(f"before-sign.s3.{operation}", flip_first_bit)
    backend = location(f"s3://{s3_bucket}/{prefix}", damaging, **SMALL_PARTS)
    with pytest.raises(ChecksumMismatchError, match="BadDigest"):
        put_bytes(backend, "k", data_of(size))
    damaging.close()
    assert backend.head("k") is None
    assert client.list_multipart_uploads(Bucket=s3_bucket, Prefix=prefix).get("Uploads", []) == []


@pytest.mark.s3
def test_reading_detects_bytes_that_differ_from_the_stored_sha256(
    seaweedfs: SeaweedFS, s3_bucket: str, prefix: str
) -> None:
    """A GET whose checksum header disagrees with the body fails when the stream ends."""
    tampering = seaweedfs.client()

    def announce_other_checksum(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        # Send the request ourselves, then alter the answer as a faulty disk or proxy would.
        response: AWSResponse = tampering._endpoint.http_session.send(request)  # type: ignore[attr-defined]
        response.headers["x-amz-checksum-sha256"] = b64_sha256(b"other bytes")
        return response

    backend = location(f"s3://{s3_bucket}/{prefix}", tampering)
    put_bytes(backend, "k", b"stored bytes")
    # (botocore's stubs type handlers as returning None; before-send handlers may answer.)
    tampering.meta.events.register("before-send.s3.GetObject", announce_other_checksum)  # type: ignore[arg-type]
    with pytest.raises(ChecksumMismatchError), backend.open("k") as stream:
        stream.read()
    tampering.close()


@pytest.mark.s3
def test_servers_without_conditional_writes_fall_back_to_head_checks(
    seaweedfs: SeaweedFS, s3_bucket: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A server answering 501 to ``If-None-Match`` still gets the object, once, with a warning."""
    old_server = seaweedfs.client()
    conditional_requests = []

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield (
                b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NotImplemented</Code>"
                b"<Message>A header you provided implies functionality that is not "
                b"implemented</Message></Error>"
            )

    def refuse_conditions(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if "If-None-Match" in request.headers:
            conditional_requests.append(request.url)
            return AWSResponse(request.url, 501, HTTPHeaders(), Raw())
        return None

    old_server.meta.events.register("before-send.s3.PutObject", refuse_conditions)  # type: ignore[arg-type]
    backend = location(f"s3://{s3_bucket}/{prefix}", old_server)
    with caplog.at_level(logging.WARNING, logger="preservation.storage.s3"):
        put_bytes(backend, "first", b"one")
        put_bytes(backend, "second", b"two")
    assert len(conditional_requests) == 1  # asked once, then remembered
    assert "conditional writes" in caplog.text
    with pytest.raises(ObjectExistsError):
        put_bytes(backend, "first", b"again")
    with backend.open("first") as stream:
        assert stream.read() == b"one"
    old_server.close()


@pytest.mark.s3
def test_keys_live_under_the_url_prefix_or_at_the_bucket_root(
    client: S3Client, s3_bucket: str, prefix: str
) -> None:
    put_bytes(location(f"s3://{s3_bucket}/{prefix}/deeper/", client), "k", b"x")
    put_bytes(location(f"s3://{s3_bucket}", client), f"{prefix}/top", b"y")
    listed = client.list_objects_v2(Bucket=s3_bucket, Prefix=f"{prefix}/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [f"{prefix}/deeper/k", f"{prefix}/top"]


@pytest.mark.s3
def test_list_skips_foreign_keys_with_a_warning(
    client: S3Client, s3_bucket: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    client.put_object(Bucket=s3_bucket, Key=f"{prefix}/not a key", Body=b"x")
    backend = location(f"s3://{s3_bucket}/{prefix}", client)
    put_bytes(backend, "fine", b"y")
    with caplog.at_level(logging.WARNING, logger="preservation.storage.s3"):
        assert [info.key for info in backend.list()] == ["fine"]
    assert "not a key" in caplog.text


# -- Object Lock --------------------------------------------------------------------------


def in_a_day() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)


@pytest.mark.s3
@pytest.mark.parametrize("mode", ["COMPLIANCE", "GOVERNANCE"])
@pytest.mark.parametrize("size", [10, LARGE], ids=["small", "12MiB"])
def test_retained_object_cannot_be_deleted_nor_hidden(
    client: S3Client, s3_lock_bucket: str, prefix: str, mode: str, size: int
) -> None:
    backend = location(f"s3://{s3_lock_bucket}/{prefix}", client, **SMALL_PARTS)
    until = in_a_day()
    put_bytes(backend, "locked", data_of(size), retention=Retention(mode=mode, until=until))

    with pytest.raises(DeleteRefusedError) as caught:
        backend.delete("locked")

    assert caught.value.code == "STORAGE-DELETE-REFUSED"
    info = backend.head("locked")
    assert info is not None and info.retain_until == until
    versions = client.list_object_versions(Bucket=s3_lock_bucket, Prefix=f"{prefix}/")
    assert len(versions.get("Versions", [])) == 1
    assert versions.get("DeleteMarkers", []) == []  # delete() did not merely hide it


@pytest.mark.s3
def test_location_retention_applies_to_every_put(
    client: S3Client, s3_lock_bucket: str, prefix: str
) -> None:
    backend = location(
        f"s3://{s3_lock_bucket}/{prefix}",
        client,
        retention_mode="COMPLIANCE",
        retention_days=1,
    )
    before = datetime.now(UTC)
    put_bytes(backend, "k", b"kept")
    info = backend.head("k")
    assert info is not None and info.retain_until is not None
    assert before + timedelta(days=1, seconds=-2) <= info.retain_until
    assert info.retain_until <= datetime.now(UTC) + timedelta(days=1, seconds=2)
    head = client.head_object(Bucket=s3_lock_bucket, Key=f"{prefix}/k")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(DeleteRefusedError):
        backend.delete("k")


@pytest.mark.s3
def test_unretained_object_in_a_versioned_bucket_is_deleted_for_good(
    client: S3Client, s3_lock_bucket: str, prefix: str
) -> None:
    backend = location(f"s3://{s3_lock_bucket}/{prefix}", client)
    put_bytes(backend, "k", b"temporary")
    backend.delete("k")
    assert backend.head("k") is None
    versions = client.list_object_versions(Bucket=s3_lock_bucket, Prefix=f"{prefix}/")
    assert versions.get("Versions", []) == []
    assert versions.get("DeleteMarkers", []) == []


@pytest.mark.s3
def test_retention_on_a_bucket_without_object_lock_is_refused(
    client: S3Client, s3_bucket: str, prefix: str
) -> None:
    backend = location(f"s3://{s3_bucket}/{prefix}", client)
    with pytest.raises(StorageError, match="InvalidRequest"):
        put_bytes(backend, "k", b"x", retention=Retention("COMPLIANCE", in_a_day()))
    assert backend.head("k") is None


@pytest.mark.s3
@pytest.mark.parametrize(
    "retention",
    [
        Retention("COMPLIANCE", datetime(2100, 1, 1)),
        Retention("FOREVER", datetime(2100, 1, 1, tzinfo=UTC)),
    ],
    ids=["naive-time", "unknown-mode"],
)
def test_invalid_retention_is_refused_before_anything_is_sent(
    client: S3Client, s3_lock_bucket: str, prefix: str, retention: Retention
) -> None:
    backend = location(f"s3://{s3_lock_bucket}/{prefix}", client)
    with pytest.raises(StorageError) as caught:
        put_bytes(backend, "k", b"x", retention=retention)
    assert caught.value.code == "STORAGE-BAD-RETENTION"
    assert backend.head("k") is None


# -- credentials and configuration --------------------------------------------------------


@pytest.mark.s3
def test_standard_environment_variables_configure_the_client(
    seaweedfs: SeaweedFS, s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in seaweedfs.environ().items():
        monkeypatch.setenv(name, value)
    backend = open_location(s3_url)
    put_bytes(backend, "k", b"via environment")
    assert backend.head("k") is not None
    assert seaweedfs.secret_key not in backend.describe()
    assert seaweedfs.access_key not in backend.describe()
    backend.close()


@pytest.mark.s3
def test_profile_and_explicit_endpoint_override_the_environment(
    seaweedfs: SeaweedFS, s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[archive]\naws_access_key_id = {seaweedfs.access_key}\n"
        f"aws_secret_access_key = {seaweedfs.secret_key}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # wrong on purpose
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    backend = open_location(
        s3_url, profile="archive", endpoint_url=seaweedfs.endpoint_url, region="us-east-1"
    )
    put_bytes(backend, "k", b"via profile")
    assert backend.head("k") is not None
    assert backend.describe() == f"{s3_url}/ at {seaweedfs.endpoint_url}"
    backend.close()


def test_unknown_profile_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigError) as caught:
        open_location("s3://bucket/p", profile="no-such-profile")
    assert caught.value.code == "CONFIG-STORAGE-S3"


@pytest.mark.s3
def test_wrong_credentials_are_an_error_not_a_missing_object(
    seaweedfs: SeaweedFS, s3_url: str
) -> None:
    impostor = boto3.session.Session().client(
        "s3",
        endpoint_url=seaweedfs.endpoint_url,
        aws_access_key_id=seaweedfs.access_key,
        aws_secret_access_key="not-the-secret",
        region_name=seaweedfs.region,
    )
    backend = location(s3_url, impostor)
    with pytest.raises(StorageError) as caught:
        backend.head("k")
    assert type(caught.value) is StorageError  # not "absent": head must not answer None
    assert "HTTP 403" in str(caught.value)
    with pytest.raises(StorageError):
        put_bytes(backend, "k", b"x")
    impostor.close()


def test_describe_never_shows_endpoint_credentials() -> None:
    backend = open_location(
        "s3://bucket/prefix",
        endpoint_url="https://user:hunter2@s3.example.org:9000",
        region="us-east-1",
    )
    assert backend.describe() == "s3://bucket/prefix/ at https://s3.example.org:9000"
    backend.close()


@pytest.mark.parametrize(
    "url",
    [
        "s3://",
        "s3:///prefix",
        "s3://Bucket",
        "s3://b",
        "s3://bucket_name",
        "s3://bucket:9000/p",
        "s3://bucket/p?versionId=1",
        "s3://bucket/p#frag",
        "s3://bucket/../p",
        "s3://bucket/a//b",
        "s3://bucket/tên",
        "s3://AKIA:secret-value@bucket/p",
    ],
)
def test_invalid_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        S3Backend(url)
    assert caught.value.code == "CONFIG-STORAGE-URL"
    assert "secret-value" not in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"retention_mode": "COMPLIANCE"},
        {"retention_days": 30},
        {"retention_mode": "compliance", "retention_days": 30},
        {"retention_mode": "GOVERNANCE", "retention_days": 0},
        {"part_size": 5 * MiB - 1},
        {"multipart_threshold": 0},
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        S3Backend("s3://bucket/p", region="us-east-1", **options)
    assert caught.value.code == "CONFIG-STORAGE-OPTION"


@pytest.mark.s3
def test_a_put_the_client_retried_after_it_was_stored_succeeds_once(
    seaweedfs: SeaweedFS, s3_bucket: str, prefix: str
) -> None:
    """botocore retries a PUT whose answer was lost or garbled; the first attempt may have been
    stored, so the retry's ``If-None-Match: *`` fails. The same bytes: the put succeeded.
    Other bytes under the key: still refused as existing."""
    raw = seaweedfs.client()
    sent_twice: list[int] = []

    def send_twice(request: AWSPreparedRequest, **_: Any) -> None:
        """Send the signed request once ourselves (stored), then let botocore send it again."""
        if "If-None-Match" not in request.headers or sent_twice:
            return
        body = request.body
        data = body.getvalue() if isinstance(body, io.BytesIO) else body
        answer = urllib3.PoolManager().request(request.method, request.url, body=data,
                                               headers=dict(request.headers.items()),
                                               retries=False)
        sent_twice.append(answer.status)

    raw.meta.events.register("before-send.s3.PutObject", send_twice)  # type: ignore[arg-type]
    backend = location(f"s3://{s3_bucket}/{prefix}", raw)
    info = backend.put("k", io.BytesIO(b"bytes"), size=5, sha256=sha256_hex(b"bytes"))
    assert sent_twice == [200] and info.sha256 == sha256_hex(b"bytes")
    with backend.open("k") as stream:
        assert stream.read() == b"bytes"
    with pytest.raises(ObjectExistsError):
        put_bytes(backend, "k", b"other")
    raw.close()
