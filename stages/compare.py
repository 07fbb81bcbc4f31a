"""compare: EvoKD's curves next to its baselines' (one workspace, one seed), for `dvc plots show`."""

from pathlib import Path

import click

from evokd.bench.methods import BASELINES
from evokd.bench.tables import comparison_curves
from evokd.entry import run_command
from evokd.io import atomic_write_json, read_json


@click.command()
@click.option("--plots-dir", type=click.Path(path_type=Path), required=True, help="the EvoKD report's metrics/plots")
@click.option("--baselines-dir", type=click.Path(path_type=Path), required=True, help="metrics/baselines")
@click.option("--out-dir", type=click.Path(path_type=Path), required=True)
def main(plots_dir: Path, baselines_dir: Path, out_dir: Path) -> None:
    baselines = {name: read_json(baselines_dir / f"{name}.json") for name in BASELINES}
    curves = comparison_curves(read_json(plots_dir / "score_by_round.json"),
                               read_json(plots_dir / "score_by_tokens.json"), baselines)
    for name, rows in curves.items():
        atomic_write_json(out_dir / f"{name}.json", rows)


if __name__ == "__main__":
    run_command(main)
