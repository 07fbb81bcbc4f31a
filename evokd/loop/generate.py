"""generate@K: the teacher writes new inputs only — hard ones aimed at the analysis, easy ones on mastered
labels — then every input is length-checked and deduplicated against the whole pool.

Inputs carry their intent (the label or entity type they were written for); the label comes later, from a
separate constrained call (label.py), unless `separate_labeling` is off.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict

from evokd.data import Provenance, Sample, Span, TaskSpec, tokenize_words
from evokd.loop.common import derive_seed, sample_text, teacher_provenance
from evokd.loop.config import LoopConfig
from evokd.loop.dedup import DuplicateFilter
from evokd.loop.schemas import Analysis, schema_for
from evokd.prompts import PromptSet
from evokd.teacher.client import ChatRequest, ChatResult, TeacherClient

EXAMPLES_PER_PROMPT = 3


class GeneratedInput(BaseModel):
    """One teacher-written input before labelling; `proposed_*` hold the label when generation also labels."""

    model_config = ConfigDict(extra="forbid")
    text: str
    intent: str
    stance: str
    round: str
    provenance: Provenance
    proposed_label: str | None = None
    proposed_spans: list[Span] | None = None


def spread(labels: list[str], count: int, weights: dict[str, float]) -> list[str]:
    """`count` labels drawn in proportion to `weights` (largest remainder), so every weight gets its share."""
    if count <= 0 or not labels:
        return []
    total = sum(weights[name] for name in labels)
    quotas = {name: count * weights[name] / total for name in labels}
    shares = {name: int(quota) for name, quota in quotas.items()}
    by_remainder = sorted(labels, key=lambda name: (-(quotas[name] - shares[name]), labels.index(name)))
    for name in by_remainder[: count - sum(shares.values())]:
        shares[name] += 1
    return [name for name in labels for _ in range(shares[name])]


def plan_intents(task: TaskSpec, analysis: Analysis | None, per_label_f1: dict[str, float],
                 n_hard: int, n_easy: int) -> list[tuple[str, str]]:
    """(intent, stance) pairs. Hard inputs go to labels in proportion to their error (weak labels count double,
    as the paper observed they need more data); easy inputs cover mastered labels. Without an analysis (the
    bootstrap batch) everything is spread evenly and marked static."""
    names = task.label_names
    if analysis is None:
        return [(name, "static") for name in spread(names, n_hard + n_easy, dict.fromkeys(names, 1.0))]
    weak = set(analysis.weak_labels)
    hard_weights = {name: (1.0 - per_label_f1.get(name, 0.0)) + (1.0 if name in weak else 0.0) + 0.05
                    for name in names}
    mastered = [name for name in names if name in set(analysis.mastered_labels)] or names
    plan = [(name, "hard") for name in spread(names, n_hard, hard_weights)]
    plan += [(name, "easy") for name in spread(mastered, n_easy, dict.fromkeys(mastered, 1.0))]
    return plan


def _examples_by_label(task: TaskSpec, pool: list[Sample], seed: int) -> dict[str, list[str]]:
    """A few pool texts per label (per entity type for NER) to show the teacher the style of the task."""
    examples: dict[str, list[str]] = {name: [] for name in task.label_names}
    shuffled = list(pool)
    random.Random(seed).shuffle(shuffled)
    for sample in shuffled:
        owners = ({tag[2:] for tag in sample.tags if tag != "O"} if task.kind == "ner" else {sample.label})
        for name in owners:
            if name in examples and len(examples[name]) < EXAMPLES_PER_PROMPT:
                examples[name].append(sample_text(sample))
    return examples


def generate(client: TeacherClient, task: TaskSpec, prompts: PromptSet, analysis: Analysis | None,
             per_label_f1: dict[str, float], pool: list[Sample], config: LoopConfig, seed: int, round_name: str,
             teacher_model: str, n_hard: int, n_easy: int, with_label: bool
             ) -> tuple[list[GeneratedInput], dict[str, Any]]:
    """Ask for one input per planned intent (concurrently), then filter. Returns kept inputs and their stats."""
    plan = plan_intents(task, analysis, per_label_f1, n_hard, n_easy)
    return generate_for_plan(client, task, prompts, plan, analysis, pool, config, seed, round_name, teacher_model,
                             with_label)


def generate_for_plan(client: TeacherClient, task: TaskSpec, prompts: PromptSet, plan: list[tuple[str, str]],
                      analysis: Analysis | None, pool: list[Sample], config: LoopConfig, seed: int, round_name: str,
                      teacher_model: str, with_label: bool) -> tuple[list[GeneratedInput], dict[str, Any]]:
    """`generate` for an explicit (intent, stance) plan: the static baseline plans its own label rotation."""
    labels = {label.name: label for label in task.labels}
    examples = _examples_by_label(task, pool, derive_seed(seed, round_name, "examples"))
    schema = schema_for("generation_labeled" if with_label else "generation", task, config.max_chars)
    requests = [
        ChatRequest(
            messages=prompts.messages("generation", task, intent=labels[intent], stance=stance,
                                      examples=examples[intent], analysis=analysis, with_label=with_label),
            schema=schema, seed=derive_seed(seed, round_name, "generate", index, intent, stance))
        for index, (intent, stance) in enumerate(plan)
    ]
    results = client.run(requests, desc=f"generate {round_name}")
    accepted, rejects = accept_texts(results, pool, task, config)
    kept: list[GeneratedInput] = []
    for index, text, result in accepted:
        intent, stance = plan[index]
        kept.append(GeneratedInput(
            text=text, intent=intent, stance=stance, round=round_name,
            provenance=teacher_provenance(teacher_model, prompts.name, result.key, intent),
            proposed_label=getattr(result.value, "label", None),
            proposed_spans=([Span(text=e.text, type=e.type) for e in result.value.entities]
                            if hasattr(result.value, "entities") else None),
        ))
    stats = {
        "requested": len(plan),
        "kept": len(kept),
        "planned": dict(Counter(f"{stance}:{intent}" for intent, stance in plan)),
        "rejects": dict(rejects),
        "teacher": client.stats.to_dict(),
    }
    return kept, stats


def accept_texts(results: list[ChatResult], pool: list[Sample], task: TaskSpec, config: LoopConfig
                 ) -> tuple[list[tuple[int, str, ChatResult]], Counter[str]]:
    """(index, cleaned text, result) of the answers that pass the length checks and are new to the pool (and to
    each other), and the rejects by reason."""
    duplicates = DuplicateFilter([sample_text(sample) for sample in pool], config.near_dup_threshold)
    rejects: Counter[str] = Counter()
    accepted = []
    for index, result in enumerate(results):
        if result.value is None:
            rejects[f"teacher_{result.error.split()[0]}"] += 1
            continue
        text = " ".join(result.value.text.split())
        reason = _length_problem(text, task, config) or duplicates.check(text)
        if reason:
            rejects[reason] += 1
        else:
            accepted.append((index, text, result))
    return accepted, rejects


def _length_problem(text: str, task: TaskSpec, config: LoopConfig) -> str | None:
    if len(text) < config.min_chars:
        return "too_short"
    if len(text) > config.max_chars:
        return "too_long"
    if task.kind == "ner" and len(tokenize_words(text)) < 3:
        return "too_few_words"
    return None


def paraphrase(client: TeacherClient, task: TaskSpec, prompts: PromptSet, seeds: list[Sample], per_seed: int,
               config: LoopConfig, seed: int, round_name: str, teacher_model: str
               ) -> tuple[list[GeneratedInput], dict[str, Any]]:
    """AugGPT-style variants of the seeds (the EvoKD+Init warm-up). A classification paraphrase keeps its seed's
    label; an NER paraphrase is labelled again, since its entities may have moved."""
    jobs = [(sample, copy) for sample in seeds for copy in range(per_seed)]
    requests = [
        ChatRequest(messages=prompts.messages("paraphrase", task, text=sample_text(sample),
                                              label=getattr(sample, "label", None)),
                    schema=schema_for("paraphrase", task, config.max_chars),
                    seed=derive_seed(seed, round_name, "paraphrase", index, sample_text(sample)))
        for index, (sample, _copy) in enumerate(jobs)
    ]
    results = client.run(requests, desc=f"paraphrase {round_name}")
    accepted, rejects = accept_texts(results, seeds, task, config)
    kept: list[GeneratedInput] = []
    for index, text, result in accepted:
        label = getattr(jobs[index][0], "label", None)
        kept.append(GeneratedInput(
            text=text, intent=label or "", stance="init", round=round_name, proposed_label=label,
            provenance=teacher_provenance(teacher_model, prompts.name, result.key, label)))
    stats = {"requested": len(jobs), "kept": len(kept), "rejects": dict(rejects),
             "teacher": client.stats.to_dict()}
    return kept, stats
