"""label@K: every generated input is labelled by the teacher in a separate, constrained call.

Classification: the teacher scores every label word (its verbalizer) rather than writing one: log-probs of the
first answer token when each label word is one token of the teacher's tokenizer (one call per input), else of
each label word as a whole (one call per input and label). The scores are turned into a distribution,
calibrated over the round's batch (evokd/loop/calibration.py), and kept on the sample with its confidence.
A server that returns no log-probs gets the generated label instead, with a warning, counted in the stats.
NER: entity spans (per entity type, constrained to substrings of the sentence), matched back to the words as
IOB2. A label that disagrees with the intent the input was written for is counted and handled by
`loop.disagreement`; spans that are not in the text are rejected.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from evokd.data import ClassificationSample, NerSample, Sample, TaskSpec
from evokd.errors import EvokdError
from evokd.loop.calibration import batch_prior, calibrate, softmax
from evokd.loop.config import LoopConfig
from evokd.loop.generate import GeneratedInput, label_balance
from evokd.loop.records import LabelStats, TeacherUsage, spent
from evokd.loop.schemas import schema_for
from evokd.loop.spans import candidates, extract_spans
from evokd.loop.step import Step
from evokd.ner import Span, occurrences, spans_to_bio, tokenize_words
from evokd.teacher.client import ChatRequest, ScoredAnswer, Scoring, TeacherClient

log = logging.getLogger(__name__)

CONTENT_FREE = "N/A"  # the content-free input of contextual calibration
CHOICE_TOKENS = 48  # room for the longest label word when the teacher writes the picked label out (`choice`)


class LabelAnswer(BaseModel):
    """The teacher's answer for one input, one shape for both task kinds: a label id (with its calibrated
    distribution and top probability when it was scored; alone when the server gave no log-probs) or entity
    spans, or else the reason there is none (`failure`, e.g. `teacher_length`)."""

    label: str | None = None
    spans: list[Span] | None = None
    probs: dict[str, float] | None = None
    confidence: float | None = None
    unsure: list[int] | None = None  # NER: words the two reads disagree on (`loop.disagreement: mask`)
    failure: str | None = None


def demonstrations(task: TaskSpec, seeds: Sequence[Sample], budget: int) -> list[dict[str, str]]:
    """Gold seeds shown to the labelling call ({text, word}), in order, as many as fit in `budget` characters."""
    demos, used = [], 0
    for seed in seeds:
        if not isinstance(seed, ClassificationSample) or used + len(seed.text) > budget:
            continue
        demos.append({"text": seed.text, "word": task.words[seed.label]})
        used += len(seed.text)
    return demos


def scoring_mode(client: TeacherClient, task: TaskSpec, config: LoopConfig) -> tuple[str, dict[str, int]]:
    """`first_token` when every label word is one distinct token of the teacher's tokenizer ({label: token id});
    when some are longer, `sequence` (every label scored whole) up to `max_scored_labels` labels, above it
    `choice` (the teacher picks one, only its probability kept) among the `shortlist` labels nearest each input
    (`shortlist`) or among all, since sequence scoring costs one request per label; `generated` when the server
    cannot tokenize (no log-prob scoring)."""
    ids: dict[str, int] = {}
    longer = longer_words_mode(task, config)
    for name, word in task.words.items():
        tokens = client.tokenize(word)
        if tokens is None:
            return "generated", {}
        if len(tokens) != 1:
            return longer, {}
        ids[name] = tokens[0]
    return ("first_token", ids) if len(set(ids.values())) == len(ids) else (longer, {})


def longer_words_mode(task: TaskSpec, config: LoopConfig) -> str:
    """How label words of several tokens are scored, by the number of labels."""
    if len(task.labels) <= config.max_scored_labels:
        return "sequence"
    return "shortlist" if config.shortlist else "choice"


def labeling_requests(task: TaskSpec, config: LoopConfig, inputs: int, mode: str) -> int:
    """Teacher requests that labelling `inputs` texts sends (before re-asks): one per text (NER: one extraction;
    `first_token` scoring or a `generated` label), one per text and label when words are scored whole
    (`sequence`), and one more for the content-free input of contextual calibration."""
    if task.kind == "ner" or mode == "generated":
        return inputs
    per_input = len(task.labels) if mode == "sequence" else 1
    return inputs * per_input + (per_input if calibrated(mode) and config.calibration == "contextual" else 0)


def calibrated(mode: str) -> bool:
    """Whether a scoring mode yields a full distribution over the labels, which calibration needs."""
    return mode in ("first_token", "sequence")


def class_log_scores(client: TeacherClient, task: TaskSpec, chats: list[list[dict[str, str]]], seeds: list[int],
                     mode: str, token_ids: dict[str, int], shortlists: list[list[str]], desc: str
                     ) -> list[tuple[dict[str, float] | None, str | None, str | None]]:
    """Per chat: (log-score per label or None without log-probs, generated label, failure reason). A picked label
    (`choice`, `shortlist`) is one of the chat's `shortlists` entry (every label but in `shortlist`)."""
    words = task.words
    if mode == "first_token":
        scoring = Scoring(choices=tuple(words.values()), token_ids=tuple(token_ids.values()))
        results = client.run([ChatRequest(messages=chat, schema=ScoredAnswer, seed=seed, max_tokens=1,
                                          temperature=0.0, scoring=scoring)
                              for chat, seed in zip(chats, seeds, strict=True)], desc=desc)
        out = []
        for result in results:
            if result.value is None:
                out.append((None, None, result.reject))
                continue
            answer: ScoredAnswer = result.value  # type: ignore[assignment]
            generated = next((name for name, word in words.items() if word.startswith(answer.text)), None)
            scores = (None if answer.token_logprobs is None else
                      {name: answer.token_logprobs.get(token_ids[name], -math.inf) for name in words})
            out.append((scores, generated, None))
        return out
    if mode in ("choice", "shortlist"):
        results = client.run([ChatRequest(messages=chat, schema=ScoredAnswer, seed=seed, max_tokens=CHOICE_TOKENS,
                                          temperature=0.0, scoring=Scoring(choices=tuple(words[n] for n in names)))
                              for chat, seed, names in zip(chats, seeds, shortlists, strict=True)], desc=desc)
        out = []
        for result in results:
            answer = result.value
            picked = None if answer is None else task.label_of_word(answer.text)  # type: ignore[union-attr]
            if picked is None:
                out.append((None, None, result.reject or "teacher_schema"))
            else:
                logprob = answer.choice_logprob  # type: ignore[union-attr]
                out.append((None if logprob is None else {picked: logprob}, picked, None))
        return out
    if mode == "sequence":
        names = list(words)
        requests = [ChatRequest(messages=chat, schema=ScoredAnswer, seed=seed, max_tokens=1, temperature=0.0,
                                scoring=Scoring(prefill=words[name]))
                    for chat, seed in zip(chats, seeds, strict=True) for name in names]
        results = client.run(requests, desc=desc)
        out = []
        for index in range(len(chats)):
            mine = results[index * len(names):(index + 1) * len(names)]
            failed = next((result for result in mine if result.value is None), None)
            if failed is not None:
                out.append((None, None, failed.reject))
            elif any(result.value.prefill_logprob is None for result in mine):  # type: ignore[union-attr]
                out.append((None, None, "teacher_no_logprobs"))
            else:
                out.append(({name: result.value.prefill_logprob  # type: ignore[union-attr]
                             for name, result in zip(names, mine, strict=True)}, None, None))
        return out
    schema = schema_for("labeling", task)
    results = client.run([ChatRequest(messages=chat, schema=schema, seed=seed, temperature=0.0)
                          for chat, seed in zip(chats, seeds, strict=True)], desc=desc)
    return [(None, task.label_of_word(result.value.label), None) if result.value is not None  # type: ignore[union-attr]
            else (None, None, result.reject) for result in results]


