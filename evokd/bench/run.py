"""`evokd bench`: EvoKD and its baselines over seeds (and the ablations) as DVC experiments, and their records.

Each seed is one `dvc exp run -S seed=S ... benchmarks/dvc.yaml` (the loop, then every baseline of that run);
each ablation is one more `dvc exp run ... dvc.yaml` (the loop only) with one switch turned. Results are read from
the workspace right after each run, where `dvc exp run` leaves them, and wall times from the stage lines of DVC's
log; after each run the tables and the plot (evokd.bench.tables) are written again, so an interrupted bench keeps
what it finished and `--resume` continues it.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evokd.bench.methods import ABLATIONS, BASELINES, Record
from evokd.bench.tables import aggregate, equal_token_curve, markdown, noise_rows, plot
from evokd.errors import EvokdError
from evokd.io import atomic_write_json, atomic_write_text, read_json
from evokd.loop.records import read_round
from evokd.loop.report import samples_per_label

log = logging.getLogger(__name__)

LOG_DIR = Path(".evokd") / "bench"  # DVC's output of each experiment; git-ignored, so no experiment commits it
STAGE_LINE = re.compile(r"^(?:Running stage|Stage) '([^']+)'")

# ---- timings from DVC's log, the experiments still to run ----------------------------------------------------


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


def variant_of(record: Record) -> str:
    """The experiment a record came from: an ablation's own, or the main run (EvoKD and the baselines)."""
    return record["method"] if record["method"] in ABLATIONS else "main"


def pending_runs(seeds: list[int], ablation_seeds: list[int], done: list[Record],
                 variants: Iterable[str] = ABLATIONS) -> list[tuple[int, str]]:
    """(seed, variant) experiments still to run: main runs for every seed first, then the ablations (on
    `ablation_seeds`: all `variants`, in their order, on the first of them first)."""
    finished = {(record["seed"], variant_of(record)) for record in done}
    runs = [(seed, "main") for seed in seeds] + [(seed, name) for seed in ablation_seeds for name in variants]
    return [run for run in runs if run not in finished]


# ---- reading one run's results from the workspace --------------------------------------------------------


