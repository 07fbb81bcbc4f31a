"""Generation: a floor of hard inputs per label, one analysis direction per hard request, prompts in the task's
style with its gold seeds first, selection by the previous student's doubt, label words in the teacher's answers
mapped back to ids, NER markup, and the label balance of a round (warning, report)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import shared
from shared import NEWS

from evokd.data import ClassificationSample, LabelSpec, NerSample, Provenance, TaskSpec, write_samples
from evokd.io import atomic_write_json
from evokd.loop.analyze import analyze
from evokd.loop.config import LoopConfig
from evokd.loop.generate import generate, label_balance, plan_intents
from evokd.loop.records import AnalysisRecord, ProbeRow
from evokd.loop.report import build_report
from evokd.loop.schemas import Analysis, schema_for
from evokd.loop.step import Step
from evokd.prompts import PromptSet
from evokd.student import predict as predict_module
from evokd.student.predict import Prediction
from evokd.teacher.client import ChatRequest, ChatResult, TeacherClient
from evokd.teacher.config import TeacherConfig

REPO = Path(__file__).resolve().parents[2]
PROMPTS = PromptSet(REPO / "prompts", "default")
STYLE = "One sentence quoted from a published review, in a critic's voice."
REVIEWS = shared.REVIEWS.model_copy(update={"style": STYLE})  # a short style line the prompts are checked for
SEEDS = [ClassificationSample(text="A warm, wry and quietly devastating debut.", label="fresh"),
         ClassificationSample(text="Two hours of noise in search of a script.", label="rotten")]
# 77 intents, as banking77: more labels than one request can score
MANY = TaskSpec(name="bank", kind="classification", domain="bank support chat",
                labels=[LabelSpec(name=f"intent_{index:02d}", description=f"intent {index}") for index in range(77)])


def scripted(monkeypatch: pytest.MonkeyPatch, answer: Any) -> tuple[TeacherClient, list[ChatRequest]]:
    """A TeacherClient whose run() answers each request with answer(request, n) (n counts requests from 0),
    validated against the request's schema as the real client validates a server's reply."""
    client = TeacherClient(TeacherConfig(autostart=False, cache=False), stage="test")
    sent: list[ChatRequest] = []

    def run(requests: list[ChatRequest], desc: str = "teacher") -> list[ChatResult]:
        results = []
        for request in requests:
            value = request.schema.model_validate(answer(request, len(sent)))
            sent.append(request)
            results.append(ChatResult(request=request, value=value, error=None, prompt_tokens=10,
                                      completion_tokens=5, cached=False, key=f"key{len(sent)}"))
        return results

    monkeypatch.setattr(client, "run", run)
    return client, sent


def step(client: TeacherClient, task: TaskSpec, round_name: str = "r01", **loop: Any) -> Step:
    return Step(client, task, PROMPTS, LoopConfig(**loop), 13, round_name, "fake")


def distinct(number: int) -> str:
    """A text no other number's text is a near duplicate of."""
    return f"Take {hashlib.sha256(str(number).encode()).hexdigest()[:32]}"


def numbered_texts(request: ChatRequest, number: int) -> dict[str, str]:
    return {"text": distinct(number) + "."}


def prompt_of(request: ChatRequest) -> str:
    return request.messages[-1]["content"]


def hard_plan(task: TaskSpec, analysis: Analysis, f1: dict[str, float], n_hard: int, floor: int,
              pool_counts: dict[str, int], seed: int) -> list[str]:
    return [intent for intent, stance in plan_intents(task, analysis, f1, n_hard, 0, floor, pool_counts, seed)
            if stance == "hard"]


# ---- the floor of hard inputs per label --------------------------------------------------------------------


def test_floor_gives_every_label_a_hard_input_when_the_weights_sit_on_one():
    analysis = Analysis(summary="misses irony", weak_labels=["rotten"], mastered_labels=["fresh"], directions=[])
    f1 = {"fresh": 1.0, "rotten": 0.0}
    unfloored = Counter(hard_plan(REVIEWS, analysis, f1, 7, 0, {}, 1))
    assert unfloored == {"rotten": 7}  # without the floor the weak label takes every hard input
    floored = Counter(hard_plan(REVIEWS, analysis, f1, 7, 1, {}, 1))
    assert floored["fresh"] >= 1 and floored["rotten"] >= 1 and sum(floored.values()) == 7
    assert floored["rotten"] > floored["fresh"]  # the rest still goes by weakness
    assert Counter(hard_plan(REVIEWS, analysis, f1, 7, 3, {}, 1)) == {"fresh": 3, "rotten": 4}


