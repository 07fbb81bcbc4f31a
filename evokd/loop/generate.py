"""generate@K: the teacher writes new inputs only — hard ones aimed at the analysis, easy ones on mastered
labels — then every input is length-checked and deduplicated against the whole pool.

Inputs carry their intent (the label or entity type they were written for); the label comes later, from a
separate constrained call (label.py), unless `separate_labeling` is off. Every label gets a floor of hard inputs
(`loop.min_hard_per_label`), each hard request carries one of the analysis's directions, and every prompt shows
the task's style note and real examples of its label (the gold seeds first). NER sentences come back with their
entities as inline markup (evokd/loop/spans.py): the plain text is the input, the marked entities its proposed
spans. With `loop.select_factor` k > 1 each planned input is asked for k times and the previous round's student
keeps, per planned (intent, stance), the inputs it is least sure of.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, model_validator

from evokd.data import ClassificationSample, NerSample, Provenance, Sample, Stance, TaskSpec, split_old_stance
from evokd.loop.common import sample_text
from evokd.loop.config import LoopConfig
from evokd.loop.dedup import DuplicateFilter
from evokd.loop.records import GenStats, ProbeRow, Selection, TeacherUsage, spent
from evokd.loop.schemas import Analysis, schema_for
from evokd.loop.spans import first_sentence, parse_markup, to_markup, unwrap_foreign
from evokd.loop.step import Step
from evokd.ner import Span, entity_types, tokenize_words
from evokd.teacher.client import ChatRequest, ChatResult

if TYPE_CHECKING:
    from evokd.loop.unlabelled import Retriever

EXAMPLES_PER_PROMPT = 3
DOMINANT_SHARE = 0.8  # a round in which one label takes more than this share of the samples gets a warning
MARKUP_ALLOWANCE = 120  # characters of NER markup a generated sentence may carry beyond loop.max_chars
# Words of the NER generation prompt and of the analyses it shows that none of CoNLL-2003's 20,744 sentences has:
# a text with one copies the prompt ("The student's weaknesses are in per-type F1 scores ...") instead of news.
PROMPT_ECHOES = ("tagger", "student's", "per-type f1", "named entit", "entities of these types", "training data")


class GeneratedInput(BaseModel):
    """One input before labelling (teacher-written, a warm-up paraphrase with no stance, or a text picked from the
    unlabelled pool); `proposed_*` hold the label when generation also labels (for NER always: the entities marked
    up in the generated sentence)."""

    model_config = ConfigDict(extra="forbid")
    text: str
    intent: str
    stance: Stance | None
    round: str
    provenance: Provenance
    proposed_label: str | None = None
    proposed_spans: list[Span] | None = None

    _old_stance = model_validator(mode="before")(split_old_stance)


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


def hard_intents(names: list[str], weights: dict[str, float], n_hard: int, floor: int,
                 pool_counts: dict[str, int], seed: int) -> list[str]:
    """The labels of a round's hard inputs, in label order, so that no round starves a label.

    When n_hard >= labels x floor, every label gets `floor` and the rest go by weight. Otherwise n_hard // floor
    labels get their floor this round: half of them (rounded up) are the weakest labels (highest weight), the
    other half are, among the rest, the labels the pool holds the fewest samples of; ties break by a shuffle
    seeded per round. As the pool grows the least-served labels change, so every label comes up over rounds
    (77 labels, 8 hard inputs: 8 distinct labels a round, the 4 weakest and the 4 least served). The remainder
    n_hard % floor goes by weight among the chosen labels.
    """
    if n_hard <= 0:
        return []
    if floor == 0:
        return spread(names, n_hard, weights)
    floor = min(floor, n_hard)
    order = {name: rank for rank, name in enumerate(random.Random(seed).sample(names, len(names)))}
    chosen = names
    if n_hard < floor * len(names):
        slots = n_hard // floor
        weakest = sorted(names, key=lambda name: (-weights[name], pool_counts.get(name, 0), order[name]))
        weakest = weakest[: (slots + 1) // 2]
        rest = sorted((name for name in names if name not in weakest),
                      key=lambda name: (pool_counts.get(name, 0), order[name]))
        picked = {*weakest, *rest[: slots // 2]}
        chosen = [name for name in names if name in picked]
    shares = Counter(dict.fromkeys(chosen, floor))
    shares.update(spread(chosen, n_hard - floor * len(chosen), weights))
    return [name for name in names for _ in range(shares[name])]


def plan_intents(task: TaskSpec, analysis: Analysis | None, per_label_f1: dict[str, float], n_hard: int,
                 n_easy: int, floor: int, pool_counts: dict[str, int], seed: int) -> list[tuple[str, str]]:
    """(intent, stance) pairs. Hard inputs go to labels in proportion to their error (weak labels count double,
    as the paper observed they need more data) above a floor per label (`hard_intents`); easy inputs cover
    mastered labels. Without an analysis (the bootstrap batch) everything is spread evenly and marked static."""
    names = task.label_names
    if analysis is None:
        return [(name, "static") for name in spread(names, n_hard + n_easy, dict.fromkeys(names, 1.0))]
    weak = set(analysis.weak_labels)
    hard_weights = {name: (1.0 - per_label_f1.get(name, 0.0)) + (1.0 if name in weak else 0.0) + 0.05
                    for name in names}
    mastered = [name for name in names if name in set(analysis.mastered_labels)] or names
    plan = [(name, "hard") for name in hard_intents(names, hard_weights, n_hard, floor, pool_counts, seed)]
    plan += [(name, "easy") for name in spread(mastered, n_easy, dict.fromkeys(mastered, 1.0))]
    return plan


def label_balance(task: TaskSpec, samples: Sequence[Sample]) -> tuple[dict[str, int], str | None]:
    """Samples per label id (entity mentions per type for NER), every label in task order, and a warning line
    when one label takes more than 80% of them: a round like that teaches the student one label."""
    counts: Counter[str] = Counter()
    for sample in samples:
        if isinstance(sample, NerSample):
            counts.update(entity_types(sample.tags))
        else:
            counts[sample.label] += 1
    table = {name: counts[name] for name in task.label_names}
    total = sum(table.values())
    top = max(table, key=table.__getitem__)
    if total and table[top] > DOMINANT_SHARE * total:
        unit = "entities" if task.kind == "ner" else "samples"
        return table, f"label {top!r} takes {table[top]} of {total} {unit} ({table[top] / total:.0%})"
    return table, None


def _examples_by_label(task: TaskSpec, pool: list[Sample], seed: int) -> dict[str, list[str]]:
    """A few texts per label (per entity type for NER, in markup) to show the teacher the style of the task: the
    gold seeds of the label first, then a seeded sample of the rest of the pool."""
    examples: dict[str, list[str]] = {name: [] for name in task.label_names}
    others = [sample for sample in pool if sample.provenance.origin != "seed"]
    random.Random(seed).shuffle(others)
    for sample in [*(sample for sample in pool if sample.provenance.origin == "seed"), *others]:
        if isinstance(sample, NerSample):
            owners, text = set(entity_types(sample.tags)), to_markup(sample.tokens, sample.tags)
        else:
            owners, text = {sample.label}, sample.text
        for name in owners:
            if name in examples and len(examples[name]) < EXAMPLES_PER_PROMPT:
                examples[name].append(text)
    return examples


def mistakes_by_label(task: TaskSpec, probe: list[ProbeRow]) -> dict[str, list[str]]:
    """The probe texts the previous student got wrong, by the teacher's label, most confident mistakes first: what
    a hard input of that label should look like (classification; an NER probe row holds no single label)."""
    mistakes: dict[str, list[str]] = {name: [] for name in task.label_names}
    if task.kind == "ner":
        return mistakes
    for row in sorted((row for row in probe if not row.correct), key=lambda row: -row.confidence):
        if row.gold in mistakes:
            mistakes[row.gold].append(row.text)
    return mistakes


def hard_examples(examples: list[str], mistakes: list[str], count: int, turn: int) -> tuple[list[str], list[str]]:
    """A hard request's (real examples, mistakes): `count` mistakes of its label, the label's `turn`-th share in
    rotation, in place of as many of the last pool examples (the gold seeds come first and stay)."""
    if not mistakes or count <= 0:
        return examples, []
    count = min(count, len(mistakes))
    shown = list(dict.fromkeys(mistakes[(turn * count + offset) % len(mistakes)] for offset in range(count)))
    real = [text for text in examples if text not in shown]
    return real[: max(1, len(examples) - len(shown))], shown


def round_plan(step: Step, analysis: Analysis | None, per_label_f1: dict[str, float], pool: list[Sample]
               ) -> list[tuple[str, str]]:
    """The round's (intent, stance) plan from the loop's sizes: `loop.n_hard` hard inputs above the floor
    `loop.min_hard_per_label`, `loop.easy_count` easy ones (all static without an analysis). `evokd plan` counts
    its requests from this same plan."""
    pool_counts, _warning = label_balance(step.task, pool)
    return plan_intents(step.task, analysis, per_label_f1, step.loop.n_hard, step.loop.easy_count,
                        step.loop.min_hard_per_label, pool_counts, step.seed_for("plan"))


def copies_per_input(config: LoopConfig, with_student: bool) -> int:
    """Requests per planned input: `loop.select_factor` when a previous student is there to select, else 1."""
    return config.select_factor if with_student else 1


def generate(step: Step, analysis: Analysis | None, per_label_f1: dict[str, float], pool: list[Sample],
             student: Path | None = None, retriever: Retriever | None = None, probe: list[ProbeRow] | None = None
             ) -> tuple[list[GeneratedInput], GenStats]:
    """Ask for the round's planned inputs (concurrently), then filter; `student` (the previous round's checkpoint)
    selects among `loop.select_factor` candidates per input; `retriever` adds real texts of the domain to every
    prompt (`loop.retrieval_k`); the previous student's `probe` gives hard requests its mistakes
    (`loop.n_mistakes`). Returns kept inputs and their stats."""
    return generate_for_plan(step, round_plan(step, analysis, per_label_f1, pool), analysis, pool, student,
                             retriever, mistakes_by_label(step.task, probe or []))


def generate_for_plan(step: Step, plan: list[tuple[str, str]], analysis: Analysis | None, pool: list[Sample],
                      student: Path | None = None, retriever: Retriever | None = None,
                      mistakes: dict[str, list[str]] | None = None) -> tuple[list[GeneratedInput], GenStats]:
    """`generate` for an explicit (intent, stance) plan: the static baseline plans its own label rotation.

    The i-th hard input gets the analysis's direction i (round-robin), and the j-th hard input of a label that
    label's j-th share of `mistakes` (`hard_examples`). With a student and select_factor k > 1,
    every planned input is asked k times (different seeds); without a student (the bootstrap batch) once. With
    `loop.separate_labeling` off, the teacher writes each input's label with it."""
    task, config = step.task, step.loop
    before = TeacherUsage.of(step.client)
    labels = {label.name: label for label in task.labels}
    examples = _examples_by_label(task, pool, step.seed_for("examples"))
    factor = copies_per_input(config, student is not None)
    with_label = not config.separate_labeling
    labelled = with_label and task.kind == "classification"
    # NER texts carry inline markup ("[PER Ann Lee]") until parsed: room for it, the plain text is checked after
    limit = config.max_chars + (MARKUP_ALLOWANCE if task.kind == "ner" else 0)
    schema = schema_for("generation_labeled" if labelled else "generation", task, limit)
    directions = analysis.directions if analysis is not None else []
    hard_index = 0
    hard_turns: Counter[str] = Counter()
    slots, requests = [], []
    for index, (intent, stance) in enumerate(plan):
        direction, shown, wrong = None, examples[intent], []
        if stance == "hard":
            if directions:
                direction = directions[hard_index % len(directions)]
                hard_index += 1
            shown, wrong = hard_examples(shown, (mistakes or {}).get(intent, []), config.n_mistakes,
                                         hard_turns[intent])
            hard_turns[intent] += 1
        domain = retriever.examples(labels[intent], direction, step.seed_for("retrieve", index)) if retriever else []
        messages = step.prompts.messages("generation", task, intent=labels[intent], stance=stance,
                                         examples=shown, mistakes=wrong, analysis=analysis, direction=direction,
                                         with_label=with_label, domain_examples=domain)
        for copy in range(factor):
            # copy 0 keeps the seed of an unselected run, so turning selection on reuses its cached answers
            where = (index, intent, stance) if copy == 0 else (index, intent, stance, copy)
            slots.append(index)
            requests.append(ChatRequest(messages=messages, schema=schema, seed=step.seed_for("generate", *where)))
    results = step.ask(requests, "generate")
    accepted, rejects = accept_texts(results, pool, task, config, parse=task.kind == "ner")
    kept: list[GeneratedInput] = []
    for index, text, spans, result in accepted:
        intent, stance = plan[slots[index]]
        word = getattr(result.value, "label", None)
        kept.append(GeneratedInput(
            text=text, intent=intent, stance=stance, round=step.round, provenance=step.provenance(result.key, intent),
            proposed_label=task.label_of_word(word) if word is not None else None, proposed_spans=spans))
    selection = None
    if factor > 1 and student is not None:
        kept, selection = select_least_confident(task, plan, kept, student)
    return kept, GenStats(requested=len(requests), kept=len(kept), select_factor=factor, selection=selection,
                          planned=dict(Counter(f"{stance}:{intent}" for intent, stance in plan)),
                          rejects=dict(rejects), teacher=spent(step.client, before))


