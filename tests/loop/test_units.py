"""The loop's pure parts: label spreading, intent planning, dedup, labelling policy, rounds chain, prompts."""

from pathlib import Path

import pytest
from shared import NEWS, PLAIN_REVIEWS

from evokd.data import ClassificationSample, Provenance, TaskSpec
from evokd.errors import InputError
from evokd.loop import train as loop_train
from evokd.loop.config import LoopConfig
from evokd.loop.dedup import DuplicateFilter
from evokd.loop.generate import GeneratedInput, plan_intents, spread
from evokd.loop.label import label
from evokd.loop.schemas import Analysis, schema_for
from evokd.loop.step import Step
from evokd.loop.train import training_mix
from evokd.ner import Span
from evokd.params import load_params, rewrite_rounds
from evokd.prompts import PromptSet

REPO = Path(__file__).resolve().parents[2]



def offline(task: TaskSpec, **loop) -> Step:
    """A step with no teacher: labelling with the labels proposed at generation time."""
    return Step(None, task, PromptSet(REPO / "prompts", "default"), LoopConfig(**loop), 0, "r01", "fake")


def generated(text: str, intent: str, **proposed) -> GeneratedInput:
    return GeneratedInput(text=text, intent=intent, stance="hard", round="r01",
                          provenance=Provenance(origin="teacher", intent=intent), **proposed)


def test_spread_gives_every_weight_its_share_and_exact_count():
    assert spread(["a", "b", "c"], 7, {"a": 1, "b": 1, "c": 1}) == ["a", "a", "a", "b", "b", "c", "c"]
    assert spread(["a", "b"], 4, {"a": 3, "b": 1}) == ["a", "a", "a", "b"]
    assert spread(["a"], 0, {"a": 1}) == []


def test_hard_inputs_go_to_weak_labels_and_easy_to_mastered():
    analysis = Analysis(summary="confuses sarcasm", weak_labels=["rotten"], mastered_labels=["fresh"], directions=[])
    plan = plan_intents(PLAIN_REVIEWS, analysis, {"fresh": 0.9, "rotten": 0.3}, n_hard=6, n_easy=2, floor=1,
                        pool_counts={}, seed=0)
    hard = [intent for intent, stance in plan if stance == "hard"]
    easy = [intent for intent, stance in plan if stance == "easy"]
    assert len(hard) == 6 and hard.count("rotten") > hard.count("fresh")
    assert easy == ["fresh", "fresh"]


def test_bootstrap_plan_is_static_and_even():
    plan = plan_intents(PLAIN_REVIEWS, None, {}, n_hard=3, n_easy=1, floor=1, pool_counts={}, seed=0)
    assert sorted(plan) == [("fresh", "static"), ("fresh", "static"), ("rotten", "static"), ("rotten", "static")]


def test_duplicates_exact_and_near_against_pool_and_batch():
    filter_ = DuplicateFilter(["A gripping, beautifully acted drama."], threshold=0.8)
    assert filter_.check("a gripping beautifully acted drama") == "duplicate"
    assert filter_.check("A gripping, beautifully acted drama!!") == "duplicate"
    assert filter_.check("A gripping, beautifully acted dramas.") == "near_duplicate"
    assert filter_.check("Dull plot and wooden dialogue throughout.") is None
    assert filter_.check("Dull plot and wooden dialogue throughout.") == "duplicate"


def test_label_policy_keep_teacher_counts_disagreement():
    inputs = [generated("A joyless slog of a film.", "fresh", proposed_label="rotten"),
              generated("Pure delight from start to end.", "fresh", proposed_label="fresh")]
    samples, stats = label(offline(PLAIN_REVIEWS), inputs, separate=False)
    assert [s.label for s in samples] == ["rotten", "fresh"]
    assert stats.disagreements == 1 and stats.rejects == {} and stats.scoring == "proposed"
    assert stats.teacher.requests == 0


def test_label_policy_drop_rejects_disagreement():
    inputs = [generated("A joyless slog of a film.", "fresh", proposed_label="rotten")]
    samples, stats = label(offline(PLAIN_REVIEWS, disagreement="drop"), inputs, separate=False)
    assert samples == [] and stats.rejects == {"disagreement": 1}


def test_label_policy_keep_intent_keeps_the_label_the_input_was_written_for():
    inputs = [generated("A joyless slog of a film.", "fresh", proposed_label="rotten"),
              generated("Pure delight from start to end.", "fresh", proposed_label="fresh")]
    samples, stats = label(offline(PLAIN_REVIEWS, disagreement="keep_intent"), inputs, separate=False)
    assert [s.label for s in samples] == ["fresh", "fresh"] and samples[0].probs is None
    assert stats.disagreements == 1 and stats.rejects == {} and stats.disagreement_policy == "keep_intent"


def test_ner_spans_become_bio_and_missing_spans_are_rejected():
    inputs = [generated("Angela Merkel visited Paris today.", "PER",
                        proposed_spans=[Span(text="Angela Merkel", type="PER"), Span(text="Paris", type="LOC")]),
              generated("Boris spoke in Rome yesterday.", "PER", proposed_spans=[Span(text="Madrid", type="LOC")])]
    samples, stats = label(offline(NEWS), inputs, separate=False)
    assert len(samples) == 1
    assert samples[0].tags == ["B-PER", "I-PER", "O", "B-LOC", "O", "O"]
    assert stats.rejects == {"span_not_in_text": 1}
    assert stats.disagreements == 1  # the second sentence was asked for a PER and got none


