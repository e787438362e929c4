"""Peak memory of validation and ingest as the number of files grows (10k, 30k, 100k).

    python benchmarks/scale_memory.py                    # 10,000 / 30,000 / 100,000 files
    python benchmarks/scale_memory.py --counts 1000,5000 --size 4096
    python benchmarks/scale_memory.py --kind tt05 --counts 10000,40000   # TT05 SIP_hoso

For each count, builds a BagIt bag of that many small UTF-8 text files (4 KiB by default,
1,000 per folder), then runs, each as its own process with its peak RSS taken from
``os.wait4``:

- ``preservation sip validate BAG --json`` (stdout to a file),
- ``preservation ingest BAG --json`` into a fresh repository with two filesystem locations,

and prints time, peak RSS and RSS per 1,000 files, so growth with the file count is visible.
Nothing is asserted: a measurement.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest_vs_cp import built, new_repository, parent_rss, preservation, run_child  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="10000,30000,100000")
    parser.add_argument("--size", type=int, default=4096, help="bytes per file")
    parser.add_argument("--work", type=Path, help="parent folder for the run (default: /tmp)")
    parser.add_argument("--no-ingest", action="store_true", help="validation only")
    parser.add_argument("--kind", choices=("bagit", "tt05"), default="bagit",
                        help="tt05: a SIP_hoso of COUNT/2 documents (a PDF and an EAD_DOC each)")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]

    print(f"{'files':>8} {'step':<10} {'seconds':>8} {'peak RSS MiB':>13} {'KiB/file':>9}")
    for count in counts:
        work = Path(tempfile.mkdtemp(prefix=f"bench-scale-{count}-", dir=args.work))
        try:
            start = time.perf_counter()
            if args.kind == "tt05":
                bag = built("tt05", work, count // 2, count // 2 * args.size)
            else:
                bag = built("small", work / "transfer", count, args.size)
            print(f"{count:>8} {'build':<10} {time.perf_counter() - start:8.1f}", flush=True)
            seconds, rss, _ = run_child(preservation(work / "unused", "sip", "validate",
                                                     str(bag), "--json"))
            print(f"{count:>8} {'validate':<10} {seconds:8.1f} {rss:13.0f} "
                  f"{rss * 1024 / count:9.2f}", flush=True)
            if not args.no_ingest:
                home = work / "archive"
                extra = new_repository(home)
                seconds, rss, _ = run_child(preservation(home, "ingest", str(bag), "--json",
                                                         *extra))
                print(f"{count:>8} {'ingest':<10} {seconds:8.1f} {rss:13.0f} "
                      f"{rss * 1024 / count:9.2f}", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(f"this process's own peak RSS, a floor for every figure above: {parent_rss():.0f} MiB")


if __name__ == "__main__":
    main()
