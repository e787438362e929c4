"""Validating a 10,000-file TT05 SIP, against plain tools measured in the same run.

    python benchmarks/sip_validate.py [DOCUMENTS] [KIB]     (default: 10000 documents, 64 KiB)

Builds a producer's folder of DOCUMENTS PDFs (about KIB KiB each, random padding so nothing
compresses away) and a CSV catalogue, turns it into a TT05 SIP_hoso with ``sip create`` (the
package then holds 2 × DOCUMENTS + a few files: each document and its EAD_DOC record), zips it,
and times on the same warm-cache files:

- ``openssl dgst -sha256`` over every file of the unzipped package — the floor for reading
- bagit-python ``Bag.validate()`` on a bag of the same files          — the reference validator
- the ``fido`` command over the documents (one process, start-up paid once)
- ``preservation sip validate`` on the folder, and on the ZIP (inspect, bounded extraction,
  E-ARK + TT05 rules, SHA-256 of every file, fido identification, PDF checks), each as its own
  process with its peak RSS

and prints each time and its ratio. Nothing is asserted: it is a measurement.
"""

from __future__ import annotations

import csv
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bagit  # noqa: E402

from preservation.findings import Report  # noqa: E402
from sip.create import create_sip  # noqa: E402
from sip.samples import SAMPLE_CATALOGUE_ROWS, minimal_pdf  # noqa: E402
from sip.tt05_model import PackageKind  # noqa: E402


def make_source(folder: Path, documents: int, kib: int) -> tuple[Path, Path]:
    rng = random.Random(20261121)
    docs = folder / "tai-lieu"
    docs.mkdir(parents=True)
    header, dossier, first = SAMPLE_CATALOGUE_ROWS[0], SAMPLE_CATALOGUE_ROWS[1], \
        SAMPLE_CATALOGUE_ROWS[2]
    rows = [list(header), list(dossier)]
    for i in range(1, documents + 1):
        name = f"hs{i // 1000:02d}/văn bản {i:06d}.pdf"
        path = docs / name
        path.parent.mkdir(exist_ok=True)
        # a valid PDF whose header comment carries random (hex) padding
        size = max(0, kib * 1024 - 700)
        path.write_bytes(minimal_pdf(f"Van ban {i}",
                                     padding=rng.randbytes(size // 2 + 1).hex()[:size].encode()))
        row = list(first)
        row[-1] = name
        row[header.index("Trích yếu nội dung")] = f"Văn bản số {i}"
        rows.append(row)
    catalogue = folder / "muc-luc.csv"
    with catalogue.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return docs, catalogue


def timed(label: str, fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<58} {seconds:8.2f} s")
    return seconds


def child_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_validate(target: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "preservation", "sip", "validate", str(target),
                           "--json"], capture_output=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        sys.exit(f"validation failed ({proc.returncode}): {proc.stdout[-2000:]!r}"
                 f" {proc.stderr[-2000:]!r}")


def main() -> None:
    documents = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    kib = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    work = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    try:
        print(f"Preparing {documents} documents of ~{kib} KiB in {work} …")
        docs, catalogue = make_source(work / "producer", documents, kib)
        report = Report("create")
        start = time.perf_counter()
        sip_zip = create_sip(docs, catalogue, PackageKind.HOSO, work / "sip.zip",
                             fonds_code="H41", agency="Benchmark", report=report)
        print(f"  sip create: {time.perf_counter() - start:.1f} s")
        if sip_zip is None:
            sys.exit(f"sip create failed: {sorted(report.codes())}")
        folder = work / "unzipped"
        with zipfile.ZipFile(sip_zip) as zf:
            zf.extractall(folder)
        (package,) = list(folder.iterdir())
        files = [p for p in package.rglob("*") if p.is_file()]
        total = sum(p.stat().st_size for p in files)
        print(f"SIP: {len(files)} files, {total / 2**20:.0f} MiB "
              f"(ZIP {sip_zip.stat().st_size / 2**20:.0f} MiB)")
        bag = work / "bag"
        shutil.copytree(package, bag)
        bagit.make_bag(str(bag), checksums=["sha256"])
        data_dir = package / "representations/rep1/data"
        for p in files:  # warm the page cache for everyone alike
            p.read_bytes()

        print("Times (warm cache):")
        t_openssl = timed("openssl dgst -sha256 (every file, xargs)", lambda: subprocess.run(
            f"find '{package}' -type f -print0 | xargs -0 openssl dgst -sha256 > /dev/null",
            shell=True, check=True))
        t_bagit = timed("bagit-python Bag.validate() (same files as a bag)",
                        lambda: bagit.Bag(str(bag)).validate(processes=1))
        fido = shutil.which("fido")
        t_fido = timed("fido command over the documents (one process)", lambda: subprocess.run(
            [fido, "-q", "-recurse", str(data_dir)], capture_output=True, check=True)) \
            if fido else None
        before = child_rss_mib()
        t_folder = timed("preservation sip validate FOLDER (process)",
                         lambda: run_validate(package))
        rss_folder = child_rss_mib()
        t_zip = timed("preservation sip validate ZIP (process)", lambda: run_validate(sip_zip))
        rss_zip = child_rss_mib()

        print("Ratios:")
        print(f"  sip validate FOLDER / openssl dgst        {t_folder / t_openssl:6.2f}×")
        print(f"  sip validate FOLDER / bagit-python         {t_folder / t_bagit:6.2f}×")
        if t_fido:
            print(f"  sip validate FOLDER / fido CLI alone       {t_folder / t_fido:6.2f}×  "
                  "(ours also hashes, parses and checks every file)")
        print(f"  sip validate ZIP / FOLDER                  {t_zip / t_folder:6.2f}×")
        print(f"Throughput: {len(files) / t_folder:,.0f} files/s, "
              f"{total / 2**20 / t_folder:,.0f} MiB/s (folder)")
        print(f"Peak RSS of the validating process: {max(rss_folder, before):.0f} MiB (folder), "
              f"{rss_zip:.0f} MiB (max of both runs, ZIP)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()
