"""train@K: the previous student predicts the new batch first (the probe that feeds the next analysis and
gives the fooled rate), then trains further on the batch + a review sample of earlier rounds + the gold seeds,
and is evaluated on the held-out test set. Test scores are recorded, never fed back into the loop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evokd.data import NerSample, Sample, TaskSpec, write_samples
from evokd.io import atomic_write_json
from evokd.loop.common import sample_gold_display, sample_text
from evokd.loop.config import LoopConfig
from evokd.loop.records import ProbeRow, ProbeScores, RoundFiles, RoundMetrics, write_record, write_rows
from evokd.loop.step import derive_seed
from evokd.ner import entities_display
from evokd.params import Params
from evokd.student.card import write_model_card
from evokd.student.config import StudentConfig
from evokd.student.metrics import confusion_rows, score
from evokd.student.predict import Prediction, predict
from evokd.student.train import train_student
from evokd.teacher.config import TeacherConfig
from evokd.teacher.server import stop_server


def build_probe(task: TaskSpec, batch: list[Sample], predictions: list[Prediction]) -> list[ProbeRow]:
    """One row per batch sample: what the teacher said, what the student said, and whether they agree."""
    rows = []
    for sample, prediction in zip(batch, predictions, strict=True):
        if isinstance(sample, NerSample):
            predicted = entities_display(sample.tokens, prediction.tags or [])
            correct = prediction.tags == sample.tags
        else:
            predicted = prediction.label or ""
            correct = prediction.label == sample.label
        rows.append(ProbeRow(text=sample_text(sample), gold=sample_gold_display(sample), predicted=predicted,
                             correct=correct, confidence=round(prediction.confidence, 4), stance=sample.stance,
                             origin=sample.provenance.origin, intent=sample.provenance.intent))
    return rows


def probe_student(task: TaskSpec, model_dir: Path, batch: list[Sample]) -> tuple[list[ProbeRow], ProbeScores]:
    """The probe rows and the per-label scores of `model_dir` on `batch` (the teacher's labels as reference)."""
    if not batch:
        return [], ProbeScores(score=0.0, n=0, fooled_rate=0.0)
    predictions = predict(model_dir, task, batch)
    rows = build_probe(task, batch, predictions)
    return rows, ProbeScores(**score(task, batch, predictions),
                             fooled_rate=sum(not row.correct for row in rows) / len(rows))


def review_sample(pool: list[Sample], size: int, seed: int) -> list[Sample]:
    """A seeded sample of earlier teacher data (not the seeds, which are always trained on), of origin review."""
    earlier = [sample for sample in pool if sample.provenance.origin not in ("seed", "gold")]
    picked = random.Random(seed).sample(earlier, min(size, len(earlier)))
    return [sample.model_copy(update={"provenance": sample.provenance.model_copy(update={"origin": "review"})})
            for sample in picked]


def training_mix(batch: list[Sample], pool: list[Sample], seeds: list[Sample], config: LoopConfig, seed: int,
                 round_name: str) -> list[Sample]:
    """Round K trains on its batch, earlier rounds' samples (`loop.review`: all of them when the student starts from
    the base, else `loop.review_size` of them, seeded per round) and the gold seeds."""
    size = len(pool) if config.train_from == "base" else config.review_size
    review = review_sample(pool, size, derive_seed(seed, round_name, "review")) if config.review else []
    return [*batch, *review, *seeds]


def grown_pool(pool: list[Sample], batch: list[Sample]) -> list[Sample]:
    """The pool after a round: every sample so far, the round's batch last (dedup and review read it)."""
    return [*pool, *batch]


def stop_teacher_if_asked(config: TeacherConfig) -> None:
    """Free the cores for training when `teacher.stop_before_train` is on (see README: idle server cost)."""
    if config.stop_before_train and not config.endpoint:
        stop_server(config)


def train_and_evaluate(task: TaskSpec, train_samples: list[Sample], test: list[Sample], student: StudentConfig,
                       out_dir: Path, init_from: Path | None, seed: int,
                       confusion_path: Path | None = None) -> dict[str, Any]:
    """Train (continuing from `init_from`), then score on the test set; returns the round's metrics (test, train).

    The checkpoint's model card is rewritten with the test scores; `confusion_path` gets the test confusion rows."""
    log = train_student(task, train_samples, student, out_dir, init_from=init_from, seed=seed)
    predictions = predict(out_dir, task, test)
    test_scores = score(task, test, predictions)
    if confusion_path is not None:
        atomic_write_json(confusion_path, confusion_rows(task, test, predictions))
    write_model_card(out_dir, test_scores)
    return {"test": test_scores, "train": {"samples": len(train_samples), **log}}


@dataclass(frozen=True)
class Trained:
    """A trained round: the previous student's probe of the batch, the pool so far, the round's metrics."""

    probe: list[ProbeRow]
    pool: list[Sample]
    metrics: RoundMetrics

    def write(self, files: RoundFiles, metrics_path: Path) -> None:
        write_rows(files.probe, self.probe)
        write_record(files.probe_scores, self.metrics.probe)
        write_samples(files.pool, self.pool)
        write_record(metrics_path, self.metrics)

    def note(self) -> str:
        """The train part of a stage's summary line: probe fooled rate, training size and time, test score."""
        probe, train = self.metrics.probe, self.metrics.train
        fooled = f"fooled {probe.fooled_rate:.0%} of {probe.n} probes, " if probe.n else ""
        return (f"{fooled}trained on {train['samples']} samples in {train['train_runtime_s']:.0f} s "
                f"(loss {train['train_loss']:.4f}), test score {self.metrics.test.score:.4f}")


def train_round(params: Params, task: TaskSpec, round_name: str, batch: list[Sample], pool: list[Sample],
                seeds: list[Sample], test: list[Sample], prev_model: Path, out_model: Path,
                confusion_path: Path | None = None) -> Trained:
    """Round K: a student trained on `training_mix` (fresh from the base, or student P going on: `loop.train_from`);
    student P's probe of batch K feeds analyze@K+1."""
    init_from = prev_model if params.loop.train_from == "previous" else None
    return fit_and_probe(params, task, round_name, batch, pool,
                         training_mix(batch, pool, seeds, params.loop, params.seed, round_name), test, prev_model,
                         out_model, confusion_path, init_from=init_from)


def fit_and_probe(params: Params, task: TaskSpec, round_name: str, batch: list[Sample], pool: list[Sample],
                  train_samples: list[Sample], test: list[Sample], prev_model: Path | None, out_model: Path,
                  confusion_path: Path | None, init_from: Path | None = None) -> Trained:
    """Train (from `init_from`, or from the base encoder), evaluate, probe the batch with the previous student
    (at r00, which has none, with the new one), and grow the pool by the batch."""
    stop_teacher_if_asked(params.teacher)
    result = train_and_evaluate(task, train_samples, test, params.student, out_model, init_from=init_from,
                                seed=params.seed, confusion_path=confusion_path)
    probe, probe_scores = probe_student(task, prev_model or out_model, batch)
    return Trained(probe=probe, pool=grown_pool(pool, batch),
                   metrics=RoundMetrics(round=round_name, probe=probe_scores, **result))
