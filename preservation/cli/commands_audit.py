"""``audit``: re-read every copy and prove it intact."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from preservation.audit import AipAudit, audit
from preservation.cli.runtime import (
    app,
    emit,
    finish,
    handle_errors,
    json_option,
    progress_bar,
    render_report,
)
from preservation.errors import UsageError
from preservation.report_json import findings_array
from preservation.repository import Repository


def register(group: click.Group) -> None:
    group.add_command(audit_cmd)


def audit_dict(result: AipAudit, lang: str) -> dict[str, Any]:
    return {
        "aip_id": result.aip_id, "ok": result.ok,
        "copies": [{
            "location": c.location, "url": c.url, "ok": c.ok, "files_checked": c.files_checked,
            "bytes_read": c.bytes_read,
            "signature": None if c.signature is None else {
                "intact": c.signature.intact, "trusted": c.signature.trusted,
                "signer": c.signature.signer_subject,
                "signing_time": c.signature.signing_time,
                "timestamp": None if c.signature.timestamp is None else {
                    "ok": c.signature.timestamp.ok, "gen_time": c.signature.timestamp.gen_time,
                    "tsa": c.signature.timestamp.tsa_name,
                    "problems": list(c.signature.timestamp.problems)},
                "validity_time": c.signature.validity_time,
                "validity_basis": c.signature.validity_basis,
                "problems": list(c.signature.problem_descriptions)},
            "findings": findings_array(c.report, lang),
        } for c in result.copies],
    }


@click.command("audit")
@click.argument("aip_ids", nargs=-1)
@click.option("--all", "all_aips", is_flag=True, help="Audit every AIP in the catalog.")
@json_option
@click.pass_context
@handle_errors
def audit_cmd(ctx: click.Context, aip_ids: tuple[str, ...], all_aips: bool) -> None:
    """Re-read every file of every copy, verify checksums and signatures, record the result.

    Exit code 0 when every copy is intact, 1 when anything failed, 2 for usage errors.
    """
    if all_aips == bool(aip_ids):
        raise UsageError("name AIP ids or give --all (not both)", code="AUDIT-USAGE")
    lang = app(ctx).lang
    with Repository.open(app(ctx).home) as repo, progress_bar(ctx) as progress:
        results = audit(repo.config, repo.catalog, None if all_aips else list(aip_ids),
                        repo.trust_anchors(), progress=progress)
    ok = all(r.ok for r in results)
    data = {"ok": ok, "aips": [audit_dict(r, lang) for r in results],
            "failed_copies": [f"{c.aip_id}@{c.location}" for r in results for c in r.copies
                              if not c.ok]}

    def text(console: Console) -> None:
        for r in results:
            for c in r.copies:
                mark = "[green]intact[/green]" if c.ok else "[red]FAILED[/red]"
                console.print(f"{r.aip_id}  copy {c.location}: {mark} "
                              f"({c.files_checked} files, {c.bytes_read} bytes)")
                render_report(ctx, c.report)
        console.print(f"{len(results)} AIP(s) audited: "
                      + ("all copies intact" if ok else "FAILURES found"))

    emit(ctx, data, text)
    finish(ctx, ok)
