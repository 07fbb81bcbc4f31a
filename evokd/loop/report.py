"""report: one summary (what `dvc exp show` shows) and the curve files `dvc plots` draws, from round outputs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from evokd.data import Sample, TaskSpec, read_samples
from evokd.io import read_json
from evokd.loop.generate import label_balance

TEACHER_STATS_FILES = ("bootstrap_stats.json", "analyze_stats.json", "gen_stats.json", "label_stats.json")


def round_teacher_tokens(round_dir: Path) -> dict[str, int]:
    """Prompt and completion tokens the round's data cost (cached answers count: they were paid for once)."""
    totals: Counter[str] = Counter()
    for name in TEACHER_STATS_FILES:
        path = round_dir / name
        teacher = read_json(path).get("teacher") if path.is_file() else None
        if teacher:
            totals["prompt_tokens"] += int(teacher.get("prompt_tokens", 0))
            totals["completion_tokens"] += int(teacher.get("completion_tokens", 0))
            totals["requests"] += int(teacher.get("requests", 0))
    return {"prompt_tokens": totals["prompt_tokens"], "completion_tokens": totals["completion_tokens"],
            "requests": totals["requests"], "total_tokens": totals["prompt_tokens"] + totals["completion_tokens"]}


def round_rejects(round_dir: Path) -> tuple[int, int]:
    """(inputs requested, inputs rejected) over generation and labelling of one round."""
    requested = rejected = 0
    for name in ("gen_stats.json", "label_stats.json", "bootstrap_stats.json"):
        path = round_dir / name
        if not path.is_file():
            continue
        stats = read_json(path)
        parts = [stats] if name != "bootstrap_stats.json" else [
            stats.get(key, {}) for key in ("generate", "label", "init_generate", "init_label")]
        for part in parts:
            requested += int(part.get("requested", 0))
            rejected += sum(int(count) for count in part.get("rejects", {}).values())
    return requested, rejected


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
        metrics = read_json(metrics_dir / f"{name}.json")
        test = metrics["test"]
        tokens = round_teacher_tokens(rounds_dir / name)
        cumulative_tokens += tokens["total_tokens"]
        batch = read_samples(rounds_dir / name / "labeled.jsonl", task)
        kept += len(batch)
        round_requested, round_rejected = round_rejects(rounds_dir / name)
        requested, rejected = requested + round_requested, rejected + round_rejected
        last_fooled = metrics.get("probe", {}).get("fooled_rate", last_fooled)
        score_by_round.append({"round": name, "step": index, "score": test["score"],
                               "fooled_rate": metrics.get("probe", {}).get("fooled_rate")})
        score_by_tokens.append({"teacher_tokens": cumulative_tokens, "score": test["score"], "round": name})
        per_label += [{"round": name, "label": label, "f1": values["f1"]}
                      for label, values in test.get("per_label", {}).items()]
        counts, warning = label_balance(task, batch)
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
