"""What every command shares: error → exit code mapping, JSON/text output, progress bars.

Exit codes (all commands): 0 success; 1 something failed or was rejected; 2 usage or
configuration error, or a path that cannot be opened. This is the only place that decides them.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

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
from preservation.findings import Report
from preservation.progress import Progress, no_progress

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
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        text(app(ctx).console)


def handle_errors(fn: F) -> F:
    """Map library exceptions to messages and exit codes, in one place."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        try:
            return fn(*args, **kwargs)
        except RejectedError as e:
            report = e.report
            if isinstance(report, Report):
                render_report(ctx, report, title=_rejected_title(ctx, e, report))
            else:
                _error(ctx, e)
            ctx.exit(EXIT_FAILED)
        except UsageError as e:
            _error(ctx, e)
            ctx.exit(EXIT_USAGE)
        except PreservationError as e:
            _error(ctx, e)
            ctx.exit(EXIT_FAILED)

    return wrapper  # type: ignore[return-value]


def _rejected_title(ctx: click.Context, e: RejectedError, report: Report) -> str:
    """The headline of a rejection, in the user's language (the exception's text is English)."""
    if app(ctx).lang != "vi":
        return e.message
    where = f" {e.location}" if e.location else ""
    return (f"{report.subject}: bị từ chối, {len(report.errors)} lỗi{where}. "
            "Báo cáo đầy đủ đã được lưu trong thư mục reports/.")


def _error(ctx: click.Context, e: PreservationError) -> None:
    if app(ctx).json:
        click.echo(json.dumps({"ok": False, "error": {
            "code": e.code, "message": e.message, "location": e.location}},
            ensure_ascii=False, indent=2))
    else:
        where = f" ({e.location})" if e.location else ""
        click.echo(f"error {e.code}: {e.message}{where}", err=True)


_ORDER = {"error": 0, "warning": 1, "not-checked": 2, "info": 3}


def render_report(ctx: click.Context, report: Report, *, title: str = "") -> None:
    """Every finding, errors first, each with its location, message and (for errors) its fix."""
    lang = app(ctx).lang
    if app(ctx).json:
        click.echo(json.dumps({"ok": report.valid, "message": title,
                               "report": report.to_dict(lang)}, ensure_ascii=False, indent=2))
        return
    console = app(ctx).console
    if title:
        console.print(title, markup=False)
    for f in sorted(report.findings, key=lambda f: _ORDER[f.severity.value]):
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
                       console=Console(stderr=True), transient=True)
    tasks: dict[str, TaskID] = {}

    def update(phase: str, advance: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], advance=advance, total=total)

    with bar:
        yield update
