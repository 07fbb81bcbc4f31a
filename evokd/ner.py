"""The NER tag rules, in one place: IOB2 tags, the words of a text, the entities of a tag sequence, and spans
placed as tags.

Every other module (samples, teacher labelling, student prediction, metrics, baselines) reads and writes tags
through these functions, so there is one answer to "which entities does this tag list hold".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

OUTSIDE = "O"


class Span(BaseModel):
    """An entity given as text (its words as tokenize_words splits them) and a type; no position."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    type: str


# ---- tags ------------------------------------------------------------------------------------------------


def tag_set(types: Iterable[str]) -> list[str]:
    """The IOB2 tags of entity types, in a fixed order (a model's label ids): O, then B-/I- per type."""
    return [OUTSIDE] + [f"{prefix}-{name}" for name in types for prefix in ("B", "I")]


def tag_type(tag: str) -> str | None:
    """The entity type of a tag (`B-PER` and `I-PER` -> `PER`), None for O."""
    return None if tag == OUTSIDE else tag[2:]


def is_tag(name: str) -> bool:
    """Whether a name reads as a tag (O, B-..., I-...) rather than a bare entity type."""
    return name == OUTSIDE or name[:2] in ("B-", "I-")


def iob2_problem(tags: Sequence[str]) -> str | None:
    """Why `tags` is not a valid IOB2 sequence (None when it is): I-X must continue a B-X or I-X."""
    previous = OUTSIDE
    for index, tag in enumerate(tags):
        if tag != OUTSIDE and (tag[:2] not in ("B-", "I-") or len(tag) < 3):
            return f"tags[{index}]: {tag!r} is not an IOB2 tag (O, B-TYPE or I-TYPE)"
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return f"tags[{index}]: {tag!r} follows {previous!r}; IOB2 starts every entity with B-{tag[2:]}"
        previous = tag
    return None


# ---- entities of a tag sequence ----------------------------------------------------------------------------


def entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """(type, start, end) of each entity, end exclusive, in order. An entity starts at B-X, or at an I-X that does
    not continue an X entity (a predicted sequence need not be valid IOB2), and runs over the I-X after it.

    On any B/I/O sequence this is seqeval's reading (`get_entities`); on valid IOB2 it is also strict IOB2's,
    the one the metrics score."""
    found: list[tuple[str, int, int]] = []
    start, kind = 0, None
    for index, tag in enumerate([*tags, OUTSIDE]):
        continues = tag.startswith("I-") and tag[2:] == kind
        if kind is not None and not continues:
            found.append((kind, start, index))
            kind = None
        if tag != OUTSIDE and not continues:
            start, kind = index, tag[2:]
    return found


def entity_types(tags: Sequence[str]) -> list[str]:
    """The type of each entity (one per mention), in order."""
    return [kind for kind, _, _ in entities(tags)]


def entity_spans(tokens: Sequence[str], tags: Sequence[str]) -> list[Span]:
    """The entities as spans, their words joined by spaces."""
    return [Span(text=" ".join(tokens[start:end]), type=kind) for kind, start, end in entities(tags)]


def entities_display(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """`Paris (LOC); Jean Dupont (PER)`: how a sentence's entities are shown to the teacher."""
    return "; ".join(f"{span.text} ({span.type})" for span in entity_spans(tokens, tags)) or "no entities"


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """The valid IOB2 sequence of the same entities (an I-X that does not continue an X entity becomes B-X)."""
    return tags_of(len(tags), entities(tags))


def tags_of(length: int, found: Iterable[tuple[str, int, int]]) -> list[str]:
    """IOB2 tags of `length` words holding the (type, start, end) entities (which must not overlap)."""
    tags = [OUTSIDE] * length
    for kind, start, end in found:
        tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
    return tags


# ---- words and spans -------------------------------------------------------------------------------------

_WORD = re.compile(r"(?:[A-Za-z]\.){2,}|\d+(?:[.,:]\d+)+|\w+(?:[-'’]\w+)*|[^\w\s]")


def tokenize_words(text: str) -> list[str]:
    """Split text into CoNLL-like words: punctuation apart, abbreviations (U.S.), numbers (3.5) and
    hyphenated or apostrophe words (well-known, don't) whole."""
    return _WORD.findall(text)


def occurrences(tokens: Sequence[str], words: Sequence[str]) -> list[int]:
    """Start of every place where `words` occurs in `tokens` as an exact word sequence."""
    size = len(words)
    return [start for start in range(len(tokens) - size + 1) if list(tokens[start:start + size]) == list(words)]


class Placement(NamedTuple):
    tags: list[str]  # word-level IOB2 tags
    placed: list[Span]  # the spans that fit, in the order they were placed
    refused: list[str]  # why each other span did not fit, in the same order


def place_spans(tokens: Sequence[str], spans: Iterable[Span], types: Iterable[str]) -> Placement:
    """Word-level IOB2 tags for `tokens` with every span that fits.

    A span is tokenized like the text and matched as an exact word sequence; every occurrence is tagged (an entity
    named twice is an entity twice). Longer spans are placed first (in the given order among equal lengths). A span
    does not fit when its type is not one of `types`, it has no words, it is not in the tokens, or it only occurs
    inside an entity of another type.
    """
    known = set(types)
    placement = Placement([OUTSIDE] * len(tokens), [], [])
    tags = placement.tags
    for span in sorted(spans, key=lambda span: -len(tokenize_words(span.text))):
        words = tokenize_words(span.text)
        starts = occurrences(tokens, words) if words else []
        if span.type not in known:
            placement.refused.append(f"span {span.text!r}: unknown entity type {span.type!r}")
            continue
        if not words:
            placement.refused.append(f"span {span.text!r} has no words")
            continue
        if not starts:
            placement.refused.append(f"span {span.text!r} ({span.type}) is not in the text")
            continue
        placed = False
        for start in starts:
            window = tags[start:start + len(words)]
            if all(tag == OUTSIDE for tag in window):
                tags[start:start + len(words)] = tags_of(len(words), [(span.type, 0, len(words))])
                placed = True
            elif all(tag_type(tag) == span.type for tag in window):
                placed = True  # already tagged by a duplicate or longer span of the same type
        if placed:
            placement.placed.append(span)
        else:
            placement.refused.append(f"span {span.text!r} ({span.type}) only occurs inside another entity")
    return placement


def spans_to_bio(tokens: Sequence[str], spans: Iterable[Span], types: Iterable[str]) -> list[str]:
    """Word-level IOB2 tags for `tokens` from entity spans (placed by place_spans); raises ValueError naming the
    first span that does not fit."""
    placement = place_spans(tokens, spans, types)
    if placement.refused:
        raise ValueError(placement.refused[0])
    return placement.tags
