"""Task specs and samples: validation errors name file, line and field; writers leave nothing half-done."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from evokd.cli import cli
from evokd.data import (
    ClassificationSample,
    NerSample,
    load_task,
    read_samples,
    write_samples,
)
from evokd.errors import InputError
from evokd.ner import Span
from evokd.params import TaskParams
from evokd.sources import prepare_task

SENTIMENT = {"name": "reviews", "kind": "classification", "domain": "film reviews",
             "labels": [{"name": "pos", "description": "a positive review"},
                        {"name": "neg", "description": "a negative review"}]}
NEWS = {"name": "news", "kind": "ner", "domain": "news",
        "labels": [{"name": "PER", "description": "people"}, {"name": "LOC", "description": "places"}]}


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def write_lines(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_task_spec_properties(tmp_path: Path) -> None:
    task = load_task(write_yaml(tmp_path / "task.yaml", NEWS))
    assert task.label_names == ["PER", "LOC"]
    assert task.tag_names == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    assert task.language == "en"


@pytest.mark.parametrize(("labels", "message", "field"), [
    ([], "at least 1", "labels"),
    ([{"name": "pos", "description": "a"}, {"name": "pos", "description": "b"}], "duplicate labels: pos", None),
    ([{"name": "pos", "description": "a"}, {"name": "neg"}], "Field required", "labels.1.description"),
])
def test_bad_task_file_names_the_field(tmp_path: Path, labels: list, message: str, field: str | None) -> None:
    path = write_yaml(tmp_path / "task.yaml", {**SENTIMENT, "labels": labels})
    with pytest.raises(InputError, match=message) as error:
        load_task(path)
    assert error.value.source == str(path)
    assert error.value.field == field


def test_task_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(InputError, match="expected a YAML mapping"):
        load_task(path)


@pytest.fixture
def sentiment(tmp_path: Path):
    return load_task(write_yaml(tmp_path / "task.yaml", SENTIMENT))


@pytest.fixture
def news(tmp_path: Path):
    return load_task(write_yaml(tmp_path / "ner_task.yaml", NEWS))


def test_minimal_seed_lines_get_seed_defaults(tmp_path: Path, sentiment) -> None:
    path = write_lines(tmp_path / "seeds.jsonl", [{"text": "Loved it.", "label": "pos"}])
    (sample,) = read_samples(path, sentiment)
    assert (sample.round, sample.stance, sample.provenance.origin) == ("seed", None, "seed")


def test_unknown_label_names_line_and_field(tmp_path: Path, sentiment) -> None:
    path = write_lines(tmp_path / "seeds.jsonl", [{"text": "ok", "label": "pos"}, {"text": "meh", "label": "mixed"}])
    with pytest.raises(InputError, match="unknown label 'mixed'") as error:
        read_samples(path, sentiment)
    assert (error.value.line, error.value.field) == (2, "label")


def test_not_jsonl_names_the_line(tmp_path: Path, sentiment) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_text('{"text": "ok", "label": "pos"}\ntext,label\n', encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON") as error:
        read_samples(path, sentiment)
    assert error.value.line == 2


@pytest.mark.parametrize(("tags", "message", "field"), [
    (["I-PER", "O"], "IOB2 starts every entity with B-PER", "tags"),
    (["B-PER", "I-LOC"], "'I-LOC' follows 'B-PER'", "tags"),
    (["PER", "O"], "not an IOB2 tag", "tags"),
    (["B-ORG", "O"], "unknown tag 'B-ORG'", "tags.0"),
    (["O"], "1 tags for 2 tokens", None),
])
def test_bad_ner_tags(tmp_path: Path, news, tags: list[str], message: str, field: str | None) -> None:
    path = write_lines(tmp_path / "seeds.jsonl", [{"tokens": ["Ann", "sings"], "tags": tags}])
    with pytest.raises(InputError, match=message) as error:
        read_samples(path, news)
    assert error.value.line == 1
    assert error.value.field == field


def test_samples_round_trip_and_pandas_reads_them(tmp_path: Path, news) -> None:
    samples = [NerSample(tokens=["Ann", "visits", "New", "York"], tags=["B-PER", "O", "B-LOC", "I-LOC"],
                         text="Ann visits New York", spans=[Span(text="New York", type="LOC")],
                         round="r01", stance="hard")]
    path = tmp_path / "out" / "batch.jsonl"
    write_samples(path, samples)
    assert read_samples(path, news) == samples
    frame = pd.read_json(path, lines=True)
    assert frame.loc[0, "tags"] == samples[0].tags
    assert frame.loc[0, "provenance"]["origin"] == "seed"


def test_own_task_is_written_normalised(tmp_path: Path) -> None:
    task = write_yaml(tmp_path / "task.yaml", SENTIMENT)
    seeds = write_lines(tmp_path / "seeds.jsonl",
                        [{"text": "Great.", "label": "pos"}, {"text": "Dull.", "label": "neg"}])
    written = prepare_task(TaskParams(file=str(task), seeds=str(seeds)), 0, tmp_path / "raw")
    assert sorted(path.name for path in written) == ["seeds.jsonl", "task.yaml", "unlabelled.jsonl"]
    assert [s.label for s in read_samples(tmp_path / "raw/seeds.jsonl", load_task(tmp_path / "raw/task.yaml"))] == [
        "pos", "neg"]


def test_prepare_with_bad_seeds_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    task = write_yaml(tmp_path / "task.yaml", SENTIMENT)
    seeds = write_lines(tmp_path / "seeds.jsonl", [{"text": "Great.", "label": "pos"}])
    test = write_lines(tmp_path / "test.jsonl", [{"text": "Fine.", "label": "pos"}, {"text": "Bad.", "label": "bad"}])
    out = tmp_path / "raw"
    out.mkdir()
    (out / "task.yaml").write_text("previous: content\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["prepare", "--task", str(task), "--seeds", str(seeds), "--test", str(test),
                                      "--out", str(out)])
    assert result.exit_code != 0
    assert f"{test}, line 2, field 'label': unknown label 'bad'" in str(result.exception)
    assert sorted(p.name for p in out.iterdir()) == ["task.yaml"]
    assert (out / "task.yaml").read_text(encoding="utf-8") == "previous: content\n"


def test_empty_seed_file_is_an_error(tmp_path: Path) -> None:
    task = write_yaml(tmp_path / "task.yaml", SENTIMENT)
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="no samples"):
        prepare_task(TaskParams(file=str(task), seeds=str(seeds)), 0, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_classification_sample_needs_text() -> None:
    with pytest.raises(ValueError, match="at least 1 character"):
        ClassificationSample(text="", label="pos")
