"""train@K: the previous student predicts the new batch first (the probe that feeds the next analysis and
gives the fooled rate), then trains further on the batch + a replay of earlier rounds + the gold seeds, and
is evaluated on the held-out test set. Test scores are recorded, never fed back into the loop.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from evokd.data import NerSample, Sample, TaskSpec
from evokd.io import atomic_write_json
from evokd.loop.common import entities_display, sample_gold_display, sample_text
from evokd.loop.config import LoopConfig
from evokd.student.card import write_model_card
from evokd.student.config import StudentConfig
from evokd.student.metrics import confusion_rows, score
from evokd.student.predict import Prediction, predict
from evokd.student.train import train_student


def build_probe(task: TaskSpec, batch: list[Sample], predictions: list[Prediction]) -> list[dict[str, Any]]:
    """One row per batch sample: what the teacher said, what the student said, and whether they agree."""
    rows = []
    for sample, prediction in zip(batch, predictions, strict=True):
        if isinstance(sample, NerSample):
            predicted = entities_display(sample.tokens, prediction.tags or [])
            correct = prediction.tags == sample.tags
        else:
            predicted = prediction.label or ""
            correct = prediction.label == sample.label
        rows.append({"text": sample_text(sample), "gold": sample_gold_display(sample), "predicted": predicted,
                     "correct": correct, "confidence": round(prediction.confidence, 4),
                     "stance": sample.stance, "intent": sample.provenance.intent})
    return rows


def probe_student(task: TaskSpec, model_dir: Path, batch: list[Sample]) -> tuple[list[dict[str, Any]], dict]:
    """The probe rows and the per-label scores of `model_dir` on `batch` (the teacher's labels as reference)."""
    if not batch:
        return [], {"score": 0.0, "per_label": {}, "fooled_rate": 0.0, "n": 0}
    predictions = predict(model_dir, task, batch)
    rows = build_probe(task, batch, predictions)
    scores = score(task, batch, predictions)
    scores["fooled_rate"] = sum(not row["correct"] for row in rows) / len(rows)
    scores["n"] = len(rows)
    return rows, scores


def review_sample(pool: list[Sample], size: int, seed: int) -> list[Sample]:
    """A seeded sample of earlier teacher data (not the seeds, which are always trained on), marked replay."""
    earlier = [sample for sample in pool if sample.stance not in ("seed", "gold")]
    picked = random.Random(seed).sample(earlier, min(size, len(earlier)))
    return [sample.model_copy(update={"stance": "replay"}) for sample in picked]


def training_mix(batch: list[Sample], pool: list[Sample], seeds: list[Sample], config: LoopConfig,
                 seed: int) -> list[Sample]:
    replay = review_sample(pool, config.review_size, seed) if config.review else []
    return [*batch, *replay, *seeds]


def train_and_evaluate(task: TaskSpec, train_samples: list[Sample], test: list[Sample], student: StudentConfig,
                       out_dir: Path, init_from: Path | None, seed: int,
                       confusion_path: Path | None = None) -> dict[str, Any]:
    """Train (continuing from `init_from`), then score on the test set; returns the round's metrics.

    The checkpoint's model card is rewritten with the test scores; `confusion_path` gets the test confusion rows."""
    log = train_student(task, train_samples, student, out_dir, init_from=init_from, seed=seed)
    predictions = predict(out_dir, task, test)
    test_scores = score(task, test, predictions)
    if confusion_path is not None:
        atomic_write_json(confusion_path, confusion_rows(task, test, predictions))
    write_model_card(out_dir, test_scores)
    return {"test": test_scores, "train": {"samples": len(train_samples), **log}}


def trained_note(probe_scores: dict[str, Any], round_metrics: dict[str, Any]) -> str:
    """The train part of a stage's summary line: probe fooled rate, training size and time, test score."""
    train, test = round_metrics["train"], round_metrics["test"]
    probe = (f"fooled {probe_scores['fooled_rate']:.0%} of {probe_scores['n']} probes, "
             if probe_scores.get("n") else "")
    return (f"{probe}trained on {train['samples']} samples in {train['train_runtime_s']:.0f} s "
            f"(loss {train['train_loss']:.4f}), test score {test['score']:.4f}")
