"""``export``: TT05 SIP ZIPs of AIPs for handover to another archive, with the handover list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from aip.export import ExportResult, export_aips
from preservation.cli.runtime import (
    app,
    archivist_option,
    emit,
    handle_errors,
    json_option,
    progress_bar,
)
from preservation.report_json import report_document
from preservation.repository import Repository


def register(group: click.Group) -> None:
    group.add_command(export_cmd)


@click.command("export")
@click.argument("aip_ids", nargs=-1, required=True, metavar="AIP_ID...")
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the ZIPs, handover.csv and handover.pdf (existing files are "
                   "never overwritten).")
@archivist_option("export")
@json_option
@click.pass_context
@handle_errors
def export_cmd(ctx: click.Context, aip_ids: tuple[str, ...], out_dir: Path,
               archivist: str | None) -> None:
    """Write each TT05 AIP as a TT05 SIP ZIP another archive can ingest, read from a copy that
    verifies, plus a handover list (handover.csv, handover.pdf) with codes, titles, sizes and
    SHA-256 checksums."""
    lang = app(ctx).lang
    with Repository.open(app(ctx).home) as repo, progress_bar(ctx) as progress:
        result = export_aips(repo.config, repo.catalog, aip_ids, out_dir, repo.trust_anchors(),
                             progress=progress, archivist=archivist)
    emit(ctx, _data(result, lang), lambda console: _text(console, result, lang))


def _data(result: ExportResult, lang: str) -> dict[str, Any]:
    return {
        "ok": True, "output": str(result.out_dir),
        "handover": {"csv": str(result.csv_path), "pdf": str(result.pdf_path)},
        "packages": [{
            "aip_id": p.aip_id, "zip": str(p.zip_path), "objid": p.sip.objid,
            "kind": f"SIP_{p.sip.kind.value}", "size": p.size, "sha256": p.sha256,
            "arcFileCode": p.sip.arc_file_code, "fileCode": p.sip.file_code,
            "title": p.sip.title, "fonds": p.sip.fonds_code, "documents": len(p.sip.documents),
            "source_copy": p.source_copy, "validator_findings": list(p.warnings),
            "event_id": p.event_id, "event_not_written": list(p.event_not_written),
            "rejected_copies": [report_document(r, lang) for r in p.rejected_copies],
        } for p in result.packages],
    }


def _text(console: Console, result: ExportResult, lang: str) -> None:
    vi = lang == "vi"
    console.print((f"Đã xuất {len(result.packages)} gói SIP (TT05) vào {result.out_dir}" if vi
                   else f"Exported {len(result.packages)} TT05 SIP packages to "
                        f"{result.out_dir}"), markup=False)
    for p in result.packages:
        console.print(f"  {p.zip_path.name}  {p.sip.arc_file_code}  {p.size} B  "
                      f"sha256 {p.sha256}", markup=False)
        console.print((f"      {len(p.sip.documents)} văn bản, đọc từ bản lưu {p.source_copy}"
                       if vi else f"      {len(p.sip.documents)} documents, read from copy "
                                  f"{p.source_copy}"), markup=False)
        for r in p.rejected_copies:
            console.print((f"      bản lưu {r.subject} không đạt kiểm tra, không dùng: "
                           if vi else f"      copy {r.subject} failed verification, not used: ")
                          + ", ".join(sorted(r.codes())), markup=False)
    console.print((f"Danh mục bàn giao: {result.csv_path.name}, {result.pdf_path.name}" if vi
                   else f"Handover list: {result.csv_path.name}, {result.pdf_path.name}"),
                  markup=False)