def select_least_confident(task: TaskSpec, plan: list[tuple[str, str]], candidates: list[GeneratedInput],
                           student: Path) -> tuple[list[GeneratedInput], Selection]:
    """Per planned (intent, stance), as many candidates as the plan has inputs for it: those the student is
    least sure of (lowest confidence; ties keep the earlier one), so the batch keeps the plan's label spread.
    Returns the kept inputs (in candidate order) and the selection's stats."""
    from evokd.student.predict import predict

    confidence = [prediction.confidence
                  for prediction in predict(student, task, [_unlabelled_sample(task, item) for item in candidates])]
    quota = Counter(plan)
    taken: Counter[tuple[str, str]] = Counter()
    keep = []
    for index in sorted(range(len(candidates)), key=confidence.__getitem__):
        slot = (candidates[index].intent, candidates[index].stance)
        if taken[slot] < quota[slot]:
            taken[slot] += 1
            keep.append(index)
    keep.sort()
    stats = Selection(student=str(student), candidates=len(candidates), selected=len(keep),
                      mean_confidence_candidates=round(fmean(confidence), 4) if confidence else None,
                      mean_confidence_selected=round(fmean(confidence[index] for index in keep), 4) if keep else None)
    return [candidates[index] for index in keep], stats


def _unlabelled_sample(task: TaskSpec, item: GeneratedInput) -> Sample:
    """A generated input as the student's predict() reads it (its label or tags are not looked at)."""
    if task.kind == "ner":
        tokens = tokenize_words(item.text)
        return NerSample(tokens=tokens, tags=["O"] * len(tokens), text=item.text)
    return ClassificationSample(text=item.text, label=item.intent)


