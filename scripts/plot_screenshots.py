"""One PNG per `dvc plots` plot of the current project, for docs/plots/.

`dvc plots show TARGET --show-vega` gives each plot's filled Vega-Lite spec; headless Chromium (Debian
`chromium`) renders it with Vega fetched once from the npm registry into ~/.cache/evokd/vega (no CDN needed), and
the white margin is trimmed. Run in a project after `dvc repro` (the comparison plots need
`dvc repro benchmarks/dvc.yaml`):  python scripts/plot_screenshots.py [--out docs/plots]
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import click
from PIL import Image, ImageChops

PLOTS = {
    "score_by_round": "metrics/plots/score_by_round.json",
    "score_by_tokens": "metrics/plots/score_by_tokens.json",
    "per_label_f1": "metrics/plots/per_label_f1.json",
    "confusion": "metrics/plots/confusion.json",
    "samples_per_label": "metrics/plots/samples_per_label.json",
    "compare_by_round": "metrics/comparison/score_by_round.json",
    "compare_by_tokens": "metrics/comparison/score_by_tokens.json",
}
VEGA = {"vega": "5.20.2", "vega-lite": "5.2.0", "vega-embed": "6.18.2"}  # the versions DVC's HTML names
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">{scripts}</head>
<body style="margin:0;background:white"><div id="plot"></div>
<script>vegaEmbed("#plot", {spec}, {{actions: false, renderer: "canvas"}});</script></body></html>"""


def vega_script(package: str, version: str, cache: Path) -> Path:
    """The package's minified build, downloaded from the npm registry on first use."""
    script = cache / f"{package}-{version}" / f"{package}.min.js"
    if not script.is_file():
        url = f"https://registry.npmjs.org/{package}/-/{package}-{version}.tgz"
        with urllib.request.urlopen(url, timeout=60) as response, \
                tarfile.open(fileobj=io.BytesIO(response.read())) as archive:
            member = archive.extractfile(f"package/build/{package}.min.js")
            assert member is not None
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_bytes(member.read())
    return script


def trim(path: Path, margin: int = 12) -> None:
    image = Image.open(path).convert("RGB")
    box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
    if box:
        left, top, right, bottom = box
        image.crop((max(left - margin, 0), max(top - margin, 0), min(right + margin, image.width),
                    min(bottom + margin, image.height))).save(path)


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/plots"), show_default=True)
@click.option("--cache", type=click.Path(path_type=Path), default=Path.home() / ".cache" / "evokd" / "vega",
              show_default=True)
def main(out: Path, cache: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    scripts = "".join(f'<script src="file://{vega_script(name, version, cache)}"></script>'
                      for name, version in VEGA.items())
    with tempfile.TemporaryDirectory() as work:
        for name, target in PLOTS.items():
            if not Path(target).is_file():
                click.echo(f"skip {name}: no {target}")
                continue
            spec = subprocess.run(["dvc", "plots", "show", target, "--show-vega"], check=True, capture_output=True,
                                  text=True).stdout
            page = Path(work) / f"{name}.html"
            page.write_text(PAGE.format(scripts=scripts, spec=json.dumps(json.loads(spec))), encoding="utf-8")
            png = out / f"{name}.png"
            subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            "--allow-file-access-from-files", "--virtual-time-budget=5000", "--window-size=1400,2400",
                            f"--screenshot={png.resolve()}", page.as_uri()], check=True, capture_output=True)
            trim(png)
            click.echo(png)


if __name__ == "__main__":
    main()
