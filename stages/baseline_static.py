"""static (benchmarks/dvc.yaml): ZeroGen-style generation with no student feedback, spending up to each cumulative
token count where an EvoKD round ended (its score_by_tokens curve), one student per mark."""

from pathlib import Path

import click

from evokd.baselines.teacher_data import teacher_data_baseline
from evokd.entry import run_command
from evokd.io import read_json


@click.command()
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--seeds", type=click.Path(path_type=Path), required=True)
@click.option("--test", type=click.Path(path_type=Path), required=True, help="gold test set: evaluation only")
@click.option("--curve", type=click.Path(path_type=Path), required=True,
              help="the EvoKD run's score_by_tokens.json: its cumulative teacher tokens per round")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="the generated data (JSONL)")
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=Path("prompts"))
def main(task: Path, seeds: Path, test: Path, curve: Path, out: Path, metrics: Path, prompts_dir: Path) -> None:
    targets = [int(point["teacher_tokens"]) for point in read_json(curve)]
    teacher_data_baseline("static", task, seeds, test, prompts_dir, targets, out, metrics)


if __name__ == "__main__":
    run_command(main)
