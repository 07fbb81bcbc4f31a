"""`evokd bench`: EvoKD and its baselines over seeds (and the ablations) as DVC experiments, summarised.

Each seed is one `dvc exp run -S seed=S ... benchmarks/dvc.yaml` (the loop, then every baseline of that run);
each ablation is one more `dvc exp run ... dvc.yaml` (the loop only) with one switch turned. Results are read from
the workspace right after each run, where `dvc exp run` leaves them, and wall times from the stage lines of DVC's
log. The aggregation (mean ± std, ratio to full-shot, equal-token curve, tables, plot) is pure functions of those
records, so it is tested on hand-made inputs.
"""

from __future__ import annotations

import logging
import os
import re
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evokd.errors import EvokdError
from evokd.io import atomic_write_json, atomic_write_text, read_json
from evokd.loop.report import round_rejects, samples_per_label

log = logging.getLogger(__name__)

BASELINES = ("seeds", "seeds_rounds", "auggpt", "static", "teacher", "fullshot")
LABELS = {"evokd": "EvoKD", "static": "Static (ZeroGen-style)", "auggpt": "AugGPT", "seeds": "Seeds only",
          "seeds_rounds": "Seeds only, retrained each round",
          "teacher": "Teacher zero-shot", "fullshot": "Full-shot student (upper bound)"}
# method -> (table label, param, value): one extra experiment per variant, the loop only, in the order they run:
# the options of this implementation turned away from their defaults, then the paper's five ablation switches.
ABLATIONS: dict[str, tuple[str, str, bool | int | str]] = {
    "uncalibrated": ("EvoKD w/o label calibration", "loop.calibration", "none"),
    "select": ("EvoKD, 3x over-generation + least-confident selection", "loop.select_factor", 3),
    "soft": ("EvoKD, soft targets (teacher probs)", "student.target", "soft"),
    "weighted": ("EvoKD, confidence-weighted loss", "student.weighting", "confidence"),
    "contextual": ("EvoKD, contextual calibration", "loop.calibration", "contextual"),
    "no_easy": ("EvoKD w/o easy inputs", "loop.use_easy", False),
    "no_correct": ("EvoKD w/o correct probe rows", "loop.include_correct", False),
    "no_review": ("EvoKD w/o review (replay)", "loop.review", False),
    "joint_labeling": ("EvoKD w/o separate labelling", "loop.separate_labeling", False),
    "init": ("EvoKD+Init", "loop.init", True),
}
ORDER = ("evokd", *ABLATIONS, "static", "auggpt", "seeds", "seeds_rounds", "teacher", "fullshot")
LOG_DIR = Path(".evokd") / "bench"  # DVC's output of each experiment; git-ignored, so no experiment commits it
STAGE_LINE = re.compile(r"^(?:Running stage|Stage) '([^']+)'")

Record = dict[str, Any]  # one method on one seed: method, seed, score, teacher_tokens, wall_s, curve, diagnostics


# ---- pure: timings, aggregation, tables ------------------------------------------------------------------


def stage_seconds(lines: Iterable[tuple[float, str]], end: float) -> dict[str, float]:
    """Seconds from each stage's first line in DVC's log (running, skipped or restored) to the next stage's."""
    starts: list[tuple[float, str]] = []
    for stamp, line in lines:
        match = STAGE_LINE.match(line)
        if match and match.group(1) not in {name for _, name in starts}:
            starts.append((stamp, match.group(1)))
    ends = [stamp for stamp, _ in starts[1:]] + [end]
    return {name: round(stop - start, 1) for (start, name), stop in zip(starts, ends, strict=True)}


def method_seconds(stages: dict[str, float], loop_method: str = "evokd") -> dict[str, float]:
    """Stage seconds summed per method: baselines by their stage in benchmarks/dvc.yaml, the rest is the loop
    (prepare, shared by every method, is left out)."""
    totals: dict[str, float] = {}
    for stage, seconds in stages.items():
        path, _, name = stage.rpartition(":")
        method = name if path.endswith("benchmarks/dvc.yaml") else None if stage == "prepare" else loop_method
        if method:
            totals[method] = round(totals.get(method, 0.0) + seconds, 1)
    return totals


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


def method_label(method: str) -> str:
    return ABLATIONS[method][0] if method in ABLATIONS else LABELS.get(method, method)


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
                                                                     "rejected")}
        fooled = [d["fooled_rate"] for d in mine if d.get("fooled_rate")]  # per seed, by round (r00 first)
        label_counts: Counter[str] = Counter()
        for diagnostics in mine:
            label_counts.update(diagnostics.get("label_counts", {}))
        top = label_counts.most_common(1)
        rows.append({"method": method, "label": method_label(method), **total,
                     "top_label": top[0][0] if top else None,
                     "top_label_share": top[0][1] / label_counts.total() if top else None,
                     "disagreement_rate": total["disagreements"] / total["labelled"] if total["labelled"] else None,
                     "rejection_rate": total["rejected"] / total["requested"],
                     "fooled_rate_by_round": [statistics.fmean(values) for values in zip(*fooled, strict=False)]
                     if fooled else None})
    return rows


