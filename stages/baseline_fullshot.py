"""fullshot (benchmarks/dvc.yaml): the student on the benchmark's gold training set (capped by
bench.fullshot_max_train), scored on its test set: the upper bound."""

from pathlib import Path

import click

from evokd.baselines.students import fullshot_baseline
from evokd.entry import run_command
from evokd.io import atomic_write_json
from evokd.params import load_params


@click.command()
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
def main(metrics: Path) -> None:
    params = load_params()
    atomic_write_json(metrics, fullshot_baseline(params.task.benchmark, params.student, params.seed,
                                                 params.bench.fullshot_max_train))


if __name__ == "__main__":
    run_command(main)
