"""``dip create``: an access copy of an AIP."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from dip.access import create_dip
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
    group.add_command(dip_group)


@click.group("dip")
def dip_group() -> None:
    """Dissemination packages: copies for researchers."""


@dip_group.command("create")
@click.argument("aip_id")
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="Folder to create (must not exist or be empty).")
@archivist_option("access copy")
@json_option
@click.pass_context
@handle_errors
def dip_create(ctx: click.Context, aip_id: str, out_dir: Path, archivist: str | None) -> None:
    """Write the files of an AIP, read from a copy that verifies, with a METS describing them."""
    lang = app(ctx).lang
    with Repository.open(app(ctx).home) as repo, progress_bar(ctx) as progress:
        result = create_dip(repo.config, repo.catalog, aip_id, out_dir, repo.trust_anchors(),
                            progress=progress, archivist=archivist)
    data = {"ok": True, "aip_id": result.aip_id, "dip_id": result.dip_id,
            "output": str(result.out_dir), "source_copy": result.location,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256}
                      for f in result.files],
            "rejected_copies": [report_document(r, lang) for r in result.rejected_copies]}

    def text(console: Console) -> None:
        console.print(f"Access copy of AIP {aip_id} written to {result.out_dir} "
                      f"({len(result.files)} files, read from copy {result.location})")
        for r in result.rejected_copies:
            console.print(f"  copy {r.subject} failed verification and was not used: "
                          f"{', '.join(sorted(r.codes()))}")

    emit(ctx, data, text)
