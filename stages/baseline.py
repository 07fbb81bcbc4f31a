"""The baselines of benchmarks/dvc.yaml: seeds (once and each round), auggpt, static, teacher (zero-shot) and fullshot.

Each writes metrics/baselines/<name>.json with its test score, the teacher tokens it spent and its wall time.
AugGPT and static spend the token budget of the EvoKD run in the same workspace (its report).
"""

import tempfile
import time
from pathlib import Path
from typing import Any

import click

from evokd.baselines import (
    auggpt_data,
    budget_curve,
    evaluation_cache_path,
    evaluation_subset,
    seeds_each_round,
    static_data,
    train_scored,
    zero_shot,
)
from evokd.data import load_task, read_samples, write_samples
from evokd.entry import run_command
from evokd.io import atomic_write_json, read_json, write_jsonl
from evokd.loop.common import sample_gold_display, sample_text, stop_teacher_if_asked
from evokd.params import load_params
from evokd.prompts import PromptSet
from evokd.student.fullshot import run_fullshot
from evokd.student.metrics import score
from evokd.teacher.client import TeacherClient

STARTED = time.monotonic()
TASK = click.option("--task", type=click.Path(path_type=Path), required=True)
SEEDS = click.option("--seeds", type=click.Path(path_type=Path), required=True)
TEST = click.option("--test", type=click.Path(path_type=Path), required=True, help="gold test set: evaluation only")
OUT = click.option("--out", type=click.Path(path_type=Path), required=True, help="the baseline's data (JSONL)")
METRICS = click.option("--metrics", type=click.Path(path_type=Path), required=True)
PROMPTS = click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=Path("prompts"))


def write_metrics(path: Path, method: str, test: dict[str, Any], teacher_tokens: int, **extra: Any) -> None:
    atomic_write_json(path, {"method": method, "score": test["score"], "teacher_tokens": teacher_tokens,
                             "wall_s": round(time.monotonic() - STARTED, 1), **extra, "test": test})


@click.group()
def main() -> None:
    """One baseline per command."""


@main.command()
@TASK
@SEEDS
@TEST
@METRICS
@click.option("--each-round", is_flag=True,
              help="retrain the seeds every round from the previous checkpoint, like EvoKD's student (r00, then "
                   "once per round of params.yaml); writes the seeds_rounds method")
def seeds(task: Path, seeds: Path, test: Path, metrics: Path, each_round: bool) -> None:
    """The student trained on the K-shot gold seeds only (once, or on EvoKD's schedule)."""
    params = load_params()
    spec = load_task(task)
    gold, gold_test = read_samples(seeds, spec), read_samples(test, spec)
    if not each_round:
        result = train_scored(spec, gold, gold_test, params.student, params.seed)
        write_metrics(metrics, "seeds", result["test"], 0, samples=len(gold))
        return
    curve = seeds_each_round(spec, gold, gold_test, params.student, params.seed, params.round_order())
    write_metrics(metrics, "seeds_rounds", curve[-1]["test"], 0, samples=len(gold),
                  curve=[{key: value for key, value in point.items() if key != "test"} for point in curve])


def teacher_data_baseline(which: str, task: Path, seeds: Path, test: Path, out: Path, metrics: Path,
                          prompts_dir: Path, targets: list[int]) -> None:
    """Spend the budget (static or auggpt), write the data, train one student per token target, write metrics."""
    params = load_params()
    spec = load_task(task)
    gold = read_samples(seeds, spec)
    client = TeacherClient(params.teacher, stage=f"baseline-{which}")
    make = static_data if which == "static" else auggpt_data
    data = make(client, spec, PromptSet(prompts_dir, params.prompts.set), gold, params.loop, params.seed,
                params.teacher.served_name, targets, params.bench.batch_size)
    stop_teacher_if_asked(params.teacher)
    write_samples(out, data.samples())
    curve = budget_curve(spec, gold, data, read_samples(test, spec), params.student, params.seed)
    write_metrics(metrics, which, curve[-1]["test"], data.tokens_at(len(data.batches)), budget=targets[-1],
                  samples=len(data.samples()), batches=len(data.batches), counts=dict(data.counts),
                  teacher=client.stats.to_dict(),
                  curve=[{key: value for key, value in point.items() if key != "test"} for point in curve])


@main.command()
@TASK
@SEEDS
@TEST
@click.option("--summary", type=click.Path(path_type=Path), required=True, help="the EvoKD run's summary.json")
@OUT
@METRICS
@PROMPTS
def auggpt(task: Path, seeds: Path, test: Path, summary: Path, out: Path, metrics: Path, prompts_dir: Path) -> None:
    """Paraphrases of the seeds, up to the EvoKD run's teacher tokens."""
    teacher_data_baseline("auggpt", task, seeds, test, out, metrics, prompts_dir,
                          [int(read_json(summary)["teacher_tokens"])])


@main.command()
@TASK
@SEEDS
@TEST
@click.option("--curve", type=click.Path(path_type=Path), required=True,
              help="the EvoKD run's score_by_tokens.json: its cumulative teacher tokens per round")
@OUT
@METRICS
@PROMPTS
def static(task: Path, seeds: Path, test: Path, curve: Path, out: Path, metrics: Path, prompts_dir: Path) -> None:
    """Generation with no feedback, scored at each token count where an EvoKD round ended."""
    targets = [int(point["teacher_tokens"]) for point in read_json(curve)]
    teacher_data_baseline("static", task, seeds, test, out, metrics, prompts_dir, targets)


@main.command()
@TASK
@TEST
@OUT
@METRICS
@PROMPTS
@click.option("--seeds", type=click.Path(path_type=Path), required=True, help="gold seeds: the demonstrations")
def teacher(task: Path, test: Path, out: Path, metrics: Path, prompts_dir: Path, seeds: Path) -> None:
    """The teacher labels a seeded sample of the test set zero-shot. Evaluation, hence its own teacher cache."""
    params = load_params()
    spec = load_task(task)
    subset = evaluation_subset(read_samples(test, spec), params.bench.teacher_test_size, params.seed)
    client = TeacherClient(params.teacher, cache_path=evaluation_cache_path(), stage="baseline-teacher")
    predictions = zero_shot(client, spec, PromptSet(prompts_dir, params.prompts.set), subset, params.loop,
                            params.seed, read_samples(seeds, spec))
    write_jsonl(out, [{"text": sample_text(sample), "gold": sample_gold_display(sample),
                       "predicted": prediction.label if prediction.tags is None else prediction.tags}
                      for sample, prediction in zip(subset, predictions, strict=True)])
    tokens = client.stats.prompt_tokens + client.stats.completion_tokens
    write_metrics(metrics, "teacher", score(spec, subset, predictions), tokens, inputs=len(subset),
                  tokens_per_1000_inputs=round(1000 * tokens / len(subset)), teacher=client.stats.to_dict())


@main.command()
@METRICS
def fullshot(metrics: Path) -> None:
    """The student on the benchmark's gold training set (capped by bench.fullshot_max_train): the upper bound."""
    params = load_params()
    with tempfile.TemporaryDirectory(prefix="evokd-fullshot-") as folder:
        result = run_fullshot(params.task.benchmark, folder, params.student, seed=params.seed,
                              max_train=params.bench.fullshot_max_train)
    test = {key: value for key, value in result.items() if key not in ("benchmark", "train_samples", "train")}
    write_metrics(metrics, "fullshot", test, 0, samples=result["train_samples"])


if __name__ == "__main__":
    run_command(main)
