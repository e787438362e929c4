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
  show its share of the ingest, and ``openssl dgst -sha256`` over the same files;
- with the processor time (user + system) of each, a **floor**: the least wall time any ingest
  doing what the issue asks could take on this machine's CPUs (:func:`floor`), beside the
  ratio to the ``cp`` pair.

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


def children_cpu() -> float:
    """Processor time (user + system) of every child process reaped so far, in seconds."""
    times = os.times()
    return times.children_user + times.children_system


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def openssl_sha256(files: list[Path]) -> tuple[float, float]:
    """``openssl dgst -sha256`` over every file (a thousand per command): (seconds, processor
    seconds), the reference for one SHA-256 pass over the payload."""
    before, start = children_cpu(), time.perf_counter()
    for at in range(0, len(files), 1000):
        subprocess.run(["openssl", "dgst", "-sha256", *map(str, files[at:at + 1000])],
                       check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, children_cpu() - before


def identify_all(files: list[Path], processes: int = 1) -> tuple[float, float]:
    """Identify every file (fido's signatures loaded first, not timed): (seconds, processor
    seconds of this process; in ``processes`` > 1 the work is in the forked children)."""
    from preservation.formats import FormatIdentifier  # here: the measuring parent stays small

    with FormatIdentifier() as identifier:
        start, cpu = time.perf_counter(), own_cpu()
        if processes == 1:
            for path in files:
                identifier.identify(path)
        else:
            for _ in identifier.identify_parallel(files, processes=processes):
                pass
        return time.perf_counter() - start, own_cpu() - cpu


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


def floor(cpus: int, cp_sync: float, cpu_cp: float, cpu_fido: float, cpu_sha: float,
          cpu_ingest: float) -> None:
    """Print the least time any ingest that does what the issue asks can take on this machine,
    from the processor time of its unavoidable parts measured in this run: the two copies
    (what the ``cp -r`` pair spent writing them), identifying every file (fido alone, one
    process) and three SHA-256 passes over the payload (``openssl``: the transfer checked
    against its manifest, then each copy read back). Spread perfectly over every CPU and
    overlapped with all I/O, they still need their sum divided by the CPUs; the PDF checks,
    the METS/PREMIS, the signature and the catalog come on top. A floor above 1.3 × the
    ``cp`` pair means the target cannot be met on this machine by any implementation."""
    least = cpu_cp + cpu_fido + 3 * cpu_sha
    print(f"floor on this machine ({cpus} CPUs), processor time of the parts no ingest can skip:")
    print(f"  copies {cpu_cp:.2f} s (the cp pair) + identification {cpu_fido:.2f} s (fido) + "
          f"3 × SHA-256 {cpu_sha:.2f} s (openssl) = {least:.2f} s")
    print(f"  at best {least / cpus:.2f} s of wall time on {cpus} CPUs = "
          f"{least / cpus / cp_sync:.2f} × the fastest cp pair with sync (target ≤ 1.3); "
          f"this ingest used {cpu_ingest:.2f} s of processor time "
          f"({cpu_ingest / cpus / cp_sync:.2f} × at best)")


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
            cpu = children_cpu()
            t_cp = cp_twice(tree, work, sync=False)
            cpu_cp = children_cpu() - cpu
            timed("cp -r, twice (no sync)", t_cp, f"processor {cpu_cp:.2f} s")
            cpu = children_cpu()
            t_cp_sync = cp_twice(tree, work, sync=True)
            timed("cp -r, twice, then sync", t_cp_sync, f"processor {children_cpu() - cpu:.2f} s")
            home = work / f"archive-{number}"
            extra = new_repository(home)
            warm(files)
            os.sync()
            cpu = children_cpu()
            t_ingest, rss, _ = run_child(preservation(
                home, "ingest", str(tree), "--json", *extra,
                profile=args.profile if number == 1 else None))
            cpu_ingest = children_cpu() - cpu
            timed("preservation ingest (2 file locations, verified)", t_ingest,
                  f"processor {cpu_ingest:.2f} s, peak RSS {rss:.0f} MiB")
            print(f"  ratio ingest / (cp -r twice, then sync) {t_ingest / t_cp_sync:6.2f}; "
                  f"/ (no sync) {t_ingest / t_cp:6.2f}")
            rounds.append((t_cp, t_cp_sync, t_ingest, rss, cpu_cp, cpu_ingest))
            shutil.rmtree(home, ignore_errors=True)
        t_fido, cpu_fido = identify_all(payload)
        timed(f"fido identification alone ({len(payload)} payload files)", t_fido,
              f"processor {cpu_fido:.2f} s")
        workers = os.cpu_count() or 1
        t_fido_parallel = timed(f"  the same in {workers} forked processes (identify_parallel)",
                                identify_all(payload, workers)[0])
        t_sha, cpu_sha = openssl_sha256(payload)
        timed("openssl dgst -sha256 of the same files", t_sha, f"processor {cpu_sha:.2f} s")
        cp, cp_sync, ingest = (min(r[i] for r in rounds) for i in range(3))
        print("ratios (lower is better; target ≤ 1.3), fastest ingest / fastest cp pair:")
        print(f"  ingest / (cp -r twice, then sync)   {ingest / cp_sync:6.2f}")
        print(f"  ingest / (cp -r twice, no sync)     {ingest / cp:6.2f}")
        print(f"  fido identification: {1000 * t_fido / max(1, len(payload)):.2f} ms/file, "
              f"{100 * t_fido / ingest:.0f} % of the ingest time; in {workers} processes "
              f"{1000 * t_fido_parallel / max(1, len(payload)):.2f} ms/file")
        floor(workers, cp_sync, min(r[4] for r in rounds), cpu_fido, cpu_sha,
              min(r[5] for r in rounds))
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
