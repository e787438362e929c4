"""What every command shares: error → exit code mapping, JSON/text output, progress bars.

Exit codes (all commands): 0 success; 1 something failed or was rejected; 2 usage or
configuration error, or a path that cannot be opened. This is the only place that decides them.
"""

from __future__ import annotations

import functools
import logging
import string
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

from preservation.errors import PreservationError, RejectedError, UsageError
from preservation.findings import Finding, Report, catalogue
from preservation.fonds import LocalisedError
from preservation.progress import Progress, no_progress, refreshed_by_caller
from preservation.report_json import report_document, write_json

log = logging.getLogger("preservation.cli")
F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass
class AppContext:
    home: Path | None
    lang: str
    json: bool = False

    @property
    def console(self) -> Console:
        return Console(highlight=False, soft_wrap=True)


def app(ctx: click.Context) -> AppContext:
    obj = ctx.find_object(AppContext)
    assert obj is not None
    return obj


def archivist_option(action: str) -> Callable[[F], F]:
    """``--archivist NAME``: the person responsible for ``action``, named in its PREMIS event."""
    return click.option("--archivist", metavar="NAME",
                        help=f"The person responsible for this {action}, named in its PREMIS "
                             "event (default: the operating-system user).")


def json_option(fn: F) -> F:
    """``--json``: machine-readable output on stdout, nothing else there."""

    def store(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            app(ctx).json = True
        return value

    return click.option("--json", "as_json", is_flag=True, expose_value=False, callback=store,
                        is_eager=True, help="Print JSON on stdout instead of text.")(fn)


def emit(ctx: click.Context, data: dict[str, Any], text: Callable[[Console], None]) -> None:
    """Print ``data`` as JSON with --json, else render it as text."""
    if app(ctx).json:
        echo_json(data)
    else:
        text(app(ctx).console)


def echo_json(data: Any) -> None:
    """``data`` as indented JSON on stdout, written piece by piece: a report's findings
    (:class:`~preservation.report_json.JsonArray`) are never held as one string."""
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)  # JSON is UTF-8 (RFC 8259), whatever the locale
    if binary is not None:
        write_json(binary, data)
        binary.write(b"\n")
        binary.flush()
    else:
        write_json(sys.stdout, data)
        sys.stdout.write("\n")
        sys.stdout.flush()


def handle_errors(fn: F) -> F:
    """Map library exceptions to messages and exit codes, in one place."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        try:
            return fn(*args, **kwargs)
        except PreservationError as e:
            fail(ctx, e)

    return wrapper  # type: ignore[return-value]


def exit_code(error: PreservationError) -> int:
    """2 for a usage or configuration error, 1 for anything that failed."""
    return EXIT_USAGE if isinstance(error, UsageError) else EXIT_FAILED


def finish(ctx: click.Context, ok: bool) -> NoReturn:
    """End a command that ran to its end: 0 when everything succeeded, else 1."""
    ctx.exit(EXIT_OK if ok else EXIT_FAILED)


def fail(ctx: click.Context, e: PreservationError) -> NoReturn:
    """Show ``e`` in the user's language — its report when it carries one — and exit."""
    report = getattr(e, "report", None)
    if isinstance(report, Report):
        title = (_rejected_title(ctx, e, report) if isinstance(e, RejectedError)
                 else localised_message(e, app(ctx).lang))
        render_report(ctx, report, title=title)
    else:
        _error(ctx, e)
    ctx.exit(exit_code(e))


def localised_message(e: PreservationError, lang: str) -> str:
    """The error's message in ``lang``.

    English is the exception's own text (it names the specifics). Another language comes from
    the message catalogue entry of the error's code, its placeholders filled from the error's
    ``params`` (if it carries them), its ``aip``, and its location (``{location}``,
    ``{target}``, ``{aip}``); the English text stays when the code has no entry or a
    placeholder cannot be filled.
    """
    if lang == "en":
        return e.message
    if isinstance(e, LocalisedError):
        return e.translated(lang).message
    template = catalogue().get(e.code)
    if template is None:
        return e.message
    where = e.location or ""
    params = {"location": where, "target": where, "aip": str(getattr(e, "aip", "") or where)}
    params.update({k: str(v) for k, v in dict(getattr(e, "params", None) or {}).items()})
    text = template.vi if lang == "vi" else template.en
    wanted = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    if not wanted <= params.keys() or any(not params[name] for name in wanted):
        return e.message
    return unicodedata.normalize("NFC", text.format_map(params))


