"""seeds / seeds_rounds (benchmarks/dvc.yaml): the student on the K-shot gold seeds only, once or on EvoKD's
schedule (r00, then once more per round of params.yaml from the previous checkpoint)."""

from pathlib import Path

import click

from evokd.baselines.students import seeds_only, seeds_rounds
from evokd.data import load_task, read_samples
from evokd.entry import run_command
from evokd.io import atomic_write_json
from evokd.params import load_params


@click.command()
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--seeds", type=click.Path(path_type=Path), required=True)
@click.option("--test", type=click.Path(path_type=Path), required=True, help="gold test set: evaluation only")
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@click.option("--each-round", is_flag=True, help="retrain the seeds every round from the previous checkpoint, "
              "like EvoKD's student; writes the seeds_rounds method")
def main(task: Path, seeds: Path, test: Path, metrics: Path, each_round: bool) -> None:
    params = load_params()
    spec = load_task(task)
    gold, gold_test = read_samples(seeds, spec), read_samples(test, spec)
    if each_round:
        record = seeds_rounds(spec, gold, gold_test, params.student, params.seed, params.round_order())
    else:
        record = seeds_only(spec, gold, gold_test, params.student, params.seed)
    atomic_write_json(metrics, record)


if __name__ == "__main__":
    run_command(main)
