"""How samples become model inputs, shared by training and prediction: the label ids, the fast tokenizer, and
the word <-> sub-token alignment of NER tags (transformers' run_ner.py conventions)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evokd.data import ClassificationSample, NerSample, Sample, TaskSpec
from evokd.errors import EvokdError

IGNORE = -100  # label id that the loss (and our word-level decoding) skips


def label_list(task: TaskSpec) -> list[str]:
    """The model's output labels in id order: class labels, or the IOB2 tag set for NER."""
    return task.tag_names if task.kind == "ner" else task.label_names


def check_labels(checkpoint: str | Path, task: TaskSpec) -> None:
    """Refuse a checkpoint whose output labels are not the task's (same names, same order)."""
    from transformers import AutoConfig

    if not (Path(checkpoint) / "config.json").is_file():
        raise EvokdError(f"{checkpoint}: not a model checkpoint (no config.json); expected a folder written by "
                         "`evokd train` (or a stage's models/<round>)")
    try:
        config = AutoConfig.from_pretrained(checkpoint)
    except (OSError, ValueError) as exc:
        raise EvokdError(f"{checkpoint}: not a readable model checkpoint ({str(exc).splitlines()[0]})") from None
    have = [config.id2label[i] for i in sorted(config.id2label)]
    if have != label_list(task):
        raise EvokdError(f"checkpoint {checkpoint} predicts the labels {have}, but task {task.name!r} has "
                         f"{label_list(task)}; start from the base model instead (no --init)")


def load_tokenizer(source: str | Path) -> Any:
    """The fast tokenizer of a model folder or hub id (NER needs word_ids(), which only fast tokenizers have)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    if not tokenizer.is_fast:
        raise EvokdError(f"{source}: the student needs a fast tokenizer (tokenizer.json)")
    return tokenizer


def tokenize(task: TaskSpec, samples: Sequence[Sample], tokenizer: Any, max_length: int) -> Any:
    """Tokenize samples without padding (the collator pads each batch); NER samples as pre-split words."""
    expected = NerSample if task.kind == "ner" else ClassificationSample
    wrong = next((s for s in samples if not isinstance(s, expected)), None)
    if wrong is not None:
        raise EvokdError(f"task {task.name!r} is {task.kind}, got a {type(wrong).__name__}")
    if task.kind == "ner":
        return tokenizer([s.tokens for s in samples], is_split_into_words=True, truncation=True,
                         max_length=max_length)
    return tokenizer([s.text for s in samples], truncation=True, max_length=max_length)


def features_of(batch: Any, index: int) -> dict[str, list[int]]:
    """One example of a tokenized batch, as the dict the collators expect."""
    return {key: batch[key][index] for key in batch}


def encode(task: TaskSpec, samples: Sequence[Sample], tokenizer: Any, max_length: int) -> list[dict[str, Any]]:
    """Training features: token ids plus label ids (for NER per sub-token, IGNORE off the first sub-token and on
    the words a sample marks `unsure`)."""
    ids = {name: i for i, name in enumerate(label_list(task))}
    used = {tag for s in samples for tag in (s.tags if isinstance(s, NerSample) else [s.label])}
    if used - ids.keys():
        raise EvokdError(f"labels {sorted(used - ids.keys())} are not in task {task.name!r}")
    batch = tokenize(task, samples, tokenizer, max_length)
    features = []
    for i, sample in enumerate(samples):
        feature = features_of(batch, i)
        if isinstance(sample, NerSample):
            unsure = set(sample.unsure or ())
            feature["labels"] = align_labels(batch.word_ids(i), [IGNORE if index in unsure else ids[tag]
                                                                 for index, tag in enumerate(sample.tags)])
        else:
            feature["labels"] = ids[sample.label]
        features.append(feature)
    return features


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """Sub-token labels from word labels: the first sub-token of each word keeps the word's label; the
    word's other sub-tokens and special tokens ([CLS], [SEP], padding; word id None) get IGNORE."""
    labels, previous = [], None
    for word_id in word_ids:
        labels.append(IGNORE if word_id is None or word_id == previous else word_labels[word_id])
        previous = word_id
    return labels


def first_subtokens(word_ids: Sequence[int | None]) -> dict[int, int]:
    """word index -> position of its first sub-token (words cut off by truncation are absent)."""
    positions: dict[int, int] = {}
    for position, word_id in enumerate(word_ids):
        if word_id is not None and word_id not in positions:
            positions[word_id] = position
    return positions
