"""``sip validate`` and ``sip create``: check a producer's package, or build a TT05 SIP."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from preservation.cli.commands_sip_create import create_cmd
from preservation.cli.runtime import (
    app,
    emit,
    handle_errors,
    json_option,
    progress_bar,
    render_report,
)
from preservation.config import CONFIG_NAME, ValidationConfig, load_config, resolve_home
from preservation.report_json import report_document
from sip.bagit_profile import load_profile
from sip.validate import ValidationOptions, open_sip


def register(group: click.Group) -> None:
    sip_group.add_command(create_cmd)
    group.add_command(sip_group)


@click.group("sip")
def sip_group() -> None:
    """Submission packages: validate one, or build a TT05 SIP from a folder and a catalogue."""


def _lang_option(fn: Any) -> Any:
    def store(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value:
            app(ctx).lang = value
        return value

    return click.option("--lang", type=click.Choice(["en", "vi"]), default=None,
                        expose_value=False, callback=store,
                        help="Language of the findings (default: the global --lang).")(fn)


@contextmanager
def _work_dir(home: Path | None) -> Iterator[tuple[Path, ValidationConfig]]:
    """The repository's work folder and [validation] settings when there is a repository,
    else a private temporary folder and the defaults (validation needs no repository)."""
    root = resolve_home(home)
    if (root / CONFIG_NAME).is_file():
        config = load_config(root)
        config.work_dir.mkdir(parents=True, exist_ok=True)
        yield config.work_dir / "sip", config.validation
        return
    with tempfile.TemporaryDirectory(prefix="preservation-sip-") as tmp:
        yield Path(tmp), ValidationConfig()


@sip_group.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--profile", type=click.Path(path_type=Path, dir_okay=False),
              help="A BagIt Profile (JSON) the bag must satisfy.")
@_lang_option
@json_option
@click.pass_context
@handle_errors
def validate_cmd(ctx: click.Context, path: Path, profile: Path | None) -> None:
    """Check a submission (folder or ZIP): TT05 SIP_hoso/SIP_tailieu, E-ARK CSIP/SIP, or a BagIt
    bag (optionally wrapping one of those). The kind is detected.

    Exit status: 0 valid (warnings allowed), 1 invalid, 2 unreadable or bad options.
    """
    lang = app(ctx).lang
    bag_profile = load_profile(profile) if profile is not None else None
    with _work_dir(app(ctx).home) as (work, settings), progress_bar(ctx) as progress:
        options = ValidationOptions.from_config(settings, profile=bag_profile)
        with open_sip(path.absolute(), work, options, progress=progress) as submission:
            report = submission.report
            kind = submission.kind_label
    data = report_document(report, lang, head={"ok": report.valid, "path": str(path),
                                               "kind": kind}, with_fix=True)

    def text(console: Console) -> None:
        counts = data["counts"]
        verdict = ("VALID" if report.valid else "INVALID") if lang == "en" else \
            ("HỢP LỆ" if report.valid else "KHÔNG HỢP LỆ")
        style = "green" if report.valid else "red"
        console.print(f"[{style}]{verdict}[/{style}]  {path}  ({kind})")
        console.print(_summary(counts, lang), markup=False)
        render_report(ctx, report)

    emit(ctx, data, text)
    ctx.exit(report.exit_code)


def _summary(counts: dict[str, int], lang: str) -> str:
    if lang == "vi":
        return (f"  {counts['error']} lỗi, {counts['warning']} cảnh báo, {counts['info']} thông "
                f"tin, {counts['not-checked']} mục chưa kiểm tra")
    return (f"  {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} "
            f"info, {counts['not-checked']} not checked")
