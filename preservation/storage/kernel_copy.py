"""A put's bytes copied inside the kernel (``sendfile``) from a regular file to the object's
temporary file, for a ``verify_later`` put on a filesystem location (see
:mod:`preservation.storage.filesystem`): the bytes never pass through Python; the caller's
read-back checks their SHA-256."""

from __future__ import annotations

import errno
import io
import os
import stat
from typing import BinaryIO

from preservation.errors import StorageError
from preservation.storage.base import StreamVerifier


def kernel_copy(source: BinaryIO, out: int, verifier: StreamVerifier, where: str) -> bool:
    """Copy ``verifier.size`` bytes of a regular-file source to ``out`` with ``sendfile``, from
    the source's current position; False (nothing copied) where that cannot be done, and the
    caller streams instead. The verifier is left as if it had read exactly those bytes, so its
    ``finish`` checks that the source ends there."""
    try:
        in_fd = source.fileno()
        start = source.tell()
        if not stat.S_ISREG(os.fstat(in_fd).st_mode):
            return False
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return False
    copied = 0
    while copied < verifier.size:
        try:
            sent = os.sendfile(out, in_fd, start + copied, min(verifier.size - copied, 1 << 30))
        except OSError as exc:
            if copied == 0 and exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP,
                                             errno.ENOTSOCK, errno.EXDEV):
                return False  # not for these files here: stream them
            _raise_source_error(in_fd, start + copied)
            raise StorageError(f"cannot copy into {where}: {exc}", location=where) from exc
        if sent == 0:
            break  # the source is shorter than announced
        copied += sent
    source.seek(start + copied)
    verifier.count = copied
    return True


def _raise_source_error(in_fd: int, offset: int) -> None:
    """After a failed ``sendfile``: if reading the source where it stopped fails, raise that
    ``OSError`` of the source (as a streamed put would); else return (the failure was ours)."""
    os.pread(in_fd, 1, offset)
