"""Label balance of the teacher-labelled data in every experiment of an `evokd bench` run.

Benches recorded before the "Top label" column existed (and any bench, as a check) can be read back from the
experiments DVC keeps: each record names its experiment, whose outputs are read from the DVC cache.

    python benchmarks/label_balance.py --repo BENCH_CLONE --bench BENCH_CLONE/metrics/bench/rotten_tomatoes.json
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import click
import dvc.api
import yaml

from evokd.data import TaskSpec, parse_sample
from evokd.io import read_json
from evokd.loop.report import samples_per_label

DATA = {"static": ["data/baselines/static.jsonl"], "auggpt": ["data/baselines/auggpt.jsonl"]}


def experiment_commit(repo: Path, name: str) -> str:
    refs = subprocess.run(["git", "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps"], cwd=repo,
                          check=True, capture_output=True, text=True).stdout.splitlines()
    matches = [line.split()[0] for line in refs if line.endswith(f"/{name}")]
    if len(matches) != 1:
        raise click.ClickException(f"experiment {name}: {len(matches)} git refs under refs/exps")
    return matches[0]


def label_counts(repo: Path, commit: str, paths: list[str]) -> Counter[str]:
    task = TaskSpec.model_validate(yaml.safe_load(dvc.api.read("data/raw/task.yaml", repo=str(repo), rev=commit)))
    counts: Counter[str] = Counter()
    for path in paths:
        lines = dvc.api.read(path, repo=str(repo), rev=commit).splitlines()
        counts.update(samples_per_label(task, [parse_sample(json.loads(line), task, path, number)
                                               for number, line in enumerate(lines, 1) if line.strip()]))
    return counts


@click.command()
@click.option("--repo", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--bench", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
def main(repo: Path, bench: Path) -> None:
    report = read_json(bench)
    totals: dict[str, Counter[str]] = {}
    for record in report["records"]:
        method = record["method"]
        if method in ("seeds", "teacher", "fullshot"):
            continue
        paths = DATA.get(method) or [f"data/rounds/{point['round']}/labeled.jsonl" for point in record["curve"]]
        counts = label_counts(repo, experiment_commit(repo, record["experiment"]), paths)
        totals.setdefault(method, Counter()).update(counts)
        click.echo(f"{method:16} seed {record['seed']}: {dict(counts.most_common())}")
    click.echo("\n| Method | Labelled | Per label | Top label (share) |\n|---|---|---|---|")
    for method, counts in totals.items():
        label, top = counts.most_common(1)[0]
        per_label = ", ".join(f"{name} {count}" for name, count in counts.most_common())
        click.echo(f"| {method} | {counts.total()} | {per_label} | {label} ({top / counts.total():.2f}) |")


if __name__ == "__main__":
    main()
