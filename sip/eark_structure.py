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


def _near(tree: PackageTree, folder: str, word: str) -> list[str]:
    """Names in ``folder`` that look like a misspelt ``word`` (for the finding's text)."""
    return [printable(n) for n in tree.children(folder) if word in n.casefold() and n != word]


def _folder_missing(tree: PackageTree, report: Report, code: str, expected: str,
                    folder: str, word: str) -> None:
    """``<code>-MISSING`` at the expected folder, or ``<code>-MISNAMED`` naming the near misses."""
    near = _near(tree, folder, word)
    if near:
        report.add(f"{code}-MISNAMED", expected, found=", ".join(near[:5]))
    else:
        report.add(f"{code}-MISSING", expected)


def representation_folders(tree: PackageTree) -> list[str]:
    """Names of the folders directly under ``representations/``."""
    return [name for name in tree.children("representations")
            if tree.is_dir(f"representations/{name}")]


def check_structure(tree: PackageTree, report: Report) -> None:
    """Every folder-structure rule but CSIPSTR12 (a representation's METS.xml), which needs the
    root METS: see :func:`sip.eark.validate_eark`.

    A missing folder is located at the folder that was expected (``metadata/``); a near miss
    (``METADATA``) is its own code (``…-MISNAMED``) naming what was found instead.
    """
    if not tree.is_file("METS.xml"):
        report.add("CSIPSTR4-METS-MISSING", "METS.xml",
                   found=", ".join(_near(tree, "", "mets")[:5]) or "-")
    if not tree.is_dir("metadata"):
        _folder_missing(tree, report, "CSIPSTR5-METADATA", "metadata/", "", "meta")
    if not tree.is_dir("representations"):
        _folder_missing(tree, report, "CSIPSTR9-REPRESENTATIONS", "representations/", "",
                        "repre")
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
                _folder_missing(tree, report, "CSIPSTR11-DATA", f"{folder}/data/", folder,
                                "data")
    if not tree.is_dir("schemas"):
        report.add("CSIPSTR15-SCHEMAS-MISSING", "schemas/")