def variant_of(record: Record) -> str:
    """The experiment a record came from: an ablation's own, or the main run (EvoKD and the baselines)."""
    return record["method"] if record["method"] in ABLATIONS else "main"


def pending_runs(seeds: list[int], ablation_seeds: list[int], done: list[Record]) -> list[tuple[int, str]]:
    """(seed, variant) experiments still to run: main runs for every seed first, then the ablations (on
    `ablation_seeds`: all variants on the first of them first)."""
    finished = {(record["seed"], variant_of(record)) for record in done}
    runs = [(seed, "main") for seed in seeds] + [(seed, name) for seed in ablation_seeds for name in ABLATIONS]
    return [run for run in runs if run not in finished]


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


# ---- reading one run's results from the workspace --------------------------------------------------------


def evokd_result(repo: Path) -> dict[str, Any]:
    """EvoKD's final score, tokens, score-by-tokens curve and per-round data diagnostics."""
    summary = read_json(repo / "metrics" / "summary.json")
    by_round = read_json(repo / "metrics" / "plots" / "score_by_round.json")
    requested = rejected = labelled = disagreements = 0
    label_counts: Counter[str] = Counter()
    for point in by_round:
        folder = repo / "data" / "rounds" / point["round"]
        label_counts.update(labelled_counts(repo, folder / "labeled.jsonl"))
        stats = (read_json(folder / "label_stats.json") if (folder / "label_stats.json").is_file()
                 else read_json(folder / "bootstrap_stats.json")["label"])
        round_requested, round_rejected = round_rejects(folder)
        requested, rejected = requested + round_requested, rejected + round_rejected
        labelled, disagreements = labelled + stats["kept"], disagreements + stats["disagreements"]
    return {"metric": summary["metric"], "score": summary["final_score"], "teacher_tokens": summary["teacher_tokens"],
            "curve": [{"round": p["round"], "teacher_tokens": p["teacher_tokens"], "score": p["score"]}
                      for p in read_json(repo / "metrics" / "plots" / "score_by_tokens.json")],
            "diagnostics": {"requested": requested, "rejected": rejected, "labelled": labelled,
                            "disagreements": disagreements, "label_counts": dict(label_counts),
                            "fooled_rate": [p["fooled_rate"] for p in by_round]}}


def labelled_counts(repo: Path, path: Path) -> dict[str, int]:
    """Samples per label (entity mentions per type for NER) in one file of teacher-labelled samples."""
    from evokd.data import load_task, read_samples

    task = load_task(repo / "data" / "raw" / "task.yaml")
    return dict(samples_per_label(task, read_samples(path, task)))


def baseline_result(repo: Path, name: str) -> dict[str, Any]:
    metrics = read_json(repo / "metrics" / "baselines" / f"{name}.json")
    result = {"score": metrics["score"], "teacher_tokens": metrics["teacher_tokens"], "curve": metrics.get("curve")}
    counts = metrics.get("counts")
    if counts:
        result["diagnostics"] = {"requested": counts.get("requested", 0), "labelled": counts.get("kept", 0),
                                 "disagreements": counts.get("disagreements", 0),
                                 "rejected": sum(v for k, v in counts.items() if k.startswith("reject:")),
                                 "label_counts": labelled_counts(repo, repo / "data" / "baselines" / f"{name}.jsonl")}
    if name == "teacher":
        result["tokens_per_1000_inputs"] = metrics["tokens_per_1000_inputs"]
        result["inputs"] = metrics["inputs"]
    return result


# ---- running experiments ---------------------------------------------------------------------------------


def override(key: str, value: Any) -> str:
    rendered = str(value).lower() if isinstance(value, bool) else str(value)
    return f"{key}={rendered}"


