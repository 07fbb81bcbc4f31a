"""label@K: one constrained teacher call per generated input (or the label proposed at generation time)."""

from pathlib import Path

import click

from evokd.data import load_task, read_samples, write_samples
from evokd.entry import run_command
from evokd.loop.generate import GeneratedInput
from evokd.loop.label import label
from evokd.loop.records import LabelStats, read_record, read_rows, stage_summary, write_record
from evokd.loop.step import round_step
from evokd.params import load_params
from evokd.teacher.client import TeacherClient


@click.command()
@click.option("--round", "round_name", required=True)
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--seeds", type=click.Path(path_type=Path), required=True, help="gold seeds: the demonstrations")
@click.option("--generated", type=click.Path(path_type=Path), required=True)
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=Path("prompts"))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="round K's labeled.jsonl")
@click.option("--stats", type=click.Path(path_type=Path), required=True)
@click.option("--anchor", type=click.Path(path_type=Path),
              help="the bootstrap round's label_stats.json: its prior calibrates this round (anchored; without "
              "it, the round's own batch)")
def main(round_name: str, task: Path, seeds: Path, generated: Path, prompts_dir: Path, out: Path, stats: Path,
         anchor: Path | None) -> None:
    params = load_params()
    separate = params.loop.separate_labeling
    client = TeacherClient(params.teacher, stage=f"label@{round_name}") if separate else None
    step = round_step(params, load_task(task), prompts_dir, round_name, client)
    samples, label_stats = label(step, read_rows(generated, GeneratedInput), separate=separate,
                                 demos=read_samples(seeds, step.task),
                                 anchor=read_record(anchor, LabelStats).prior if anchor else None)
    write_samples(out, samples)
    write_record(stats, label_stats)
    click.echo(stage_summary(f"label@{round_name}", [label_stats]))


if __name__ == "__main__":
    run_command(main)