def among(task: TaskSpec, names: Sequence[str]) -> TaskSpec:
    """The task as a labelling prompt with only `names` shows it."""
    return task.model_copy(update={"labels": [label for label in task.labels if label.name in names]})


def classify(step: Step, texts: list[str], demos: Sequence[Sample] = (), anchor: Mapping[str, float] | None = None,
             intents: Sequence[str | None] | None = None) -> tuple[list[LabelAnswer], dict[str, Any]]:
    """Calibrated teacher labels for `texts`, and how they were scored. `anchor`: the prior `anchored`
    calibration divides out (the bootstrap batch's); without one the batch's own prior is used, and reported.
    `intents`: the label each text was written for (None: not written for one), always on its shortlist."""
    task, config = step.task, step.loop
    assert step.client is not None, "labelling needs a teacher client"
    mode, token_ids = scoring_mode(step.client, task, config)
    if mode == "shortlist":
        from evokd.loop.shortlist import Shortlister  # loads a sentence encoder: only for tasks of many labels
        shortlists = Shortlister(task, demos, config.shortlist_encoder).shortlists(
            texts, config.shortlist, intents or [None] * len(texts))
    else:
        shortlists = [task.label_names] * len(texts)
    shown = [demonstrations(among(task, names), [demo for demo in demos if isinstance(demo, ClassificationSample)
                                                 and demo.label in names], config.demo_chars)
             for names in shortlists]
    chats = [step.prompts.messages("labeling", among(task, names), text=text, demos=demo)
             for text, names, demo in zip(texts, shortlists, shown, strict=True)]
    request_seeds = [step.seed_for("label", text) for text in texts]
    contextual = config.calibration == "contextual" and calibrated(mode)
    if contextual:
        chats.append(step.prompts.messages("labeling", task, text=CONTENT_FREE, demos=shown[0] if shown else []))
        request_seeds.append(step.seed_for("label", CONTENT_FREE))
        shortlists.append(task.label_names)
    scored = class_log_scores(step.client, task, chats, request_seeds, mode, token_ids, shortlists,
                              f"label {step.round}")
    distributions = [softmax(scores) if scores is not None and calibrated(mode) else None
                     for scores, _, _ in scored]
    prior = None
    if contextual:
        prior = distributions.pop()
        scored.pop()
    elif config.calibration in ("anchored", "batch") and calibrated(mode):
        present = [dist for dist in distributions if dist is not None]
        if config.calibration == "anchored" and anchor is not None:
            prior = dict(anchor)
        else:
            prior = batch_prior(present) if present else None
    answers: list[LabelAnswer] = []
    no_logprobs = 0
    for (scores, generated, failure), dist in zip(scored, distributions, strict=True):
        if failure is not None:
            answers.append(LabelAnswer(failure=failure))
        elif mode in ("choice", "shortlist") and scores is not None and generated is not None:
            answers.append(LabelAnswer(label=generated, confidence=round(math.exp(scores[generated]), 4)))
        elif dist is None:
            no_logprobs += 1
            answers.append(LabelAnswer(label=generated) if generated else LabelAnswer(failure="teacher_schema"))
        else:
            probs = calibrate(dist, prior) if prior is not None else dist
            best = max(probs, key=probs.__getitem__)
            answers.append(LabelAnswer(label=best, probs={k: round(v, 4) for k, v in probs.items()},
                                       confidence=round(probs[best], 4)))
    if no_logprobs:
        log.warning("the teacher at %s returned no log-probs for %d of %d inputs: their generated labels are used "
                    "uncalibrated (no_logprobs in label_stats.json)", step.client.config.base_url, no_logprobs,
                    len(texts))
    return answers, {"scoring": mode, "calibration": config.calibration if calibrated(mode) else "none",
                     "demos": max(map(len, shown), default=0), "no_logprobs": no_logprobs,
                     "prior": {k: round(v, 4) for k, v in prior.items()} if prior else None}