def test_fewer_hard_inputs_than_labels_take_the_weakest_and_rotate_the_rest_over_rounds():
    weak = "intent_50"
    analysis = Analysis(summary="s", weak_labels=[weak], mastered_labels=[], directions=[])
    f1 = dict.fromkeys(MANY.label_names, 0.5)
    first = hard_plan(MANY, analysis, f1, 8, 1, {}, seed=1)
    second = hard_plan(MANY, analysis, f1, 8, 1, {}, seed=2)
    assert len(set(first)) == 8 and len(set(second)) == 8  # one hard input per label, 8 labels
    assert weak in first and weak in second  # the weakest label comes first
    assert set(first) != set(second)  # ties among the others break differently per round
    assert hard_plan(MANY, analysis, f1, 8, 1, {}, seed=1) == first  # deterministic

    pool_counts: Counter[str] = Counter(dict.fromkeys(MANY.label_names, 1))  # one seed each
    covered: set[str] = set()
    for round_index in range(12):  # rounds feed the pool: the least-served labels come up next
        planned = hard_plan(MANY, analysis, f1, 8, 1, dict(pool_counts), seed=round_index)
        assert len(set(planned)) == 8
        covered.update(planned)
        pool_counts.update(planned)
    assert covered == set(MANY.label_names)


# ---- prompts: directions, style, examples, words -------------------------------------------------------------


def test_each_hard_request_carries_one_direction_round_robin(monkeypatch):
    directions = ["praise the cast but pan the plot", "use irony", "compare it to a worse film"]
    analysis = Analysis(summary="The student misses irony.", weak_labels=["rotten"], mastered_labels=["fresh"],
                        directions=directions)
    client, sent = scripted(monkeypatch, numbered_texts)
    generate(step(client, REVIEWS, n_hard=4, n_easy=1), analysis, {"fresh": 0.9, "rotten": 0.2}, SEEDS)
    prompts = [prompt_of(request) for request in sent]
    hard = [prompt for prompt in prompts if "tricky" in prompt]
    assert len(hard) == 4 and len(prompts) == 5
    assert [[d for d in directions if d in prompt] for prompt in hard] == [[d] for d in [*directions, directions[0]]]
    assert all("The student misses irony." in prompt for prompt in hard)
    [easy] = [prompt for prompt in prompts if prompt not in hard]
    assert not any(direction in easy for direction in directions) and "misses irony" not in easy


def test_prompts_carry_the_style_note_label_words_and_the_seeds_first(monkeypatch):
    teacher_samples = [ClassificationSample(text=f"Teacher review {index}, perfectly pleasant.", label="fresh",
                                            round="r00", stance="static", provenance=Provenance(origin="teacher"))
                       for index in range(5)]
    client, sent = scripted(monkeypatch, numbered_texts)
    generate(step(client, REVIEWS, "r00", n_hard=2, n_easy=0), None, {}, [*teacher_samples, *SEEDS])
    by_word = {word: next(prompt_of(r) for r in sent if f'Write one new "{word}" text' in prompt_of(r))
               for word in ("positive", "negative")}
    positive = by_word["positive"]
    assert STYLE in positive and REVIEWS.domain in positive
    assert SEEDS[0].text in positive and SEEDS[1].text not in positive
    assert positive.index(SEEDS[0].text) < positive.index("Teacher review")  # the gold seed comes first
    assert positive.count("Teacher review") == 2  # then pool samples, 3 examples in all
    assert all("fresh" not in prompt_of(r) and "rotten" not in prompt_of(r) for r in sent)  # words, never ids


def probe_row(text: str, gold: str, predicted: str, confidence: float) -> ProbeRow:
    return ProbeRow(text=text, gold=gold, predicted=predicted, correct=gold == predicted, confidence=confidence)


