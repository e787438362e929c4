"""``aip list`` and ``aip show``: what the catalog knows."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from preservation.cli.runtime import app, emit, handle_errors, json_option
from preservation.errors import NotFoundError
from preservation.repository import Repository


def register(group: click.Group) -> None:
    group.add_command(aip_group)


@click.group("aip")
def aip_group() -> None:
    """Inspect archival information packages."""


@aip_group.command("list")
@json_option
@click.pass_context
@handle_errors
def aip_list(ctx: click.Context) -> None:
    """One line per AIP: id, label, files, size, copies."""
    with Repository.open(app(ctx).home) as repo:
        rows = []
        for aip in repo.catalog.aips():
            copies = repo.catalog.copies(aip.id)
            rows.append({**asdict(aip), "copies": [
                {"location": c.location, "status": c.status, "checked_at": c.checked_at}
                for c in copies]})

    def text(console: Console) -> None:
        table = Table("label", "fonds", "version", "files", "bytes", "created", "copies")
        table.add_column("AIP", no_wrap=True, min_width=36)
        for r in rows:
            version = str(r["version"]) + (f" ({r['record_status'].lower()})"
                                           if r["record_status"] != "NEW" else "")
            table.add_row(r["label"], r["fonds_code"], version, str(r["file_count"]),
                          str(r["total_size"]), r["created"],
                          ", ".join(f"{c['location']}:{c['status']}" for c in r["copies"]),
                          r["id"])
        console.print(table)

    emit(ctx, {"ok": True, "aips": rows}, text)


@aip_group.command("show")
@click.argument("aip_id")
@json_option
@click.pass_context
@handle_errors
def aip_show(ctx: click.Context, aip_id: str) -> None:
    """Everything about one AIP: fonds, versions of its package, files, copies and PREMIS
    events."""
    with Repository.open(app(ctx).home) as repo:
        aip = repo.catalog.aip(aip_id)
        if aip is None:
            raise NotFoundError(f"no AIP {aip_id} in the catalog", code="AIP-UNKNOWN")
        files = [asdict(f) for f in repo.catalog.files(aip_id)]
        copies = [asdict(c) for c in repo.catalog.copies(aip_id)]
        events = [asdict(e) for e in repo.catalog.events(aip_id)]
        versions: list[dict[str, Any]] = [
            {"id": v.id, "version": v.version, "record_status": v.record_status,
             "previous_id": v.previous_id, "created": v.created, "label": v.label,
             "latest": False} for v in repo.catalog.versions(aip.package_id)]
    if versions:
        versions[-1]["latest"] = True
    data = {"ok": True, "aip": asdict(aip), "versions": versions, "files": files,
            "copies": copies, "events": events}

    def text(console: Console) -> None:
        console.print(f"AIP {aip.id}: {aip.label}", markup=False)
        console.print(f"  created {aip.created} by {aip.organisation}; signer {aip.signer}",
                      markup=False)
        console.print(f"  fonds {aip.fonds_code or '?'}; {aip.objid or 'urn:uuid:' + aip.id}"
                      + (f"; {aip.arc_file_code}" if aip.arc_file_code else ""), markup=False)
        for v in versions:
            mark = "→" if v["id"] == aip.id else " "
            latest = ", latest" if v["latest"] else ""
            console.print(f"  {mark} version {v['version']} {v['id']} "
                          f"({v['record_status'].lower()}{latest}, {v['created']})",
                          markup=False)
        table = Table("original name", "bytes", "format", "sha256")
        table.add_column("AIP path", no_wrap=True)
        for f in files:
            if f["role"] == "content":
                where = f["path"].removeprefix("data/") + (
                    f" (stored as {f['stored_key']})" if f.get("stored_key") else "")
                table.add_row(f["original_name"], str(f["size"]), f["puid"] or "?",
                              f["sha256"][:16] + "…", where)
        console.print(table)
        for c in copies:
            console.print(f"  copy {c['location']}: {c['url']} — {c['status']} "
                          f"(checked {c['checked_at']})", markup=False)
        for e in events:
            console.print(f"  {e['datetime']}  {e['type']:<28} {e['outcome']:<8} "
                          f"{e['location'] or ''}", markup=False)

    emit(ctx, data, text)
