"""BagIt tag files of the AIPs this repository writes: manifests, bag-info, bagit.txt.

Producer bags are read by the tolerant validator in ``sip/``; this module writes and re-reads our
own AIP bags (BagIt 1.0, UTF-8, SHA-256), so it is strict: anything unexpected is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
MANIFEST = "manifest-sha256.txt"
TAGMANIFEST = "tagmanifest-sha256.txt"
SIGNATURE = "tagmanifest-sha256.txt.p7s"


def encode_path(path: str) -> str:
    """Percent-encode what RFC 8493 §2.1.3 requires in manifest paths: %, CR and LF."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r") \
        .replace("%0d", "\r").replace("%25", "%")


def manifest_lines(entries: Iterable[tuple[str, str]]) -> Iterator[str]:
    """One ``<sha256>  <path>`` line per (path, digest) pair, in the order given (a manifest
    lists its paths sorted: give them sorted, as :func:`manifest_text` does)."""
    for path, digest in entries:
        yield f"{digest}  {encode_path(path)}\n"


def manifest_text(entries: Iterable[tuple[str, str]]) -> str:
    """``<sha256>  <path>`` lines, sorted by path, for (path, digest) pairs."""
    return "".join(manifest_lines(sorted(entries)))


def parse_manifest(text: str) -> dict[str, str]:
    """Read a manifest written by :func:`manifest_text`; raise ValueError on any bad line."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, path = line.partition("  ")
        if not sep or len(digest) != 64 or not path:
            raise ValueError(f"line {number}: not '<sha256>  <path>': {line!r}")
        decoded = decode_path(path)
        if decoded in out:
            raise ValueError(f"line {number}: {decoded!r} listed twice")
        out[decoded] = digest.lower()
    return out


def bag_info_text(items: Iterable[tuple[str, str]]) -> str:
    """``Label: value`` lines; values are flattened to one line (no continuation lines)."""
    lines = []
    for label, value in items:
        flat = " ".join(value.split())
        lines.append(f"{label}: {flat}\n")
    return "".join(lines)


def parse_bag_info(data: bytes) -> dict[str, str]:
    """``Label: value`` lines (continuation lines joined); the first value of a label wins."""
    out: dict[str, str] = {}
    last = ""
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line[:1] in (" ", "\t") and last:
            out[last] = f"{out[last]} {line.strip()}"
            continue
        label, sep, value = line.partition(":")
        if not sep:
            continue
        label = label.strip()
        if label not in out:
            out[label] = value.strip()
            last = label
        else:
            last = ""
    return out


def object_key(aip_id: str, bag_path: str) -> str:
    """Where a file of an AIP bag lives in a location: under the AIP UUID, by our own bag path.

    Bag paths of our AIPs are ASCII names this project assigns (content files are numbered), so
    no producer-supplied name ever becomes a key.
    """
    return f"{aip_id}/{bag_path}"
