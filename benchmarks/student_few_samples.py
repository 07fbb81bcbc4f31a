"""The student on a few samples: how many optimizer steps, its head's learning rate, soft targets, confidence weights.

One round's worth of data as the loop sees it early on: 2 gold seeds (1 per label, `sample_shots`) and 22
"teacher" samples drawn from the rotten_tomatoes train split, MiniLM from the base encoder, lr 1e-4,
batch 16, 3 epochs (6 steps on 24 samples). Scored by macro-F1 on a fixed 500-sample subset of the test split.

- `clean` rows: the 22 samples keep their gold labels; `min_steps` in {0, 30, 60, 120}.
- `noisy` rows simulate a calibrated but imperfect teacher: 80 % of the 22 samples get their gold label with
  probs 0.8 on it (confidence 0.8); 20 % get the wrong label with probs 0.6 on it and 0.4 on the gold one
  (confidence 0.6), i.e. the teacher is wrong on a fifth of its labels and less sure when it is. Trained at
  `--noisy-steps` with hard or soft targets, with and without confidence weighting.

- `many labels` rows (with `--many-labels`): BANKING77 1-shot, its 77 gold seeds alone, at the floor of 60 steps
  (`min_steps_per_label: 0`) and at today's 4 steps per label (308 steps), scored on 500 test queries.

Every row is the mean over `--draws` draws (the draw seeds the seeds, the 22 samples, the noise and training).
Ratios are to the clean min_steps=0 row. F1 does not depend on the machine; times do (shared cores).

- With `--pools FILE...` instead: the real teacher data of loop rounds (a round's `pool.jsonl`: the gold seeds and
  every teacher sample so far with its calibrated `probs`, what `train_from: base` trains on), each trained with
  the student settings of `--params` (hard targets, no weights) and again with soft targets and with confidence
  weights, scored on the whole rotten_tomatoes test split (2,549 snippets, evaluation only). Paired: the same data
  and training seed in each row of a pool; the ratio is to the hard row of the same pool.

- With `--head`: the head (classifier and pooler) at the encoder's learning rate, at 10 x and at
  `head_learning_rate: auto` (learning_rate x max(1, labels / batch_size)); with `--glosses`: without and with the
  labels' glosses as samples. Both with the other student settings of `--params`, paired per draw, on stand-ins for a
  round's pool (STAND_INS): rotten_tomatoes 2 seeds + 34 train snippets (all 2,549 test snippets), BANKING77 its 77
  seeds alone and + 35 train queries (1,000 test queries). Gold train samples stand in for teacher samples. The
  ratio is the last setting's F1 to the first's.

    python benchmarks/student_few_samples.py [--draws 2] [--noisy-steps 60] [--many-labels]
    python benchmarks/student_few_samples.py --head|--glosses [--draws 2] [--params params.yaml]
    python benchmarks/student_few_samples.py --pools run1/data/rounds/r01/pool.jsonl ... [--params params.yaml]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from evokd.benchmarks import load_benchmark, sample_shots, task_spec
from evokd.data import ClassificationSample, TaskSpec
from evokd.params import student_config
from evokd.student.config import StudentConfig
from evokd.student.metrics import score
from evokd.student.predict import predict
from evokd.student.train import train_student

# min_steps_per_label 0: the rotten_tomatoes rows vary min_steps alone; the head at the encoder's rate and no
# glosses, as when these rows were first measured (`--head` and `--glosses` compare them)
BASE = {"base_model": "bundled:all-minilm-l6-v2", "learning_rate": 1e-4, "batch_size": 16, "epochs": 3,
        "min_steps_per_label": 0, "head_learning_rate": 1e-4, "glosses": False}
# --head, --glosses: (benchmark, train samples beside the 1-shot seeds, test samples or None for the whole split)
STAND_INS = (("rotten_tomatoes", 34, None), ("banking77", 0, 1000), ("banking77", 35, 1000))
STEPS = (0, 30, 60, 120)
TEACHER_SAMPLES = 22
TEST_SAMPLES = 500
WRONG_SHARE = 0.2


def noisy(samples: list[ClassificationSample], labels: list[str], seed: int) -> list[ClassificationSample]:
    """Binary teacher-like soft labels: 0.8 on the gold label, or (for WRONG_SHARE of them) 0.6 on the other."""
    wrong = set(random.Random(seed).sample(range(len(samples)), round(WRONG_SHARE * len(samples))))
    out = []
    for i, sample in enumerate(samples):
        other = next(x for x in labels if x != sample.label)
        label, top = (other, 0.6) if i in wrong else (sample.label, 0.8)
        probs = {x: top if x == label else 1 - top for x in labels}
        out.append(sample.model_copy(update={"label": label, "probs": probs, "confidence": top}))
    return out


def run(task: TaskSpec, train: list[ClassificationSample], test: list[ClassificationSample], config: StudentConfig,
        seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="evokd-few-") as scratch:
        start = time.perf_counter()
        log = train_student(task, train, config, Path(scratch) / "model", seed=seed)
        seconds = time.perf_counter() - start
        result = score(task, test, predict(Path(scratch) / "model", task, test))
    return {"macro_f1": result["macro_f1"], "steps": log["steps"], "train_s": seconds, "loss": log["train_loss"]}


def compare_targets(pools: list[Path], params: Path) -> None:
    """Hard vs soft targets vs confidence weights on each real pool, paired (`--pools`)."""
    from evokd.data import read_samples
    task = task_spec("rotten_tomatoes")
    test = load_benchmark("rotten_tomatoes")["test"]
    base = student_config(params)
    variants = {"hard": {}, "soft": {"target": "soft"}, "confidence": {"weighting": "confidence"}}
    ratios: dict[str, list[float]] = {name: [] for name in variants}
    print("| pool | samples | " + " | ".join(f"{name} F1 (ratio)" for name in variants) + " |")
    print("|---|---|" + "---|" * len(variants))
    for pool in pools:
        train = read_samples(pool, task)
        f1 = {name: run(task, train, test, base.model_copy(update=extra), seed=0)["macro_f1"]
              for name, extra in variants.items()}
        for name in variants:
            ratios[name].append(f1[name] / f1["hard"])
        print(f"| {pool} | {len(train)} | " + " | ".join(f"{f1[name]:.3f} ({f1[name] / f1['hard']:.2f})"
                                                         for name in variants) + " |", flush=True)
    print("| mean ratio | | " + " | ".join(f"{statistics.fmean(values):.3f}" for values in ratios.values()) + " |")


def compare_settings(settings: dict[str, dict[str, Any]], draws: int, params: Path) -> None:
    """Student settings side by side on stand-ins for a round's pool (STAND_INS), paired: the same data and
    training seed per draw."""
    base = student_config(params)
    print(f"learning rate {base.learning_rate:g}, batch {base.batch_size}; macro-F1 (train loss); {draws} draw(s)")
    print("| task | train samples | steps | draw | " + " | ".join(settings) + " | ratio |")
    print("|---|---|---|---|" + "---|" * (len(settings) + 1))
    ratios = []
    for name, extra, n_test in STAND_INS:
        task, splits = task_spec(name), load_benchmark(name)
        test = random.Random(0).sample(splits["test"], n_test) if n_test else splits["test"]
        for draw in range(draws):
            seeds = sample_shots(task, splits["train"], 1, seed=draw)
            rest = [s for s in splits["train"] if s not in seeds]
            train = [*seeds, *random.Random(draw).sample(rest, extra)]
            results = [run(task, train, test, base.model_copy(update=update), seed=draw)
                       for update in settings.values()]
            ratios.append(results[-1]["macro_f1"] / results[0]["macro_f1"])
            print(f"| {name} | {len(train)} | {results[-1]['steps']} | {draw} | " +
                  " | ".join(f"{r['macro_f1']:.3f} ({r['loss']:.2f})" for r in results) + f" | {ratios[-1]:.2f} |",
                  flush=True)
    print(f"| mean | | | |{' |' * len(settings)} {statistics.fmean(ratios):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--noisy-steps", type=int, default=60)
    parser.add_argument("--many-labels", action="store_true", help="add the BANKING77 rows (77 labels)")
    parser.add_argument("--pools", type=Path, nargs="+", help="real loop pools (pool.jsonl): targets compared on them")
    parser.add_argument("--head", action="store_true", help="the head at the encoder's rate vs at its own")
    parser.add_argument("--glosses", action="store_true", help="the labels' glosses as samples, or not")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="student settings for --pools, --head and --glosses")
    options = parser.parse_args()
    if options.head:
        rate = student_config(options.params).learning_rate
        compare_settings({"encoder rate": {"head_learning_rate": rate}, "10 x": {"head_learning_rate": 10 * rate},
                          "auto": {"head_learning_rate": "auto"}}, options.draws, options.params)
        return
    if options.glosses:
        compare_settings({"without glosses": {"glosses": False}, "with glosses": {"glosses": True}},
                         options.draws, options.params)
        return
    if options.pools:
        compare_targets(options.pools, options.params)
        return

    task = task_spec("rotten_tomatoes")
    splits = load_benchmark("rotten_tomatoes")
    test = random.Random(0).sample(splits["test"], TEST_SAMPLES)
    rows: dict[str, list[dict[str, float]]] = {}
    started = time.perf_counter()
    for draw in range(options.draws):
        seeds = sample_shots(task, splits["train"], 1, seed=draw)
        rest = [s for s in splits["train"] if s not in seeds]
        picked = random.Random(draw).sample(rest, TEACHER_SAMPLES)
        teacher = noisy(picked, task.label_names, seed=draw)
        runs = {f"clean hard min_steps={n}": ([*picked, *seeds], {"min_steps": n}) for n in STEPS}
        for target in ("hard", "soft"):
            for weighting in ("none", "confidence"):
                runs[f"noisy {target} {weighting} min_steps={options.noisy_steps}"] = (
                    [*teacher, *seeds], {"min_steps": options.noisy_steps, "target": target, "weighting": weighting})
        for name, (train, extra) in runs.items():
            rows.setdefault(name, []).append(run(task, train, test, StudentConfig(**BASE, **extra), seed=draw))
            print(json.dumps({"draw": draw, "row": name, **rows[name][-1]}), flush=True)

    if options.many_labels:
        intents = task_spec("banking77")
        banking = load_benchmark("banking77")
        queries = random.Random(0).sample(banking["test"], TEST_SAMPLES)
        for draw in range(options.draws):
            seeds = sample_shots(intents, banking["train"], 1, seed=draw)
            for per_label in (0, 4):
                name = f"many labels: 77 seeds, min_steps_per_label={per_label}"
                config = StudentConfig(**{**BASE, "min_steps": 60, "min_steps_per_label": per_label})
                rows.setdefault(name, []).append(run(intents, seeds, queries, config, seed=draw))
                print(json.dumps({"draw": draw, "row": name, **rows[name][-1]}), flush=True)

    reference = statistics.mean(r["macro_f1"] for r in rows[f"clean hard min_steps={STEPS[0]}"])
    print(f"\nrotten_tomatoes, 2 seeds + {TEACHER_SAMPLES} samples, {TEST_SAMPLES} test snippets, "
          f"{options.draws} draw(s), {time.perf_counter() - started:.0f} s in all")
    print("| row | steps | macro-F1 (mean) | per draw | ratio to min_steps=0 | train s (mean) |")
    print("|---|---|---|---|---|---|")
    for name, results in rows.items():
        f1 = statistics.mean(r["macro_f1"] for r in results)
        per_draw = " / ".join(f"{r['macro_f1']:.3f}" for r in results)
        print(f"| {name} | {results[0]['steps']} | {f1:.3f} | {per_draw} | {f1 / reference:.2f} | "
              f"{statistics.mean(r['train_s'] for r in results):.1f} |")


if __name__ == "__main__":
    main()
