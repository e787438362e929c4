"""A storage location in an S3 bucket: ``s3://bucket/optional/prefix``.

The only module that imports boto3. Credentials, endpoint and region come the standard boto3 way
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, shared
config files, instance roles); the ``endpoint_url``, ``region`` and ``profile`` options override
them. Secrets never appear in the URL, in :meth:`S3Backend.describe` or in error messages.

Every ``put`` is checked twice. We hash and count the streamed bytes ourselves, and we send the
SHA-256 so that the *server* verifies the bytes it received (``ChecksumSHA256``; per part for
multipart uploads) and refuses them with ``BadDigest`` on a difference. The whole-object SHA-256
is kept in the object's metadata (``x-amz-meta-sha256``) because the checksum S3 reports for a
multipart object is a checksum of part checksums (``…-N``), not the file's digest.

Write-once: ``put`` refuses an existing key (a ``HEAD`` first, then ``If-None-Match: *`` on the
write itself so a concurrent writer cannot slip in between; servers that do not implement
conditional writes get the plain write, with a warning).

Versioning and Object Lock: on a versioned bucket a plain ``DELETE`` of a key only adds a delete
marker and hides the object while every byte stays stored, still locked. ``delete`` therefore
removes the *current version* by its id. Object Lock protects versions, so the server refuses
that for a retained object (COMPLIANCE, or GOVERNANCE since we never bypass it) and we raise
:class:`DeleteRefusedError`; an unretained version is removed for good. Versions left by other
tools (older versions, delete markers) are not touched: if an older version exists, it becomes
the current one again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

from preservation.errors import (
    ChecksumMismatchError,
    ConfigError,
    DeleteRefusedError,
    ObjectExistsError,
    ObjectMissingError,
    StorageError,
)
from preservation.storage.base import (
    ObjectInfo,
    Retention,
    StorageBackend,
    StreamVerifier,
    check_key,
    check_prefix,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MiB = 1024 * 1024
#: S3's limits on multipart uploads: parts of at least 5 MiB (except the last), at most 10,000.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000
RETENTION_MODES = ("COMPLIANCE", "GOVERNANCE")
#: Read buffer of :meth:`S3Backend.open`.
READ_BUFFER = MiB

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchVersion"})
_CHECKSUM_CODES = frozenset({"BadDigest", "XAmzContentSHA256Mismatch"})
_REFUSED_CODES = frozenset({"AccessDenied", "ObjectLocked"})
_UNSUPPORTED_CODES = frozenset({"NotImplemented"})


class S3Backend(StorageBackend):
    """Objects in an S3 bucket under an optional key prefix.

    ``retention_mode`` and ``retention_days`` (together or not at all) give every ``put`` an
    Object Lock retention unless the call passes its own; the bucket must have Object Lock
    enabled. Objects of ``multipart_threshold`` bytes or more are uploaded in parts of
    ``part_size`` bytes (grown when needed to stay within 10,000 parts); smaller ones are read
    into memory whole and sent in one request. ``client`` supplies a ready boto3 S3 client
    (tests, or a caller sharing one); it is then not closed by :meth:`close`.
    """

    scheme = "s3"

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        retention_mode: str | None = None,
        retention_days: int | None = None,
        multipart_threshold: int = 64 * MiB,
        part_size: int = 16 * MiB,
        client: S3Client | None = None,
    ) -> None:
        super().__init__(url)
        self.bucket, prefix = _parse_url(url)
        #: prepended to every key: "" or "some/prefix/"
        self._root = f"{prefix}/" if prefix else ""
        if (retention_mode is None) != (retention_days is None):
            raise ConfigError(
                "retention_mode and retention_days go together", code="CONFIG-STORAGE-OPTION"
            )
        if retention_mode is not None and retention_mode not in RETENTION_MODES:
            raise ConfigError(
                f"retention_mode must be one of {', '.join(RETENTION_MODES)}, "
                f"not {retention_mode!r}",
                code="CONFIG-STORAGE-OPTION",
            )
        if retention_days is not None and retention_days < 1:
            raise ConfigError(
                f"retention_days must be at least 1, not {retention_days}",
                code="CONFIG-STORAGE-OPTION",
            )
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ConfigError(
                f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes "
                f"(S3's limits), not {part_size}",
                code="CONFIG-STORAGE-OPTION",
            )
        if multipart_threshold < 1:
            raise ConfigError(
                f"multipart_threshold must be positive, not {multipart_threshold}",
                code="CONFIG-STORAGE-OPTION",
            )
        self.retention_mode = retention_mode
        self.retention_days = retention_days
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self._owns_client = client is None
        self._client: S3Client = client or _make_client(endpoint_url, region, profile)
        #: False once the server has said it does not implement ``If-None-Match`` on writes.
        self._conditional_writes = True

    # -- keys and errors -------------------------------------------------------------------

    def _name(self, key: str) -> str:
        """The S3 object key of one of our keys."""
        return self._root + check_key(key)

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._root}{key}"

    def _error(self, exc: Exception, key: str, action: str) -> StorageError:
        """Translate a boto3 exception into this project's errors, keeping the S3 error code."""
        where = self._where(key)
        if isinstance(exc, FlexibleChecksumError):
            return ChecksumMismatchError(f"{action} {key}: {exc}", location=where)
        if not isinstance(exc, ClientError):
            return StorageError(f"{action} {key}: {exc}", location=where)
        code, status, message = _error_parts(exc)
        text = f"{action} {key}: S3 error {code} (HTTP {status}): {message}"
        if code in _MISSING_CODES:
            return ObjectMissingError(f"no object {key}", location=where)
        if code in _CHECKSUM_CODES:
            return ChecksumMismatchError(text, location=where)
        if code == "PreconditionFailed" or status == 412:
            return ObjectExistsError(f"object {key} already exists", location=where)
        return StorageError(text, location=where)

    # -- the interface ---------------------------------------------------------------------

    def put(
        self,
        key: str,
        source: BinaryIO,
        *,
        size: int,
        sha256: str,
        retention: Retention | None = None,
        durable: bool = True,
        verify_later: bool = False,
    ) -> ObjectInfo:
        """Upload ``source`` after checking it; see the module docstring for what is checked.

        On any failure nothing is left under ``key``: a single request that fails stores
        nothing, and a multipart upload that fails (or whose bytes do not match) is aborted.
        ``durable`` changes nothing: an object the server acknowledged is stored, so a write
        session (``durable=False``) costs no more here and ``sync()`` has nothing to do.
        ``verify_later`` changes nothing either: the stream is hashed as it is read (the
        single-request body and each part carry their SHA-256, which the server checks).
        """
        name = self._name(key)
        verifier = StreamVerifier(source, key=key, size=size, sha256=sha256)
        lock = self._retention(retention)
        if self.head(key) is not None:
            raise ObjectExistsError(f"object {key} already exists", location=self._where(key))
        common: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": name,
            "Metadata": {"sha256": sha256},
        }
        if lock is not None:
            common["ObjectLockMode"] = lock.mode
            common["ObjectLockRetainUntilDate"] = lock.until
        try:
            if size < self.multipart_threshold:
                self._put_single(verifier, common)
            else:
                self._put_multipart(verifier, common)
        except (BotoCoreError, ClientError) as exc:
            error = self._error(exc, key, "put")
            if not (isinstance(error, ObjectExistsError) and self._ours(key, size, sha256)):
                raise error from exc
            # absent at the HEAD above, present now with our size and SHA-256: a request the
            # client retried (a lost or garbled answer) after its first attempt was stored
            log.info("put %s: stored by an earlier attempt of the same request", key)
        return ObjectInfo(
            key=key, size=size, sha256=sha256, retain_until=lock.until if lock else None
        )

    def _ours(self, key: str, size: int, sha256: str) -> bool:
        """Whether ``key`` now holds an object of this size recorded with this SHA-256 (one
        that a put of these bytes stored: the server checked its checksum)."""
        try:
            info = self.head(key)
        except StorageError:
            return False
        return info is not None and info.size == size and info.sha256 == sha256

    def _retention(self, retention: Retention | None) -> Retention | None:
        """The retention a put applies: the call's own, else the location's default, else none."""
        if retention is None and self.retention_mode is not None:
            assert self.retention_days is not None  # checked together in __init__
            until = datetime.now(UTC) + timedelta(days=self.retention_days)
            return Retention(mode=self.retention_mode, until=until)
        if retention is not None:
            if retention.mode not in RETENTION_MODES:
                raise StorageError(
                    f"unknown retention mode {retention.mode!r}", code="STORAGE-BAD-RETENTION"
                )
            if retention.until.tzinfo is None:
                raise StorageError(
                    "retention end must carry a UTC offset", code="STORAGE-BAD-RETENTION"
                )
        return retention

    def _put_single(self, verifier: StreamVerifier, common: dict[str, Any]) -> None:
        """One PUT of a small object, read whole and checked before a byte is sent."""
        body = verifier.read(verifier.size)
        verifier.finish()
        self._write_once(
            self._client.put_object,
            Body=body,
            ContentLength=len(body),
            ChecksumSHA256=_b64(bytes.fromhex(verifier.sha256)),
            **common,
        )

    def _put_multipart(self, verifier: StreamVerifier, common: dict[str, Any]) -> None:
        """Upload in parts, each checked by the server; complete only if the whole matches."""
        part_size = max(self.part_size, math.ceil(verifier.size / MAX_PARTS))
        upload = self._client.create_multipart_upload(ChecksumAlgorithm="SHA256", **common)
        upload_id = upload["UploadId"]
        target = {"Bucket": common["Bucket"], "Key": common["Key"], "UploadId": upload_id}
        try:
            parts: list[dict[str, Any]] = []
            while data := verifier.read(part_size):
                number = len(parts) + 1
                checksum = _b64(hashlib.sha256(data).digest())
                answer = self._client.upload_part(
                    PartNumber=number,
                    Body=data,
                    ContentLength=len(data),
                    ChecksumSHA256=checksum,
                    **target,
                )
                parts.append(
                    {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum}
                )
            verifier.finish()
            self._write_once(
                self._client.complete_multipart_upload,
                MultipartUpload={"Parts": parts},
                **target,
            )
        except BaseException:
            self._abort(target)
            raise

    def _abort(self, target: dict[str, Any]) -> None:
        """Abort a multipart upload so that its parts do not linger (and cost) in the bucket."""
        try:
            self._client.abort_multipart_upload(**target)
        except (BotoCoreError, ClientError) as exc:
            log.error(
                "could not abort multipart upload %s of %s in bucket %s: %s (a lifecycle "
                "rule for incomplete multipart uploads on the bucket clears such leftovers)",
                target["UploadId"],
                target["Key"],
                target["Bucket"],
                exc,
            )

    def _write_once(self, call: Callable[..., Any], **args: Any) -> None:
        """Make the request that creates the object, with ``If-None-Match: *`` if supported."""
        if self._conditional_writes:
            try:
                call(IfNoneMatch="*", **args)
                return
            except ClientError as exc:
                code, status, _ = _error_parts(exc)
                if code not in _UNSUPPORTED_CODES and status != 501:
                    raise
            self._conditional_writes = False
            log.warning(
                "S3 server of bucket %s does not support conditional writes (If-None-Match); "
                "write-once now rests on a HEAD before each put",
                self.bucket,
            )
        call(**args)

    def open(self, key: str) -> BinaryIO:
        """The object's bytes as a buffered binary stream (use it in a ``with`` block).

        For objects uploaded in one piece boto3 also checks the server's SHA-256 as the stream
        is read to its end and raises :class:`ChecksumMismatchError` on a difference; multipart
        objects carry only a composite checksum, which boto3 skips.
        """
        name = self._name(key)
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=name, ChecksumMode="ENABLED")
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, key, "open") from exc
        # a buffer no larger than the object (a 1 MiB one per small object read back by an
        # ingest's worker threads would be kept, fragmented, by their malloc arenas)
        length = answer.get("ContentLength")
        size = READ_BUFFER if not isinstance(length, int) else min(READ_BUFFER, max(length, 8192))
        return io.BufferedReader(_BodyReader(answer["Body"], self, key), buffer_size=size)

    def head(self, key: str) -> ObjectInfo | None:
        """Size, recorded SHA-256 (``x-amz-meta-sha256``) and retention of an object."""
        name = self._name(key)
        try:
            answer = self._client.head_object(Bucket=self.bucket, Key=name)
        except (BotoCoreError, ClientError) as exc:
            error = self._error(exc, key, "head")
            if isinstance(error, ObjectMissingError):
                return None
            raise error from exc
        return ObjectInfo(
            key=key,
            size=answer["ContentLength"],
            sha256=answer.get("Metadata", {}).get("sha256"),
            modified=answer.get("LastModified"),
            retain_until=answer.get("ObjectLockRetainUntilDate"),
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """List page by page (1,000 keys per request); the recorded SHA-256 needs :meth:`head`.

        Keys under the location's prefix that are not valid keys of ours (written by another
        tool) are skipped with a warning.
        """
        full_prefix = self._root + check_prefix(prefix)
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full_prefix
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self._root) :]
                    try:
                        check_key(key)
                    except StorageError:
                        log.warning("skipping %s: not a valid object key", self._where(key))
                        continue
                    yield ObjectInfo(key=key, size=item["Size"], modified=item["LastModified"])
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, prefix, "list") from exc

    def delete(self, key: str) -> None:
        """Remove the object's current version for good, unless Object Lock or policy refuses.

        See the module docstring for why the version is named rather than hidden behind a
        delete marker.
        """
        name = self._name(key)
        try:
            current = self._client.head_object(Bucket=self.bucket, Key=name)
        except (BotoCoreError, ClientError) as exc:
            error = self._error(exc, key, "delete")
            if isinstance(error, ObjectMissingError):
                return
            raise error from exc
        target: dict[str, Any] = {"Bucket": self.bucket, "Key": name}
        if current.get("VersionId"):
            target["VersionId"] = current["VersionId"]
        try:
            self._client.delete_object(**target)
        except ClientError as exc:
            code, _, message = _error_parts(exc)
            if code in _REFUSED_CODES:
                retained = ""
                if "ObjectLockRetainUntilDate" in current:
                    retained = (
                        f" (Object Lock {current.get('ObjectLockMode')} until "
                        f"{current['ObjectLockRetainUntilDate'].isoformat()})"
                    )
                raise DeleteRefusedError(
                    f"S3 refuses to delete {key}{retained}: {code}: {message}",
                    location=self._where(key),
                ) from exc
            error = self._error(exc, key, "delete")
            if isinstance(error, ObjectMissingError):
                return
            raise error from exc
        except BotoCoreError as exc:
            raise self._error(exc, key, "delete") from exc

    def describe(self) -> str:
        """``s3://bucket/prefix`` and the endpoint, with any user information removed."""
        endpoint = urlsplit(self._client.meta.endpoint_url)
        host = endpoint.hostname or ""
        if endpoint.port is not None:
            host = f"{host}:{endpoint.port}"
        shown = urlunsplit((endpoint.scheme, host, endpoint.path, "", ""))
        return f"s3://{self.bucket}/{self._root} at {shown}"

    def close(self) -> None:
        """Close the connection pool of a client this backend created."""
        if self._owns_client:
            self._client.close()


