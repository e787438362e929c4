"""ZIP entry names that climb, alias or expand, and an extraction the system refuses part-way.

The names here cannot exist on disk (a folder has no empty, ``.`` or UNC segment, and a name on
disk is never expanded, so ``~`` is fine there: tests/sip/test_safety.py), so a ZIP entry is
where a producer's package can carry them; each is refused before anything is extracted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from preservation.findings import Report
from sip.archive import open_package
from tests.sip.hostile_fixtures import write_zip

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("name", "code"), [
    ("//server/share/a.txt", "PKG-PATH-UNC"),
    ("pkg/./a.txt", "PKG-PATH-DOT-SEGMENT"),
    ("~/a.txt", "PKG-PATH-TILDE"),
    ("~root/.ssh/authorized_keys", "PKG-PATH-TILDE"),
    ("pkg//a.txt", "PKG-PATH-EMPTY-SEGMENT"),
    ("", "PKG-PATH-EMPTY-SEGMENT"),
])
def test_a_hostile_entry_name_refuses_the_zip_and_names_the_entry(
        tmp_path: Path, name: str, code: str) -> None:
    archive = write_zip(tmp_path / "x.zip", {"pkg/ok.txt": b"ok", name: b"owned"})
    work = tmp_path / "work"
    report = Report(subject=archive.name)
    opened = open_package(archive, work, report)
    assert opened is None
    assert [str(f.location) for f in report.findings if f.code == code] == [name]
    assert not work.exists() or list(work.iterdir()) == []


# The child lowers its own file size limit (RLIMIT_FSIZE) and ignores SIGXFSZ: a write past the
# limit fails with EFBIG, as one would on a full or quota-limited disk.
_CHILD = textwrap.dedent("""
    import json, resource, signal, sys
    from pathlib import Path
    from preservation.findings import Report
    from sip.archive import open_package

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
    report = Report(subject="big.zip")
    opened = open_package(Path(sys.argv[1]), Path(sys.argv[2]), report)
    print(json.dumps({"opened": opened is not None,
                      "findings": [[f.code, str(f.location), f.params.get("error", "")]
                                   for f in report.findings]}))
""")


def test_a_write_the_system_refuses_stops_the_extraction_and_leaves_nothing(
        tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "big.zip", {"pkg/a.txt": b"small\n",
                                               "pkg/b.bin": bytes(256 * 1024)})
    work = tmp_path / "work"
    done = subprocess.run([sys.executable, "-c", _CHILD, str(archive), str(work)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["opened"] is False
    assert [(code, where) for code, where, _ in answer["findings"]] == [
        ("ZIP-EXTRACT-FAILED", "pkg/b.bin")]
    assert answer["findings"][0][2]  # the system's reason, e.g. "File too large"
    assert list(work.iterdir()) == []  # the private folder was removed
