"""``init``, ``ingest`` and ``demo``: making a repository and putting transfers into it."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from aip.ingest import IngestResult, ingest
from preservation.cli.runtime import (
    app,
    archivist_option,
    emit,
    handle_errors,
    json_option,
    progress_bar,
    render_report,
)
from preservation.config import resolve_home
from preservation.errors import UsageError
from preservation.report_json import findings_array
from preservation.repository import Repository, init_repository


def register(group: click.Group) -> None:
    group.add_command(init_cmd)
    group.add_command(ingest_cmd)


def ask_passphrase(env_name: str) -> bytes | None:
    """Prompt for a PKCS#12 passphrase on a terminal; None when nobody can answer."""
    if not sys.stdin.isatty():
        return None
    return getpass.getpass(f"PKCS#12 passphrase (or set {env_name}): ").encode()


@click.command("init")
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--name", default="Demo Archive (test)", show_default=True,
              help="The archive's name, used in AIP metadata and the test certificate.")
@click.option("--archive-code", default="", help="The archive's own code (TT05 arc codes).")
@click.option("--location", "locations", multiple=True, metavar="URL",
              help="A storage location (file:///path or s3://bucket/prefix); repeat for each. "
                   "Default: two folders inside the home.")
@click.option("--signing-p12", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The archive's PKCS#12 signing identity (passphrase from "
                   "$PRESERVATION_P12_PASSPHRASE or a prompt). Default: a self-signed TEST "
                   "identity.")
@click.option("--default-fonds", default="", metavar="CODE",
              help="The fonds (mã phông) of an ingest that names none, written to the "
                   "configuration ([repository] default_fonds).")
@click.option("--fonds-name", default="", metavar="NAME",
              help="With --default-fonds: also register that fonds under this name (as "
                   "`preservation fonds add CODE --name NAME` does), ready for the first ingest.")
@json_option
@click.pass_context
@handle_errors
def init_cmd(ctx: click.Context, directory: Path | None, name: str, archive_code: str,
             locations: tuple[str, ...], signing_p12: Path | None, default_fonds: str,
             fonds_name: str) -> None:
    """Create a repository home: configuration, storage locations, catalog, signing identity
    (and, with --default-fonds/--fonds-name, the default fonds)."""
    home = resolve_home(directory if directory is not None else app(ctx).home)
    passphrase = None
    if signing_p12 is not None:
        env = os.environ.get("PRESERVATION_P12_PASSPHRASE")
        passphrase = env.encode() if env is not None else ask_passphrase(
            "PRESERVATION_P12_PASSPHRASE")
        if passphrase is None:
            raise UsageError("the PKCS#12 passphrase is needed: set PRESERVATION_P12_PASSPHRASE",
                             code="SIGN-P12-PASSPHRASE")
    config = init_repository(home, name=name, locations=locations, signing_p12=signing_p12,
                             passphrase=passphrase, archive_code=archive_code,
                             default_fonds=default_fonds, fonds_name=fonds_name)
    registered = bool(config.default_fonds and fonds_name.strip())
    data = {
        "ok": True, "home": str(config.home), "config": str(config.home / "preservation.toml"),
        "catalog": config.catalog_target.display,
        "storage": [{"name": s.name, "url": s.url} for s in config.storage],
        "test_identity": config.signing.test_identity,
        "default_fonds": config.default_fonds, "fonds_registered": registered,
    }

    def text(console: Console) -> None:
        console.print(f"Repository created at {config.home}")
        console.print(f"  configuration: {data['config']}")
        console.print(f"  catalog:       {data['catalog']}")
        for s in config.storage:
            console.print(f"  copy {s.name}:    {s.url}")
        if config.signing.test_identity:
            console.print("  signing:       a self-signed TEST identity (not for production; "
                          "use --signing-p12 for the archive's certificate)")
        if registered:
            console.print(f"  default fonds: {config.default_fonds} (registered)")
        elif config.default_fonds:
            console.print(f"  default fonds: {config.default_fonds} (not registered yet: "
                          f"preservation fonds add {config.default_fonds} --name …)")

    emit(ctx, data, text)


def ingest_result_dict(result: IngestResult, lang: str) -> dict[str, Any]:
    return {
        "ok": True, "aip_id": result.aip_id, "label": result.label,
        "fonds": result.fonds_code, "package_id": result.package_id,
        "version": result.version, "previous_id": result.previous_id,
        "record_status": result.record_status, "resumed": result.resumed,
        "files": result.file_count, "bytes": result.content_size,
        "copies": [{"location": c.location, "url": c.url, "objects": c.objects,
                    "reused": c.reused, "bytes": c.bytes, "verified_at": c.verified_at}
                   for c in result.copies],
        "report": str(result.report_path),
        "findings": findings_array(result.report, lang),
    }


@click.command("ingest")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--label", help="A title for the AIP (default: the package's title or name).")
@click.option("--fonds", metavar="CODE",
              help="The fonds the AIP belongs to (default: the previous version's, else the "
                   "TT05 SIP's fonds code, else the configured default_fonds).")
@click.option("--supplement", metavar="AIP_ID",
              help="Make a new version of this AIP (the latest of its package): its files plus "
                   "the submission's.")
@click.option("--replace", metavar="AIP_ID",
              help="Make a new version of this AIP (the latest of its package) holding only "
                   "the submission's files.")
@archivist_option("ingest")
@json_option
@click.pass_context
@handle_errors
def ingest_cmd(ctx: click.Context, path: Path, label: str | None, fonds: str | None,
               supplement: str | None, replace: str | None, archivist: str | None) -> None:
    """Validate a submission (TT05 or E-ARK SIP, or BagIt bag; folder or ZIP) exactly as
    `sip validate` does, and store it as a signed AIP on every location."""
    if supplement and replace:
        raise UsageError("--supplement and --replace cannot be used together",
                         code="INGEST-VERSION-OPTIONS")
    with Repository.open(app(ctx).home) as repo, progress_bar(ctx) as progress:
        result = ingest(repo.config, path.absolute(), identity=repo.identity(ask_passphrase),
                        catalog=repo.catalog, label=label, fonds=fonds, supplement=supplement,
                        replace=replace, archivist=archivist, progress=progress)
    data = ingest_result_dict(result, app(ctx).lang)

    def text(console: Console) -> None:
        version = (f", version {result.version} ({result.record_status.lower()} of "
                   f"{result.previous_id})" if result.previous_id else "")
        console.print(f"Ingested {path} as AIP {result.aip_id} ({result.file_count} files, "
                      f"{result.content_size} bytes; fonds {result.fonds_code}{version})",
                      markup=False)
        if result.resumed:
            console.print("  resumed an interrupted ingest of the same transfer")
        for c in result.copies:
            reused = f", {c.reused} unchanged objects referenced" if c.reused else ""
            console.print(f"  copy {c.location}: {c.url} — {c.objects} objects written and "
                          f"verified{reused}", markup=False)
        render_report(ctx, result.report)
        console.print(f"  validation report: {result.report_path}", markup=False)

    emit(ctx, data, text)