class _BodyReader(io.RawIOBase):
    """A raw stream over a ``get_object`` body, so that ``open`` returns a real file object.

    Errors while reading (connection lost, truncated body, checksum mismatch) become this
    project's storage errors; closing it releases the HTTP connection.
    """

    def __init__(self, body: StreamingBody, backend: S3Backend, key: str) -> None:
        super().__init__()
        self._body = body
        self._backend = backend
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except BotoCoreError as exc:
            raise self._backend._error(exc, self._key, "read") from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _parse_url(url: str) -> tuple[str, str]:
    """Bucket and key prefix (without slashes at either end) of an ``s3://`` URL."""
    parts = urlsplit(url)
    problem = None
    if parts.scheme != "s3":
        problem = "the scheme must be s3://"
    elif "@" in parts.netloc:
        problem = "credentials do not belong in the URL (use the environment or a profile)"
    elif not _BUCKET.fullmatch(parts.netloc):
        problem = f"{parts.netloc!r} is not a valid bucket name"
    elif parts.query or parts.fragment:
        problem = "a query or fragment is not allowed"
    prefix = parts.path.strip("/")
    if problem is None and prefix:
        try:
            check_key(prefix)
        except StorageError as exc:
            problem = f"unsafe key prefix: {exc.message}"
    if problem:
        # Never echo a URL that may hold credentials.
        shown = f"s3://{parts.hostname or ''}{parts.path}" if "@" in parts.netloc else url
        raise ConfigError(f"invalid storage URL {shown!r}: {problem}", code="CONFIG-STORAGE-URL")
    return parts.netloc, prefix


def _make_client(endpoint_url: str | None, region: str | None, profile: str | None) -> S3Client:
    """A boto3 S3 client from the standard credential chain, with explicit options winning."""
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        client: S3Client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 5}),
        )
    except BotoCoreError as exc:
        raise ConfigError(f"cannot set up the S3 client: {exc}", code="CONFIG-STORAGE-S3") from exc
    return client


def _error_parts(exc: ClientError) -> tuple[str, int | None, str]:
    """(S3 error code, HTTP status, message) of a boto3 client error."""
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code", ""), status, error.get("Message", "")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")
