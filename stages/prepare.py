"""prepare: the task spec, the gold seeds, the gold dev/test sets and the unlabelled pool, from a packaged benchmark
or the user's own files (params `task:`), into data/raw."""

from pathlib import Path

import click

from evokd.entry import run_command
from evokd.params import load_params
from evokd.sources import prepare_task


@click.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="data/raw")
def main(out: Path) -> None:
    params = load_params()
    prepare_task(params.task, params.seed, out)


if __name__ == "__main__":
    run_command(main)
