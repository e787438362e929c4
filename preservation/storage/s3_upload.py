"""Sending an object's bytes to S3, checked twice: in one request, or as a multipart upload.

We hash and count the streamed bytes ourselves, and we send the SHA-256 so that the *server*
verifies the bytes it received (``ChecksumSHA256``; per part for multipart uploads) and refuses
them with ``BadDigest`` on a difference. The whole-object SHA-256 is kept in the object's metadata
(``x-amz-meta-sha256``, set by the caller) because the checksum S3 reports for a multipart object
is a checksum of part checksums (``…-N``), not the file's digest. A multipart upload that fails
is aborted, so that no parts linger. The request that creates the object goes through the
caller's ``write_once`` (see :meth:`~preservation.storage.s3.S3Backend.put`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from preservation.storage.base import StreamVerifier

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MiB = 1024 * 1024
#: S3's limits on multipart uploads: parts of at least 5 MiB (except the last), at most 10,000.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000

#: Makes the request that creates the object: ``write_once(call, **arguments)``.
WriteOnce = Callable[..., None]


def put_single(
    client: S3Client, verifier: StreamVerifier, common: dict[str, Any], write_once: WriteOnce
) -> None:
    """One PUT of a small object, read whole and checked before a byte is sent."""
    body = verifier.read(verifier.size)
    verifier.finish()
    write_once(
        client.put_object,
        Body=body,
        ContentLength=len(body),
        ChecksumSHA256=_b64(bytes.fromhex(verifier.sha256)),
        **common,
    )


def put_multipart(
    client: S3Client,
    verifier: StreamVerifier,
    common: dict[str, Any],
    part_size: int,
    write_once: WriteOnce,
) -> None:
    """Upload in parts, each checked by the server; complete only if the whole matches.

    ``part_size`` is grown when needed to stay within :data:`MAX_PARTS` parts.
    """
    part_size = max(part_size, math.ceil(verifier.size / MAX_PARTS))
    upload = client.create_multipart_upload(ChecksumAlgorithm="SHA256", **common)
    upload_id = upload["UploadId"]
    target = {"Bucket": common["Bucket"], "Key": common["Key"], "UploadId": upload_id}
    try:
        parts: list[dict[str, Any]] = []
        while data := verifier.read(part_size):
            number = len(parts) + 1
            checksum = _b64(hashlib.sha256(data).digest())
            answer = client.upload_part(
                PartNumber=number,
                Body=data,
                ContentLength=len(data),
                ChecksumSHA256=checksum,
                **target,
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum})
        verifier.finish()
        write_once(
            client.complete_multipart_upload,
            MultipartUpload={"Parts": parts},
            **target,
        )
    except BaseException:
        _abort(client, target)
        raise


def _abort(client: S3Client, target: dict[str, Any]) -> None:
    """Abort a multipart upload so that its parts do not linger (and cost) in the bucket."""
    try:
        client.abort_multipart_upload(**target)
    except (BotoCoreError, ClientError) as exc:
        log.error(
            "could not abort multipart upload %s of %s in bucket %s: %s (a lifecycle "
            "rule for incomplete multipart uploads on the bucket clears such leftovers)",
            target["UploadId"],
            target["Key"],
            target["Bucket"],
            exc,
        )


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")
