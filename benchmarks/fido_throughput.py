"""Throughput of PRONOM identification: FormatIdentifier against the fido command.

    python benchmarks/fido_throughput.py [N]      # N files, default 2000

Generates N files (a mix of PDF, PNG, UTF-8 text and DOCX, of varied sizes) in a temporary folder
and identifies them

* with one :class:`preservation.formats.FormatIdentifier` (load included in the time),
* with fido's own library in the same process (``Fido.identify_file`` with a ``handle_matches``
  callback, loaded once) — the reference for the matching itself,
* with the ``fido`` command run once over the whole folder (start-up paid once),
* with the ``fido`` command run once per file, on a sample of 20 (start-up paid per file),

checks that every answer (PUIDs in fido's order, and match basis) is identical, and prints files/s
and the ratios. Exit status 1 if any answer differs.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

try:
    from preservation.formats import FormatIdentifier
except ImportError:  # run from a checkout without installing: python benchmarks/…
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from preservation.formats import FormatIdentifier

Answer = tuple[tuple[str, ...], str]  # (PUIDs, basis)
BASIS = {
    "signature": "signature",
    "container": "container",
    "extension": "extension",
    "fail": "none",
}
PER_FILE_SAMPLE = 20


def pdf(rng: random.Random) -> bytes:
    body = b"BT /F1 12 Tf 72 720 Td (Ho so luu tru) Tj ET\n" * rng.randint(1, 4000)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(body), body),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def png(rng: random.Random) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    width, height = rng.randint(1, 200), rng.randint(1, 200)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def txt(rng: random.Random) -> bytes:
    line = "Biên bản họp Hội đồng xác định giá trị tài liệu, hồ sơ số {}.\n"
    return "".join(line.format(rng.randint(1, 9999)) for _ in range(rng.randint(1, 500))).encode()


def docx(rng: random.Random) -> bytes:
    types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    paragraphs = "".join(
        f"<w:p><w:r><w:t>Đoạn {i}: tài liệu lưu trữ</w:t></w:r></w:p>"
        for i in range(rng.randint(1, 300))
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{paragraphs}</w:body></w:document>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("word/document.xml", document)
    return buf.getvalue()


MAKERS = {"pdf": pdf, "png": png, "txt": txt, "docx": docx}


def generate(folder: Path, n: int) -> list[Path]:
    rng = random.Random(20261121)
    kinds = list(MAKERS)
    paths = []
    for i in range(n):
        ext = kinds[i % len(kinds)]
        path = folder / f"{i:06d}.{ext}"
        path.write_bytes(MAKERS[ext](rng))
        paths.append(path)
    return paths


def fido_cli(fido: str, targets: list[str]) -> dict[str, Answer]:
    proc = subprocess.run(
        [
            fido,
            "-q",
            "-matchprintf",
            "%(info.filename)s\t%(info.puid)s\t%(info.matchtype)s\n",
            "-nomatchprintf",
            "%(info.filename)s\t\t%(info.matchtype)s\n",
            *targets,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, tuple[list[str], str]] = {}
    for line in proc.stdout.splitlines():
        filename, puid, matchtype = line.split("\t")
        puids, _ = found.setdefault(Path(filename).name, ([], matchtype))
        if puid and puid not in puids:
            puids.append(puid)
    return {name: (tuple(p), BASIS[m]) for name, (p, m) in found.items()}


def fido_library(paths: list[Path]) -> dict[str, Answer]:
    """fido's own matching in this process: loaded once, results through handle_matches."""
    import fido.fido
    import fido.versions

    found: dict[str, Answer] = {}

    def handle_matches(
        filename: str, matches: list[tuple[object, str]], delta_t: float, matchtype: str = ""
    ) -> None:
        puids = tuple(dict.fromkeys(lib.get_puid(f) for f, _ in matches))
        found[Path(filename).name] = (puids, BASIS[matchtype] if puids else "none")

    v = fido.versions.get_local_versions()
    lib = fido.fido.Fido(
        quiet=True,
        format_files=[v.pronom_signature, v.fido_extension_signature],
        containersignature_file=v.pronom_container_signature,
        handle_matches=handle_matches,
    )
    for path in paths:
        lib.identify_file(str(path))
    return found


def ours(paths: list[Path]) -> dict[str, Answer]:
    start = time.perf_counter()
    with FormatIdentifier() as fi:
        print(f"  (FormatIdentifier load: {time.perf_counter() - start:.2f} s)")
        return {
            path.name: ((r.puid, *r.alternatives) if r.puid else (), r.basis)
            for path, r in fi.identify_many(paths)
        }


def timed(label: str, n: int, func: object, *args: object) -> tuple[dict[str, Answer], float]:
    start = time.perf_counter()
    result = func(*args)  # type: ignore[operator]
    seconds = time.perf_counter() - start
    print(f"{label:<44} {n:6d} files {seconds:8.2f} s {n / seconds:9.1f} files/s")
    return result, n / seconds


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    fido = shutil.which("fido")
    if fido is None:
        print("the fido command is not on PATH", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fido-bench-") as tmp:
        folder = Path(tmp)
        paths = generate(folder, n)
        size = sum(p.stat().st_size for p in paths)
        print(f"{n} files ({', '.join(MAKERS)}), {size / 1e6:.1f} MB in {folder}")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")

        mine, mine_rate = timed("FormatIdentifier (load + identify)", n, ours, paths)
        library, library_rate = timed("fido library, loaded once (identify_file)", n,
                                      fido_library, paths)  # fmt: skip
        cli, cli_rate = timed("fido command, once over the folder", n, fido_cli, fido, [tmp])
        sample = paths[:PER_FILE_SAMPLE]
        start = time.perf_counter()
        per_file: dict[str, Answer] = {}
        for path in sample:
            per_file.update(fido_cli(fido, [str(path)]))
        per_file_rate = len(sample) / (time.perf_counter() - start)
        print(f"{'fido command, once per file (sample)':<44} {len(sample):6d} files "
              f"{len(sample) / per_file_rate:8.2f} s {per_file_rate:9.1f} files/s")  # fmt: skip

        differ = [
            name
            for name in sorted(set(mine) | set(cli) | set(library))
            if not (mine.get(name) == cli.get(name) == library.get(name))
        ]
        differ += [p.name for p in sample if per_file.get(p.name) != mine.get(p.name)]
        for name in differ[:20]:
            print(f"DIFFERENT {name}: ours {mine.get(name)} cli {cli.get(name)}")
        print(f"answers identical: {not differ} ({len(mine)} ours, {len(cli)} from the CLI)")
        print("FormatIdentifier files/s divided by")
        print(f"  fido command over the folder: {mine_rate / cli_rate:6.2f}x")
        print(f"  fido library in-process:      {mine_rate / library_rate:6.2f}x")
        print(f"  fido command per file:        {mine_rate / per_file_rate:6.1f}x")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