def test_hard_requests_show_the_students_mistakes_of_their_label_in_turn_in_place_of_pool_examples(monkeypatch):
    probe = [probe_row("Sure, if you like watching paint dry.", "rotten", "fresh", 0.6),
             probe_row("A glossy bore with two good scenes.", "rotten", "fresh", 0.9),
             probe_row("Grim, slow, and the best film of the year.", "fresh", "rotten", 0.7),
             probe_row("Dull from start to finish.", "rotten", "rotten", 0.95)]  # right: never shown as a mistake
    teacher_samples = [ClassificationSample(text=f"Teacher review {index}, perfectly awful.", label="rotten",
                                            round="r00", stance="static", provenance=Provenance(origin="teacher"))
                       for index in range(5)]
    analysis = Analysis(summary="misses sarcasm", weak_labels=["rotten"], mastered_labels=["fresh"], directions=[])
    client, sent = scripted(monkeypatch, numbered_texts)
    generate(step(client, REVIEWS, n_hard=6, n_easy=1, n_mistakes=1), analysis, {"fresh": 0.9, "rotten": 0.2},
             [*teacher_samples, *SEEDS], probe=probe)
    hard = [prompt_of(r) for r in sent if "tricky" in prompt_of(r)]
    rotten = [prompt for prompt in hard if 'new "negative"' in prompt]
    fresh = [prompt for prompt in hard if 'new "positive"' in prompt]
    assert len(rotten) >= 2 and fresh
    # the most confident mistake first, then the next in turn; a right probe row never counts as a mistake
    assert "A glossy bore" in rotten[0] and "paint dry" in rotten[1]
    assert all("Dull from start" not in prompt for prompt in hard)
    assert all("the best film of the year" in prompt and "paint dry" not in prompt for prompt in fresh)
    assert all("took for another label" in prompt and "got wrong, but tricky" in prompt for prompt in hard)
    # the gold seed stays; the mistake takes a pool example's place (3 texts shown in all)
    assert all(SEEDS[1].text in prompt and prompt.count("Teacher review") == 1 for prompt in rotten)
    [easy] = [prompt_of(r) for r in sent if "clearly" in prompt_of(r)]
    assert "took for another label" not in easy and "paint dry" not in easy

    client, sent = scripted(monkeypatch, numbered_texts)
    generate(step(client, REVIEWS, n_hard=2, n_easy=0, n_mistakes=0), analysis, {}, SEEDS, probe=probe)
    assert all("took for another label" not in prompt_of(r) and "like the real ones" in prompt_of(r) for r in sent)


def test_labelled_generation_answers_in_words_and_keeps_ids(monkeypatch):
    schema = schema_for("generation_labeled", REVIEWS)
    assert schema.model_json_schema()["properties"]["label"]["enum"] == ["positive", "negative"]
    client, _sent = scripted(monkeypatch, lambda request, n: {"text": distinct(n), "label": "negative"})
    kept, _stats = generate(step(client, REVIEWS, "r00", n_hard=2, n_easy=0, separate_labeling=False), None, {},
                            SEEDS)
    assert [item.proposed_label for item in kept] == ["rotten", "rotten"]


def test_analysis_answers_in_words_and_is_mapped_back_to_ids(monkeypatch):
    schema = schema_for("analysis", REVIEWS).model_json_schema()
    assert schema["properties"]["weak_labels"]["items"]["enum"] == ["positive", "negative"]
    with pytest.raises(ValueError):
        schema_for("analysis", REVIEWS).model_validate({"summary": "s", "weak_labels": ["rotten"],
                                                        "mastered_labels": [], "directions": []})
    answer = {"summary": "Misses irony.", "weak_labels": ["negative"], "mastered_labels": ["positive"],
              "directions": ["use irony"]}
    client, sent = scripted(monkeypatch, lambda request, n: answer)
    probe = [ProbeRow(text="Great, another sequel.", gold="rotten", predicted="fresh", correct=False, confidence=0.9)]
    history = [AnalysisRecord(round="r00", origin="none"),
               AnalysisRecord(round="r01", origin="fallback", analysis=Analysis(
                   summary="Earlier: the student misses sarcasm.", weak_labels=[], mastered_labels=[], directions=[]))]
    record, stats = analyze(step(client, REVIEWS, "r02"), probe, {"fresh": 1.0, "rotten": 0.0}, history)
    analysis = record.analysis
    assert record.origin == stats.origin == "teacher" and record.round == "r02"
    assert analysis.weak_labels == ["rotten"] and analysis.mastered_labels == ["fresh"]
    prompt = prompt_of(sent[0])
    assert "true: negative, student: positive" in prompt and "- negative: 0.00" in prompt
    assert "Earlier: the student misses sarcasm." in prompt  # r00's record has no analysis to quote
    assert "fresh" not in prompt and "rotten" not in prompt


