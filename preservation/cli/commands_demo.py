"""``demo``: the whole path on the embedded default — a producer's folder of PDFs and a CSV
catalogue turned into a TT05 SIP, validated and ingested, audited and served as an access copy —
and where everything is."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import click
from rich.console import Console

from aip.ingest import ingest
from dip.access import create_dip
from preservation.audit import audit
from preservation.cli.runtime import (
    app,
    emit,
    finish,
    handle_errors,
    json_option,
    progress_bar,
)
from preservation.config import CONFIG_NAME, resolve_home
from preservation.errors import RejectedError
from preservation.findings import Report
from preservation.fonds import make_fonds, register_fonds
from preservation.repository import Repository, init_repository
from preservation.storage import open_locations
from preservation.timeutil import now_local
from sip.create import create_sip
from sip.samples import make_sample_sip_source
from sip.tt05_model import PackageKind

#: the fonds code of the demo's producer (the sample SIP's IDENTIFICATIONCODE)
DEMO_FONDS = "H41"


@click.command("demo")
@json_option
@click.pass_context
@handle_errors
def demo_cmd(ctx: click.Context) -> None:
    """Run the whole path once: init (if needed), build a TT05 SIP from a folder and a CSV
    catalogue, validate and ingest it, audit, access copy."""
    home = resolve_home(app(ctx).home)
    created = not (home / CONFIG_NAME).exists()
    if created:
        init_repository(home, name="Demo Archive (test)")
    stamp = now_local().strftime("%Y%m%d-%H%M%S-%f")
    producer = home / "demo" / f"producer-{stamp}"
    documents, catalogue = make_sample_sip_source(producer)
    report = Report("sip create")
    transfer = create_sip(documents, catalogue, PackageKind.HOSO, producer / "SIP_hoso.zip",
                          fonds_code=DEMO_FONDS, agency="Văn phòng UBND tỉnh (demo)", report=report)
    if transfer is None:
        raise RejectedError("the demo catalogue was refused by sip create", report)
    with Repository.open(home) as repo, progress_bar(ctx) as progress:
        _demo_fonds(repo)
        result = ingest(repo.config, transfer, identity=repo.identity(), catalog=repo.catalog,
                        fonds=DEMO_FONDS, progress=progress)
        audits = audit(repo.config, repo.catalog, [result.aip_id], repo.trust_anchors(),
                       progress=progress)
        dip = create_dip(repo.config, repo.catalog, result.aip_id,
                         home / "demo" / f"access-copy-{stamp}", repo.trust_anchors(),
                         progress=progress)
        config = repo.config
    intact = all(a.ok for a in audits)
    copies = [{"location": c.location, "url": c.url, "aip_folder": _folder(c.url, result.aip_id)}
              for c in result.copies]
    data = {
        "ok": intact, "home": str(home), "repository_created": created,
        "config": str(home / CONFIG_NAME), "catalog": config.catalog_target.display,
        "transfer": str(transfer), "sip_kind": result.report.kind, "aip_id": result.aip_id,
        "fonds": result.fonds_code,
        "copies": copies,
        "audit": {"intact": intact, "copies": [
            {"location": c.location, "ok": c.ok, "files_checked": c.files_checked}
            for a in audits for c in a.copies]},
        "access_copy": str(dip.out_dir), "validation_report": str(result.report_path),
    }

    def text(console: Console) -> None:
        console.print("[bold]Demo: a transfer ingested, audited and served as a copy[/bold]")
        console.print(f"  repository home:  {home}" + (" (created)" if created else ""))
        console.print(f"  producer's files: {documents}  + catalogue {catalogue.name}")
        console.print(f"  TT05 SIP:         {transfer}  (made by `preservation sip create`)")
        console.print(f"  AIP:              {result.aip_id} "
                      f"({result.file_count} files, signed; fonds {result.fonds_code})")
        for c in copies:
            console.print(f"  copy {c['location']}:       {c['aip_folder']}")
        console.print(f"  audit:            {'all copies intact' if intact else 'FAILED'}")
        console.print(f"  access copy:      {dip.out_dir}")
        console.print(f"  catalog:          {config.catalog_target.display}")
        console.print(f"  SIP report:       {result.report_path}")
        console.print("Next: `preservation aip show " + result.aip_id + "`, "
                      "`preservation audit --all`.")

    emit(ctx, data, text)
    finish(ctx, intact)


def _demo_fonds(repo: Repository) -> None:
    """Every AIP belongs to a registered fonds: the demo's own, registered once (catalog and
    every location, as `preservation fonds add` does)."""
    if repo.catalog.fonds(DEMO_FONDS) is not None:
        return
    with open_locations(repo.config) as backends:
        register_fonds(repo.catalog, backends,
                       make_fonds(DEMO_FONDS, "Văn phòng Ủy ban nhân dân tỉnh (demo)",
                                  language="01"))


def _folder(url: str, aip_id: str) -> str:
    """Where an AIP's objects are: a plain path for file:// locations."""
    if url.startswith("file://"):
        return str(Path(unquote(urlsplit(url).path)) / aip_id)
    return f"{url.rstrip('/')}/{aip_id}"
