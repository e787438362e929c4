"""Ingest of a transfer to two filesystem locations against two plain ``cp -r``, same run.

    python benchmarks/ingest_vs_cp.py                       # 10,000 files, 1 GiB, BagIt bag
    python benchmarks/ingest_vs_cp.py --kind tt05           # a TT05 SIP_hoso of the same size
    python benchmarks/ingest_vs_cp.py --files 2000 --mib 256 --profile /tmp/ingest.prof

Builds the transfer (:mod:`benchmarks.transfer`: mostly PDFs, some UTF-8 text and PNG images,
Vietnamese folder and file names; or a TT05 SIP made by ``sip create``), reads it once so every
step starts from the same warm page cache, then times:

- ``cp -r`` of the tree into two folders, without ``sync``, and again followed by ``sync``
  (ingest makes its copies durable, so the ``sync`` run is the honest reference);
- ``preservation ingest`` into a fresh repository whose two locations are filesystem folders
  (validate + identify + build + sign + write both copies durably + read both back + register),
  as a child process, with its peak RSS (``os.wait4``);
- fido identification alone over the payload (our ``FormatIdentifier``, in this process), to
  show its share of the ingest.

Each round (``--rounds``, default 2) times the ``cp -r`` pair and an ingest into a fresh
repository back to back, since the disk's write-back state moves both; the ratios printed last
compare the fastest ingest with the fastest ``cp -r`` pair (each at its best). Nothing is
asserted: a measurement. ``--profile FILE`` runs the first round's ingest under cProfile
(slower) and prints the top 25 functions.

``--content-only`` times, instead, the content checks of the payload alone
(``sip.content.check_content``: identification, format policy, PDF checks) in this process, one
file after the other and then in forked workers, ``--rounds`` times, and checks that both give
the same findings in the same order and the same identifications.
"""

from __future__ import annotations

import argparse
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

MiB = 1024 * 1024


def built(kind: str, target: Path, count: int, size: int) -> Path:
    """Build a transfer (``transfer.py``'s command line) in a child process, so that this
    process stays small: a child's peak RSS read from ``os.wait4`` (:func:`run_child`) is at
    least the parent's RSS when it was started (the child begins as a copy of it, and the
    kernel keeps the high-water mark across ``exec``), so a parent that had built 100,000 files
    in itself made every child look as big as it was."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "transfer.py"),
                          kind, str(target), str(count), str(size)],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return Path(out.stdout.strip().splitlines()[-1])


def parent_rss() -> float:
    """This process's own peak RSS in MiB: no child's peak below it can be measured."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; (seconds, peak RSS of that process in MiB, the end of its stdout). Exits
    on failure. Only the last 3,000 characters of its output are read, so that this process
    stays small (see :func:`built`)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        stdout, stderr = _tail(out), _tail(err)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(args[:6])}… failed ({proc.returncode}):\n{stdout}\n{stderr}")
    return seconds, usage.ru_maxrss / 1024, stdout


def _tail(stream: IO[bytes], size: int = 3000) -> str:
    stream.seek(0, os.SEEK_END)
    stream.seek(max(0, stream.tell() - size))
    return stream.read().decode(errors="replace")


def preservation(home: Path, *args: str, profile: Path | None = None) -> list[str]:
    prefix = [sys.executable]
    if profile is not None:
        prefix += ["-m", "cProfile", "-o", str(profile)]
    return [*prefix, "-m", "preservation", "--home", str(home), *args]


def new_repository(home: Path) -> list[str]:
    """A fresh repository with two filesystem locations and a registered fonds; the options
    every ingest into it needs (every AIP belongs to a registered fonds)."""
    run_child(preservation(home, "init", "--json"))
    run_child(preservation(home, "fonds", "add", "H41", "--name", "Benchmark fonds"))
    return ["--fonds", "H41"]


def warm(files: list[Path]) -> int:
    total = 0
    for path in files:
        with path.open("rb") as f:
            while chunk := f.read(MiB):
                total += len(chunk)
    return total


def timed(label: str, seconds: float, note: str = "") -> float:
    print(f"  {label:<52} {seconds:8.2f} s {note}")
    return seconds


def cp_twice(tree: Path, work: Path, *, sync: bool) -> float:
    targets = [work / "cp1", work / "cp2"]
    for t in targets:
        shutil.rmtree(t, ignore_errors=True)
    os.sync()
    start = time.perf_counter()
    for t in targets:
        subprocess.run(["cp", "-r", str(tree), str(t)], check=True)
    if sync:
        subprocess.run(["sync"], check=True)
    seconds = time.perf_counter() - start
    for t in targets:
        shutil.rmtree(t)
    os.sync()
    return seconds


def identify_all(files: list[Path], processes: int = 1) -> float:
    from preservation.formats import FormatIdentifier  # here: the measuring parent stays small

    with FormatIdentifier() as identifier:
        start = time.perf_counter()
        if processes == 1:
            for path in files:
                identifier.identify(path)
        else:
            for _ in identifier.identify_parallel(files, processes=processes):
                pass
        return time.perf_counter() - start


def _never() -> bool:
    return False


