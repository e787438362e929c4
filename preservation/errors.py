"""The exception hierarchy: one root, structured attributes, stable codes.

Every error the library raises on purpose derives from :class:`PreservationError` and carries a
stable ``code`` (the same code space as findings) so that the CLI can map it to an exit code and
a message without parsing text.
"""

from __future__ import annotations


class PreservationError(Exception):
    """Root of every error raised on purpose by this project."""

    code = "PRES-ERROR"

    def __init__(self, message: str, *, code: str | None = None, location: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.location = location

    def __str__(self) -> str:
        where = f" [{self.location}]" if self.location else ""
        return f"{self.code}: {self.message}{where}"


class UsageError(PreservationError):
    """The caller asked for something that cannot be done as asked (exit code 2)."""

    code = "PRES-USAGE"


class ConfigError(UsageError):
    """The repository configuration is missing, malformed or inconsistent (exit code 2)."""

    code = "CONFIG-INVALID"


class NotFoundError(UsageError):
    """A path, AIP or object named by the caller does not exist (exit code 2)."""

    code = "PRES-NOT-FOUND"


class StorageError(PreservationError):
    """A storage location failed to do what was asked."""

    code = "STORAGE-ERROR"


class ObjectExistsError(StorageError):
    """Write-once: an object already exists under that key."""

    code = "STORAGE-OBJECT-EXISTS"


class ObjectMissingError(StorageError):
    """No object under that key."""

    code = "STORAGE-OBJECT-MISSING"


class ChecksumMismatchError(StorageError):
    """The bytes written or read do not have the SHA-256 they were announced with."""

    code = "STORAGE-CHECKSUM-MISMATCH"


class DeleteRefusedError(StorageError):
    """The location refuses to delete the object (Object Lock, legal hold, policy)."""

    code = "STORAGE-DELETE-REFUSED"


class SigningError(ConfigError):
    """The signing identity could not be loaded or cannot sign (a configuration problem:
    wrong passphrase, expired certificate, unsupported key); exit code 2."""

    code = "SIGN-ERROR"


class CatalogError(PreservationError):
    """The catalog could not be read or written."""

    code = "CATALOG-ERROR"


class RejectedError(PreservationError):
    """A package was validated and rejected; ``report`` holds every finding."""

    code = "SIP-REJECTED"

    def __init__(self, message: str, report: object, *, code: str | None = None):
        super().__init__(message, code=code)
        self.report = report


class XmlError(PreservationError):
    """XML that is malformed (XML-MALFORMED), hostile (XML-UNSAFE), too large (XML-TOO-LARGE),
    or a schema that cannot be loaded (XML-SCHEMA)."""

    code = "XML-MALFORMED"
