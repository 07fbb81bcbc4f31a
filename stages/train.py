"""train@K: student P probes batch K, then trains on batch K + review + seeds into student K; test-set scores."""

from pathlib import Path

import click

from evokd.data import load_task, read_samples
from evokd.entry import run_command
from evokd.loop.records import RoundFiles, stage_summary
from evokd.loop.train import train_round
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
@click.option("--out-dir", type=click.Path(path_type=Path), required=True,
              help="data/rounds/K: probe.jsonl, probe_scores.json, pool.jsonl")
@click.option("--metrics", type=click.Path(path_type=Path), required=True)
@click.option("--confusion", type=click.Path(path_type=Path), required=True,
              help="the student's test confusion rows (the report plots the final round's)")
def main(round_name: str, task: Path, batch: Path, pool: Path, seeds: Path, test: Path, prev_model: Path,
         out_model: Path, out_dir: Path, metrics: Path, confusion: Path) -> None:
    params = load_params()
    spec = load_task(task)
    new_batch, earlier, gold_seeds, gold_test = (read_samples(path, spec) for path in (batch, pool, seeds, test))
    trained = train_round(params, spec, round_name, new_batch, earlier, gold_seeds, gold_test, prev_model,
                          out_model, confusion)
    trained.write(RoundFiles.at(out_dir), metrics)
    click.echo(stage_summary(f"train@{round_name}", note=trained.note()))


if __name__ == "__main__":
    run_command(main)
