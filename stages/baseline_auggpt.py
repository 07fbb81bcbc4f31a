"""auggpt (benchmarks/dvc.yaml): the teacher paraphrases the seeds in rotation up to the EvoKD run's teacher tokens
(its report's summary); a student is trained on the seeds plus the paraphrases."""

from pathlib import Path

import click

from evokd.baselines.teacher_data import teacher_data_baseline
from evokd.entry import run_command
from evokd.io import read_json


@click.command()
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--seeds", type=click.Path(path_type=Path), required=True)
@click.option("--test", type=click.Path(path_type=Path), required=True, help="gold test set: evaluation only")
@click.option("--summary", type=click.Path(path_type=Path), required=True, help="the EvoKD run's summary.json")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="the paraphrases (JSONL)")
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=Path("prompts"))
def main(task: Path, seeds: Path, test: Path, summary: Path, out: Path, metrics: Path, prompts_dir: Path) -> None:
    targets = [int(read_json(summary)["teacher_tokens"])]
    teacher_data_baseline("auggpt", task, seeds, test, prompts_dir, targets, out, metrics)


if __name__ == "__main__":
    run_command(main)
