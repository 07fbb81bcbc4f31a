"""The student-only baselines: the seeds alone (once, and again every round as EvoKD retrains them) and the
full-shot student on a benchmark's gold training set (the upper bound). No teacher."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evokd.baselines import metrics_record, without_test
from evokd.benchmarks import load_benchmark, task_spec
from evokd.data import Sample, TaskSpec
from evokd.io import atomic_write_json
from evokd.loop.train import train_and_evaluate
from evokd.params import BOOTSTRAP_ROUND
from evokd.student.config import StudentConfig
from evokd.student.metrics import score
from evokd.student.predict import predict
from evokd.student.train import train_student


def train_scored(task: TaskSpec, samples: list[Sample], test: list[Sample], student: StudentConfig,
                 seed: int) -> dict[str, Any]:
    """Train from the base encoder (like the seeds-only student) and score on the test set; the checkpoint is
    thrown away: baselines are compared by their scores, and their data is what is kept."""
    with tempfile.TemporaryDirectory(prefix="evokd-baseline-") as folder:
        return train_and_evaluate(task, samples, test, student, Path(folder) / "model", init_from=None, seed=seed)


def seeds_each_round(task: TaskSpec, seeds: list[Sample], test: list[Sample], student: StudentConfig, seed: int,
                     rounds: Sequence[str]) -> list[dict[str, Any]]:
    """The seeds alone on EvoKD's schedule: trained at r00, then trained further on the same seeds once per
    round from the previous checkpoint. EvoKD retrains its gold seeds every round, so this is the control that
    separates what the teacher's data adds from what the extra epochs on the seeds add."""
    curve = []
    with tempfile.TemporaryDirectory(prefix="evokd-baseline-") as folder:
        previous = None
        for name in [BOOTSTRAP_ROUND, *rounds]:
            model_dir = Path(folder) / name
            result = train_and_evaluate(task, seeds, test, student, model_dir, init_from=previous, seed=seed)
            curve.append({"round": name, "score": result["test"]["score"], "test": result["test"]})
            previous = model_dir
    return curve


def seeds_only(task: TaskSpec, seeds: list[Sample], test: list[Sample], student: StudentConfig, seed: int) -> dict:
    """The metrics record of the student trained once on the gold seeds."""
    started = time.monotonic()
    result = train_scored(task, seeds, test, student, seed)
    return metrics_record("seeds", result["test"], 0, started, samples=len(seeds))


def seeds_rounds(task: TaskSpec, seeds: list[Sample], test: list[Sample], student: StudentConfig, seed: int,
                 rounds: Sequence[str]) -> dict:
    """The metrics record of seeds_each_round: the last round's score and the curve."""
    started = time.monotonic()
    curve = seeds_each_round(task, seeds, test, student, seed, rounds)
    return metrics_record("seeds_rounds", curve[-1]["test"], 0, started, samples=len(seeds),
                          curve=without_test(curve))


def run_fullshot(name: str, out_dir: str | Path, config: StudentConfig, seed: int = 13,
                 max_train: int | None = None) -> dict[str, Any]:
    """Train on the train split (or a seeded random `max_train` of it) into out_dir/model, score the test
    split, write out_dir/metrics.json and return it."""
    out_dir = Path(out_dir)
    task = task_spec(name)
    splits = load_benchmark(name)
    train = splits["train"]
    if max_train is not None and max_train < len(train):
        train = random.Random(seed).sample(train, max_train)
    log = train_student(task, train, config, out_dir / "model", seed=seed)
    test = splits["test"]
    metrics = {"benchmark": name, "train_samples": len(train), "test_samples": len(test),
               **score(task, test, predict(out_dir / "model", task, test, batch_size=config.eval_batch_size)),
               "train": log}
    atomic_write_json(out_dir / "metrics.json", metrics)
    return metrics


def fullshot_baseline(name: str, student: StudentConfig, seed: int, max_train: int | None) -> dict:
    """The metrics record of run_fullshot, whose checkpoint is thrown away."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="evokd-fullshot-") as folder:
        result = run_fullshot(name, folder, student, seed=seed, max_train=max_train)
    test = {key: value for key, value in result.items() if key not in ("benchmark", "train_samples", "train")}
    return metrics_record("fullshot", test, 0, started, samples=result["train_samples"])
