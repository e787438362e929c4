"""``sip create``: build a TT05 SIP (ZIP) from a folder of documents and a CSV/XLSX catalogue.

The command object is :data:`create_cmd`; the ``sip`` group (commands_sip.py) attaches it.
The package built is checked with the repository's ``[validation]`` settings (the defaults
without a repository), as ``sip validate`` and ingest check it.
Exit codes: 0 written (warnings allowed), 1 the catalogue or the files have errors (nothing
written), 2 bad options, a missing SRC or catalogue, or an output that already exists.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from preservation.cli.runtime import (
    EXIT_FAILED,
    app,
    emit,
    handle_errors,
    json_option,
    render_report,
)
from preservation.config import CONFIG_NAME, ValidationConfig, load_config, resolve_home
from preservation.findings import Report
from preservation.report_json import report_document
from sip.create import create_sip
from sip.tt05_model import PackageKind
from sip.validate import ValidationOptions


def validation_options(home: Path | None) -> ValidationOptions:
    """The repository's ``[validation]`` settings when there is a repository at ``home``, else
    the defaults (as ``sip validate``: building or checking a SIP needs no repository)."""
    root = resolve_home(home)
    config = load_config(root).validation if (root / CONFIG_NAME).is_file() else \
        ValidationConfig()
    return ValidationOptions.from_config(config)


@click.command("create")
@click.argument("src", type=click.Path(path_type=Path, file_okay=False))
@click.option("--catalogue", "catalogue", required=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="The catalogue: a .csv (UTF-8) or .xlsx file, one row per document.")
@click.option("--kind", type=click.Choice([k.value for k in PackageKind]), required=True,
              help="hoso: one dossier (SIP_hoso); tailieu: loose documents (SIP_tailieu).")
@click.option("-o", "--output", "out", required=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="The SIP to write (.zip); it must not exist.")
@click.option("--fonds", "fonds_code", default=None,
              help="Fonds code (mã phông), written in METS as the IDENTIFICATIONCODE note.")
@click.option("--agency", default=None, help="Name of the producing agency.")
@json_option
@click.pass_context
@handle_errors
def create_cmd(ctx: click.Context, src: Path, catalogue: Path, kind: str, out: Path,
               fonds_code: str | None, agency: str | None) -> None:
    """Build a TT05 SIP from the documents in SRC and the catalogue describing them.

    Nothing is written when the catalogue has errors; SRC is never modified.
    """
    lang = app(ctx).lang
    report = Report(str(catalogue), kind="catalogue")
    options = validation_options(app(ctx).home)
    written = create_sip(src, catalogue, PackageKind(kind), out, fonds_code=fonds_code,
                         agency=agency, report=report, options=options)
    if written is None:
        title = ("The catalogue has errors; no SIP was written." if lang == "en"
                 else "Danh mục có lỗi; chưa tạo gói SIP.")
        render_report(ctx, report, title=title)
        ctx.exit(EXIT_FAILED)
    data = {"ok": True, "output": str(written), "kind": kind,
            "report": report_document(report, lang)}

    def text(console: Console) -> None:
        render_report(ctx, report, title=(f"TT05 SIP written to {written}" if lang == "en"
                                          else f"Đã tạo gói SIP TT05: {written}"))

    emit(ctx, data, text)
