"""The ``preservation`` command line. The only package that imports click (and everything)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from preservation import __version__
from preservation.cli import (
    commands_aip,
    commands_audit,
    commands_catalog,
    commands_demo,
    commands_dip,
    commands_export,
    commands_fonds,
    commands_repo,
    commands_sip,
)
from preservation.cli.runtime import AppContext


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Repository home (default: $PRESERVATION_HOME, else ./archive).")
@click.option("--lang", type=click.Choice(["en", "vi"]), default="en", show_default=True,
              help="Language of messages and reports.")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv: debug).")
@click.version_option(__version__, prog_name="preservation")
@click.pass_context
def main(ctx: click.Context, home: Path | None, lang: str, verbose: int) -> None:
    """An OAIS preservation repository: ingest transfers as signed AIPs on verified copies,
    audit them, and serve access copies."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        # pyHanko logs a full traceback at WARNING for every untrusted signature; our findings
        # already say it, once and in words.
        logging.getLogger("pyhanko").setLevel(logging.ERROR)
    ctx.obj = AppContext(home=home, lang=lang)


for module in (commands_repo, commands_audit, commands_dip, commands_aip, commands_sip,
               commands_fonds, commands_catalog):
    module.register(main)
commands_export.register(main)
main.add_command(commands_demo.demo_cmd)

__all__ = ["main"]