def test_schemas_constrain_labels_to_the_task():
    labeling = schema_for("labeling", PLAIN_REVIEWS)  # the label words (here the ids: no verbalizers)
    assert labeling.model_json_schema()["properties"]["label"]["enum"] == ["fresh", "rotten"]
    with pytest.raises(ValueError):
        labeling.model_validate({"label": "neutral"})


def test_every_prompt_kind_renders_for_both_task_kinds():
    prompts = PromptSet(REPO / "prompts", "default")
    analysis = Analysis(summary="s", weak_labels=[], mastered_labels=[], directions=["more sarcasm"])
    for task in (PLAIN_REVIEWS, NEWS):
        label_name = task.labels[0]
        assert "more sarcasm" in prompts.messages("generation", task, intent=label_name, stance="hard",
                                                  examples=["x"], analysis=analysis, direction="more sarcasm",
                                                  with_label=False)[1]["content"]
        labeling = prompts.messages("labeling", task, text="Some text.", demos=[], label=label_name)[1]["content"]
        assert label_name.word in labeling and "Some text." in labeling
        names = task.label_names
        seed_label = names[0] if task.kind == "classification" else None
        paraphrase = prompts.messages("paraphrase", task, text="Some text.", label=seed_label)[1]["content"]
        assert "Some text" in paraphrase and (seed_label is None or f'label "{label_name.word}"' in paraphrase)
        rendered = prompts.messages("analysis", task, per_label={label_name.name: 0.5},
                                    wrong=[{"text": "w", "label": names[0], "predicted": names[1]}], correct=None,
                                    history=[])
        assert "0.50" in rendered[1]["content"]


def test_unknown_prompt_set_is_a_clear_error():
    with pytest.raises(InputError, match="prompt set 'nope'"):
        PromptSet(REPO / "prompts", "nope")


def write_params(tmp_path: Path, rounds: str) -> Path:
    text = (REPO / "params.yaml").read_text()
    path = tmp_path / "params.yaml"
    path.write_text(text[: text.index("rounds:")] + rounds)
    return path


@pytest.mark.parametrize("rounds, message", [
    ("rounds:\n  r01: {prev: r00}\n  r02: {prev: r09}\n", "neither r00 nor a round"),
    ("rounds:\n  r01: {prev: r02}\n  r02: {prev: r01}\n", "cyclic"),
])
def test_broken_rounds_chain_is_refused(tmp_path, rounds, message):
    with pytest.raises(InputError, match=message):
        load_params(write_params(tmp_path, rounds))


def test_rewrite_rounds_keeps_comments_and_chains(tmp_path):
    path = write_params(tmp_path, "rounds:\n  r01: {prev: r00}\n")
    rewrite_rounds(path, 3)
    assert load_params(path).round_order() == ["r01", "r02", "r03"]
    assert load_params(path).rounds["r03"].prev == "r02"
    assert "# evokd pipeline parameters" in path.read_text()


def test_review_takes_earlier_teacher_data_only_seeded_per_round():
    seeds = [ClassificationSample(text="a seed", label="fresh")]
    earlier = [ClassificationSample(text=f"teacher {index}", label="rotten", round="r01", stance="hard",
                                    provenance=Provenance(origin="teacher")) for index in range(6)]
    config = LoopConfig(review_size=3, train_from="previous")
    mix = training_mix(earlier[:1], [*seeds, *earlier], seeds, config, 13, "r02")
    review = mix[1:-1]
    assert mix[0] == earlier[0] and mix[-1] == seeds[0] and len(review) == 3
    assert {sample.provenance.origin for sample in review} == {"review"} and all(s.stance == "hard" for s in review)
    assert training_mix(earlier[:1], [*seeds, *earlier], seeds, config, 13, "r02") == mix  # seeded
    assert training_mix(earlier[:1], [*seeds, *earlier], seeds, config, 13, "r03") != mix  # per round
    assert training_mix([], earlier, seeds, LoopConfig(review=False), 13, "r02") == seeds
    from_base = training_mix(earlier[:1], [*seeds, *earlier], seeds, LoopConfig(review_size=3), 13, "r02")
    assert len(from_base) == 1 + 6 + 1  # a fresh student sees every earlier teacher sample, review_size aside


def test_the_round_student_starts_from_the_base_or_goes_on_from_the_previous(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(loop_train, "train_and_evaluate", lambda *args, init_from, **kwargs: calls.append(init_from)
                        or {"test": {"score": 0.5, "per_label": {}}, "train": {"samples": 1}})
    monkeypatch.setattr(loop_train, "probe_student", lambda task, model, batch: calls.append(model) or ([], None))
    monkeypatch.setattr(loop_train, "RoundMetrics", lambda **kwargs: kwargs)
    prev = tmp_path / "models/r01"
    for train_from in ("base", "previous"):
        params = load_params(REPO / "params.yaml").model_copy(
            update={"loop": LoopConfig(train_from=train_from)})
        loop_train.train_round(params, None, "r02", [], [], [], [], prev, tmp_path / "models/r02")
    assert calls == [None, prev, prev, prev]  # the probe is always student P's
