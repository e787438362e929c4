"""The boto3 side of the S3 backend: the ``s3://`` URL, the client, errors and download bodies.

Credentials, endpoint and region come the standard boto3 way (``AWS_ACCESS_KEY_ID``/
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, shared config files, instance
roles); explicit options override them. Secrets never appear in a URL we accept or echo, nor in
error messages. S3's error codes become this project's storage errors here, in one place, for
:class:`~preservation.storage.s3.S3Backend` and the streams it returns.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

from preservation.errors import (
    ChecksumMismatchError,
    ConfigError,
    ObjectExistsError,
    ObjectMissingError,
    StorageError,
)
from preservation.storage.base import check_key

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchVersion"})
_CHECKSUM_CODES = frozenset({"BadDigest", "XAmzContentSHA256Mismatch"})

#: ``translate(exc, key, action)``: a storage error for a boto3 exception about ``key``.
ErrorTranslator = Callable[[Exception, str, str], StorageError]


def parse_url(url: str) -> tuple[str, str]:
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


def make_client(endpoint_url: str | None, region: str | None, profile: str | None) -> S3Client:
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


def translate_error(exc: Exception, key: str, action: str, where: str) -> StorageError:
    """Translate a boto3 exception about ``key`` (at URL ``where``) into this project's errors,
    keeping the S3 error code."""
    if isinstance(exc, FlexibleChecksumError):
        return ChecksumMismatchError(f"{action} {key}: {exc}", location=where)
    if not isinstance(exc, ClientError):
        return StorageError(f"{action} {key}: {exc}", location=where)
    code, status, message = error_parts(exc)
    text = f"{action} {key}: S3 error {code} (HTTP {status}): {message}"
    if code in _MISSING_CODES:
        return ObjectMissingError(f"no object {key}", location=where)
    if code in _CHECKSUM_CODES:
        return ChecksumMismatchError(text, location=where)
    if code == "PreconditionFailed" or status == 412:
        return ObjectExistsError(f"object {key} already exists", location=where)
    return StorageError(text, location=where)


def error_parts(exc: ClientError) -> tuple[str, int | None, str]:
    """(S3 error code, HTTP status, message) of a boto3 client error."""
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code", ""), status, error.get("Message", "")


class BodyReader(io.RawIOBase):
    """A raw stream over a ``get_object`` body, so that ``open`` returns a real file object.

    Errors while reading (connection lost, truncated body, checksum mismatch) become this
    project's storage errors (through ``translate``, called as ``translate(exc, key, "read")``);
    closing it releases the HTTP connection.
    """

    def __init__(self, body: StreamingBody, key: str, translate: ErrorTranslator) -> None:
        super().__init__()
        self._body = body
        self._key = key
        self._translate = translate

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except BotoCoreError as exc:
            raise self._translate(exc, self._key, "read") from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