def content_checks(tree: Path, rounds: int) -> None:
    """Time check_content over the payload one by one and in forked workers, ``rounds`` times."""
    from policies.formats import load_format_policy
    from preservation.findings import Report
    from preservation.formats import FormatIdentifier
    from sip import content
    from sip.package import PackageTree

    package = PackageTree(tree)
    items = [content.ContentItem(rel) for rel in sorted(package.files)
             if rel.startswith(("data/", "representations/")) and "/metadata/" not in rel]
    options = content.ContentOptions(policy=load_format_policy(None))
    can_fork, workers = vars(content)["can_fork"], min(content._cpus(), content.MAX_PROCESSES)
    said: dict[str, list[object]] = {}
    best: dict[str, float] = {}
    with FormatIdentifier() as identifier:
        for number in range(1, rounds + 1):
            print(f"round {number}: check_content of {len(items)} payload files")
            for label, forking in (("one by one", _never), (f"{workers} workers", can_fork)):
                vars(content)["can_fork"] = forking  # no fork: checked here, one by one
                report = Report("benchmark")
                before, start = os.times(), time.perf_counter()
                formats = content.check_content(package, items, report, options,
                                                identifier=identifier)
                seconds = timed(f"  {label}", time.perf_counter() - start)
                after = os.times()
                mine = after.user + after.system - before.user - before.system
                theirs = (after.children_user + after.children_system
                          - before.children_user - before.children_system)
                print(f"    {1000 * seconds / len(items):.3f} ms/file; processor time: this "
                      f"process {mine:.2f} s, workers {theirs:.2f} s")
                best[label] = min(best.get(label, seconds), seconds)
                answer: list[object] = [(f.code, f.severity, f.location, f.params)
                                        for f in report.findings]
                answer.append(list(formats.items()))
                print(f"    same findings (in order) and formats as the first run: "
                      f"{said.setdefault('first', answer) == answer}")
    vars(content)["can_fork"] = can_fork
    one, many = best["one by one"], best[f"{workers} workers"]
    print(f"fastest: one by one {one:.2f} s, {workers} workers {many:.2f} s "
          f"(×{one / many:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000, help="payload files (bag)")
    parser.add_argument("--mib", type=int, default=1024, help="payload size in MiB")
    parser.add_argument("--kind", choices=("bagit", "tt05"), default="bagit")
    parser.add_argument("--profile", type=Path, help="cProfile output of the ingest process")
    parser.add_argument("--work", type=Path, help="parent folder for the run (default: /tmp)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="cp/ingest rounds (the disk is shared: times vary)")
    parser.add_argument("--content-only", action="store_true",
                        help="time only the content checks, one by one and in workers")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=args.work))
    try:
        start = time.perf_counter()
        if args.kind == "bagit":
            tree = built("bag", work / "transfer", args.files, args.mib * MiB)
        else:  # a document gives two files (PDF + EAD_DOC): half as many documents
            tree = built("tt05", work, args.files // 2, args.mib * MiB)
        files = sorted(p for p in tree.rglob("*") if p.is_file())
        payload = [p for p in files if "/data/" in p.as_posix()[len(str(tree)):]
                   and p.suffix in (".pdf", ".txt", ".png")]
        size = warm(files)
        print(f"transfer ({args.kind}): {len(files)} files, {size / MiB:.0f} MiB, built in "
              f"{time.perf_counter() - start:.0f} s, in {work}")
        print(f"  {os.cpu_count()} CPUs; times on a warm page cache")
        if args.content_only:
            content_checks(tree, args.rounds)
            return

        rounds = []
        for number in range(1, args.rounds + 1):
            print(f"round {number}:")
            t_cp = timed("cp -r, twice (no sync)", cp_twice(tree, work, sync=False))
            t_cp_sync = timed("cp -r, twice, then sync", cp_twice(tree, work, sync=True))
            home = work / f"archive-{number}"
            extra = new_repository(home)
            warm(files)
            os.sync()
            t_ingest, rss, _ = run_child(preservation(
                home, "ingest", str(tree), "--json", *extra,
                profile=args.profile if number == 1 else None))
            timed("preservation ingest (2 file locations, verified)", t_ingest,
                  f"peak RSS {rss:.0f} MiB")
            print(f"  ratio ingest / (cp -r twice, then sync) {t_ingest / t_cp_sync:6.2f}; "
                  f"/ (no sync) {t_ingest / t_cp:6.2f}")
            rounds.append((t_cp, t_cp_sync, t_ingest, rss))
            shutil.rmtree(home, ignore_errors=True)
        t_fido = timed(f"fido identification alone ({len(payload)} payload files)",
                       identify_all(payload))
        workers = os.cpu_count() or 1
        t_fido_parallel = timed(f"  the same in {workers} forked processes (identify_parallel)",
                                identify_all(payload, workers))
        cp, cp_sync, ingest = (min(r[i] for r in rounds) for i in range(3))
        print("ratios (lower is better; target ≤ 1.3), fastest ingest / fastest cp pair:")
        print(f"  ingest / (cp -r twice, then sync)   {ingest / cp_sync:6.2f}")
        print(f"  ingest / (cp -r twice, no sync)     {ingest / cp:6.2f}")
        print(f"  fido identification: {1000 * t_fido / max(1, len(payload)):.2f} ms/file, "
              f"{100 * t_fido / ingest:.0f} % of the ingest time; in {workers} processes "
              f"{1000 * t_fido_parallel / max(1, len(payload)):.2f} ms/file")
        print(f"peak RSS of the ingest process: {max(r[3] for r in rounds):.0f} MiB "
              f"(this process: {parent_rss():.0f} MiB, a floor for it)")
        if args.profile:
            print(f"profile of the ingest ({args.profile}), top 25 by cumulative time:")
            pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(25)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()
