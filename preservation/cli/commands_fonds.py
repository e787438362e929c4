"""``fonds add|update|close|list|show``: the fonds registry (phông lưu trữ)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from preservation.catalog import FondsCounts
from preservation.cli.runtime import app, emit, handle_errors, json_option
from preservation.fonds import (
    FondsNotFoundError,
    FondsRecord,
    changed_fonds,
    make_fonds,
    record_fonds_change,
    register_fonds,
)
from preservation.repository import Repository
from preservation.storage import open_locations

_LABELS = {
    "en": {"code": "code", "name": "name", "status": "status", "dates": "dates",
           "language": "language", "aips": "AIPs", "packages": "packages", "bytes": "bytes",
           "history": "history", "registered": "registered", "updated": "updated",
           "open": "open", "closed": "closed", "none": "No fonds registered yet.",
           "added": "Fonds {code} registered", "changed": "Fonds {code} updated",
           "stored": "record stored on {n} location(s) as {key}",
           "unassigned": "{n} AIP(s) belong to no fonds (ingested before fonds existed)"},
    "vi": {"code": "mã phông", "name": "tên phông", "status": "trạng thái", "dates": "thời gian",
           "language": "ngôn ngữ", "aips": "AIP", "packages": "gói", "bytes": "byte",
           "history": "lịch sử", "registered": "đăng ký", "updated": "cập nhật",
           "open": "mở", "closed": "đóng", "none": "Chưa có phông nào được đăng ký.",
           "added": "Đã đăng ký phông {code}", "changed": "Đã cập nhật phông {code}",
           "stored": "hồ sơ đã lưu tại {n} nơi lưu trữ với khóa {key}",
           "unassigned": "{n} AIP chưa thuộc phông nào (nộp lưu trước khi có sổ đăng ký phông)"},
}

_STATUS = click.Choice(["open", "closed"])


def register(group: click.Group) -> None:
    group.add_command(fonds_group)


@click.group("fonds")
def fonds_group() -> None:
    """The fonds registry: every AIP belongs to a registered fonds (phông lưu trữ)."""


def _words(ctx: click.Context) -> dict[str, str]:
    return _LABELS["vi" if app(ctx).lang == "vi" else "en"]


def _languages(values: Sequence[str]) -> str:
    return ",".join(values)


def fonds_dict(record: FondsRecord, counts: FondsCounts | None = None) -> dict[str, Any]:
    return {**asdict(record), "counts": asdict(counts or FondsCounts())}


def _dates(record: FondsRecord) -> str:
    if not record.start_date and not record.end_date:
        return ""
    return f"{record.start_date or '?'} – {record.end_date or '…'}"


def _print_record(console: Console, words: dict[str, str], record: FondsRecord) -> None:
    console.print(f"  {words['name']}: {record.name}", markup=False)
    console.print(f"  {words['status']}: {words.get(record.status, record.status)}",
                  markup=False)
    if _dates(record):
        console.print(f"  {words['dates']}: {_dates(record)}", markup=False)
    if record.language:
        console.print(f"  {words['language']}: {record.language}", markup=False)
    if record.history:
        console.print(f"  {words['history']}: {record.history}", markup=False)
    console.print(f"  {words['registered']}: {record.created}; {words['updated']}: "
                  f"{record.updated}", markup=False)


@fonds_group.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The fonds name (tên phông).")
@click.option("--status", type=_STATUS, default="open", show_default=True,
              help="open: the creating body still transfers records; closed: it has ended.")
@click.option("--history", default="", help="History of the fonds and its creating body.")
@click.option("--start-date", default="", help="First date covered: YYYY, MM/YYYY or DD/MM/YYYY.")
@click.option("--end-date", default="", help="Last date covered: YYYY, MM/YYYY or DD/MM/YYYY.")
@click.option("--language", "languages", multiple=True, metavar="CODE",
              help="TT05 language code(s) 01-11; repeat or separate with commas.")
@json_option
@click.pass_context
@handle_errors
def fonds_add(ctx: click.Context, code: str, name: str, status: str, history: str,
              start_date: str, end_date: str, languages: tuple[str, ...]) -> None:
    """Register a fonds: in the catalog and as a record on every storage location."""
    with Repository.open(app(ctx).home) as repo:
        record = make_fonds(code, name, status=status, history=history, start_date=start_date,
                            end_date=end_date, language=_languages(languages))
        with open_locations(repo.config) as backends:
            key = register_fonds(repo.catalog, backends, record)
            stored = len(backends)
    _emit_change(ctx, record, key, stored, "added")


@fonds_group.command("update")
@click.argument("code")
@click.option("--name", default=None, help="The new fonds name.")
@click.option("--status", type=_STATUS, default=None, help="open or closed.")
@click.option("--history", default=None, help="The new history text.")
@click.option("--start-date", default=None, help="YYYY, MM/YYYY or DD/MM/YYYY ('' clears).")
@click.option("--end-date", default=None, help="YYYY, MM/YYYY or DD/MM/YYYY ('' clears).")
@click.option("--language", "languages", multiple=True, metavar="CODE",
              help="TT05 language code(s) 01-11 (replace the current ones).")
@json_option
@click.pass_context
@handle_errors
def fonds_update(ctx: click.Context, code: str, name: str | None, status: str | None,
                 history: str | None, start_date: str | None, end_date: str | None,
                 languages: tuple[str, ...]) -> None:
    """Change a registered fonds; only the options given change. The old record stays on
    storage (write-once); the new one is written beside it."""
    with Repository.open(app(ctx).home) as repo:
        record = changed_fonds(
            _existing(repo, code), name=name, status=status, history=history,
            start_date=start_date, end_date=end_date,
            language=_languages(languages) if languages else None)
        with open_locations(repo.config) as backends:
            key = record_fonds_change(repo.catalog, backends, record)
            stored = len(backends)
    _emit_change(ctx, record, key, stored, "changed")


@fonds_group.command("close")
@click.argument("code")
@click.option("--end-date", default=None, help="The last date the fonds covers.")
@json_option
@click.pass_context
@handle_errors
def fonds_close(ctx: click.Context, code: str, end_date: str | None) -> None:
    """Mark a fonds closed (its creating body has ended), optionally with its end date."""
    with Repository.open(app(ctx).home) as repo:
        record = changed_fonds(_existing(repo, code), status="closed", end_date=end_date)
        with open_locations(repo.config) as backends:
            key = record_fonds_change(repo.catalog, backends, record)
            stored = len(backends)
    _emit_change(ctx, record, key, stored, "changed")


def _existing(repo: Repository, code: str) -> FondsRecord:
    record = repo.catalog.fonds(code)
    if record is None:
        raise FondsNotFoundError("FONDS-UNKNOWN", fonds=code)
    return record


def _emit_change(ctx: click.Context, record: FondsRecord, key: str, stored: int,
                 what: str) -> None:
    words = _words(ctx)

    def text(console: Console) -> None:
        console.print(words[what].format(code=record.code), markup=False)
        _print_record(console, words, record)
        console.print("  " + words["stored"].format(n=stored, key=key), markup=False)

    emit(ctx, {"ok": True, "fonds": asdict(record), "key": key, "locations": stored}, text)


@fonds_group.command("list")
@json_option
@click.pass_context
@handle_errors
def fonds_list(ctx: click.Context) -> None:
    """Every registered fonds with its status and how many AIPs it holds."""
    with Repository.open(app(ctx).home) as repo:
        records = repo.catalog.fonds_list()
        counts = repo.catalog.fonds_counts()
    unassigned = counts.get("", FondsCounts())
    words = _words(ctx)

    def text(console: Console) -> None:
        if not records:
            console.print(words["none"], markup=False)
        else:
            table = Table(words["code"], words["name"], words["status"], words["dates"],
                          words["aips"], words["bytes"])
            for r in records:
                c = counts.get(r.code, FondsCounts())
                table.add_row(r.code, r.name, words.get(r.status, r.status), _dates(r),
                              str(c.aips), str(c.bytes))
            console.print(table)
        if unassigned.aips:
            console.print(words["unassigned"].format(n=unassigned.aips), markup=False)

    emit(ctx, {"ok": True, "fonds": [fonds_dict(r, counts.get(r.code)) for r in records],
               "unassigned": asdict(unassigned)}, text)


@fonds_group.command("show")
@click.argument("code")
@json_option
@click.pass_context
@handle_errors
def fonds_show(ctx: click.Context, code: str) -> None:
    """One fonds: its record, counts, and every AIP (every version) in it."""
    with Repository.open(app(ctx).home) as repo:
        record = _existing(repo, code)
        counts = repo.catalog.fonds_counts().get(code, FondsCounts())
        aips = repo.catalog.aips_in_fonds(code)
    words = _words(ctx)
    rows: list[dict[str, Any]] = [{"id": a.id, "package_id": a.package_id, "version": a.version,
             "record_status": a.record_status, "label": a.label, "created": a.created,
             "objid": a.objid, "arc_file_code": a.arc_file_code, "files": a.file_count,
             "bytes": a.total_size} for a in aips]

    def text(console: Console) -> None:
        console.print(f"{words['code']}: {record.code}", markup=False)
        _print_record(console, words, record)
        console.print(f"  {words['aips']}: {counts.aips}; {words['packages']}: "
                      f"{counts.packages}; {words['bytes']}: {counts.bytes}", markup=False)
        if rows:
            table = Table("v", "label", "created", "bytes")
            table.add_column("AIP", no_wrap=True, min_width=36)
            for r in rows:
                table.add_row(str(r["version"]), r["label"], r["created"], str(r["bytes"]),
                              r["id"])
            console.print(table)

    emit(ctx, {"ok": True, "fonds": fonds_dict(record, counts), "aips": rows}, text)