def accept_texts(results: list[ChatResult], pool: list[Sample], task: TaskSpec, config: LoopConfig, parse: bool
                 ) -> tuple[list[tuple[int, str, list[Span] | None, ChatResult]], Counter[str]]:
    """(index, cleaned text, marked-up spans, result) of the answers that pass the length checks and are new to the
    pool (and to each other), and the rejects by reason. With `parse`, an answer's text is NER markup: its first
    sentence is kept (a small teacher runs on past it), markers of other types are unwrapped (unwrap_foreign), the
    plain text is what gets checked and kept, its entities become the spans; bad markup is a reject, and so is a
    text that echoes the prompt (PROMPT_ECHOES: `not_a_sentence`)."""
    duplicates = DuplicateFilter([sample_text(sample) for sample in pool], config.near_dup_threshold)
    rejects: Counter[str] = Counter()
    accepted = []
    for index, result in enumerate(results):
        if result.value is None:
            rejects[result.reject] += 1
            continue
        text, spans = " ".join(result.value.text.split()), None
        if parse:
            try:
                text, spans = parse_markup(unwrap_foreign(first_sentence(text), task.label_names), task.label_names)
            except ValueError:
                rejects["bad_markup"] += 1
                continue
            text = " ".join(text.split())
        echo = parse and any(phrase in text.lower() for phrase in PROMPT_ECHOES)
        reason = ("not_a_sentence" if echo else None) or length_problem(text, task, config) or duplicates.check(text)
        if reason:
            rejects[reason] += 1
        else:
            accepted.append((index, text, spans, result))
    return accepted, rejects


