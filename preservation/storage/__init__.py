"""Storage locations behind one interface, opened by URL scheme.

``open_location("file:///srv/archive/copy1")`` or ``open_location("s3://bucket/prefix", …)``.
Backends register by scheme; boto3 is imported only by the S3 backend, and only when used.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from preservation.errors import ConfigError
from preservation.storage.base import ObjectInfo, Retention, StorageBackend, check_key
from preservation.storage.locations import open_locations

#: scheme → "module:Class"; imported lazily so that boto3 loads only for s3:// locations.
_REGISTRY: dict[str, str] = {
    "file": "preservation.storage.filesystem:FilesystemBackend",
    "s3": "preservation.storage.s3:S3Backend",
}


def register(scheme: str, target: str) -> None:
    """Register a backend class (``"package.module:Class"``) for a URL scheme."""
    _REGISTRY[scheme] = target


def open_location(url: str, **options: Any) -> StorageBackend:
    """Open the storage location named by ``url``; ``options`` go to the backend."""
    scheme = urlsplit(url).scheme
    try:
        target = _REGISTRY[scheme]
    except KeyError:
        known = ", ".join(sorted(f"{s}://" for s in _REGISTRY))
        raise ConfigError(
            f"unknown storage URL scheme {scheme!r} in {url!r} (known: {known})",
            code="CONFIG-STORAGE-SCHEME",
        ) from None
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    backend: StorageBackend = cls(url, **options)
    return backend


__all__ = ["ObjectInfo", "Retention", "StorageBackend", "check_key", "open_location",
           "open_locations", "register"]