def run_experiment(repo: Path, name: str, overrides: dict[str, Any], target: str, log_path: Path) -> dict[str, float]:
    """`dvc exp run` in the workspace, its output streamed to log_path; returns the seconds of each stage."""
    command = ["dvc", "exp", "run", "-n", name]
    for key, value in overrides.items():
        command += ["-S", override(key, value)]
    command.append(target)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DVC_NO_ANALYTICS": "1"}
    log.info("experiment %s: %s", name, " ".join(command))
    lines: list[tuple[float, str]] = []
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as handle, subprocess.Popen(
            command, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append((time.monotonic(), line.rstrip("\n")))
            handle.write(line)
            handle.flush()
            if STAGE_LINE.match(line):
                log.info("  %s", line.strip())
    if process.returncode:
        raise EvokdError(f"experiment {name} failed (dvc exit code {process.returncode}); see {log_path}")
    return stage_seconds(lines, time.monotonic())


def run_bench(repo: Path, benchmark: str, shots: int, seeds: list[int], rounds: int | None, ablation_seeds: list[int],
              out: Path, command: str, resume: bool = False) -> dict[str, Any]:
    """Run every experiment, rewriting out/<benchmark>.{json,md,png} after each, and return the report.

    params.yaml is reset to its starting text (with --rounds applied) before every run, so the `-S` values of one
    experiment never leak into the next, and restored at the end. With `resume`, the records of an interrupted
    bench with the same setup are kept and only the missing experiments run (rerunning finished ones would come
    from DVC's run cache and record the restore time as wall time).
    """
    from evokd.params import load_params, rewrite_rounds
    from evokd.teacher.server import ensure_server, is_serving, start_server, stop_server

    params_path = repo / "params.yaml"
    original = params_path.read_text(encoding="utf-8")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    records: list[Record] = []
    started_teacher = False
    try:
        if rounds is not None:
            rewrite_rounds(params_path, rounds)
        base_text = params_path.read_text(encoding="utf-8")
        params = load_params(params_path)
        # Started here without the idle stop: a long student stage (full-shot) must not let the server go, or the
        # next stage would pay for a restart in its wall time. Stopped at the end only if the bench started it.
        started_teacher = not params.teacher.endpoint and not is_serving(params.teacher)
        if started_teacher:
            start_server(params.teacher)
        else:
            ensure_server(params.teacher)
        report = {"benchmark": benchmark, "shots": shots, "seeds": seeds, "command": command,
                  "setup": setup_line(params, rounds), "started": stamp}
        if resume:
            records = resumable_records(out / f"{benchmark}.json", report)
        for seed, variant in pending_runs(seeds, ablation_seeds, records):
            overrides: dict[str, Any] = {"seed": seed, "task.benchmark": benchmark, "task.shots": shots}
            if variant != "main":
                overrides[ABLATIONS[variant][1]] = ABLATIONS[variant][2]
            params_path.write_text(base_text, encoding="utf-8")
            name = f"{benchmark}-k{shots}-s{seed}-{variant}-{stamp}".replace("_", "-")
            target = "benchmarks/dvc.yaml" if variant == "main" else "dvc.yaml"
            started = time.monotonic()
            stages = run_experiment(repo, name, overrides, target, repo / LOG_DIR / f"{name}.log")
            loop_method = "evokd" if variant == "main" else variant
            walls = method_seconds(stages, loop_method)
            evokd = evokd_result(repo)
            report["metric"] = evokd.pop("metric")
            results = {loop_method: evokd}
            if variant == "main":
                results.update({baseline: baseline_result(repo, baseline) for baseline in BASELINES})
            records += [{"method": method, "seed": seed, "experiment": name, "wall_s": walls.get(method),
                         **result} for method, result in results.items()]
            log.info("experiment %s done in %.0f s", name, time.monotonic() - started)
            write_outputs(out, report, records)
    finally:
        params_path.write_text(original, encoding="utf-8")
        if started_teacher:
            stop_server(params.teacher)
    return report


def resumable_records(path: Path, report: dict[str, Any]) -> list[Record]:
    """The records of an earlier, interrupted bench at `path`; refused when its setup differs from this one."""
    if not path.is_file():
        return []
    earlier = read_json(path)
    for key in ("benchmark", "shots", "setup"):
        if earlier.get(key) != report[key]:
            raise EvokdError(f"{path}: cannot resume, its {key} is {earlier.get(key)!r}, this bench's is "
                             f"{report[key]!r}; use another --out")
    report["started"] = earlier.get("started", report.get("started"))
    return earlier["records"]


def setup_line(params: Any, rounds: int | None) -> str:
    loop = params.loop
    return (f"teacher `{params.teacher.model}` (temperature {params.teacher.temperature}), student "
            f"`{params.student.base_model}` ({params.student.epochs:g} epochs per round, learning rate "
            f"{params.student.learning_rate:g}), "
            f"{rounds if rounds is not None else len(params.rounds)} rounds after r00, n_hard {loop.n_hard}, "
            f"n_easy {loop.n_easy}, review {loop.review_size}, teacher zero-shot on "
            f"{params.bench.teacher_test_size} test inputs, full-shot on "
            f"{params.bench.fullshot_max_train or 'all'} gold training inputs")


def write_outputs(out: Path, report: dict[str, Any], records: list[Record]) -> None:
    report.update(summary=aggregate(records), equal_tokens=equal_token_curve(records), noise=noise_rows(records),
                  records=records)
    name = report["benchmark"]
    atomic_write_json(out / f"{name}.json", report)
    atomic_write_text(out / f"{name}.md", markdown(report) + f"\n![score by teacher tokens]({name}.png)\n")
    plot(report, records, out / f"{name}.png")
