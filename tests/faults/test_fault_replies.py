"""Bad teacher replies (slow, 5xx, invalid JSON, cut by length, off-schema) driven through the real loop steps:
each is retried or rejected, counted by reason in the stage stats, and never enters the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faultkit import NEWS, REPO, SENTIMENT, FakeOpenAI, Reply, fake_teacher

from evokd.data import ClassificationSample, NerSample, Provenance
from evokd.errors import EvokdError
from evokd.loop.analyze import analyze
from evokd.loop.config import LoopConfig
from evokd.loop.generate import GeneratedInput, generate
from evokd.loop.label import label
from evokd.loop.records import ProbeRow
from evokd.loop.step import Step
from evokd.ner import Span
from evokd.prompts import PromptSet
from evokd.teacher.client import TeacherClient

PROMPTS = PromptSet(REPO / "prompts", "default")


def text(value: str) -> Reply:
    return Reply(content=json.dumps({"text": value}))


def times(reply: Reply, count: int) -> list[Reply]:
    return [reply] * count


def client_for(fake: FakeOpenAI, tmp_path: Path, **overrides: object) -> TeacherClient:
    return TeacherClient(fake_teacher(fake, **overrides), tmp_path / "cache.sqlite", stage="test")


def step(client: TeacherClient, task=SENTIMENT, **loop: object) -> Step:
    return Step(client, task, PROMPTS, LoopConfig(**loop), 13, "r01", "fake-model")


def inputs(*texts: str, intent: str) -> list[GeneratedInput]:
    return [GeneratedInput(text=value, intent=intent, stance="hard", round="r01",
                           provenance=Provenance(origin="teacher", intent=intent)) for value in texts]


def test_generate_retries_transport_faults_and_counts_invalid_answers_by_reason(fake: FakeOpenAI,
                                                                                 tmp_path: Path) -> None:
    fake.replies = [
        Reply(status=503), text("The acting was wonderful from start to end."),  # 5xx, then retried
        Reply(delay=2.0), text("A tedious plot that never goes anywhere."),       # slower than the timeout
        *times(Reply(content='{"text": "unterminated'), 3),                      # invalid JSON, every re-ask
        *times(Reply(content=json.dumps({"text": "cut"}), finish_reason="length"), 3),
        *times(Reply(content=json.dumps({"review": "no text key here at all"})), 3),  # off-schema
    ]
    client = client_for(fake, tmp_path, timeout=0.5, max_retries=1)
    kept, stats = generate(step(client, n_hard=5, n_easy=0), None, {}, [])
    assert [item.text for item in kept] == ["The acting was wonderful from start to end.",
                                            "A tedious plot that never goes anywhere."]
    assert stats.requested == 5 and stats.kept == 2
    assert stats.rejects == {"teacher_invalid_json": 1, "teacher_length": 1, "teacher_schema": 1}
    assert stats.teacher.failures == {"invalid_json": 3, "length": 3, "schema": 3}
    assert stats.teacher.failed == 3 and stats.teacher.calls == 11  # one per answer asked, re-asks too


def test_label_rejects_a_label_outside_the_enum_and_counts_disagreements(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.replies = [*times(Reply(content=json.dumps({"label": "neutral"})), 3),  # not in the enum: schema
                    Reply(content=json.dumps({"label": "negative"})),           # disagrees with the intent
                    Reply(content=json.dumps({"label": "positive"}))]
    items = inputs("An odd film I cannot place.", "Sad but I loved every minute.", "A joy from the first scene.",
                   intent="positive")
    samples, stats = label(step(client_for(fake, tmp_path), disagreement="drop"), items, separate=True)
    assert [(s.text, s.label) for s in samples] == [("A joy from the first scene.", "positive")]
    assert all(isinstance(s, ClassificationSample) and s.label in SENTIMENT.label_names for s in samples)
    assert stats.rejects == {"teacher_schema": 1, "disagreement": 1} and stats.disagreements == 1
    assert stats.teacher.failures == {"schema": 3}


def test_label_rejects_ner_answers_that_name_no_substring_or_an_unknown_type(fake: FakeOpenAI,
                                                                           tmp_path: Path) -> None:
    """Entity texts are an enum of the sentence's own substrings: a name that is not in the sentence, or a type
    the task lacks, is off-schema (re-asked, then rejected); a valid answer becomes word-level IOB2."""
    fake.replies = [Reply(content=json.dumps({"entities": [{"text": "Paris", "type": "LOC"}]})),
                    *times(Reply(content=json.dumps({"entities": [{"text": "Marie Curie", "type": "PER"}]})), 3),
                    *times(Reply(content=json.dumps({"entities": [{"text": "Oslo", "type": "CITY"}]})), 3)]
    items = inputs("Anna Weber flew to Paris on Monday .", "Anna Weber moved to Berlin last year .",
                   "Peter Lund lives in Oslo now .", intent="LOC")
    samples, stats = label(step(client_for(fake, tmp_path, concurrency=1), NEWS), items, separate=True)
    assert len(samples) == 1 and isinstance(samples[0], NerSample)
    assert samples[0].tags == ["O", "O", "O", "O", "B-LOC", "O", "O", "O"]
    assert stats.rejects == {"teacher_schema": 2}
    enum = fake.requests[0]["response_format"]["json_schema"]["schema"]
    assert "Marie Curie" not in json.dumps(enum) and "Paris" in json.dumps(enum)


@pytest.mark.parametrize(("policy", "kept"), [
    ("keep_teacher", [["B-PER", "I-PER", "O", "O", "B-LOC", "O", "O", "O"], ["B-PER", "O", "O", "B-PER", "O"]]),
    ("drop", [["B-PER", "I-PER", "O", "O", "B-LOC", "O", "O", "O"]]),
    ("keep_intent", [["B-PER", "I-PER", "O", "O", "B-LOC", "O", "O", "O"], ["B-PER", "O", "O", "B-LOC", "O"]]),
    ("mask", [["B-PER", "I-PER", "O", "O", "B-LOC", "O", "O", "O"], ["B-PER", "O", "O", "B-PER", "O"]]),
])
def test_ner_labels_that_differ_from_the_sentences_markup_follow_the_disagreement_policy(
        fake: FakeOpenAI, tmp_path: Path, policy: str, kept: list[list[str]]) -> None:
    """A sentence written with inline markup is read twice: the labelling call must find exactly the marked entities
    it could name (spaces inside a name do not matter; a bracketed common noun, which it cannot name, does not count).
    Where it does not (here it takes the city for a person), the round counts a disagreement and keeps the
    teacher's spans, drops the sentence, keeps the markup's entities, or keeps the teacher's with the disputed
    words out of the loss (`mask`)."""
    fake.replies = [Reply(content=json.dumps({"entities": [{"text": "Anna Weber", "type": "PER"},
                                                           {"text": "Paris", "type": "LOC"}]})),
                    Reply(content=json.dumps({"entities": [{"text": "Lund", "type": "PER"},
                                                           {"text": "Oslo", "type": "PER"}]}))]
    items = [GeneratedInput(text=value, intent="LOC", stance="hard", round="r01", proposed_spans=spans,
                            provenance=Provenance(origin="teacher", intent="LOC")) for value, spans in [
        ("Anna Weber flew to Paris by train .", [Span(text="Anna  Weber", type="PER"), Span(text="Paris", type="LOC"),
                                                 Span(text="train", type="MISC")]),
        ("Lund lives in Oslo .", [Span(text="Lund", type="PER"), Span(text="Oslo", type="LOC")])]]
    samples, stats = label(step(client_for(fake, tmp_path, concurrency=1), NEWS, disagreement=policy), items,
                           separate=True)
    assert [sample.tags for sample in samples] == kept  # type: ignore[union-attr]
    assert stats.disagreements == 1 and stats.rejects == ({"disagreement": 1} if policy == "drop" else {})
    assert [sample.unsure for sample in samples] == ([None, [3]] if policy == "mask" else [None] * len(kept))  # type: ignore[union-attr]


def test_mask_is_refused_for_classification(fake: FakeOpenAI, tmp_path: Path) -> None:
    with pytest.raises(EvokdError, match="disagreement: mask"):
        label(step(client_for(fake, tmp_path), disagreement="mask"), inputs("A fine film.", intent="positive"),
              separate=True)


def test_analyze_falls_back_to_the_probe_scores_when_every_answer_is_off_schema(fake: FakeOpenAI,
                                                                               tmp_path: Path) -> None:
    answer = {"summary": "weak on sarcasm", "weak_labels": ["sarcastic"], "mastered_labels": [], "directions": []}
    fake.replies = times(Reply(content=json.dumps(answer)), 3)
    client = client_for(fake, tmp_path)
    probe = [ProbeRow(text="Great, another sequel.", gold="negative", predicted="positive", correct=False,
                      confidence=0.9)]
    record, stats = analyze(step(client), probe, {"positive": 1.0, "negative": 0.0}, [])
    analysis = record.analysis
    assert record.origin == stats.origin == "fallback" and analysis.weak_labels == ["negative"]
    assert set(analysis.weak_labels + analysis.mastered_labels) <= set(SENTIMENT.label_names)
    assert client.stats.to_dict()["failures"] == {"schema": 3}
