"""A storage location in an S3 bucket: ``s3://bucket/optional/prefix``.

The S3 backend (this module, :mod:`~preservation.storage.s3_client` and
:mod:`~preservation.storage.s3_upload`) is the only code that imports boto3. Credentials, endpoint
and region come the standard boto3 way (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, shared config files, instance roles); the
``endpoint_url``, ``region`` and ``profile`` options override them. Secrets never appear in the
URL, in :meth:`S3Backend.describe` or in error messages. The URL, the client and the translation
of S3's errors are in :mod:`~preservation.storage.s3_client`.

Every ``put`` is checked twice: by us and by the server, which verifies the SHA-256 we send with
the bytes; how a small object (one request) and a large one (a multipart upload) are sent and
checked is in :mod:`~preservation.storage.s3_upload`.

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

import io
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

from botocore.exceptions import BotoCoreError, ClientError

from preservation.errors import (
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
from preservation.storage.s3_client import (
    BodyReader,
    error_parts,
    make_client,
    parse_url,
    translate_error,
)
from preservation.storage.s3_upload import (
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    MiB,
    put_multipart,
    put_single,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "READ_BUFFER",
    "RETENTION_MODES",
    "MiB",
    "S3Backend",
]

log = logging.getLogger(__name__)

RETENTION_MODES = ("COMPLIANCE", "GOVERNANCE")
#: Read buffer of :meth:`S3Backend.open`.
READ_BUFFER = MiB

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
        self.bucket, prefix = parse_url(url)
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
        self._client: S3Client = client or make_client(endpoint_url, region, profile)
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
        return translate_error(exc, key, action, self._where(key))

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
        """Upload ``source`` after checking it; :mod:`~preservation.storage.s3_upload` says how.

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
                put_single(self._client, verifier, common, self._write_once)
            else:
                put_multipart(self._client, verifier, common, self.part_size, self._write_once)
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

    def _write_once(self, call: Callable[..., Any], **args: Any) -> None:
        """Make the request that creates the object, with ``If-None-Match: *`` if supported."""
        if self._conditional_writes:
            try:
                call(IfNoneMatch="*", **args)
                return
            except ClientError as exc:
                code, status, _ = error_parts(exc)
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
        return io.BufferedReader(BodyReader(answer["Body"], key, self._error), buffer_size=size)

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
            code, _, message = error_parts(exc)
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