def teacher_labels(step: Step, texts: list[str], demos: Sequence[Sample] = (),
                   anchor: Mapping[str, float] | None = None, intents: Sequence[str | None] | None = None
                   ) -> tuple[list[LabelAnswer], dict[str, Any]]:
    """The teacher's answer for every text (a label, or spans for NER) and how they were obtained."""
    if step.task.kind == "ner":
        assert step.client is not None, "labelling needs a teacher client"
        found = extract_spans(step.client, step.task, step.prompts, texts, step.seed, step.round)
        return [LabelAnswer(spans=spans, failure=failure) for spans, failure in found], {"scoring": "spans"}
    return classify(step, texts, demos, anchor, intents)


def to_sample(task: TaskSpec, item: GeneratedInput, answer: LabelAnswer) -> Sample:
    """Build the labelled sample; raises ValueError when NER spans cannot be matched to the words."""
    if task.kind == "classification":
        return ClassificationSample(text=item.text, label=answer.label, probs=answer.probs,
                                    confidence=answer.confidence, round=item.round, stance=item.stance,
                                    provenance=item.provenance)  # type: ignore[arg-type]
    tokens = tokenize_words(item.text)
    tags = spans_to_bio(tokens, answer.spans or [], task.label_names)
    return NerSample(tokens=tokens, tags=tags, text=item.text, spans=answer.spans, unsure=answer.unsure,
                     round=item.round, stance=item.stance, provenance=item.provenance)  # type: ignore[arg-type]


def span_set(spans: Sequence[Span]) -> set[tuple[tuple[str, ...], str]]:
    """Spans compared as their words and type (`Ann  Lee` and `Ann Lee` are one entity)."""
    return {(tuple(tokenize_words(span.text)), span.type) for span in spans}


def nameable(text: str, spans: Sequence[Span]) -> list[Span]:
    """The spans the labelling call could have named: those among the sentence's candidates (a small teacher's
    markup also brackets common nouns, `[PER impressive]`, which extraction cannot name and labels O anyway)."""
    shapes = {tuple(tokenize_words(candidate)) for candidate in candidates(text)}
    return [span for span in spans if tuple(tokenize_words(span.text)) in shapes]


