"""The original names of the producer's metadata files an AIP keeps under a sequence number.

A producer's metadata file (its METS, a record, a schema, documentation) whose name cannot be an
AIP path is kept as ``data/submission/sip/renamed/NNNNNN<.ext>``
(:func:`aip.tt05_aip_staging.producer_metadata`). Its name as received is not in METS nor in
PREMIS (which describe the AIP's own metadata and content files), so without a record inside
the AIP a catalog rebuilt from storage would not know it. The record is a small tag file of the
bag, :data:`RENAMED_NAMES` (``renamed-names.json``), listed in the tagmanifest and so covered
by the signature:

.. code-block:: json

    {
      "about": "Original names of the producer's metadata files ...",
      "names": {"data/submission/sip/renamed/000003.txt": "documentation/Ghi chú.txt"}
    }

Names are kept exactly as received (as PREMIS ``originalName`` and the catalog keep them, so a
rebuilt catalog equals the original one). The builder writes the file only when at least one
file was renamed; AIPs written before it existed have none, which the rebuild tolerates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Protocol

from preservation.paths import path_problems

#: the tag file (bag root, beside bag-info.txt)
RENAMED_NAMES = "renamed-names.json"
#: the bag folder of the renamed producer metadata files
RENAMED_PREFIX = "data/submission/sip/renamed/"
#: a larger file is not one this software writes (a name is at most a few KiB)
MAX_BYTES = 64 * 1024 * 1024
ABOUT = ("Original names of the producer's metadata files kept under "
         "data/submission/sip/renamed/ (names that could not be kept as paths), "
         "exactly as received: bag path -> original path in the submission.")


class NamedObject(Protocol):
    """A bag object as the builder stages it (``aip.tt05_aip_bag.StagedObject``)."""

    @property
    def bag_path(self) -> str: ...

    @property
    def original_name(self) -> str | None: ...


def is_renamed(bag_path: str) -> bool:
    """True for a producer metadata file kept under a sequence number."""
    return bag_path.startswith(RENAMED_PREFIX) and len(bag_path) > len(RENAMED_PREFIX)


def renamed_names(objects: Iterable[NamedObject]) -> dict[str, str]:
    """bag path → original name of every renamed producer metadata file among ``objects``."""
    return {o.bag_path: o.original_name for o in objects
            if is_renamed(o.bag_path) and o.original_name}


def renamed_names_text(objects: Iterable[NamedObject]) -> str:
    """The text of :data:`RENAMED_NAMES` for the bag of ``objects`` (the payload), or "" when
    no file was renamed (then the bag has no such tag file)."""
    names = renamed_names(objects)
    if not names:
        return ""
    document = {"about": ABOUT, "names": dict(sorted(names.items()))}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def parse_renamed_names(data: bytes) -> dict[str, str]:
    """bag path → original name, read back from the tag file's bytes.

    Raises ValueError when the bytes are not such a document: too large, not UTF-8 JSON, no
    ``names`` object, a key outside ``data/submission/sip/renamed/`` or a name that is not a
    non-empty string. The whole file is refused then: a signed file this software did not write
    is not believed in part.
    """
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not UTF-8 JSON: {e}") from e
    names = document.get("names") if isinstance(document, dict) else None
    if not isinstance(names, dict):
        raise ValueError('no "names" object')
    out: dict[str, str] = {}
    for path, name in names.items():
        if not is_renamed(path) or path_problems(path):
            raise ValueError(f"{path!r} is not a renamed file's bag path")
        if not isinstance(name, str) or not name:
            raise ValueError(f"the name of {path!r} is not a non-empty text")
        out[path] = name
    return out


__all__ = ["RENAMED_NAMES", "RENAMED_PREFIX", "NamedObject", "is_renamed",
           "parse_renamed_names", "renamed_names", "renamed_names_text"]
