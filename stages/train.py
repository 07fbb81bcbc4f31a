"""train@K: student P probes batch K, then trains on batch K + replay + seeds into student K; test-set scores."""

from pathlib import Path

import click

from evokd.data import load_task, read_samples, write_samples
from evokd.entry import run_command
from evokd.io import atomic_write_json, write_jsonl
from evokd.loop.common import derive_seed, stage_summary, stop_teacher_if_asked
from evokd.loop.train import probe_student, train_and_evaluate, trained_note, training_mix
from evokd.params import load_params


@click.command()
@click.option("--round", "round_name", required=True)
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--batch", type=click.Path(path_type=Path), required=True, help="round K's labeled.jsonl")
@click.option("--pool", type=click.Path(path_type=Path), required=True, help="round P's pool.jsonl")
@click.option("--seeds", type=click.Path(path_type=Path), required=True)
@click.option("--test", type=click.Path(path_type=Path), required=True, help="gold test set: evaluation only")
@click.option("--prev-model", type=click.Path(path_type=Path), required=True)
@click.option("--out-model", type=click.Path(path_type=Path), required=True)
@click.option("--out-probe", type=click.Path(path_type=Path), required=True)
@click.option("--out-probe-scores", type=click.Path(path_type=Path), required=True)
@click.option("--out-pool", type=click.Path(path_type=Path), required=True)
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@click.option("--confusion", type=click.Path(path_type=Path), required=True,
              help="the student's test confusion rows (the report plots the final round's)")
def main(round_name: str, task: Path, batch: Path, pool: Path, seeds: Path, test: Path, prev_model: Path,
         out_model: Path, out_probe: Path, out_probe_scores: Path, out_pool: Path, metrics: Path,
         confusion: Path) -> None:
    params = load_params()
    stop_teacher_if_asked(params.teacher)
    task_spec = load_task(task)
    new_batch, earlier, gold_seeds = (read_samples(path, task_spec) for path in (batch, pool, seeds))
    probe, probe_scores = probe_student(task_spec, prev_model, new_batch)
    train_samples = training_mix(new_batch, earlier, gold_seeds, params.loop,
                                 derive_seed(params.seed, round_name, "review"))
    round_metrics = train_and_evaluate(task_spec, train_samples, read_samples(test, task_spec), params.student,
                                       out_model, init_from=prev_model, seed=params.seed,
                                       confusion_path=confusion)
    write_jsonl(out_probe, probe)
    atomic_write_json(out_probe_scores, probe_scores)
    write_samples(out_pool, [*earlier, *new_batch])
    atomic_write_json(metrics, {"round": round_name, "probe": probe_scores, **round_metrics})
    click.echo(stage_summary(f"train@{round_name}", {}, trained_note(probe_scores, round_metrics)))


if __name__ == "__main__":
    run_command(main)
