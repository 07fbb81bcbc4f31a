"""label@K: one constrained teacher call per generated input (or the label proposed at generation time)."""

from pathlib import Path

import click

from evokd.data import load_task, read_samples, write_samples
from evokd.entry import run_command
from evokd.io import atomic_write_json, read_jsonl
from evokd.loop.common import stage_summary
from evokd.loop.generate import GeneratedInput
from evokd.loop.label import label
from evokd.params import load_params
from evokd.prompts import PromptSet
from evokd.teacher.client import TeacherClient


@click.command()
@click.option("--round", "round_name", required=True)
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--seeds", type=click.Path(path_type=Path), required=True, help="gold seeds: the demonstrations")
@click.option("--generated", type=click.Path(path_type=Path), required=True)
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=Path("prompts"))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="round K's labeled.jsonl")
@click.option("--stats", type=click.Path(path_type=Path), required=True)
def main(round_name: str, task: Path, seeds: Path, generated: Path, prompts_dir: Path, out: Path, stats: Path) -> None:
    params = load_params()
    task_spec = load_task(task)
    inputs = [GeneratedInput.model_validate(row) for row in read_jsonl(generated)]
    separate = params.loop.separate_labeling
    client = TeacherClient(params.teacher, stage=f"label@{round_name}") if separate else None
    samples, label_stats = label(client, task_spec, PromptSet(prompts_dir, params.prompts.set), inputs,
                                 params.loop, params.seed, round_name, separate=separate,
                                 demos=read_samples(seeds, task_spec))
    write_samples(out, samples)
    atomic_write_json(stats, label_stats)
    click.echo(stage_summary(f"label@{round_name}", label_stats))


if __name__ == "__main__":
    run_command(main)
