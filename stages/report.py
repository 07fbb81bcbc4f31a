"""report: metrics/summary.json for `dvc exp show` and the curve files that dvc.yaml declares as plots."""

from pathlib import Path

import click

from evokd.data import load_task
from evokd.entry import run_command
from evokd.io import atomic_write_json, read_json
from evokd.loop.report import build_report
from evokd.params import BOOTSTRAP_ROUND, load_params


@click.command()
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--rounds-dir", type=click.Path(path_type=Path), required=True)
@click.option("--metrics-dir", type=click.Path(path_type=Path), required=True)
@click.option("--confusion-dir", type=click.Path(path_type=Path), required=True,
              help="metrics/confusion: the test confusion rows of every round")
@click.option("--summary", type=click.Path(path_type=Path), required=True)
@click.option("--plots-dir", type=click.Path(path_type=Path), required=True)
def main(task: Path, rounds_dir: Path, metrics_dir: Path, confusion_dir: Path, summary: Path, plots_dir: Path) -> None:
    params = load_params()
    report = build_report(load_task(task), [BOOTSTRAP_ROUND, *params.round_order()], rounds_dir, metrics_dir)
    for name in ("score_by_round", "score_by_tokens", "per_label_f1", "samples_per_label"):
        atomic_write_json(plots_dir / f"{name}.json", report[name])
    final_round = report["summary"]["final_round"]
    if final_round is not None:
        atomic_write_json(plots_dir / "confusion.json", read_json(confusion_dir / f"{final_round}.json"))
    atomic_write_json(summary, report["summary"])
    for warning in report["summary"]["warnings"]:
        click.echo(f"report: warning: {warning}", err=True)


if __name__ == "__main__":
    run_command(main)