# ---- selection by the previous student's doubt -------------------------------------------------------------


def test_selection_keeps_the_least_confident_input_per_planned_slot(monkeypatch, tmp_path):
    analysis = Analysis(summary="s", weak_labels=["rotten"], mastered_labels=["fresh"], directions=["use irony"])
    # confidence is written into the text, so the fake student can read it back
    confidences = iter([0.9, 0.4, 0.7, 0.95, 0.2, 0.6, 0.8, 0.85, 0.5, 0.99, 0.3, 0.65])
    client, sent = scripted(monkeypatch, lambda request, n: {"text": f"{distinct(n)} at {next(confidences)}."})
    seen: list[Any] = []

    def fake_predict(checkpoint, task, samples, **kwargs):
        seen.append(checkpoint)
        return [Prediction(label="fresh", tags=None, probs=None, confidence=float(s.text.split()[-1].rstrip(".")))
                for s in samples]

    monkeypatch.setattr(predict_module, "predict", fake_predict)
    kept, stats = generate(step(client, REVIEWS, select_factor=3, n_hard=3, n_easy=1), analysis,
                           {"fresh": 0.9, "rotten": 0.2}, SEEDS, student=tmp_path / "r00")
    plan = Counter(stats.planned)
    assert plan == {"hard:fresh": 1, "hard:rotten": 2, "easy:fresh": 1}
    assert stats.requested == 12 == len(sent) and seen == [tmp_path / "r00"]
    assert len({request.seed for request in sent}) == 12  # every copy its own seed
    assert Counter(f"{item.stance}:{item.intent}" for item in kept) == plan  # the plan's spread is kept
    # plan order: hard fresh (0.9, 0.4, 0.7), hard rotten x2 (0.95, 0.2, 0.6 | 0.8, 0.85, 0.5), easy (0.99, 0.3, 0.65)
    assert sorted(float(item.text.split()[-1].rstrip(".")) for item in kept) == [0.2, 0.3, 0.4, 0.5]
    assert stats.selection.candidates == 12 and stats.selection.selected == 4
    assert stats.selection.mean_confidence_selected == pytest.approx(0.35)


def test_no_selection_without_a_previous_student(monkeypatch):
    client, sent = scripted(monkeypatch, numbered_texts)
    monkeypatch.setattr(predict_module, "predict", lambda *args, **kwargs: pytest.fail("no student to ask"))
    kept, stats = generate(step(client, REVIEWS, "r00", select_factor=3, n_hard=2, n_easy=1), None, {}, SEEDS)
    assert stats.requested == 3 == len(sent) == len(kept) and stats.selection is None


# ---- NER markup ----------------------------------------------------------------------------------------------


def test_ner_markup_becomes_plain_text_and_proposed_spans_and_bad_markup_is_rejected(monkeypatch):
    answers = ["[PER Ann Lee] flew to [LOC Oslo] on Monday.", "[PER Ann Lee flew to Oslo on Tuesday.",
               "[LOC Bank of [LOC Rome]] was bright tonight.", "Ann Lee flew to Oslo on Monday."]
    client, _sent = scripted(monkeypatch, lambda request, n: {"text": answers[n]})
    pool = [NerSample(tokens=["Bo", "ran", "in", "Rome"], tags=["B-PER", "O", "O", "B-LOC"])]
    kept, stats = generate(step(client, NEWS, "r00", n_hard=4, n_easy=0), None, {}, pool)
    assert [item.text for item in kept] == ["Ann Lee flew to Oslo on Monday."]
    assert [(span.text, span.type) for span in kept[0].proposed_spans] == [("Ann Lee", "PER"), ("Oslo", "LOC")]
    # the plain text is what dedup sees: the last answer repeats the first one's text
    assert stats.rejects == {"bad_markup": 2, "duplicate": 1}


