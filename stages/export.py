"""export: the whole synthetic dataset of the run (the final round's pool, teacher samples only) as one versioned
folder: synthetic.jsonl, synthetic.parquet and a dataset card (README.md)."""

from pathlib import Path

import click

from evokd.data import load_task
from evokd.entry import run_command
from evokd.export import export_dataset, final_pool, synthetic_samples
from evokd.params import BOOTSTRAP_ROUND, load_params


@click.command()
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--rounds-dir", type=click.Path(path_type=Path), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="data/export")
def main(task: Path, rounds_dir: Path, out: Path) -> None:
    task_spec = load_task(task)
    final_round = [BOOTSTRAP_ROUND, *load_params().round_order()][-1]  # the chain's last round, as in report
    counts = export_dataset(task_spec, synthetic_samples(task_spec, final_pool(rounds_dir, final_round)), out)
    click.echo(f"export: {counts['samples']} synthetic samples from {len(counts['rounds'])} rounds -> {out}")


if __name__ == "__main__":
    run_command(main)
