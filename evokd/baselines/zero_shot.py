"""The teacher as the classifier: it labels a seeded sample of the gold test set zero-shot with the loop's own
labelling call. This is evaluation, the only place gold test texts reach the teacher, so its answers go to a cache
file of their own."""

from __future__ import annotations

import random
import time
from pathlib import Path

from evokd.baselines import metrics_record
from evokd.data import NerSample, Sample, TaskSpec
from evokd.loop.common import sample_gold_display, sample_text
from evokd.loop.config import LoopConfig
from evokd.loop.label import teacher_labels
from evokd.loop.step import Step
from evokd.ner import place_spans
from evokd.prompts import PromptSet
from evokd.student.metrics import score
from evokd.student.predict import Prediction
from evokd.teacher.cache import default_cache_path
from evokd.teacher.client import TeacherClient


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


def zero_shot(client: TeacherClient, task: TaskSpec, prompts: PromptSet, samples: list[Sample], config: LoopConfig,
              seed: int, demos: list[Sample]) -> list[Prediction]:
    """The teacher labels gold inputs with the loop's own labelling call (scored and calibrated as in the loop,
    the seeds as demonstrations); a failed answer is a wrong prediction."""
    step = Step(client=client, task=task, prompts=prompts, loop=config, seed=seed, round="evaluation",
                teacher_model=client.config.served_name)
    answers, _how = teacher_labels(step, [sample_text(sample) for sample in samples], demos)
    predictions = []
    for sample, answer in zip(samples, answers, strict=True):
        if isinstance(sample, NerSample):
            tags = place_spans(sample.tokens, answer.spans or [], task.label_names).tags
            predictions.append(Prediction(label=None, tags=tags, probs=None, confidence=1.0))
        else:
            predictions.append(Prediction(label=answer.label, tags=None, probs=answer.probs if answer.label else None,
                                          confidence=(answer.confidence or 1.0) if answer.label else 0.0))
    return predictions


def teacher_baseline(client: TeacherClient, task: TaskSpec, prompts: PromptSet, test: list[Sample],
                     demos: list[Sample], config: LoopConfig, seed: int, size: int) -> tuple[list[dict], dict]:
    """Zero-shot on `size` sampled test inputs: one row per input (text, gold, predicted) and the metrics record
    (score, tokens, tokens per 1,000 inputs)."""
    started = time.monotonic()
    subset = evaluation_subset(test, size, seed)
    predictions = zero_shot(client, task, prompts, subset, config, seed, demos)
    rows = [{"text": sample_text(sample), "gold": sample_gold_display(sample),
             "predicted": prediction.label if prediction.tags is None else prediction.tags}
            for sample, prediction in zip(subset, predictions, strict=True)]
    tokens = client.stats.prompt_tokens + client.stats.completion_tokens
    return rows, metrics_record("teacher", score(task, subset, predictions), tokens, started, inputs=len(subset),
                                tokens_per_1000_inputs=round(1000 * tokens / len(subset)),
                                teacher=client.stats.to_dict())
