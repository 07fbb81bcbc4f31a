"""teacher (benchmarks/dvc.yaml): the teacher labels a seeded sample of the test set zero-shot. Evaluation, the only
stage that sends gold test texts to the teacher, hence its own teacher cache file."""

from pathlib import Path

import click

from evokd.baselines.zero_shot import evaluation_cache_path, teacher_baseline
from evokd.data import load_task, read_samples
from evokd.entry import run_command
from evokd.io import atomic_write_json, write_jsonl
from evokd.params import load_params
from evokd.prompts import PromptSet
from evokd.teacher.client import TeacherClient


@click.command()
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--test", type=click.Path(path_type=Path), required=True, help="gold test set: evaluation only")
@click.option("--seeds", type=click.Path(path_type=Path), required=True, help="gold seeds: the demonstrations")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="text, gold and prediction per input")
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=Path("prompts"))
def main(task: Path, test: Path, seeds: Path, out: Path, metrics: Path, prompts_dir: Path) -> None:
    params = load_params()
    spec = load_task(task)
    client = TeacherClient(params.teacher, cache_path=evaluation_cache_path(), stage="baseline-teacher")
    rows, record = teacher_baseline(client, spec, PromptSet(prompts_dir, params.prompts.set), read_samples(test, spec),
                                    read_samples(seeds, spec), params.loop, params.seed, params.bench.teacher_test_size)
    write_jsonl(out, rows)
    atomic_write_json(metrics, record)


if __name__ == "__main__":
    run_command(main)
