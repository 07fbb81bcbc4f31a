"""`evokd status`: one row per round, read from what the pipeline already wrote (data/rounds/<K>/ and
metrics/rounds/<K>.json). Nothing is recomputed; a round that has not run yet shows blanks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from evokd.data import TaskSpec
from evokd.loop.records import read_round
from evokd.loop.report import samples_per_label


def round_status(task: TaskSpec, name: str, rounds_dir: Path, metrics_dir: Path) -> dict[str, Any]:
    """What one round kept, rejected and cost, and how its student scored (None where not known yet)."""
    record = read_round(task, rounds_dir / name, metrics_dir / f"{name}.json")
    totals, metrics = record.totals, record.metrics
    return {
        "round": name,
        "kept": totals.kept,
        "stances": dict(sorted(Counter(sample.stance for sample in record.batch if sample.stance).items())),
        "origins": dict(sorted(Counter(sample.provenance.origin for sample in record.batch).items())),
        "labels": dict(samples_per_label(task, record.batch)),
        "requested": totals.requested,
        "rejected": totals.rejected,
        "fooled_rate": metrics.probe.fooled_rate if metrics is not None and metrics.probe.n else None,
        "teacher_tokens": totals.teacher.total_tokens,
        "test_score": metrics.test.score if metrics is not None else None,
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
    for column in ("round", "kept", "by stance", "by origin", "by label", "rejected", "fooled", "teacher tokens",
                   "test score"):
        table.add_column(column, justify="left" if column.startswith(("round", "by")) else "right")
    for row in rows:
        table.add_row(
            row["round"], str(row["kept"]),
            ", ".join(f"{name} {count}" for name, count in row["stances"].items()) or "-",
            ", ".join(f"{name} {count}" for name, count in row["origins"].items()) or "-",
            ", ".join(f"{name} {count}" for name, count in row["labels"].items()) or "-",
            f"{row['rejected']}/{row['requested']}" if row["requested"] else "-",
            _fmt(row["fooled_rate"], ".0%"), f"{row['teacher_tokens']:,}", _fmt(row["test_score"], ".4f"))
    return table
