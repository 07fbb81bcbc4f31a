"""How an evokd process starts and ends: logging, signals, and errors a user can act on.

Used by the `evokd` CLI and by every stage script, so a stage imports this small module rather than the CLI (and
so depends on nothing it does not run). `--debug` (added to every command) sets the log level to DEBUG and shows
tracebacks; otherwise the library's INFO lines are shown.
"""

from __future__ import annotations

import logging
import sys
import traceback

import click

from evokd import interrupts
from evokd.errors import EvokdError

DEBUG_OPTION = "--debug"


def setup_logging(debug: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_command(command: click.Command) -> None:
    """Run a click command the evokd way: EvokdError -> one line on stderr and exit 2 (traceback with --debug).

    Ctrl-C exits 130 and SIGTERM 143, both after cleanup (no partial output is left where DVC would see it).
    """
    if not any(DEBUG_OPTION in param.opts for param in command.params):
        command.params.append(click.Option([DEBUG_OPTION], is_flag=True, expose_value=False,
                                           help="Show debug logs and full tracebacks."))
    debug = DEBUG_OPTION in sys.argv[1:]
    setup_logging(debug)
    interrupts.install()
    try:
        command.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except EvokdError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
