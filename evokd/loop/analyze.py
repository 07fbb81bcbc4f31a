"""analyze@K: the teacher reads the previous student's probe and writes a structured analysis of its weaknesses."""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel

from evokd.data import TaskSpec
from evokd.loop.config import LoopConfig
from evokd.loop.records import AnalysisRecord, AnalyzeStats, ProbeRow, TeacherUsage, history_summaries, spent
from evokd.loop.schemas import Analysis, schema_for
from evokd.loop.step import Step
from evokd.teacher.client import ChatRequest

ANALYSIS_MAX_TOKENS = 512  # the analysis answer's room (evokd plan counts it as the completion bound)


def select_probe_rows(probe: list[ProbeRow], config: LoopConfig, seed: int
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """The wrong rows (most confident mistakes first) and, when include_correct, a seeded sample of right ones."""
    wrong = sorted((row for row in probe if not row.correct), key=lambda row: -row.confidence)
    right = [row for row in probe if row.correct]
    random.Random(seed).shuffle(right)
    view = [{"text": row.text, "label": row.gold, "predicted": row.predicted} for row in wrong]
    correct = [{"text": row.text, "label": row.gold} for row in right[: config.n_correct]]
    return view[: config.n_wrong], (correct if config.include_correct else None)


def fallback_analysis(task: TaskSpec, per_label_f1: dict[str, float]) -> Analysis:
    """When the teacher gives no valid analysis: weak and mastered labels read off the probe scores. The summary
    is quoted to the generator, so it names the weak labels' words rather than saying that the teacher failed."""
    ranked = sorted(task.label_names, key=lambda name: per_label_f1.get(name, 0.0))
    half = max(1, len(ranked) // 2)
    weak = ranked[:half][:8]
    return Analysis(
        summary="The student does worst on: " + ", ".join(task.words[name] for name in weak) + ".",
        weak_labels=weak,
        mastered_labels=[name for name in ranked[half:] if per_label_f1.get(name, 0.0) > 0][:8],
        directions=[],
    )


def analyze(step: Step, probe: list[ProbeRow], per_label_f1: dict[str, float], history: list[AnalysisRecord]
            ) -> tuple[AnalysisRecord, AnalyzeStats]:
    """One constrained teacher call on the previous round's probe; a fallback read off the probe scores when the
    teacher gives no valid answer (the record's origin says which)."""
    task, config = step.task, step.loop
    before = TeacherUsage.of(step.client)
    wrong, correct = select_probe_rows(probe, config, step.seed_for("probe"))
    scores = {name: per_label_f1.get(name, 0.0) for name in task.label_names}
    summaries = history_summaries(history)
    messages = step.prompts.messages("analysis", task, per_label=scores, wrong=wrong, correct=correct,
                                     history=summaries[-config.history:] if config.history else [])
    request = ChatRequest(messages=messages, schema=schema_for("analysis", task), seed=step.seed_for("analysis"),
                          max_tokens=ANALYSIS_MAX_TOKENS)
    [result] = step.ask([request], "analyze")
    if result.value is None:
        record = AnalysisRecord(round=step.round, origin="fallback", analysis=fallback_analysis(task, scores))
    else:
        record = AnalysisRecord(round=step.round, origin="teacher", analysis=to_label_ids(task, result.value))
    return record, AnalyzeStats(origin=record.origin, teacher=spent(step.client, before))


def no_analysis(round_name: str) -> tuple[AnalysisRecord, AnalyzeStats]:
    """r00's analysis files: its batch is written with no feedback, so there is none (and no teacher cost)."""
    return AnalysisRecord(round=round_name, origin="none"), AnalyzeStats(origin="none")


def to_label_ids(task: TaskSpec, answer: BaseModel) -> Analysis:
    """The teacher's analysis with its label words (the schema's enums) mapped back to label ids."""
    value = answer.model_dump()
    for key in ("weak_labels", "mastered_labels"):
        value[key] = [task.label_of_word(word) for word in value[key]]
    return Analysis.model_validate(value)
