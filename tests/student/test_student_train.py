"""Real fine-tunes of the bundled encoder (small: each well under two minutes on two busy cores), through the
CLI for classification and the library for NER; checkpoints round-trip through transformers.pipeline."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from evokd.benchmarks import load_benchmark, task_spec
from evokd.cli import cli
from evokd.data import save_task, write_samples
from evokd.errors import EvokdError
from evokd.student.config import StudentConfig
from evokd.student.encoding import first_subtokens
from evokd.student.metrics import score
from evokd.student.predict import predict
from evokd.student.train import train_student

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
FAST = {"epochs": 2, "learning_rate": 2e-4, "batch_size": 16, "max_length": 64}


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """rotten_tomatoes: 480 training snippets, 2 epochs via `evokd train`, scored via `evokd evaluate` on 300
    held-out test snippets."""
    root = tmp_path_factory.mktemp("sentiment")
    splits = load_benchmark("rotten_tomatoes")
    train = random.Random(0).sample(splits["train"], 480)
    test = random.Random(1).sample(splits["test"], 300)
    save_task(root / "task.yaml", task_spec("rotten_tomatoes"))
    write_samples(root / "a.jsonl", train[:240])
    write_samples(root / "b.jsonl", train[240:])
    write_samples(root / "test.jsonl", test)
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["student"].update(FAST)
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    runner = CliRunner()
    trained = runner.invoke(cli, ["train", "--task", str(root / "task.yaml"), "--train",
                                  f"{root / 'a.jsonl'},{root / 'b.jsonl'}", "--out", str(root / "model"),
                                  "--params", str(root / "params.yaml"), "--seed", "5"])
    assert trained.exit_code == 0, trained.output
    evaluated = runner.invoke(cli, ["evaluate", "--model", str(root / "model"), "--task", str(root / "task.yaml"),
                                    "--data", str(root / "test.jsonl"), "--out", str(root / "metrics.json")])
    assert evaluated.exit_code == 0, evaluated.output
    return {"root": root, "test": test,
            "metrics": json.loads((root / "metrics.json").read_text(encoding="utf-8"))}


def test_classification_beats_chance(sentiment_run: dict) -> None:
    metrics = sentiment_run["metrics"]
    labels = [sample.label for sample in sentiment_run["test"]]
    majority = max(labels.count(label) for label in set(labels)) / len(labels)
    assert metrics["n"] == 300
    assert metrics["accuracy"] > majority + 0.05  # more than always answering the commoner label
    assert metrics["macro_f1"] > 0.6  # majority guessing scores < 0.4, coin flipping 0.5


def test_checkpoint_is_small_and_explains_itself(sentiment_run: dict) -> None:
    model = sentiment_run["root"] / "model"
    assert not any(name.startswith(("optimizer", "scheduler", "trainer_state", "checkpoint-"))
                   for name in (p.name for p in model.iterdir()))
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    assert config["id2label"] == {"0": "fresh", "1": "rotten"}
    log = json.loads((model / "train_log.json").read_text(encoding="utf-8"))
    assert log["samples"] == 480 and log["seed"] == 5 and log["config"]["learning_rate"] == 2e-4


def test_classification_pipeline_round_trip(sentiment_run: dict) -> None:
    from transformers import pipeline

    model = sentiment_run["root"] / "model"
    samples = sentiment_run["test"][:16]
    ours = predict(model, task_spec("rotten_tomatoes"), samples)
    theirs = pipeline("text-classification", model=str(model), device="cpu")([s.text for s in samples])
    assert [p.label for p in ours] == [t["label"] for t in theirs]
    assert [t["score"] for t in theirs] == pytest.approx([p.confidence for p in ours], abs=1e-4)
    assert all(sum(p.probs.values()) == pytest.approx(1.0) for p in ours)


def test_training_continues_from_a_checkpoint(sentiment_run: dict, tmp_path: Path) -> None:
    task = task_spec("rotten_tomatoes")
    config = StudentConfig(epochs=1, min_steps=0, min_steps_per_label=0, learning_rate=1e-5)
    log = train_student(task, sentiment_run["test"][:16], config, tmp_path / "next",
                        init_from=sentiment_run["root"] / "model", seed=1)
    assert log["init_from"] == str(sentiment_run["root"] / "model")
    after = score(task, sentiment_run["test"], predict(tmp_path / "next", task, sentiment_run["test"]))
    assert after["macro_f1"] > 0.6  # a small low-rate step keeps what the previous round learned


def test_checkpoint_of_another_label_set_is_refused(sentiment_run: dict, tmp_path: Path) -> None:
    with pytest.raises(EvokdError, match="predicts the labels"):
        train_student(task_spec("banking77"), load_benchmark("banking77")["dev"][:4], StudentConfig(),
                      tmp_path / "model", init_from=sentiment_run["root"] / "model")
    assert not (tmp_path / "model").exists()


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """conll2003: 300 training sentences (5+ words), 3 epochs; scored on 200 dev sentences."""
    root = tmp_path_factory.mktemp("ner")
    task = task_spec("conll2003")
    splits = load_benchmark("conll2003")
    train = [s for s in splits["train"] if len(s.tokens) >= 5][:300]
    held_out = splits["dev"][:200]
    train_student(task, train, StudentConfig(**{**FAST, "epochs": 3}), root / "model", seed=2)
    predictions = predict(root / "model", task, held_out)
    return {"model": root / "model", "held_out": held_out, "predictions": predictions,
            "metrics": score(task, held_out, predictions)}


def test_ner_beats_chance(ner_run: dict) -> None:
    metrics = ner_run["metrics"]
    assert metrics["f1"] > 0.25  # strict span F1: guessing tags gets close to 0
    assert metrics["per_label"]["PER"]["f1"] > 0.4
    assert all(len(p.tags) == len(s.tokens) for p, s in zip(ner_run["predictions"], ner_run["held_out"],
                                                            strict=True))


def test_ner_pipeline_round_trip(ner_run: dict) -> None:
    from transformers import AutoTokenizer, pipeline

    tagger = pipeline("token-classification", model=str(ner_run["model"]), device="cpu")
    tokenizer = AutoTokenizer.from_pretrained(ner_run["model"])
    checked = 0
    for sample, prediction in zip(ner_run["held_out"][:40], ner_run["predictions"][:40], strict=True):
        found = {item["index"]: item["entity"][2:] for item in tagger(" ".join(sample.tokens))}
        positions = first_subtokens(tokenizer(sample.tokens, is_split_into_words=True).word_ids())
        for word, tag in enumerate(prediction.tags):
            if tag != "O":
                assert found.get(positions[word]) == tag[2:]
                checked += 1
    assert checked > 10