def evokd_result(repo: Path) -> dict[str, Any]:
    """EvoKD's final score, tokens, score-by-tokens curve and per-round data diagnostics."""
    summary = read_json(repo / "metrics" / "summary.json")
    by_round = read_json(repo / "metrics" / "plots" / "score_by_round.json")
    from evokd.data import load_task

    task = load_task(repo / "data" / "raw" / "task.yaml")
    requested = rejected = labelled = disagreements = dropped = 0
    label_counts: Counter[str] = Counter()
    for point in by_round:
        name = point["round"]
        record = read_round(task, repo / "data" / "rounds" / name, repo / "metrics" / "rounds" / f"{name}.json")
        label_counts.update(samples_per_label(task, record.batch))
        requested, rejected = requested + record.totals.requested, rejected + record.totals.rejected
        if record.label is not None:
            labelled, disagreements = labelled + record.label.kept, disagreements + record.label.disagreements
            dropped += record.label.rejects.get("disagreement", 0)
    return {"metric": summary["metric"], "score": summary["final_score"], "teacher_tokens": summary["teacher_tokens"],
            "curve": [{"round": p["round"], "teacher_tokens": p["teacher_tokens"], "score": p["score"]}
                      for p in read_json(repo / "metrics" / "plots" / "score_by_tokens.json")],
            "diagnostics": {"requested": requested, "rejected": rejected, "labelled": labelled,
                            "disagreements": disagreements, "dropped": dropped, "label_counts": dict(label_counts),
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
                                 "dropped": counts.get("reject:disagreement", 0),
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


def run_experiment(repo: Path, name: str, overrides: dict[str, Any], targets: list[str], log_path: Path
                   ) -> dict[str, float]:
    """`dvc exp run` in the workspace, its output streamed to log_path; returns the seconds of each stage."""
    command = ["dvc", "exp", "run", "-n", name]
    for key, value in overrides.items():
        command += ["-S", override(key, value)]
    command += targets
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


def main_targets(baselines: list[str]) -> list[str]:
    """The `dvc exp run` targets of a main run: both pipelines, or with fewer baselines their stages and the loop's
    report. `compare` is left out then: it depends on all of metrics/baselines, so DVC would run every baseline."""
    if baselines == list(BASELINES):
        return ["benchmarks/dvc.yaml"]
    return [*(f"benchmarks/dvc.yaml:{stage}" for stage in baselines), "dvc.yaml:report"]


def run_bench(repo: Path, benchmark: str, shots: int, seeds: list[int], rounds: int | None, ablation_seeds: list[int],
              out: Path, command: str, resume: bool = False, baselines: Iterable[str] = BASELINES,
              variants: Iterable[str] | None = None) -> dict[str, Any]:
    """Run every experiment, rewriting out/<benchmark>.{json,md,png} after each, and return the report.

    A main run is the whole benchmarks/dvc.yaml, or with fewer `baselines` only their stages and the loop
    (`main_targets`).

    params.yaml is reset to its starting text (with --rounds applied) before every run, so the `-S` values of one
    experiment never leak into the next, and restored at the end. With `resume`, the records of an interrupted
    bench with the same setup are kept and only the missing experiments run (rerunning finished ones would come
    from DVC's run cache and record the restore time as wall time). `variants` are ablations by name (all of them when
    None), run in the order given.
    """
    from evokd.params import load_params, rewrite_rounds
    from evokd.teacher.server import ensure_server, is_serving, start_server, stop_server

    baselines = [name for name in BASELINES if name in set(baselines)]  # in table order
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
                  "setup": setup_line(params, rounds), "baselines": list(baselines), "started": stamp}
        if resume:
            records = resumable_records(out / f"{benchmark}.json", report)
        variants = list(ABLATIONS if variants is None else variants)
        for seed, variant in pending_runs(seeds, ablation_seeds, records, variants):
            # every run's prepare writes the benchmark's train texts as the unlabelled pool (the `retrieval` and
            # `unlabelled` variants read it, the others ignore it), so every method starts from the same data/raw
            overrides: dict[str, Any] = {"seed": seed, "task.benchmark": benchmark, "task.shots": shots,
                                         "task.unlabelled_split": "train"}
            if variant != "main":
                overrides[ABLATIONS[variant][1]] = ABLATIONS[variant][2]
            params_path.write_text(base_text, encoding="utf-8")
            name = f"{benchmark}-k{shots}-s{seed}-{variant}-{stamp}".replace("_", "-")
            targets = main_targets(baselines) if variant == "main" else ["dvc.yaml"]
            started = time.monotonic()
            stages = run_experiment(repo, name, overrides, targets, repo / LOG_DIR / f"{name}.log")
            loop_method = "evokd" if variant == "main" else variant
            walls = method_seconds(stages, loop_method)
            evokd = evokd_result(repo)
            report["metric"] = evokd.pop("metric")
            results = {loop_method: evokd}
            if variant == "main":
                results.update({baseline: baseline_result(repo, baseline) for baseline in baselines})
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
    earlier = {"baselines": list(BASELINES), **read_json(path)}  # a bench before --baselines ran all of them
    for key in ("benchmark", "shots", "setup", "baselines"):
        if earlier.get(key) != report[key]:
            raise EvokdError(f"{path}: cannot resume, its {key} is {earlier.get(key)!r}, this bench's is "
                             f"{report[key]!r}; use another --out")
    report["started"] = earlier.get("started", report.get("started"))
    return earlier["records"]


def setup_line(params: Any, rounds: int | None) -> str:
    """The settings a bench's numbers depend on, for its report and for `--resume` to refuse mixing two setups
    (a bench of soft targets resumed with hard ones, or with selection resumed without)."""
    loop, student = params.loop, params.student
    return (f"teacher `{params.teacher.model}` (temperature {params.teacher.temperature}), student "
            f"`{student.base_model}` ({student.epochs:g} epochs per round, learning rate "
            f"{student.learning_rate:g}, head {student.head_learning_rate}, "
            f"{student.target} targets, loss weights {student.weighting}), "
            f"{rounds if rounds is not None else len(params.rounds)} rounds after r00, n_hard {loop.n_hard}, "
            f"n_easy {loop.n_easy}, {loop.select_factor} candidates per input, review {loop.review_size}, "
            f"calibration {loop.calibration}, label shortlist {loop.shortlist}, disagreement {loop.disagreement}, "
            f"teacher zero-shot on "
            f"{params.bench.teacher_test_size} test inputs, full-shot on "
            f"{params.bench.fullshot_max_train or 'all'} gold training inputs")


def write_outputs(out: Path, report: dict[str, Any], records: list[Record]) -> None:
    report.update(summary=aggregate(records), equal_tokens=equal_token_curve(records), noise=noise_rows(records),
                  records=records)
    name = report["benchmark"]
    atomic_write_json(out / f"{name}.json", report)
    atomic_write_text(out / f"{name}.md", markdown(report) + f"\n![score by teacher tokens]({name}.png)\n")
    plot(report, records, out / f"{name}.png")