def length_problem(text: str, task: TaskSpec, config: LoopConfig) -> str | None:
    if len(text) < config.min_chars:
        return "too_short"
    if len(text) > config.max_chars:
        return "too_long"
    if task.kind == "ner" and len(tokenize_words(text)) < 3:
        return "too_few_words"
    return None


def paraphrase(step: Step, seeds: list[Sample], per_seed: int) -> tuple[list[GeneratedInput], GenStats]:
    """AugGPT-style variants of the seeds (the EvoKD+Init warm-up). A classification paraphrase keeps its seed's
    label; an NER paraphrase is labelled again, since its entities may have moved."""
    task = step.task
    before = TeacherUsage.of(step.client)
    jobs = [(sample, copy) for sample in seeds for copy in range(per_seed)]
    requests = [
        ChatRequest(messages=step.prompts.messages("paraphrase", task, text=sample_text(sample),
                                                   label=getattr(sample, "label", None)),
                    schema=schema_for("paraphrase", task, step.loop.max_chars),
                    seed=step.seed_for("paraphrase", index, sample_text(sample)))
        for index, (sample, _copy) in enumerate(jobs)
    ]
    results = step.ask(requests, "paraphrase")
    accepted, rejects = accept_texts(results, seeds, task, step.loop, parse=False)
    kept: list[GeneratedInput] = []
    for index, text, _spans, result in accepted:
        label = getattr(jobs[index][0], "label", None)
        kept.append(GeneratedInput(text=text, intent=label or "", stance=None, round=step.round,
                                   proposed_label=label, provenance=step.provenance(result.key, label, "init")))
    return kept, GenStats(requested=len(jobs), kept=len(kept), rejects=dict(rejects),
                          teacher=spent(step.client, before))
