"""CSIP folder-structure rules (CSIPSTR4–CSIPSTR15): what the package folder holds, before any
METS file is read.

Only CSIPSTR4 (METS.xml in the root folder) is a MUST; the other folders are SHOULD rules and
give warnings. A near miss (``Mets.xml``, ``METADATA``) is named in the finding so the producer
sees what was found instead.
"""

from __future__ import annotations

from preservation.findings import Report
from preservation.paths import printable
from sip.package import PackageTree


def _near(tree: PackageTree, folder: str, word: str) -> str:
    """Names in ``folder`` that look like a misspelt ``word`` (for the finding's text)."""
    names = [n for n in tree.children(folder) if word in n.casefold() and n != word]
    return ", ".join(printable(n) for n in names[:5]) or "-"


def representation_folders(tree: PackageTree) -> list[str]:
    """Names of the folders directly under ``representations/``."""
    return [name for name in tree.children("representations")
            if tree.is_dir(f"representations/{name}")]


def check_structure(tree: PackageTree, report: Report) -> None:
    if not tree.is_file("METS.xml"):
        report.add("CSIPSTR4-METS-MISSING", "", found=_near(tree, "", "mets"))
    if not tree.is_dir("metadata"):
        report.add("CSIPSTR5-METADATA-MISSING", "", found=_near(tree, "", "meta"))
    if not tree.is_dir("representations"):
        report.add("CSIPSTR9-REPRESENTATIONS-MISSING", "", found=_near(tree, "", "repre"))
    else:
        reps = representation_folders(tree)
        if not reps:
            report.add("CSIPSTR10-NO-REPRESENTATION", "representations")
        for name in tree.children("representations"):
            if tree.is_file(f"representations/{name}"):
                report.add("CSIPSTR10-FILE-OUTSIDE-REPRESENTATION", f"representations/{name}")
        for rep in reps:
            folder = f"representations/{rep}"
            if not tree.is_dir(f"{folder}/data"):
                report.add("CSIPSTR11-DATA-MISSING", folder, found=_near(tree, folder, "data"))
            if not tree.is_file(f"{folder}/METS.xml"):
                report.add("CSIPSTR12-METS-MISSING", folder)
    if not tree.is_dir("schemas"):
        report.add("CSIPSTR15-SCHEMAS-MISSING", "")
