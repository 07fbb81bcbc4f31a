"""The baselines EvoKD is measured against: seeds only (once, and again every round as EvoKD retrains them),
AugGPT-style paraphrases, static (ZeroGen-style) generation, the teacher itself zero-shot, and the full-shot
student (upper bound).

They reuse the loop's own steps (evokd.loop.generate, label, train) with the same teacher, prompts, filters and
student settings, so a difference in score comes from the student's feedback and nothing else. AugGPT and static
spend the same teacher token budget as the EvoKD run they are compared with; static also records its score at
every cumulative token count where an EvoKD round ended, for the token-efficiency curve.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evokd.data import NerSample, Sample, Span, TaskSpec, spans_to_bio
from evokd.errors import EvokdError
from evokd.loop.common import sample_text
from evokd.loop.config import LoopConfig
from evokd.loop.dedup import DuplicateFilter
from evokd.loop.generate import generate_for_plan, paraphrase
from evokd.loop.label import LabelAnswer, label, teacher_labels
from evokd.loop.train import train_and_evaluate
from evokd.params import BOOTSTRAP_ROUND
from evokd.prompts import PromptSet
from evokd.student.config import StudentConfig
from evokd.student.predict import Prediction
from evokd.teacher.cache import default_cache_path
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


def _counts(gen_stats: dict[str, Any], label_stats: dict[str, Any]) -> Counter[str]:
    counts: Counter[str] = Counter(requested=gen_stats["requested"], kept=label_stats["kept"],
                                   disagreements=label_stats["disagreements"])
    for stats in (gen_stats, label_stats):
        counts.update({f"reject:{reason}": count for reason, count in stats["rejects"].items()})
    return counts


def rotation(items: Sequence[Any], start: int, size: int) -> list[Any]:
    """Items start..start+size-1 of `items` repeated cyclically: every label (or seed) gets its turn in order."""
    return [items[(start + offset) % len(items)] for offset in range(size)]


# ---- the teacher-data baselines ---------------------------------------------------------------------------


def static_data(client: TeacherClient, task: TaskSpec, prompts: PromptSet, seeds: list[Sample], config: LoopConfig,
                seed: int, teacher_model: str, targets: Sequence[int], batch_size: int) -> BudgetedData:
    """ZeroGen-style: inputs written from the task spec and the pool only, labels in rotation, no student feedback;
    deduplicated against everything so far and labelled exactly as the loop labels (`loop.separate_labeling`)."""

    def make_batch(start: int, size: int, so_far: list[Sample]) -> tuple[list[Sample], Counter[str]]:
        name = f"static{start:05d}"
        plan = [(intent, "static") for intent in rotation(task.label_names, start, size)]
        inputs, gen_stats = generate_for_plan(client, task, prompts, plan, None, [*seeds, *so_far], config, seed,
                                              name, teacher_model, with_label=not config.separate_labeling)
        samples, label_stats = label(client, task, prompts, inputs, config, seed, name,
                                     separate=config.separate_labeling, demos=seeds)
        return samples, _counts(gen_stats, label_stats)

    return budgeted(client, targets, batch_size, make_batch)


def auggpt_data(client: TeacherClient, task: TaskSpec, prompts: PromptSet, seeds: list[Sample], config: LoopConfig,
                seed: int, teacher_model: str, targets: Sequence[int], batch_size: int) -> BudgetedData:
    """AugGPT-style: the seeds paraphrased in rotation (a classification label is kept, NER is labelled again, as
    in the EvoKD+Init warm-up), deduplicated against the seeds and every earlier paraphrase."""
    duplicates = DuplicateFilter([sample_text(sample) for sample in seeds], config.near_dup_threshold)

    def make_batch(start: int, size: int, so_far: list[Sample]) -> tuple[list[Sample], Counter[str]]:
        name = f"auggpt{start:05d}"
        variants, gen_stats = paraphrase(client, task, prompts, rotation(seeds, start, size), 1, config, seed, name,
                                         teacher_model)
        fresh = [item for item in variants if duplicates.check(item.text) is None]
        if len(fresh) < len(variants):
            gen_stats["rejects"]["duplicate_of_earlier_batch"] = len(variants) - len(fresh)
        samples, label_stats = label(client, task, prompts, fresh, config, seed, name, separate=task.kind == "ner")
        return samples, _counts(gen_stats, label_stats)

    return budgeted(client, targets, batch_size, make_batch)


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


def budget_curve(task: TaskSpec, seeds: list[Sample], data: BudgetedData, test: list[Sample],
                 student: StudentConfig, seed: int) -> list[dict[str, Any]]:
    """One student per token target, trained on the seeds plus the data bought by then."""
    curve = []
    for batches in data.reached:
        result = train_scored(task, [*seeds, *data.samples(batches)], test, student, seed)
        curve.append({"teacher_tokens": data.tokens_at(batches), "samples": len(data.samples(batches)),
                      "score": result["test"]["score"], "test": result["test"]})
    return curve


# ---- the teacher as the classifier ------------------------------------------------------------------------


def evaluation_cache_path() -> Path:
    """The teacher cache of evaluation calls, next to the loop's cache but never the same file.

    The teacher baseline is the only place gold test texts reach the teacher; keeping its answers apart means the
    loop's cache provably holds no test text (tests/pipeline checks that file) and the loop can never be answered
    from an evaluation call.
    """
    loop_cache = default_cache_path()
    return loop_cache.with_name(f"{loop_cache.stem}-evaluation{loop_cache.suffix}")


def evaluation_subset(samples: list[Sample], size: int, seed: int) -> list[Sample]:
    """A seeded sample of the test set (all of it when it is smaller), in the test file's order."""
    if size >= len(samples):
        return list(samples)
    picked = sorted(random.Random(seed).sample(range(len(samples)), size))
    return [samples[index] for index in picked]


def placeable_tags(task: TaskSpec, sample: NerSample, spans: list[Span]) -> list[str]:
    """IOB2 tags from the teacher's spans that can be placed in the gold words; the others are simply misses."""
    kept: list[Span] = []
    for span in spans:
        try:
            spans_to_bio(sample.tokens, [*kept, span], task.label_names)
        except ValueError:
            continue
        kept.append(span)
    return spans_to_bio(sample.tokens, kept, task.label_names)


def zero_shot(client: TeacherClient, task: TaskSpec, prompts: PromptSet, samples: list[Sample], config: LoopConfig,
              seed: int, demos: list[Sample]) -> list[Prediction]:
    """The teacher labels gold inputs with the loop's own labelling call (scored and calibrated as in the loop,
    the seeds as demonstrations); a failed answer is a wrong prediction."""
    answers, _how = teacher_labels(client, task, prompts, [sample_text(sample) for sample in samples], config, seed,
                                   "evaluation", demos)
    predictions = []
    for sample, (answer, _failure) in zip(samples, answers, strict=True):
        if isinstance(sample, NerSample):
            tags = placeable_tags(task, sample, answer or [])  # type: ignore[arg-type]
            predictions.append(Prediction(label=None, tags=tags, probs=None, confidence=1.0))
        else:
            label = answer.label if isinstance(answer, LabelAnswer) else None
            predictions.append(Prediction(label=label, tags=None, probs=answer.probs if label else None,  # type: ignore[union-attr]
                                          confidence=(answer.confidence or 1.0) if label else 0.0))  # type: ignore[union-attr]
    return predictions
