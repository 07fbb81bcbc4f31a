"""analyze@K: the teacher reads the previous student's probe and writes a structured analysis of its weaknesses."""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel

from evokd.data import TaskSpec
from evokd.loop.common import derive_seed
from evokd.loop.config import LoopConfig
from evokd.loop.schemas import Analysis, schema_for
from evokd.prompts import PromptSet
from evokd.teacher.client import ChatRequest, TeacherClient


def select_probe_rows(probe: list[dict[str, Any]], config: LoopConfig, seed: int
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """The wrong rows (most confident mistakes first) and, when include_correct, a seeded sample of right ones."""
    wrong = sorted((row for row in probe if not row["correct"]), key=lambda row: -row["confidence"])
    right = [row for row in probe if row["correct"]]
    random.Random(seed).shuffle(right)
    view = [{"text": row["text"], "label": row["gold"], "predicted": row["predicted"]} for row in wrong]
    correct = [{"text": row["text"], "label": row["gold"]} for row in right[: config.n_correct]]
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


def analyze(client: TeacherClient, task: TaskSpec, prompts: PromptSet, probe: list[dict[str, Any]],
            per_label_f1: dict[str, float], history: list[str], config: LoopConfig, seed: int, round_name: str
            ) -> tuple[Analysis, bool]:
    """One constrained teacher call; returns the analysis and whether it came from the teacher."""
    wrong, correct = select_probe_rows(probe, config, derive_seed(seed, round_name, "probe"))
    scores = {name: per_label_f1.get(name, 0.0) for name in task.label_names}
    messages = prompts.messages("analysis", task, per_label=scores, wrong=wrong, correct=correct,
                                history=history[-config.history:] if config.history else [])
    request = ChatRequest(messages=messages, schema=schema_for("analysis", task),
                          seed=derive_seed(seed, round_name, "analysis"), max_tokens=512)
    [result] = client.run([request], desc=f"analyze {round_name}")
    if result.value is None:
        return fallback_analysis(task, scores), False
    return to_label_ids(task, result.value), True


def to_label_ids(task: TaskSpec, answer: BaseModel) -> Analysis:
    """The teacher's analysis with its label words (the schema's enums) mapped back to label ids."""
    value = answer.model_dump()
    for key in ("weak_labels", "mastered_labels"):
        value[key] = [task.label_of_word(word) for word in value[key]]
    return Analysis.model_validate(value)
