"""bootstrap (round r00): the teacher's warm-up and first plain batch, the first student trained on the seeds
(plus warm-up), its probe of the first batch, and its test-set scores. Writes every file a round writes."""

from pathlib import Path

import click

from evokd.data import load_task, read_samples
from evokd.entry import run_command
from evokd.loop.bootstrap import bootstrap, write_bootstrap
from evokd.loop.records import RoundFiles, stage_summary
from evokd.loop.step import round_step
from evokd.params import BOOTSTRAP_ROUND, load_params
from evokd.teacher.client import TeacherClient


@click.command()
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--seeds", type=click.Path(path_type=Path), required=True)
@click.option("--test", type=click.Path(path_type=Path), required=True, help="gold test set: evaluation only")
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=Path("prompts"))
@click.option("--out-model", type=click.Path(path_type=Path), required=True)
@click.option("--out-dir", type=click.Path(path_type=Path), required=True, help="data/rounds/r00")
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@click.option("--confusion", type=click.Path(path_type=Path), required=True,
              help="the student's test confusion rows (the report plots the final round's)")
def main(task: Path, seeds: Path, test: Path, prompts_dir: Path, out_model: Path, out_dir: Path, metrics: Path,
         confusion: Path) -> None:
    params = load_params()
    step = round_step(params, load_task(task), prompts_dir, BOOTSTRAP_ROUND,
                      TeacherClient(params.teacher, stage="bootstrap"))
    data, trained = bootstrap(params, step, read_samples(seeds, step.task), read_samples(test, step.task),
                              out_model, confusion)
    write_bootstrap(RoundFiles.at(out_dir), metrics, data, trained)
    click.echo(stage_summary(BOOTSTRAP_ROUND, [data.gen_stats, data.label_stats], trained.note()))


if __name__ == "__main__":
    run_command(main)
