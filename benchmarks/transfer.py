"""Generated transfers for the benchmarks: a realistic mix of files, as a BagIt bag or a TT05 SIP.

Not a test fixture: the files are big and many. Every generator is seeded, so two runs build the
same bytes. Content never compresses away (random padding), so no tool gets a free ride.

- :func:`make_bag` — a BagIt bag (SHA-256 manifest) whose payload is mostly PDFs
  (:func:`sip.samples.minimal_pdf` with random padding), some UTF-8 text and some PNG images,
  spread over folders with Vietnamese names;
- :func:`make_tt05` — a TT05 SIP_hoso folder made by ``sip create`` from PDFs and a CSV catalogue
  (each document gives two files: the PDF and its EAD_DOC record);
- :func:`make_small_bag` — many small text files (memory-growth runs).
"""

from __future__ import annotations

import csv
import random
import shutil
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import bagit  # noqa: E402

from preservation.findings import Report  # noqa: E402
from sip.create import create_sip  # noqa: E402
from sip.samples import SAMPLE_CATALOGUE_ROWS, minimal_pdf  # noqa: E402
from sip.tt05_model import PackageKind  # noqa: E402

MiB = 1024 * 1024
#: Share of the payload files by kind (the rest are PDFs).
TEXT_SHARE = 0.10
PNG_SHARE = 0.05


def sizes(count: int, total: int, rng: random.Random) -> list[int]:
    """``count`` sizes summing to about ``total``, spread from 0.2× to 1.8× the mean."""
    weights = [rng.uniform(0.2, 1.8) for _ in range(count)]
    scale = total / sum(weights)
    return [max(800, int(w * scale)) for w in weights]


def pdf_of_size(size: int, rng: random.Random, title: str) -> bytes:
    """A valid PDF of about ``size`` bytes (random hex padding in a header comment)."""
    pad = max(0, size - 700)
    return minimal_pdf(title, padding=rng.randbytes(pad // 2 + 1).hex()[:pad].encode())


def png_of_size(size: int, rng: random.Random) -> bytes:
    """A valid PNG (8-bit grey, stored zlib blocks) of about ``size`` bytes of random pixels."""
    width = 256
    height = max(1, size // (width + 1))
    raw = b"".join(b"\x00" + rng.randbytes(width) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))


def text_of_size(size: int, rng: random.Random) -> bytes:
    words = ["văn", "bản", "lưu", "trữ", "hồ", "sơ", "tài", "liệu", "điện", "tử", "Nghệ", "An"]
    out: list[str] = []
    length = 0
    while length < size:
        line = " ".join(rng.choice(words) for _ in range(12)) + f" {rng.getrandbits(64):x}\n"
        out.append(line)
        length += len(line.encode())
    return "".join(out).encode()


def payload_files(count: int, total: int, seed: int = 20261121) -> Iterator[tuple[str, bytes]]:
    """(relative path, bytes) of a mixed transfer, 500 files per folder."""
    rng = random.Random(seed)
    for i, size in enumerate(sizes(count, total, rng)):
        folder = f"hồ sơ {i // 500:03d}"
        pick = rng.random()
        if pick < TEXT_SHARE:
            yield f"{folder}/ghi chú {i:06d}.txt", text_of_size(size, rng)
        elif pick < TEXT_SHARE + PNG_SHARE:
            yield f"{folder}/ảnh {i:06d}.png", png_of_size(size, rng)
        else:
            yield f"{folder}/văn bản {i:06d}.pdf", pdf_of_size(size, rng, f"Van ban {i}")


def make_bag(target: Path, count: int, total: int) -> Path:
    """A BagIt bag of ``count`` mixed payload files totalling about ``total`` bytes."""
    for rel, data in payload_files(count, total):
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    bagit.make_bag(str(target), {"External-Description": "Benchmark transfer"},
                   checksums=["sha256"])
    return target


def make_small_bag(target: Path, count: int, size: int = 4096) -> Path:
    """A bag of ``count`` small UTF-8 text files (``size`` bytes each), 1,000 per folder."""
    rng = random.Random(count)
    for i in range(count):
        path = target / f"thư mục {i // 1000:04d}" / f"tệp {i:07d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text_of_size(size, rng)[:size])
    bagit.make_bag(str(target), {"External-Description": "Small-file transfer"},
                   checksums=["sha256"])
    return target


def make_tt05(work: Path, documents: int, total: int) -> Path:
    """A TT05 SIP_hoso folder of ``documents`` PDFs (about ``total`` bytes) made by sip create.

    Returns the package folder (the ZIP ``sip create`` writes is extracted, then deleted).
    """
    rng = random.Random(20261122)
    docs = work / "producer" / "tai-lieu"
    docs.mkdir(parents=True)
    header, dossier, first = SAMPLE_CATALOGUE_ROWS[0], SAMPLE_CATALOGUE_ROWS[1], \
        SAMPLE_CATALOGUE_ROWS[2]
    rows = [list(header), list(dossier)]
    for i, size in enumerate(sizes(documents, total, rng), 1):
        name = f"hs{i // 1000:02d}/văn bản {i:06d}.pdf"
        path = docs / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(pdf_of_size(size, rng, f"Van ban {i}"))
        row = list(first)
        row[-1] = name
        row[header.index("Trích yếu nội dung")] = f"Văn bản số {i}"
        rows.append(row)
    catalogue = work / "producer" / "muc-luc.csv"
    with catalogue.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    report = Report("create")
    sip_zip = create_sip(docs, catalogue, PackageKind.HOSO, work / "sip.zip",
                         fonds_code="H41", agency="Benchmark", report=report)
    if sip_zip is None:
        raise SystemExit(f"sip create failed: {sorted(report.codes())}")
    folder = work / "tt05"
    with zipfile.ZipFile(sip_zip) as zf:
        zf.extractall(folder)
    sip_zip.unlink()
    shutil.rmtree(work / "producer")
    (package,) = list(folder.iterdir())
    return package


def main(argv: list[str]) -> None:
    """``transfer.py bag|small|tt05 TARGET COUNT SIZE``: build a transfer in this process and
    print its path (``SIZE``: total bytes for bag and tt05, bytes per file for small; ``COUNT``:
    files, or documents for tt05, whose ``TARGET`` is the work folder)."""
    kind, target, count, size = argv[0], Path(argv[1]), int(argv[2]), int(argv[3])
    if kind == "bag":
        built = make_bag(target, count, size)
    elif kind == "small":
        built = make_small_bag(target, count, size)
    elif kind == "tt05":
        built = make_tt05(target, count, size)
    else:
        raise SystemExit(f"unknown kind {kind!r} (bag, small, tt05)")
    print(built)


if __name__ == "__main__":
    main(sys.argv[1:])
