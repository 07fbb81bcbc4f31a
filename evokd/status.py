"""`evokd status`: one row per round, read from what the pipeline already wrote (data/rounds/<K>/ and
metrics/rounds/<K>.json). Nothing is recomputed; a round that has not run yet shows blanks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from evokd.data import TaskSpec, read_samples
from evokd.io import read_json
from evokd.loop.report import round_rejects, round_teacher_tokens, samples_per_label


def round_status(task: TaskSpec, name: str, rounds_dir: Path, metrics_dir: Path) -> dict[str, Any]:
    """What one round kept, rejected and cost, and how its student scored (None where not known yet)."""
    round_dir = rounds_dir / name
    labeled = round_dir / "labeled.jsonl"
    batch = read_samples(labeled, task) if labeled.is_file() else []
    requested, rejected = round_rejects(round_dir)
    metrics_path = metrics_dir / f"{name}.json"
    metrics = read_json(metrics_path) if metrics_path.is_file() else {}
    return {
        "round": name,
        "kept": len(batch),
        "stances": dict(sorted(Counter(sample.stance for sample in batch).items())),
        "labels": dict(samples_per_label(task, batch)),
        "requested": requested,
        "rejected": rejected,
        "fooled_rate": metrics.get("probe", {}).get("fooled_rate") if metrics.get("probe", {}).get("n") else None,
        "teacher_tokens": round_teacher_tokens(round_dir)["total_tokens"],
        "test_score": metrics.get("test", {}).get("score"),
    }


def pipeline_status(task: TaskSpec, rounds_dir: Path, metrics_dir: Path) -> list[dict[str, Any]]:
    """Rows for every round that has a folder or a metrics file, in name order (r00, r01, ...)."""
    names = {path.name for path in rounds_dir.iterdir() if path.is_dir()} if rounds_dir.is_dir() else set()
    names |= {path.stem for path in metrics_dir.glob("*.json")} if metrics_dir.is_dir() else set()
    return [round_status(task, name, rounds_dir, metrics_dir) for name in sorted(names)]


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def status_table(rows: list[dict[str, Any]]) -> Any:
    """A rich Table of the rows (built here so the CLI stays a thin wrapper)."""
    from rich.table import Table

    table = Table(title="EvoKD rounds")
    for column in ("round", "kept", "by stance", "by label", "rejected", "fooled", "teacher tokens", "test score"):
        table.add_column(column, justify="left" if column.startswith(("round", "by")) else "right")
    for row in rows:
        table.add_row(
            row["round"], str(row["kept"]),
            ", ".join(f"{name} {count}" for name, count in row["stances"].items()) or "-",
            ", ".join(f"{name} {count}" for name, count in row["labels"].items()) or "-",
            f"{row['rejected']}/{row['requested']}" if row["requested"] else "-",
            _fmt(row["fooled_rate"], ".0%"), f"{row['teacher_tokens']:,}", _fmt(row["test_score"], ".4f"))
    return table
