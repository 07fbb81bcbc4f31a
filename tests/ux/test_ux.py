"""What users see: `evokd predict`, the model card, `evokd status`, `evokd plan`, the stage summary line."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI, Reply
from shared import REVIEWS, TINY

from evokd.benchmarks import load_benchmark, task_spec
from evokd.cli import cli
from evokd.data import ClassificationSample, save_task, write_samples
from evokd.io import atomic_write_json
from evokd.loop.analyze import analyze
from evokd.loop.bootstrap import teacher_data
from evokd.loop.config import LoopConfig
from evokd.loop.generate import generate
from evokd.loop.label import label
from evokd.loop.records import GenStats, LabelStats, TeacherUsage, stage_summary
from evokd.loop.step import Step
from evokd.params import RoundLink, load_params
from evokd.plan import TokenCounter, build_plan, plan_lines
from evokd.prompts import PromptSet
from evokd.status import pipeline_status
from evokd.student import predict as predict_module
from evokd.student.batch import checkpoint_task
from evokd.student.card import write_model_card
from evokd.student.predict import Prediction
from evokd.student.train import train_student
from evokd.teacher.client import TeacherClient

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ner_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ner") / "model"
    train_student(task_spec("conll2003"), load_benchmark("conll2003")["dev"][:8], TINY, out, seed=3)
    return out


@pytest.mark.slow
def test_predict_classification_from_stdin_and_file(tiny_student: Path, tmp_path: Path) -> None:
    lines = [json.dumps({"id": 7, "text": "A warm, funny film."}), "",
             json.dumps({"text": "Dull and far too long.", "label": "rotten", "round": "seed"})]
    runner = CliRunner()
    shown = runner.invoke(cli, ["predict", "--model", str(tiny_student), "-"], input="\n".join(lines))
    assert shown.exit_code == 0, shown.output
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [row.get("id") for row in rows] == [7, None]
    for row in rows:
        assert row["label"] in {"fresh", "rotten"} and set(row["probs"]) == {"fresh", "rotten"}
        assert sum(row["probs"].values()) == pytest.approx(1.0, abs=1e-3)
    (tmp_path / "in.jsonl").write_text("\n".join(lines), encoding="utf-8")
    written = runner.invoke(cli, ["predict", "--model", str(tiny_student), str(tmp_path / "in.jsonl"),
                                  "--out", str(tmp_path / "out.jsonl")])
    assert written.exit_code == 0, written.output
    assert [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()] == rows


@pytest.mark.slow
def test_predict_ner_tokenizes_text(ner_model: Path) -> None:
    text = "Angela Merkel met officials of the U.N. in Paris."
    shown = CliRunner().invoke(cli, ["predict", "--model", str(ner_model), "-"], input=json.dumps({"text": text}))
    assert shown.exit_code == 0, shown.output
    [row] = [json.loads(line) for line in shown.stdout.splitlines()]
    assert row["tokens"][:2] == ["Angela", "Merkel"] and "U.N." in row["tokens"]
    assert len(row["tags"]) == len(row["tokens"])
    for span in row["spans"]:
        assert span["text"] == " ".join(row["tokens"][span["start"]:span["end"]])
        assert row["tags"][span["start"]] == f"B-{span['type']}"


@pytest.mark.slow
def test_predict_rejects_bad_lines(tiny_student: Path) -> None:
    shown = CliRunner().invoke(cli, ["predict", "--model", str(tiny_student), "-"], input='{"txt": "x"}\n')
    assert shown.exit_code != 0
    assert "line 1" in str(shown.exception)


@pytest.mark.slow
def test_model_card_describes_the_checkpoint(tiny_student: Path, tmp_path: Path) -> None:
    from transformers import pipeline

    card = (tiny_student / "README.md").read_text(encoding="utf-8")
    assert "pipeline_tag: text-classification" in card and TINY.base_model in card
    assert "`fresh`" in card and "`rotten`" in card
    assert "Rounds: r01 4, test 4" in card and "Stances: hard 4" in card and "Origins: gold 4, teacher 4" in card
    assert "tiny-teacher 4" in card and "Prompt sets: default 4" in card and "Not evaluated yet" in card
    model = shutil.copytree(tiny_student, tmp_path / "model")
    metrics = {"score": 0.5, "accuracy": 0.6, "macro_f1": 0.5, "n": 10,
               "per_label": {"fresh": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 6}}}
    write_model_card(model, metrics)
    card = (model / "README.md").read_text(encoding="utf-8")
    assert "On 10 held-out gold test samples: score 0.5000" in card and "| fresh | 1.000 | 0.500 | 0.667 | 6 |" in card
    assert pipeline("text-classification", model=str(model), device="cpu")("fine")[0]["label"] in {"fresh", "rotten"}


def test_checkpoint_task_falls_back_to_config(tmp_path: Path) -> None:
    config = {"architectures": ["BertForTokenClassification"],
              "id2label": {"0": "O", "1": "B-PER", "2": "I-PER", "3": "B-LOC", "4": "I-LOC"}}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    task = checkpoint_task(tmp_path)
    assert task.kind == "ner" and task.label_names == ["PER", "LOC"]


def _round(root: Path, name: str, kept: list[tuple[str, str]], metrics: dict | None) -> None:
    samples = [ClassificationSample(text=f"text {name} {i}", label=label, round=name, stance=stance)
               for i, (label, stance) in enumerate(kept)]
    write_samples(root / "data/rounds" / name / "labeled.jsonl", samples)
    teacher = {"requests": 4, "prompt_tokens": 300, "completion_tokens": 100, "total_tokens": 400}
    atomic_write_json(root / "data/rounds" / name / "gen_stats.json",
                      {"requested": 4, "kept": len(kept), "rejects": {"duplicate": 4 - len(kept)}, "teacher": teacher})
    if metrics is not None:
        atomic_write_json(root / "metrics/rounds" / f"{name}.json", metrics)


def test_status_reads_round_outputs(tmp_path: Path) -> None:
    task = task_spec("rotten_tomatoes")
    _round(tmp_path, "r01", [("fresh", "hard"), ("rotten", "hard"), ("fresh", "easy")],
           {"round": "r01", "probe": {"score": 0.5, "fooled_rate": 0.25, "n": 4}, "test": {"score": 0.61, "n": 9},
            "train": {"samples": 7}})
    _round(tmp_path, "r02", [("rotten", "hard")], None)
    rows = pipeline_status(task, tmp_path / "data/rounds", tmp_path / "metrics/rounds")
    assert [row["round"] for row in rows] == ["r01", "r02"]
    first, second = rows
    assert first["stances"] == {"easy": 1, "hard": 2} and first["labels"] == {"fresh": 2, "rotten": 1}
    assert (first["rejected"], first["requested"], first["teacher_tokens"]) == (1, 4, 400)
    assert first["fooled_rate"] == 0.25 and first["test_score"] == 0.61
    assert second["test_score"] is None and second["fooled_rate"] is None
    save_task(tmp_path / "task.yaml", task)
    shown = CliRunner().invoke(cli, ["status", "--task", str(tmp_path / "task.yaml"), "--rounds-dir",
                                     str(tmp_path / "data/rounds"), "--metrics-dir",
                                     str(tmp_path / "metrics/rounds"), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == rows


def test_plan_counts_the_requests_a_real_run_of_the_loop_sends(tmp_path: Path, fake: FakeOpenAI,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`evokd plan` against the loop itself: r00 (warm-up, first batch, labels) and one round (analysis, 2 x the plan
    for selection, labels) run against a scripted teacher; the plan's count per stage is what the teacher got."""
    task = REVIEWS
    seeds = [ClassificationSample(text="A warm and wise debut.", label="fresh"),
             ClassificationSample(text="Two hours of noise.", label="rotten")]
    save_task(tmp_path / "data/raw/task.yaml", task)
    write_samples(tmp_path / "data/raw/seeds.jsonl", seeds)
    base = load_params(REPO / "params.yaml")
    params = base.model_copy(update={
        "teacher": base.teacher.model_copy(update={"endpoint": fake.base_url, "served_name": fake.model,
                                                   "cache": False}),
        "loop": LoopConfig(n_hard=3, n_easy=2, init=True, n_init=1, select_factor=2, min_hard_per_label=1),
        "rounds": {"r01": RoundLink(prev="r00")}})
    plan = build_plan(tmp_path, params, None, TokenCounter(None), prompts_dir=REPO / "prompts")
    planned = {row["stage"]: row["requests"] for row in plan["per_stage"]}
    monkeypatch.setattr(predict_module, "predict", lambda checkpoint, task, samples, **kwargs: [
        Prediction(label="fresh", tags=None, probs=None, confidence=0.5) for _ in samples])
    texts = (f"Review {hashlib.sha256(str(n).encode()).hexdigest()[:24]}." for n in range(100))

    def sent(stage: str, replies: list[dict], run: Callable[[Step], Any]) -> Any:
        """Run one stage's loop call with scripted replies; check the plan counted the requests it sent."""
        fake.replies = [Reply(content=json.dumps(reply)) for reply in replies]
        before = len(fake.requests)
        step = Step(TeacherClient(params.teacher), task, PromptSet(REPO / "prompts", "default"), params.loop,
                    params.seed, stage.partition("@")[2] or "r00", fake.model)
        result = run(step)
        assert len(fake.requests) - before == planned[stage], stage
        return result

    def texts_then_labels(count: int, labels: int) -> list[dict]:
        return [{"text": next(texts)} for _ in range(count)] + [{"label": "negative"}] * labels

    data = sent("bootstrap", texts_then_labels(2 + 5, 5), lambda step: teacher_data(step, seeds))
    assert len(data.warmup) == 2 and len(data.batch) == 5
    analysis = {"summary": "Misses irony.", "weak_labels": ["negative"], "mastered_labels": ["positive"],
                "directions": ["use irony"]}
    record, _ = sent("analyze@r01", [analysis], lambda step: analyze(step, [], {}, []))
    pool = [*seeds, *data.warmup, *data.batch]
    inputs, gen_stats = sent("generate@r01", texts_then_labels(10, 0),
                             lambda step: generate(step, record.analysis, {}, pool, student=tmp_path / "r00"))
    assert gen_stats.requested == 10 and len(inputs) == 5
    samples, _ = sent("label@r01", texts_then_labels(0, 5), lambda step: label(step, inputs, separate=True))
    assert len(samples) == 5 and planned["train@r01"] == 0
    assert plan["token_count"].startswith("heuristic") and all(row["prompt_tokens"] > 0 for row in plan["per_round"])
    assert [row["round"] for row in plan["per_round"]] == ["r00", "r01"]
    assert plan["total"]["requests"] == sum(planned.values()) == len(fake.requests)
    assert "heuristic" in "\n".join(plan_lines(plan))
    assert plan_lines({**plan, "stages": []}) == ["Nothing to run: the pipeline is up to date."]


def test_stage_summary_line() -> None:
    gen = GenStats(requested=12, kept=10, rejects={"too_long": 1, "duplicate": 1},
                   teacher=TeacherUsage(requests=12, total_tokens=2431))
    line = stage_summary("generate@r01", [gen])
    assert line == "generate@r01: 10/12 kept (rejects: duplicate 1, too_long 1), 2,431 teacher tokens"
    # r00: asked by generation, kept by labelling, rejects and tokens of both (and of the warm-up)
    warmup = LabelStats(inputs=4, kept=3, separate_labeling=False, scoring="proposed", rejects={"no_label": 1})
    labelled = LabelStats(inputs=10, kept=9, separate_labeling=True, scoring="first_token", labels={"a": 9, "b": 0},
                          rejects={"duplicate": 1}, teacher=TeacherUsage(requests=10, total_tokens=569, cached=2),
                          warnings=["label 'a' takes 9 of 9 samples (100%)"], warmup=warmup)
    assert stage_summary("r00", [gen, labelled], "trained") == (
        "r00: 9/12 kept (rejects: duplicate 2, no_label 1, too_long 1), 3,000 teacher tokens (2 cached answers), "
        "labels a 9, trained\nwarning: label 'a' takes 9 of 9 samples (100%)")
