"""bootstrap (round r00): the teacher's warm-up and first plain batch, the first student trained on the seeds
(plus warm-up), its probe of the first batch, and its test-set scores."""

from pathlib import Path

import click

from evokd.data import load_task, read_samples, write_samples
from evokd.entry import run_command
from evokd.io import atomic_write_json, write_jsonl
from evokd.loop.bootstrap import ROUND, teacher_data
from evokd.loop.common import stage_summary, stop_teacher_if_asked
from evokd.loop.train import probe_student, train_and_evaluate, trained_note
from evokd.params import load_params
from evokd.prompts import PromptSet
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
    task_spec = load_task(task)
    gold_seeds, gold_test = read_samples(seeds, task_spec), read_samples(test, task_spec)
    client = TeacherClient(params.teacher, stage="bootstrap")
    init_samples, inputs, batch, stats = teacher_data(
        client, task_spec, PromptSet(prompts_dir, params.prompts.set), gold_seeds, params.loop, params.seed,
        params.teacher.served_name)
    stop_teacher_if_asked(params.teacher)
    round_metrics = train_and_evaluate(task_spec, [*gold_seeds, *init_samples], gold_test,
                                       params.student, out_model, init_from=None, seed=params.seed,
                                       confusion_path=confusion)
    probe, probe_scores = probe_student(task_spec, out_model, batch)
    write_jsonl(out_dir / "generated.jsonl", [item.model_dump() for item in inputs])
    write_samples(out_dir / "labeled.jsonl", batch)
    write_jsonl(out_dir / "probe.jsonl", probe)
    atomic_write_json(out_dir / "probe_scores.json", probe_scores)
    write_samples(out_dir / "pool.jsonl", [*gold_seeds, *init_samples, *batch])
    write_jsonl(out_dir / "analyses.jsonl", [])
    atomic_write_json(out_dir / "bootstrap_stats.json", stats)
    atomic_write_json(metrics, {"round": ROUND, "probe": probe_scores, **round_metrics})
    click.echo(stage_summary(ROUND, {"kept": len(batch), "requested": stats["generate"]["requested"],
                                     "rejects": stats["generate"]["rejects"], "teacher": stats["teacher"]},
                             trained_note(probe_scores, round_metrics)))


if __name__ == "__main__":
    run_command(main)
