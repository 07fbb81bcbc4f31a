"""The `evokd` command line. Each command is a thin wrapper over a library function.

Errors the user can act on (EvokdError) print as one line and exit 2; `--debug` shows the traceback.
"""

from __future__ import annotations

import logging
import sys

import click

from evokd.errors import EvokdError


@click.group()
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Evolving Knowledge Distillation with a vLLM teacher, versioned by DVC."""
    ctx.obj = {"debug": debug}
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_command(command: click.Command) -> None:
    """Run a click command the evokd way: EvokdError -> one line on stderr and exit 2 (traceback with --debug)."""
    debug = "--debug" in sys.argv[1:]
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
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


# ---- teacher -------------------------------------------------------------------------------------------


@cli.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True, type=click.Path(),
              help="The params file whose `teacher:` section says what to serve.")
@click.option("--stop", is_flag=True, help="Stop the server evokd started on teacher.port.")
@click.option("--idle-timeout", type=float, default=None,
              help="Stop the server after this many seconds without requests (default: keep it running).")
def serve(params_path: str, stop: bool, idle_timeout: float | None) -> None:
    """Start the teacher (vLLM; the CPU build on a laptop) and wait until it serves the model; or stop it."""
    from evokd.teacher.config import load_teacher_config
    from evokd.teacher.server import server_paths, start_server, stop_server

    config = load_teacher_config(params_path)
    if stop:
        stopped = stop_server(config)
        click.echo(f"stopped the teacher on port {config.port}" if stopped
                   else f"no teacher started by evokd runs on port {config.port}")
        return
    state = start_server(config, idle_timeout=idle_timeout)
    where = f"'{config.served_name}' at {config.base_url}"
    if state is None:
        click.echo(f"the teacher already serves {where} (not started by evokd)")
    else:
        click.echo(f"the teacher serves {where} (pid {state['pid']}, log {server_paths(config)['log']}); "
                   "stop it with `evokd serve --stop`")


def main() -> None:
    run_command(cli)


if __name__ == "__main__":
    main()
