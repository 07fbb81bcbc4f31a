"""prepare: the task spec, the K-shot gold seeds and the gold test set from a packaged benchmark."""

from pathlib import Path

import click

from evokd.benchmarks import prepare_benchmark
from evokd.entry import run_command
from evokd.params import load_params


@click.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="data/raw")
def main(out: Path) -> None:
    params = load_params()
    prepare_benchmark(params.task.benchmark, params.task.shots, params.seed, out)


if __name__ == "__main__":
    run_command(main)
