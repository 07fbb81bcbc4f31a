"""The baselines' own logic with a scripted in-process teacher: budget matching, label rotation, dedup, zero-shot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from shared import PLAIN_REVIEWS

from evokd.baselines import students
from evokd.baselines.teacher_data import auggpt_data, rotation, spend_budget, static_data
from evokd.baselines.zero_shot import evaluation_cache_path, evaluation_subset, zero_shot
from evokd.data import ClassificationSample
from evokd.errors import EvokdError
from evokd.loop.config import LoopConfig
from evokd.loop.step import Step
from evokd.prompts import PromptSet
from evokd.teacher.cache import default_cache_path
from evokd.teacher.client import ChatRequest, ChatResult, TeacherStats
from evokd.teacher.config import TeacherConfig

REPO = Path(__file__).resolve().parents[2]
PROMPTS = PromptSet(REPO / "prompts", "default")
SEEDS = [ClassificationSample(text="A warm and witty delight.", label="fresh"),
         ClassificationSample(text="Dull, joyless and far too long.", label="rotten")]
PROMPT_TOKENS, COMPLETION_TOKENS = 50, 10


class ScriptedTeacher:
    """Stands in for TeacherClient: answers each request with `answer(request, user prompt)`, counts tokens."""

    def __init__(self, answer: Callable[[ChatRequest, str], dict[str, Any] | None]):
        self.answer = answer
        self.config, self.stats = TeacherConfig(), TeacherStats()
        self.prompts: list[str] = []

    def tokenize(self, text: str) -> None:
        """No tokenizer, as a hosted endpoint: labels come from the generated answer."""
        return None

    def run(self, requests: list[ChatRequest], desc: str = "teacher") -> list[ChatResult]:
        results = []
        for request in requests:
            prompt = request.messages[-1]["content"]
            self.prompts.append(prompt)
            data = self.answer(request, prompt)
            value = request.schema.model_validate(data) if data is not None else None
            self.stats.requests += 1
            self.stats.prompt_tokens += PROMPT_TOKENS
            self.stats.completion_tokens += COMPLETION_TOKENS
            results.append(ChatResult(request, value, None if value else "schema after 3 tries", PROMPT_TOKENS,
                                      COMPLETION_TOKENS, False, str(request.seed), None if value else "schema"))
        return results


def step(teacher: ScriptedTeacher, loop: LoopConfig | None = None) -> Step:
    return Step(client=teacher, task=PLAIN_REVIEWS, prompts=PROMPTS, loop=loop or LoopConfig(), seed=13,  # type: ignore[arg-type]
                round="baseline", teacher_model="smol")


def writes_and_labels(label_of: Callable[[str], str]) -> Callable[[ChatRequest, str], dict[str, Any]]:
    """Generation: a new text naming the intent and the request seed; labelling: label_of(text)."""

    def answer(request: ChatRequest, prompt: str) -> dict[str, Any]:
        if "label" in request.schema.model_fields and "text" not in request.schema.model_fields:
            return {"label": label_of(prompt)}
        intent = "fresh" if '"fresh" text' in prompt else "rotten"
        return {"text": f"A {intent} review number {request.seed} of this film."}

    return answer


def test_spend_budget_meets_each_target_within_one_item():
    spent: list[int] = []

    def run_batch(start: int, size: int) -> int:
        spent.append(size)
        return 70 * sum(spent)  # 70 tokens per item

    reached = spend_budget([250, 1000], batch_size=4, run_batch=run_batch)
    cumulative = [70 * sum(spent[:count]) for count in reached]
    assert all(target <= tokens < target + 70 for target, tokens in zip([250, 1000], cumulative, strict=True))
    assert spent[0] == 4 and max(spent) <= 4  # the first batch is full size, none is larger


def test_spend_budget_of_zero_asks_nothing_and_a_free_batch_is_an_error():
    assert spend_budget([0], 8, lambda start, size: pytest.fail("no batch expected")) == [0]
    with pytest.raises(EvokdError, match="spent no tokens"):
        spend_budget([100], 8, lambda start, size: 0)


def test_rotation_gives_every_label_its_turn():
    assert rotation(["a", "b", "c"], 2, 4) == ["c", "a", "b", "c"]
    counts = Counter(label for start in range(0, 77 * 3, 8) for label in rotation(list(range(77)), start, 8))
    assert max(counts.values()) - min(counts.values()) <= 1


def test_static_spends_the_evokd_marks_with_rotating_intents_and_counts_disagreement():
    teacher = ScriptedTeacher(writes_and_labels(lambda prompt: "fresh"))  # a labeller that always says fresh
    item = 2 * (PROMPT_TOKENS + COMPLETION_TOKENS)  # one input: a generation call and a labelling call
    marks = [5 * item, 11 * item + 7]
    data = static_data(step(teacher), SEEDS, marks, batch_size=4)
    for mark, batches in zip(marks, data.reached, strict=True):
        assert mark <= data.tokens_at(batches) < mark + item
    samples = data.samples()
    intents = Counter(sample.provenance.intent for sample in samples)
    assert abs(intents["fresh"] - intents["rotten"]) <= 1
    assert all(sample.stance == "static" and sample.label == "fresh" for sample in samples)
    assert data.counts["disagreements"] == intents["rotten"]  # written as rotten, labelled fresh
    assert data.counts["requested"] == len(samples) == data.counts["kept"]


def test_static_drops_near_duplicates_of_earlier_batches():
    def repetitive(request: ChatRequest, prompt: str) -> dict[str, Any]:
        if "text" not in request.schema.model_fields:
            return {"label": "fresh"}
        return {"text": "The same review of this film, again and again."}

    teacher = ScriptedTeacher(repetitive)
    data = static_data(step(teacher), SEEDS, [2000], batch_size=4)
    assert len(data.samples()) == 1
    assert data.counts["reject:duplicate"] == data.counts["requested"] - 1


def test_static_calibrates_every_batch_by_its_first_batchs_prior(monkeypatch: pytest.MonkeyPatch):
    """Anchored calibration in static, as in the loop: the first batch is calibrated on its own, its prior is
    handed to every later batch."""
    from evokd.baselines import teacher_data

    anchors, real_label = [], teacher_data.label

    def label(*args: Any, anchor: dict[str, float] | None = None, **kwargs: Any) -> Any:
        anchors.append(anchor)
        samples, stats = real_label(*args, anchor=anchor, **kwargs)
        return samples, stats.model_copy(update={"prior": {"fresh": 0.3, "rotten": 0.7} if anchor is None
                                                 else {"fresh": 0.9, "rotten": 0.1}})

    monkeypatch.setattr(teacher_data, "label", label)
    teacher = ScriptedTeacher(writes_and_labels(lambda prompt: "fresh"))
    static_data(step(teacher), SEEDS, [12 * 2 * (PROMPT_TOKENS + COMPLETION_TOKENS)], batch_size=4)
    assert len(anchors) == 3 and anchors[0] is None
    assert anchors[1:] == [{"fresh": 0.3, "rotten": 0.7}] * 2


def test_auggpt_keeps_seed_labels_and_rejects_repeats_across_batches():
    def paraphrases(request: ChatRequest, prompt: str) -> dict[str, Any]:
        variant = "warm" if "warm" in prompt else "dull"
        return {"text": f"A {variant} rewrite, version {request.seed % 3}, quite different."}

    teacher = ScriptedTeacher(paraphrases)
    budget = 12 * (PROMPT_TOKENS + COMPLETION_TOKENS)
    data = auggpt_data(step(teacher, LoopConfig(near_dup_threshold=1.0)), SEEDS, [budget], batch_size=4)
    assert data.tokens[-1] >= budget and teacher.stats.requests == 12  # one call per paraphrase, no labelling
    labels = {sample.text: sample.label for sample in data.samples()}
    assert all(label == ("fresh" if "warm" in text else "rotten") for text, label in labels.items())
    repeats = data.counts["reject:duplicate"] + data.counts["reject:duplicate_of_earlier_batch"]
    assert len(labels) <= 6 and repeats == 12 - len(labels) and data.counts["reject:duplicate_of_earlier_batch"]


def test_zero_shot_classification_failed_answers_are_wrong_predictions():
    answers = iter([{"label": "rotten"}, None])
    teacher = ScriptedTeacher(lambda request, prompt: next(answers))
    predictions = zero_shot(teacher, PLAIN_REVIEWS, PROMPTS, SEEDS, LoopConfig(), 13, SEEDS)
    assert [p.label for p in predictions] == ["rotten", None]
    assert 'Text: "A warm and witty delight."' in teacher.prompts[0]


def test_evaluation_cache_is_a_separate_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("EVOKD_CACHE", str(tmp_path / "teacher.sqlite"))
    assert evaluation_cache_path() != default_cache_path()
    assert evaluation_cache_path().parent == tmp_path


def test_evaluation_subset_is_seeded_and_keeps_file_order():
    samples = [ClassificationSample(text=f"text number {i}", label="fresh") for i in range(50)]
    first = evaluation_subset(samples, 10, seed=1)
    assert first == evaluation_subset(samples, 10, seed=1) != evaluation_subset(samples, 10, seed=2)
    assert [samples.index(s) for s in first] == sorted(samples.index(s) for s in first)
    assert evaluation_subset(samples, 500, seed=1) == samples


def test_seeds_records_keep_the_score_the_curve_without_test_scores_and_no_tokens(monkeypatch: pytest.MonkeyPatch):
    scores = iter([0.5, 0.6, 0.7, 0.4])
    monkeypatch.setattr(students, "train_and_evaluate",
                        lambda *args, **kwargs: {"test": {"score": next(scores), "n": 2}})
    rounds = students.seeds_rounds(PLAIN_REVIEWS, SEEDS, SEEDS, None, 7, ["r01", "r02"])  # type: ignore[arg-type]
    assert (rounds["method"], rounds["score"], rounds["teacher_tokens"]) == ("seeds_rounds", 0.7, 0)
    assert rounds["samples"] == len(SEEDS)
    assert rounds["curve"] == [{"round": "r00", "score": 0.5}, {"round": "r01", "score": 0.6},
                               {"round": "r02", "score": 0.7}]
    assert rounds["test"] == {"score": 0.7, "n": 2} and rounds["wall_s"] >= 0
    once = students.seeds_only(PLAIN_REVIEWS, SEEDS, SEEDS, None, 7)  # type: ignore[arg-type]
    assert (once["method"], once["score"], list(once)[-1]) == ("seeds", 0.4, "test")