def _rejected_title(ctx: click.Context, e: RejectedError, report: Report) -> str:
    """The headline of a rejection, in the user's language (the exception's text is English)."""
    if app(ctx).lang != "vi":
        return e.message
    where = f" {e.location}" if e.location else ""
    return (f"{report.subject}: bị từ chối, {report.severity_counts()['error']} lỗi{where}. "
            "Báo cáo đầy đủ đã được lưu trong thư mục reports/.")


def _error(ctx: click.Context, e: PreservationError) -> None:
    """The error's code, message and location; the report of every copy it names
    (``reports``: e.g. no intact copy), by code."""
    lang = app(ctx).lang
    message = localised_message(e, lang)
    reports = [r for r in getattr(e, "reports", None) or () if isinstance(r, Report)]
    if app(ctx).json:
        data: dict[str, Any] = {"ok": False, "error": {
            "code": e.code, "message": message, "location": e.location}}
        if reports:
            data["copies"] = [report_document(r, lang) for r in reports]
        echo_json(data)
        return
    where = f" ({e.location})" if e.location else ""
    click.echo(f"error {e.code}: {message}{where}", err=True)
    copy = "bản lưu" if lang == "vi" else "copy"
    for r in reports:
        click.echo(f"  {copy} {r.subject}: {', '.join(sorted(r.codes()))}", err=True)


_ORDER = ("error", "warning", "not-checked", "info")  # display order


def _in_order(report: Report) -> Iterator[Finding]:
    """Errors first, then warnings, not-checked, info; in order within each (one pass over the
    findings per severity present, so a spooled report is never held in memory)."""
    counts = report.severity_counts()
    for severity in _ORDER:
        if counts.get(severity):
            yield from (f for f in report.findings if f.severity.value == severity)


def render_report(ctx: click.Context, report: Report, *, title: str = "") -> None:
    """Every finding, errors first, each with its location, message and (for errors) its fix."""
    lang = app(ctx).lang
    if app(ctx).json:
        echo_json({"ok": report.valid, "message": title,
                   "report": report_document(report, lang)})
        return
    console = app(ctx).console
    if title:
        console.print(title, markup=False)
    for f in _in_order(report):
        head = f"{f.severity.value:<11} {f.code}"
        if f.requirement:
            head += f" [{f.requirement}]"
        style = {"error": "red", "warning": "yellow"}.get(f.severity.value)
        if style:
            console.print(f"  [{style}]{escape(head)}[/{style}]  {escape(str(f.location))}")
        else:
            console.print(f"  {head}  {f.location}", markup=False)
        console.print(f"      {f.message(lang)}", markup=False)
        if f.severity.value == "error" and f.fix(lang):
            console.print(f"      → {f.fix(lang)}", markup=False)


def progress_wanted(ctx: click.Context) -> bool:
    """A bar on a terminal only: never with --json, never when output is piped."""
    return not app(ctx).json and sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def progress_bar(ctx: click.Context) -> Iterator[Progress]:
    """A rich progress bar fed by the library's ``progress(phase, advance, total)`` calls."""
    if not progress_wanted(ctx):
        yield no_progress
        return
    bar = RichProgress(TextColumn("{task.description:<18}"), BarColumn(), TaskProgressColumn(),
                       TimeRemainingColumn(),
                       console=Console(stderr=True), transient=True,
                       auto_refresh=False)  # no refresh thread: work may fork worker processes
    tasks: dict[str, TaskID] = {}

    def update(phase: str, advance: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], advance=advance, total=total)

    with bar:
        yield refreshed_by_caller(update, bar.refresh)
