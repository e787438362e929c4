"""The content checks run in worker processes under the terminal progress bar too.

The bar (preservation/cli/runtime.py) is redrawn from the thread that reports progress
(preservation/progress.py ``refreshed_by_caller``), not by rich's refresh thread, so the
validating process has no other thread and may fork (preservation.forking.can_fork). Checked
end to end: ``preservation sip validate`` on a real pseudo-terminal, in a fresh interpreter (no
threads left over from other tests).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from preservation.progress import refreshed_by_caller
from sip.samples import minimal_pdf
from tests.sip.bagit_fixtures import make_test_bag

REPO = Path(__file__).resolve().parents[2]

# Runs the CLI with sip.content's forking observed: how many threads ran when the workers were
# asked for, and which processes ran the checks.
DRIVER = """
import json, os, sys, threading
import preservation.forking, sip.content
marks, log = sys.argv[1], sys.argv[2]
real = preservation.forking.fork_map
sip.content.PARALLEL_MIN = 4
sip.content._cpus = lambda: 2

def spying(function, items, **kwargs):
    def marking(item):
        open(os.path.join(marks, str(os.getpid())), "w").close()
        return function(item)
    # the workers fork on the first next(), when this generator starts: count threads then
    with open(log, "a") as out:
        out.write(json.dumps({"threads": threading.active_count(), "items": len(items)}) + "\\n")
    yield from real(marking, items, **kwargs)

sip.content.fork_map = spying
from preservation.cli import main
main(sys.argv[3:])
"""


def _run_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, bytes]:
    """Run ``args`` with stdin, stdout and stderr on a new pseudo-terminal; (status, output)."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "TMPDIR": str(cwd),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("NO_COLOR", None)
    with subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                          env=env) as child:
        os.close(slave)
        output = bytearray()
        while True:
            try:
                block = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not block:
                break
            output += block
        status = child.wait(timeout=120)
    os.close(master)
    return status, bytes(output)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="worker processes are forked; no fork here")
def test_validation_under_the_progress_bar_checks_in_workers(tmp_path: Path) -> None:
    files = {f"docs/{i:02d}.pdf": minimal_pdf(f"document {i}") for i in range(8)}
    files |= {f"docs/{i:02d}.txt": f"văn bản {i}\n".encode() for i in range(4)}
    bag = make_test_bag(tmp_path, files)
    marks, log = tmp_path / "marks", tmp_path / "forks.jsonl"
    marks.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")

    status, output = _run_on_a_terminal(
        [sys.executable, str(driver), str(marks), str(log),
         "--home", str(tmp_path / "no-repository"), "sip", "validate", str(bag)], tmp_path)

    assert status == 0, output.decode(errors="replace")
    assert b"VALID" in output
    assert b"content" in output  # the bar was drawn (and erased: transient)
    (fork,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert fork == {"threads": 1, "items": 12}  # no refresh thread beside the work
    workers = {int(p.name) for p in marks.iterdir()}
    assert workers  # the checks ran in forked workers, not in the CLI's process


def test_the_display_is_refreshed_by_the_caller_when_due() -> None:
    now = [0.0]
    updates: list[tuple[str, int, int | None]] = []
    refreshes: list[float] = []
    report = refreshed_by_caller(lambda *a: updates.append(a), lambda: refreshes.append(now[0]),
                                 interval=0.1, clock=lambda: now[0])
    report("hash", 1, 10)  # a new phase: drawn at once
    now[0] = 0.05
    report("hash", 1, 10)  # too soon
    now[0] = 0.11
    report("hash", 1, 10)
    report("content", 1, 3)  # a new phase, even if too soon
    assert len(updates) == 4 and updates[-1] == ("content", 1, 3)
    assert refreshes == [0.0, 0.11, 0.11]