def disputed_words(item: GeneratedInput, answer: LabelAnswer) -> list[int]:
    """Word indices of every entity that one read of the sentence names and the other does not (or names with
    another type): the markup's nameable entities against the labelling call's, each occurrence."""
    tokens = tokenize_words(item.text)
    disputed = span_set(nameable(item.text, item.proposed_spans or [])) ^ span_set(answer.spans or [])
    return sorted({start + offset for words, _ in disputed for start in occurrences(tokens, words)
                   for offset in range(len(words))})


def agrees_with_intent(item: GeneratedInput, answer: LabelAnswer, separate: bool) -> bool:
    """Classification: the teacher's label is the intended one. NER written with inline markup and labelled
    `separate`ly: the labelling call found exactly the marked entities it could name (two independent reads of one
    sentence; where they differ, at least one is wrong); otherwise an entity of the intended type was found."""
    if answer.spans is None:
        return answer.label == item.intent
    if separate and item.proposed_spans is not None:
        return span_set(nameable(item.text, item.proposed_spans)) == span_set(answer.spans)
    return any(span.type == item.intent for span in answer.spans)


def proposed_answer(task: TaskSpec, item: GeneratedInput) -> LabelAnswer:
    """The label written together with the input (separate labelling off)."""
    if task.kind == "ner":
        return LabelAnswer(spans=item.proposed_spans) if item.proposed_spans is not None else \
            LabelAnswer(failure="no_label")
    return LabelAnswer(label=item.proposed_label) if item.proposed_label else LabelAnswer(failure="no_label")


def disagreement_policy(config: LoopConfig, scoring: str) -> str:
    """`loop.disagreement` with `auto` resolved: where the teacher had to pick one of many labels (`shortlist`,
    `choice`: right about half the time among 8 on BANKING77, benchmarks/label_shortlist.py) an input is kept only
    when its pick and the written-for label agree (`drop`: measured above `keep_intent`, benchmarks/results); the
    teacher's label where it scored every label (calibrated) or extracted spans."""
    if config.disagreement != "auto":
        return config.disagreement
    return "drop" if scoring in ("shortlist", "choice") else "keep_teacher"


def label(step: Step, inputs: list[GeneratedInput], separate: bool, demos: Sequence[Sample] = (),
          anchor: Mapping[str, float] | None = None) -> tuple[list[Sample], LabelStats]:
    """Labelled samples and stats. With `separate` off, the label proposed at generation time is used as is.
    `demos` are the gold seeds the labelling call may show as demonstrations; `anchor` as in `classify`."""
    task, config = step.task, step.loop
    if config.disagreement == "mask" and task.kind != "ner":
        raise EvokdError(f"loop.disagreement: mask leaves the words two reads disagree on out of an NER loss; task "
                         f"{task.name!r} is {task.kind}: use keep_teacher, drop or keep_intent")
    before = TeacherUsage.of(step.client)
    how: dict[str, Any] = {"scoring": "proposed"}
    if separate:
        answers, how = teacher_labels(step, [item.text for item in inputs], demos, anchor,
                                      [item.intent or None for item in inputs])
    else:
        answers = [proposed_answer(task, item) for item in inputs]
    policy = disagreement_policy(config, how["scoring"])
    rejects: Counter[str] = Counter()
    disagreements = 0
    samples: list[Sample] = []
    for item, answer in zip(inputs, answers, strict=True):
        if answer.failure is not None:
            rejects[answer.failure] += 1
            continue
        if answer.confidence is not None and answer.confidence < config.min_confidence:
            rejects["low_confidence"] += 1
            continue
        if item.intent and not agrees_with_intent(item, answer, separate):
            disagreements += 1
            if policy == "drop":
                rejects["disagreement"] += 1
                continue
            if policy == "mask" and item.proposed_spans is not None:
                answer = answer.model_copy(update={"unsure": disputed_words(item, answer)})
            if policy == "keep_intent":
                # classification: the teacher's distribution was for another label; NER: the entities the markup
                # named (without markup the teacher's spans stay)
                answer = (LabelAnswer(label=item.intent) if task.kind == "classification" else
                          LabelAnswer(spans=item.proposed_spans) if item.proposed_spans is not None else answer)
        try:
            samples.append(to_sample(task, item, answer))
        except ValueError:
            rejects["span_not_in_text"] += 1
    confidences = [s.confidence for s in samples if isinstance(s, ClassificationSample) and s.confidence is not None]
    counts, warning = label_balance(task, samples)
    if warning:
        log.warning("%s: %s", step.round, warning)
    return samples, LabelStats(
        inputs=len(inputs), kept=len(samples), disagreements=disagreements, disagreement_policy=policy,
        rejects=dict(rejects), separate_labeling=separate, **how,
        mean_confidence=round(sum(confidences) / len(confidences), 4) if confidences else None,
        labels=counts, warnings=[warning] if warning else [], teacher=spent(step.client, before))
