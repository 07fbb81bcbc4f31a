"""report: one summary (what `dvc exp show` shows) and the curve files `dvc plots` draws, from round outputs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from evokd.data import Sample, TaskSpec
from evokd.loop.generate import label_balance
from evokd.loop.records import read_round


def samples_per_label(task: TaskSpec, samples: list[Sample]) -> Counter[str]:
    """Samples per label id (entity mentions per type for NER); labels with none are left out."""
    return Counter({name: count for name, count in label_balance(task, samples)[0].items() if count})


def build_report(task: TaskSpec, rounds: list[str], rounds_dir: Path, metrics_dir: Path) -> dict[str, Any]:
    """Summary and curves over the rounds that have metrics, in chain order. The summary keeps each round's
    labelled samples per label (`labels`, labels with none left out) and a warning line per round in which one
    label took more than 80% of them (`warnings`)."""
    score_by_round, score_by_tokens, per_label, per_label_samples = [], [], [], []
    labels: dict[str, dict[str, int]] = {}
    warnings: list[str] = []
    cumulative_tokens = kept = requested = rejected = 0
    last_fooled = None
    done = [name for name in rounds if (metrics_dir / f"{name}.json").is_file()]
    for index, name in enumerate(done):
        record = read_round(task, rounds_dir / name, metrics_dir / f"{name}.json")
        assert record.metrics is not None
        test, probe, totals = record.metrics.test, record.metrics.probe, record.totals
        cumulative_tokens += totals.teacher.total_tokens
        kept, requested, rejected = kept + totals.kept, requested + totals.requested, rejected + totals.rejected
        last_fooled = probe.fooled_rate
        score_by_round.append({"round": name, "step": index, "score": test.score, "fooled_rate": probe.fooled_rate})
        score_by_tokens.append({"teacher_tokens": cumulative_tokens, "score": test.score, "round": name})
        per_label += [{"round": name, "label": label, "f1": values.f1} for label, values in test.per_label.items()]
        counts, warning = label_balance(task, record.batch)
        per_label_samples += [{"round": name, "label": label, "samples": count} for label, count in counts.items()]
        labels[name] = {label: count for label, count in counts.items() if count}
        if warning:
            warnings.append(f"{name}: {warning}")
    scores = [row["score"] for row in score_by_round]
    best = max(range(len(scores)), key=scores.__getitem__) if scores else None
    summary = {
        "metric": "macro_f1" if task.kind == "classification" else "span_f1",
        "rounds": len(done),
        "final_score": scores[-1] if scores else None,
        "best_score": scores[best] if best is not None else None,
        "best_round": done[best] if best is not None else None,
        "final_round": done[-1] if done else None,
        "teacher_tokens": cumulative_tokens,
        "samples_kept": kept,
        "rejection_rate": rejected / requested if requested else 0.0,
        "last_fooled_rate": last_fooled,
        "labels": labels,
        "warnings": warnings,
    }
    return {"summary": summary, "score_by_round": score_by_round, "score_by_tokens": score_by_tokens,
            "per_label_f1": per_label, "samples_per_label": per_label_samples}