def test_ner_hard_prompts_show_the_direction_but_not_the_summary_and_ask_for_one_short_sentence(monkeypatch):
    # Qwen2.5-Coder-1.5B, 16 hard conll2003 requests: 10 copies of the summary with it shown, none without
    analysis = Analysis(summary="The student's weaknesses are in per-type F1 scores.", weak_labels=["PER"],
                        mastered_labels=["LOC"], directions=["use nicknames"])
    client, sent = scripted(monkeypatch, numbered_texts)
    generate(step(client, NEWS, n_hard=2, n_easy=0), analysis, {"PER": 0.2, "LOC": 0.9}, [])
    prompts = [prompt_of(request) for request in sent]
    assert len(prompts) == 2 and all("use nicknames" in prompt and "weaknesses" not in prompt for prompt in prompts)
    assert all("ONE sentence of at most 30 words" in prompt for prompt in prompts)


def test_ner_answers_keep_their_first_sentence_and_the_words_of_other_types_but_not_prompt_echoes(monkeypatch):
    answers = [
        # Qwen2.5-Coder-1.5B runs on past its sentence until max_tokens cuts the markup
        "[PER Ann Lee] met Mr. Smith of the U.S. Senate in [LOC Oslo]. [PER Bo] celebrated by [PER having a [LOC",
        # types NEWS lacks (it has PER and LOC), and an empty marker
        "The [ORG European Union] [LOC] paid [NUM 382] euros to [LOC Rome] on [DATE May 4].",
        "The student's weaknesses are in per-type F1 scores for PER and LOC.",
        "[PER Cy] said " + "very " * 60 + "much. [LOC Oslo] agreed.",  # its first sentence alone is too long
    ]
    client, _sent = scripted(monkeypatch, lambda request, n: {"text": answers[n]})
    pool = [NerSample(tokens=["Bo", "ran", "in", "Rome"], tags=["B-PER", "O", "O", "B-LOC"])]
    kept, stats = generate(step(client, NEWS, "r00", n_hard=4, n_easy=0), None, {}, pool)
    assert [item.text for item in kept] == ["Ann Lee met Mr. Smith of the U.S. Senate in Oslo.",
                                            "The European Union paid 382 euros to Rome on May 4."]
    assert [[(span.text, span.type) for span in item.proposed_spans] for item in kept] == [
        [("Ann Lee", "PER"), ("Oslo", "LOC")], [("Rome", "LOC")]]
    assert stats.rejects == {"not_a_sentence": 1, "too_long": 1}


# ---- label balance ---------------------------------------------------------------------------------------------


def reviews(fresh: int, rotten: int) -> list[ClassificationSample]:
    return [ClassificationSample(text=f"text {index}", label=label)
            for index, label in enumerate(["fresh"] * fresh + ["rotten"] * rotten)]


def test_label_balance_counts_every_label_and_warns_above_80_percent():
    assert label_balance(REVIEWS, reviews(8, 2)) == ({"fresh": 8, "rotten": 2}, None)
    counts, warning = label_balance(REVIEWS, reviews(0, 9))
    assert counts == {"fresh": 0, "rotten": 9}
    assert warning == "label 'rotten' takes 9 of 9 samples (100%)"
    assert label_balance(REVIEWS, []) == ({"fresh": 0, "rotten": 0}, None)
    ner = [NerSample(tokens=["Ann", "met", "Bo", "and", "Cy", "in", "Oslo"],
                     tags=["B-PER", "O", "B-PER", "O", "B-PER", "O", "B-LOC"])]
    assert label_balance(NEWS, ner) == ({"PER": 3, "LOC": 1}, None)  # 75 % of the entities


def test_report_keeps_labels_per_round_and_the_warnings(tmp_path):
    rounds_dir, metrics_dir = tmp_path / "rounds", tmp_path / "metrics"
    for name, batch in (("r00", reviews(3, 3)), ("r01", reviews(10, 1))):
        write_samples(rounds_dir / name / "labeled.jsonl", batch)
        atomic_write_json(metrics_dir / f"{name}.json", {"round": name, "test": {"score": 0.5, "n": 4},
                                                         "probe": {"score": 0.5, "n": 4, "fooled_rate": 0.5},
                                                         "train": {"samples": 6}})
    summary = build_report(REVIEWS, ["r00", "r01"], rounds_dir, metrics_dir)["summary"]
    assert summary["labels"] == {"r00": {"fresh": 3, "rotten": 3}, "r01": {"fresh": 10, "rotten": 1}}
    assert summary["warnings"] == ["r01: label 'fresh' takes 10 of 11 samples (91%)"]
