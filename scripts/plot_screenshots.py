"""One PNG per `dvc plots` plot of the current project, for docs/plots/.

`dvc plots show TARGET --show-vega` gives each plot's filled Vega-Lite spec and vl-convert (`pip install
-e .[docs]`: Vega-Lite rendered in-process, no browser and no CDN) draws it. Run in a project after `dvc repro`
(the comparison plots need `dvc repro benchmarks/dvc.yaml`):  python scripts/plot_screenshots.py [--out docs/plots]
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import vl_convert

PLOTS = {
    "score_by_round": "metrics/plots/score_by_round.json",
    "score_by_tokens": "metrics/plots/score_by_tokens.json",
    "per_label_f1": "metrics/plots/per_label_f1.json",
    "confusion": "metrics/plots/confusion.json",
    "samples_per_label": "metrics/plots/samples_per_label.json",
    "compare_by_round": "metrics/comparison/score_by_round.json",
    "compare_by_tokens": "metrics/comparison/score_by_tokens.json",
}


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/plots"), show_default=True)
@click.option("--scale", type=float, default=2.0, show_default=True, help="Pixels per Vega-Lite pixel.")
def main(out: Path, scale: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, target in PLOTS.items():
        if not Path(target).is_file():
            click.echo(f"skip {name}: no {target}")
            continue
        spec = subprocess.run(["dvc", "plots", "show", target, "--show-vega"], check=True, capture_output=True,
                              text=True).stdout
        png = out / f"{name}.png"
        png.write_bytes(vl_convert.vegalite_to_png(vl_spec=json.loads(spec), scale=scale))
        click.echo(png)


if __name__ == "__main__":
    main()
