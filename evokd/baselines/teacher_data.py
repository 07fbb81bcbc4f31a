"""The teacher-data baselines: AugGPT-style paraphrases and static (ZeroGen-style) generation, each spending the
teacher token budget of the EvoKD run it is compared with, batch by batch (budget matching is pure, tested on its
own). Static also trains one student at every token count where an EvoKD round ended: the equal-token curve."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evokd.baselines import metrics_record, without_test
from evokd.baselines.students import train_scored
from evokd.data import Sample, TaskSpec, load_task, read_samples, write_samples
from evokd.errors import EvokdError
from evokd.io import atomic_write_json
from evokd.loop.common import sample_text
from evokd.loop.dedup import DuplicateFilter
from evokd.loop.generate import generate_for_plan, paraphrase
from evokd.loop.label import label
from evokd.loop.records import GenStats, LabelStats
from evokd.loop.step import Step
from evokd.loop.train import stop_teacher_if_asked
from evokd.params import load_params
from evokd.prompts import PromptSet
from evokd.student.config import StudentConfig
from evokd.teacher.client import TeacherClient

# ---- budget matching --------------------------------------------------------------------------------------


def spend_budget(targets: Sequence[int], batch_size: int, run_batch: Callable[[int, int], int]) -> list[int]:
    """Run batches of teacher work until each cumulative token target in turn is reached.

    `run_batch(start, size)` does `size` items (item numbers start..start+size-1) and returns the tokens spent so
    far. After the first batch, batches shrink to what the average cost per item says is left, so a target is
    overshot by about one item, not one batch. Returns, per target, the number of batches run when it was reached.
    """
    reached: list[int] = []
    spent = items = batches = 0
    for target in targets:
        while spent < target:
            size = batch_size if items == 0 else max(1, min(batch_size, math.ceil((target - spent) * items / spent)))
            now = run_batch(items, size)
            if now <= spent:
                raise EvokdError(f"a batch of {size} teacher requests spent no tokens ({spent} of {target} spent); "
                                 "the token budget cannot be reached")
            spent, items, batches = now, items + size, batches + 1
        reached.append(batches)
    return reached


@dataclass
class BudgetedData:
    """Teacher samples produced batch by batch, with the cumulative tokens after each batch."""

    batches: list[list[Sample]] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    reached: list[int] = field(default_factory=list)  # per token target: batches run when it was reached
    counts: Counter[str] = field(default_factory=Counter)  # requested, kept, disagreements, reject:<reason>

    def samples(self, batches: int | None = None) -> list[Sample]:
        return [sample for batch in self.batches[:batches] for sample in batch]

    def tokens_at(self, batches: int) -> int:
        return self.tokens[batches - 1] if batches else 0


BatchMaker = Callable[[int, int, list[Sample]], tuple[list[Sample], Counter[str]]]


def budgeted(client: TeacherClient, targets: Sequence[int], batch_size: int, make_batch: BatchMaker) -> BudgetedData:
    """Drive `make_batch(start, size, samples so far)` with spend_budget, reading the spend off the client."""
    data = BudgetedData()

    def run_batch(start: int, size: int) -> int:
        samples, counts = make_batch(start, size, data.samples())
        data.batches.append(samples)
        data.counts.update(counts)
        data.tokens.append(client.stats.prompt_tokens + client.stats.completion_tokens)
        return data.tokens[-1]

    data.reached = spend_budget(targets, batch_size, run_batch)
    return data


def _counts(gen_stats: GenStats, label_stats: LabelStats) -> Counter[str]:
    counts: Counter[str] = Counter(requested=gen_stats.requested, kept=label_stats.kept,
                                   disagreements=label_stats.disagreements)
    for stats in (gen_stats, label_stats):
        counts.update({f"reject:{reason}": count for reason, count in stats.rejects.items()})
    return counts


def rotation(items: Sequence[Any], start: int, size: int) -> list[Any]:
    """Items start..start+size-1 of `items` repeated cyclically: every label (or seed) gets its turn in order."""
    return [items[(start + offset) % len(items)] for offset in range(size)]


# ---- the teacher-data baselines ---------------------------------------------------------------------------


def static_data(step: Step, seeds: list[Sample], targets: Sequence[int], batch_size: int) -> BudgetedData:
    """ZeroGen-style: inputs written from the task spec and the pool only, labels in rotation, no student feedback;
    deduplicated against everything so far and labelled exactly as the loop labels (`loop.separate_labeling`;
    anchored calibration takes the first batch's prior, as the loop takes its bootstrap batch's)."""
    anchor: dict[str, float] = {}

    def make_batch(start: int, size: int, so_far: list[Sample]) -> tuple[list[Sample], Counter[str]]:
        batch = step.at(f"static{start:05d}")
        plan = [(intent, "static") for intent in rotation(step.task.label_names, start, size)]
        inputs, gen_stats = generate_for_plan(batch, plan, None, [*seeds, *so_far])
        samples, label_stats = label(batch, inputs, separate=step.loop.separate_labeling, demos=seeds,
                                     anchor=anchor or None)
        if not anchor and label_stats.prior:
            anchor.update(label_stats.prior)
        return samples, _counts(gen_stats, label_stats)

    return budgeted(step.client, targets, batch_size, make_batch)


def auggpt_data(step: Step, seeds: list[Sample], targets: Sequence[int], batch_size: int) -> BudgetedData:
    """AugGPT-style: the seeds paraphrased in rotation (a classification label is kept, NER is labelled again, as
    in the EvoKD+Init warm-up), deduplicated against the seeds and every earlier paraphrase."""
    duplicates = DuplicateFilter([sample_text(sample) for sample in seeds], step.loop.near_dup_threshold)

    def make_batch(start: int, size: int, so_far: list[Sample]) -> tuple[list[Sample], Counter[str]]:
        batch = step.at(f"auggpt{start:05d}")
        variants, gen_stats = paraphrase(batch, rotation(seeds, start, size), 1)
        fresh = [item for item in variants if duplicates.check(item.text) is None]
        if len(fresh) < len(variants):
            gen_stats.rejects["duplicate_of_earlier_batch"] = len(variants) - len(fresh)
        samples, label_stats = label(batch, fresh, separate=step.task.kind == "ner")
        return samples, _counts(gen_stats, label_stats)

    return budgeted(step.client, targets, batch_size, make_batch)


def budget_curve(task: TaskSpec, seeds: list[Sample], data: BudgetedData, test: list[Sample],
                 student: StudentConfig, seed: int) -> list[dict[str, Any]]:
    """One student per token target, trained on the seeds plus the data bought by then."""
    curve = []
    for batches in data.reached:
        result = train_scored(task, [*seeds, *data.samples(batches)], test, student, seed)
        curve.append({"teacher_tokens": data.tokens_at(batches), "samples": len(data.samples(batches)),
                      "score": result["test"]["score"], "test": result["test"]})
    return curve


def teacher_data_baseline(method: str, task_path: Path, seeds_path: Path, test_path: Path, prompts_dir: Path,
                          targets: Sequence[int], out: Path, metrics: Path) -> None:
    """The `static` or `auggpt` stage: spend the budget, free the teacher if asked, train one student per token
    target; write the data bought and the metrics record (the last target's score, the curve, counts)."""
    started = time.monotonic()
    params = load_params()
    task = load_task(task_path)
    seeds, test = read_samples(seeds_path, task), read_samples(test_path, task)
    client = TeacherClient(params.teacher, stage=f"baseline-{method}")
    make = static_data if method == "static" else auggpt_data
    step = Step(client=client, task=task, prompts=PromptSet(prompts_dir, params.prompts.set), loop=params.loop,
                seed=params.seed, round=method, teacher_model=params.teacher.served_name)
    data = make(step, seeds, targets, params.bench.batch_size)
    stop_teacher_if_asked(params.teacher)
    curve = budget_curve(task, seeds, data, test, params.student, params.seed)
    write_samples(out, data.samples())
    atomic_write_json(metrics, metrics_record(
        method, curve[-1]["test"], data.tokens_at(len(data.batches)), started, budget=targets[-1],
        samples=len(data.samples()), batches=len(data.batches), counts=dict(data.counts),
        teacher=client.stats.to_dict(), curve=without_test(curve)))
