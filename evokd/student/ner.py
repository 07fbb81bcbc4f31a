"""Word <-> sub-token alignment for NER, following transformers' run_ner.py conventions."""

from __future__ import annotations

from collections.abc import Sequence

IGNORE = -100  # label id that the loss (and our word-level decoding) skips


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


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """Make a predicted tag sequence valid IOB2: an I-X that does not continue an X entity becomes B-X."""
    repaired: list[str] = []
    for tag in tags:
        previous = repaired[-1] if repaired else "O"
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        repaired.append(tag)
    return repaired
