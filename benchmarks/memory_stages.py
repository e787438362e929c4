"""Memory of an ingest stage by stage, in this process (where does the per-file growth live?).

    python benchmarks/memory_stages.py                  # 10,000 and 30,000 files of 4 KiB
    python benchmarks/memory_stages.py --counts 50000 --tracemalloc

For each count, builds a BagIt bag (``transfer.make_small_bag``), ingests it into a fresh
repository with two filesystem locations, and prints the process's RSS and high-water mark
(``/proc/self/status``; ``--tracemalloc`` adds the Python heap now and at its peak) at the
boundaries of the ingest's stages: validation (``open_sip`` until the build), the build
(``aip.ingest._build``), the copies (``replicate_all``) and the catalog (``catalog_records`` and
``register_aip``). Comparing two counts shows how much each stage grows per file
(``benchmarks/scale_memory.py`` gives the peak of whole commands). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from ingest_vs_cp import new_repository  # noqa: E402
from transfer import make_small_bag  # noqa: E402

import aip.ingest as ingest_module  # noqa: E402
from preservation.repository import Repository  # noqa: E402


def memory() -> str:
    fields = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) // 1024
    text = f"RSS {fields['VmRSS']:5d} MiB, high-water {fields['VmHWM']:5d} MiB"
    if tracemalloc.is_tracing():
        now, peak = tracemalloc.get_traced_memory()
        text += f", heap {now / 2**20:6.1f} MiB (peak {peak / 2**20:6.1f})"
    return text


def watched(owner: Any, name: str) -> None:
    """Print the memory before and after each call of ``owner.name``."""
    real: Callable[..., Any] = getattr(owner, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        print(f"    before {name:<22} {memory()}", flush=True)
        result = real(*args, **kwargs)
        print(f"    after  {name:<22} {memory()}", flush=True)
        return result

    setattr(owner, name, call)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="10000,30000")
    parser.add_argument("--size", type=int, default=4096, help="bytes per file")
    parser.add_argument("--tracemalloc", action="store_true", help="also the Python heap")
    args = parser.parse_args()
    for name in ("_build", "replicate_all", "catalog_records"):
        watched(ingest_module, name)
    for count in (int(c) for c in args.counts.split(",")):
        work = Path(tempfile.mkdtemp(prefix=f"bench-stages-{count}-"))
        try:
            bag = make_small_bag(work / "transfer", count, args.size)
            home = work / "archive"
            extra = new_repository(home)
            print(f"{count} files", flush=True)
            if args.tracemalloc:
                tracemalloc.start(1)
            print(f"    start (validation next)       {memory()}", flush=True)
            with Repository.open(home) as repo:
                watched(repo.catalog, "register_aip")
                ingest_module.ingest(repo.config, bag, identity=repo.identity(),
                                     catalog=repo.catalog, fonds=extra[1])
            print(f"    end                           {memory()}", flush=True)
            tracemalloc.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
