"""label@K: each generated input is labelled in its own constrained call (a label enum; for NER entity spans
with a type enum, matched back to the words as IOB2). A label that disagrees with the intent the input was
written for is counted and handled by `loop.disagreement`; spans that are not in the text are rejected.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from evokd.data import ClassificationSample, NerSample, Sample, Span, TaskSpec, spans_to_bio, tokenize_words
from evokd.loop.common import derive_seed
from evokd.loop.config import LoopConfig
from evokd.loop.generate import GeneratedInput
from evokd.loop.schemas import schema_for
from evokd.prompts import PromptSet
from evokd.teacher.client import ChatRequest, TeacherClient


def teacher_labels(client: TeacherClient, task: TaskSpec, prompts: PromptSet, inputs: list[GeneratedInput],
                   seed: int, round_name: str) -> list[tuple[str | list[Span] | None, str | None]]:
    """One labelling call per input: (label or spans, None) or (None, failure reason)."""
    requests = [
        ChatRequest(messages=prompts.messages("labeling", task, text=item.text), schema=schema_for("labeling", task),
                    seed=derive_seed(seed, round_name, "label", item.text), temperature=0.0)
        for item in inputs
    ]
    answers: list[tuple[str | list[Span] | None, str | None]] = []
    for result in client.run(requests, desc=f"label {round_name}"):
        if result.value is None:
            answers.append((None, f"teacher_{result.error.split()[0]}"))
        elif task.kind == "ner":
            answers.append(([Span(text=e.text, type=e.type) for e in result.value.entities], None))
        else:
            answers.append((result.value.label, None))
    return answers


def to_sample(task: TaskSpec, item: GeneratedInput, answer: str | list[Span]) -> Sample:
    """Build the labelled sample; raises ValueError when NER spans cannot be matched to the words."""
    if task.kind == "ner":
        tokens = tokenize_words(item.text)
        spans = list(answer)  # type: ignore[arg-type]
        tags = spans_to_bio(tokens, spans, task.label_names)
        return NerSample(tokens=tokens, tags=tags, text=item.text, spans=spans, round=item.round,
                         stance=item.stance, provenance=item.provenance)  # type: ignore[arg-type]
    return ClassificationSample(text=item.text, label=str(answer), round=item.round, stance=item.stance,
                                provenance=item.provenance)  # type: ignore[arg-type]


def agrees_with_intent(task: TaskSpec, item: GeneratedInput, answer: str | list[Span]) -> bool:
    if task.kind == "ner":
        return any(span.type == item.intent for span in answer)  # type: ignore[union-attr]
    return answer == item.intent


def label(client: TeacherClient | None, task: TaskSpec, prompts: PromptSet, inputs: list[GeneratedInput],
          config: LoopConfig, seed: int, round_name: str, separate: bool) -> tuple[list[Sample], dict[str, Any]]:
    """Labelled samples and stats. With `separate` off, the label proposed at generation time is used as is."""
    if separate:
        assert client is not None, "separate labelling needs a teacher client"
        answers = teacher_labels(client, task, prompts, inputs, seed, round_name)
    else:
        answers = [((item.proposed_spans if task.kind == "ner" else item.proposed_label), None) for item in inputs]
    rejects: Counter[str] = Counter()
    disagreements = 0
    samples: list[Sample] = []
    for item, (answer, failure) in zip(inputs, answers, strict=True):
        if answer is None:
            rejects[failure or "no_label"] += 1
            continue
        if item.intent and not agrees_with_intent(task, item, answer):
            disagreements += 1
            if config.disagreement == "drop":
                rejects["disagreement"] += 1
                continue
        try:
            samples.append(to_sample(task, item, answer))
        except ValueError:
            rejects["span_not_in_text"] += 1
    stats = {
        "inputs": len(inputs),
        "kept": len(samples),
        "disagreements": disagreements,
        "disagreement_policy": config.disagreement,
        "rejects": dict(rejects),
        "separate_labeling": separate,
        "teacher": client.stats.to_dict() if client is not None else None,
    }
    return samples, stats
