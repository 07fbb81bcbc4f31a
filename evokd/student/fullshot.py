"""The full-shot upper bound: the student trained on a benchmark's whole gold training set, scored on its test."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from evokd.benchmarks import load_benchmark, task_spec
from evokd.io import atomic_write_json
from evokd.student.config import StudentConfig
from evokd.student.metrics import score
from evokd.student.predict import predict
from evokd.student.train import train_student


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
