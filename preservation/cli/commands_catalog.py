"""``catalog rebuild``: reconstruct the catalog from the AIPs on storage alone."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from aip.rebuild_target import RebuildOutcome, rebuild_into
from preservation.cli.runtime import (
    app,
    emit,
    finish,
    handle_errors,
    json_option,
    progress_bar,
    render_report,
)
from preservation.report_json import report_document
from preservation.repository import Repository


def register(group: click.Group) -> None:
    group.add_command(catalog_group)


@click.group("catalog")
def catalog_group() -> None:
    """The catalog: the index of AIPs, files, copies and events."""


def outcome_dict(outcome: RebuildOutcome, lang: str) -> dict[str, Any]:
    r = outcome.result
    return {
        "ok": r.ok, "catalog": outcome.catalog,
        "backup": str(outcome.backup) if outcome.backup else None,
        "registered": len(r.registered), "files": r.files, "copies": r.copies,
        "events": r.events, "fonds": r.fonds,
        "skipped": [{"aip_id": s.aip_id, "reasons": list(s.reasons)} for s in r.skipped],
        "report": report_document(r.report, lang),
    }


@catalog_group.command("rebuild")
@click.option("--into", "into", metavar="CATALOG_URL_OR_PATH", default=None,
              help="Build into this empty catalog (a SQLite path or a postgresql:// URL) "
                   "instead of replacing the configured SQLite catalog.")
@click.option("--verify", is_flag=True,
              help="Read every byte and check its SHA-256 (default: sizes, the signed "
                   "manifests and the checksums the storage recorded).")
@json_option
@click.pass_context
@handle_errors
def rebuild_cmd(ctx: click.Context, into: str | None, verify: bool) -> None:
    """Rebuild the catalog from the AIPs on every configured location.

    Only complete AIPs whose signature verifies are registered; every prefix left out is
    reported with its reason. Without --into, a fresh SQLite catalog replaces the configured one,
    which is kept as catalog.sqlite.bak-<time>; a configured PostgreSQL catalog is filled only
    when it is empty (else name an empty database with --into). Exit code 0 when everything
    found was registered, 1 when something was skipped, 2 for usage errors.
    """
    lang = app(ctx).lang
    with Repository.open(app(ctx).home) as repo, progress_bar(ctx) as progress:
        outcome = rebuild_into(repo.config, repo.trust_anchors(), into=into, verify=verify,
                               progress=progress)
    result = outcome.result

    def text(console: Console) -> None:
        console.print(f"Catalog rebuilt at {outcome.catalog}: {len(result.registered)} AIP(s), "
                      f"{result.files} files, {result.copies} copies, {result.events} events, "
                      f"{result.fonds} fonds", markup=False)
        if outcome.backup:
            console.print(f"The previous catalog is kept as {outcome.backup}", markup=False)
        if not result.ok and into is None:
            console.print("Something on storage was skipped, so the configured catalog was left "
                          f"as it was; the rebuilt one is kept at {outcome.catalog}: inspect it, "
                          "then rebuild with --into if it is right.", markup=False)
        for s in result.skipped:
            console.print(f"  skipped {s.aip_id}: {', '.join(s.reasons)}", markup=False)
        render_report(ctx, result.report)

    emit(ctx, outcome_dict(outcome, lang), text)
    finish(ctx, result.ok)
