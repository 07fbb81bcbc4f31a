"""The bench's results as tables and figures: pure functions of the records (one per method and seed), so they are
tested on hand-made inputs. Mean ± std, ratio to full-shot, EvoKD vs static at equal tokens, teacher data quality,
the markdown page, the score-by-tokens plot, and one workspace's comparison curves for `dvc plots show`."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from evokd.bench.methods import LABELS, ORDER, Record, method_label


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value: no spread can be measured)."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def ordered_methods(records: list[Record]) -> list[str]:
    present = list(dict.fromkeys(record["method"] for record in records))
    return [name for name in ORDER if name in present] + [name for name in present if name not in ORDER]


def aggregate(records: list[Record]) -> list[dict[str, Any]]:
    """One row per method: seeds, mean ± std of the test score, ratio of the mean to full-shot's mean, mean
    teacher tokens and mean wall time."""
    fullshot = [record["score"] for record in records if record["method"] == "fullshot"]
    upper = statistics.fmean(fullshot) if fullshot else None
    rows = []
    for method in ordered_methods(records):
        mine = [record for record in records if record["method"] == method]
        mean, std = mean_std([record["score"] for record in mine])
        walls = [record["wall_s"] for record in mine if record.get("wall_s") is not None]
        rows.append({
            "method": method, "label": method_label(method), "seeds": sorted(record["seed"] for record in mine),
            "score_mean": mean, "score_std": std, "ratio_to_fullshot": mean / upper if upper else None,
            "teacher_tokens_mean": statistics.fmean(record["teacher_tokens"] for record in mine),
            "wall_s_mean": statistics.fmean(walls) if walls else None,
        })
    return rows


def equal_token_curve(records: list[Record]) -> list[dict[str, Any]]:
    """EvoKD and static side by side at each EvoKD round's cumulative tokens (static spends to the same marks),
    averaged over the seeds that have both."""
    by_seed: dict[int, dict[str, Record]] = {}
    for record in records:
        if record["method"] in ("evokd", "static"):
            by_seed.setdefault(record["seed"], {})[record["method"]] = record
    pairs = [(pair["evokd"]["curve"], pair["static"]["curve"]) for pair in by_seed.values() if len(pair) == 2]
    rows = []
    for index in range(min((len(evokd) for evokd, _ in pairs), default=0)):
        evokd = [curve[index] for curve, _ in pairs]
        static = [curve[index] for _, curve in pairs if index < len(curve)]
        rows.append({"round": evokd[0].get("round", str(index)), "seeds": len(evokd),
                     "evokd_tokens": statistics.fmean(point["teacher_tokens"] for point in evokd),
                     "evokd_score": statistics.fmean(point["score"] for point in evokd),
                     "static_tokens": statistics.fmean(point["teacher_tokens"] for point in static) if static else None,
                     "static_score": statistics.fmean(point["score"] for point in static) if static else None})
    return rows


def noise_rows(records: list[Record]) -> list[dict[str, Any]]:
    """Where teacher data goes wrong, per method with teacher-written data: labels that disagree with the label
    the input was written for, the most frequent label and its share (a teacher that gives one label to everything
    leaves the student nothing to learn), inputs rejected (failed, too short/long, duplicate), and for EvoKD the
    share of each new batch that fooled the previous student (probe, teacher labels as reference)."""
    rows = []
    for method in ordered_methods(records):
        mine = [record["diagnostics"] for record in records if record["method"] == method and
                record.get("diagnostics", {}).get("requested")]
        if not mine:
            continue
        total = {key: sum(d.get(key, 0) for d in mine) for key in ("requested", "labelled", "disagreements",
                                                                     "rejected", "dropped")}
        read = total["labelled"] + total["dropped"]  # the teacher read them all; a disagreement may drop one
        fooled = [d["fooled_rate"] for d in mine if d.get("fooled_rate")]  # per seed, by round (r00 first)
        label_counts: Counter[str] = Counter()
        for diagnostics in mine:
            label_counts.update(diagnostics.get("label_counts", {}))
        top = label_counts.most_common(1)
        rows.append({"method": method, "label": method_label(method), **total,
                     "top_label": top[0][0] if top else None,
                     "top_label_share": top[0][1] / label_counts.total() if top else None,
                     "disagreement_rate": total["disagreements"] / read if read else None,
                     "rejection_rate": total["rejected"] / total["requested"],
                     "fooled_rate_by_round": [statistics.fmean(values) for values in zip(*fooled, strict=False)]
                     if fooled else None})
    return rows


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    """The results page: setup, the main table, EvoKD vs static at equal tokens, and label-noise diagnostics."""
    metric = report.get("metric", "score")
    lines = [f"# {report['benchmark']}: EvoKD vs baselines ({report['shots']}-shot, seeds "
             f"{', '.join(map(str, report['seeds']))})", "",
             f"Command: `{report['command']}`", "", f"Setup: {report['setup']}", "",
             f"| Method | Seeds | Test {metric} (mean ± std) | Ratio to full-shot | Teacher tokens | Wall time (s) |",
             "|---|---|---|---|---|---|"]
    for row in report["summary"]:
        spread = "" if row["score_std"] is None else f" ± {row['score_std']:.3f}"
        lines.append(f"| {row['label']} | {len(row['seeds'])} | {row['score_mean']:.3f}{spread} | "
                     f"{_number(row['ratio_to_fullshot'], 2)} | {row['teacher_tokens_mean']:,.0f} | "
                     f"{_number(row['wall_s_mean'], 0)} |")
    records = report.get("records", [])
    seeds = sorted({record["seed"] for record in records})
    if len(seeds) > 1:
        lines += ["", f"Per seed (test {metric}):", "", "| Method | " + " | ".join(f"seed {s}" for s in seeds) + " |",
                  "|---|" + "---|" * len(seeds)]
        for method in ordered_methods(records):
            score = {record["seed"]: record["score"] for record in records if record["method"] == method}
            lines.append(f"| {method_label(method)} | " + " | ".join(_number(score.get(s)) for s in seeds) + " |")
    teacher = [record for record in records if record["method"] == "teacher"]
    if teacher:
        lines += ["", f"Teacher zero-shot: labels {teacher[0]['inputs']} sampled test inputs per seed with the loop's "
                  "labelling prompt (its own cache file); its tokens are evaluation cost, "
                  f"{statistics.fmean(r['tokens_per_1000_inputs'] for r in teacher):,.0f} per 1,000 inputs."]
    if report["equal_tokens"]:
        lines += ["", "## EvoKD vs static at equal teacher tokens", "",
                  "Static spends its budget up to each mark where an EvoKD round ended; one student per mark.", "",
                  "| After round | Seeds | EvoKD tokens | EvoKD score | Static tokens | Static score |",
                  "|---|---|---|---|---|---|"]
        for row in report["equal_tokens"]:
            lines.append(f"| {row['round']} | {row['seeds']} | {row['evokd_tokens']:,.0f} | {row['evokd_score']:.3f} | "
                         f"{_number(row['static_tokens'], 0)} | {_number(row['static_score'])} |")
    if report["noise"]:
        lines += ["", "## Teacher data quality", "",
                  "Disagreement: the label the teacher gave differs from the label it wrote the input for. Top label: "
                  "the most frequent label in the teacher-labelled data and its share. Rejected: failed answers, "
                  "length limits, duplicates. Fooled: share of each new EvoKD batch the previous student got wrong "
                  "(teacher labels as reference), by round.", "",
                  "| Method | Inputs requested | Labelled | Disagreement rate | Top label (share) | Rejection rate "
                  "| Fooled rate by round |",
                  "|---|---|---|---|---|---|---|"]
        for row in report["noise"]:
            fooled = ", ".join(f"{value:.2f}" for value in row["fooled_rate_by_round"] or []) or "–"
            top = f"{row['top_label']} ({row['top_label_share']:.2f})" if row.get("top_label") else "–"
            lines.append(f"| {row['label']} | {row['requested']} | {row['labelled']} | "
                         f"{_number(row['disagreement_rate'], 2)} | {top} | {row['rejection_rate']:.2f} | {fooled} |")
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], records: list[Record], path: Path) -> None:
    """Test score against cumulative teacher tokens: EvoKD vs static, each seed thin, the mean thick; the
    seeds-only (once and retrained each round) and full-shot means as reference lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for method, color in (("evokd", "tab:blue"), ("static", "tab:orange")):
        for record in (r for r in records if r["method"] == method):
            axes.plot([p["teacher_tokens"] for p in record["curve"]], [p["score"] for p in record["curve"]],
                      color=color, alpha=0.25, linewidth=1)
    rows = report["equal_tokens"]
    if rows:
        axes.plot([r["evokd_tokens"] for r in rows], [r["evokd_score"] for r in rows], "o-", color="tab:blue",
                  linewidth=2.5, label="EvoKD (mean)")
        static = [r for r in rows if r["static_score"] is not None]
        axes.plot([r["static_tokens"] for r in static], [r["static_score"] for r in static], "s-",
                  color="tab:orange", linewidth=2.5, label="Static (mean)")
    reference_lines = {"fullshot": ("--", "black"), "seeds": ("--", "gray"), "seeds_rounds": (":", "gray")}
    for row in report["summary"]:
        if row["method"] in reference_lines:
            style, color = reference_lines[row["method"]]
            axes.axhline(row["score_mean"], linestyle=style, color=color, linewidth=1, label=row["label"])
    axes.set_xlabel("cumulative teacher tokens (prompt + completion)")
    axes.set_ylabel(f"test {report.get('metric', 'score')}")
    axes.set_title(f"{report['benchmark']}, {report['shots']}-shot: score by teacher tokens")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def comparison_curves(evokd_by_round: list[dict[str, Any]], evokd_by_tokens: list[dict[str, Any]],
                      baselines: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The rows of one workspace's comparison plots (long form: one row per method and point).

    by_round (round 0 is r00): EvoKD per round, static at the same cumulative tokens (its curve has one mark per
    EvoKD round), the seeds retrained each round, and the single-score baselines as flat lines. by_tokens: EvoKD
    and static against cumulative teacher tokens, with AugGPT as one point at its budget.
    """
    rounds = len(evokd_by_round)
    by_round = [{"round": index, "method": LABELS["evokd"], "score": p["score"]}
                for index, p in enumerate(evokd_by_round)]
    by_tokens = [{"teacher_tokens": p["teacher_tokens"], "method": LABELS["evokd"], "score": p["score"]}
                 for p in evokd_by_tokens]
    curves = {method: baselines.get(method, {}).get("curve") or [] for method in ("static", "seeds_rounds")}
    for method, curve in curves.items():
        if len(curve) == rounds:
            by_round += [{"round": index, "method": LABELS[method], "score": point["score"]}
                         for index, point in enumerate(curve)]
    by_tokens += [{"teacher_tokens": p["teacher_tokens"], "method": LABELS["static"], "score": p["score"]}
                  for p in curves["static"]]
    for method in ("auggpt", "seeds", "teacher", "fullshot"):
        if method in baselines:
            by_round += [{"round": index, "method": LABELS[method], "score": baselines[method]["score"]}
                         for index in range(rounds)]
    if "auggpt" in baselines:
        by_tokens.append({"teacher_tokens": baselines["auggpt"]["teacher_tokens"], "method": LABELS["auggpt"],
                          "score": baselines["auggpt"]["score"]})
    return {"score_by_round": by_round, "score_by_tokens": by_tokens}
