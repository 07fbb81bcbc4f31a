"""The NER tag rules (evokd/ner.py) on hand-made cases: tags, IOB2 validation and repair, the entities of a tag
sequence (checked against seqeval, which the metrics use), words, and spans placed as tags."""

from __future__ import annotations

import pytest
from seqeval.metrics.sequence_labeling import get_entities

from evokd.ner import (
    Span,
    entities,
    entities_display,
    entity_spans,
    entity_types,
    iob2_problem,
    is_tag,
    place_spans,
    repair_iob2,
    spans_to_bio,
    tag_set,
    tag_type,
    tokenize_words,
)

TYPES = ["PER", "ORG", "LOC"]


def spans(*pairs: tuple[str, str]) -> list[Span]:
    return [Span(text=text, type=kind) for text, kind in pairs]


# ---- tags ------------------------------------------------------------------------------------------------


def test_tag_set_type_and_is_tag() -> None:
    assert tag_set(["PER", "LOC"]) == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    assert [tag_type(tag) for tag in ("B-PER", "I-LOC", "O")] == ["PER", "LOC", None]
    assert [is_tag(name) for name in ("O", "B-PER", "I-X", "PER", "BOB")] == [True, True, True, False, False]


@pytest.mark.parametrize(("tags", "problem"), [
    (["B-PER", "I-PER", "O", "B-LOC"], None),
    (["I-PER", "O"], "tags[0]: 'I-PER' follows 'O'; IOB2 starts every entity with B-PER"),
    (["B-PER", "I-LOC"], "tags[1]: 'I-LOC' follows 'B-PER'"),
    (["O", "PER"], "tags[1]: 'PER' is not an IOB2 tag"),
    (["B-"], "tags[0]: 'B-' is not an IOB2 tag"),
])
def test_iob2_problem(tags: list[str], problem: str | None) -> None:
    found = iob2_problem(tags)
    assert found == problem if problem is None else found.startswith(problem)


@pytest.mark.parametrize(("tags", "repaired"), [
    (["O", "I-PER", "I-PER", "O"], ["O", "B-PER", "I-PER", "O"]),
    (["B-PER", "I-LOC"], ["B-PER", "B-LOC"]),
    (["B-ORG", "I-ORG", "O", "B-LOC"], ["B-ORG", "I-ORG", "O", "B-LOC"]),
])
def test_repair_iob2(tags: list[str], repaired: list[str]) -> None:
    assert repair_iob2(tags) == repaired
    assert iob2_problem(repaired) is None and entities(repaired) == entities(tags)


# ---- entities of a tag sequence -------------------------------------------------------------------------

SEQUENCES = [
    ["B-PER", "I-PER", "O", "B-LOC"],
    ["B-PER", "B-PER", "I-PER", "I-PER"],   # two adjacent entities of one type
    ["O", "I-PER", "I-PER", "B-LOC", "I-LOC"],  # invalid IOB2 (a predicted sequence): I- opens an entity
    ["B-PER", "I-LOC", "I-LOC", "O", "I-ORG"],
    ["O", "O"],
    [],
]


@pytest.mark.parametrize("tags", SEQUENCES)
def test_entities_read_tags_as_seqeval_does(tags: list[str]) -> None:
    assert entities(tags) == [(kind, start, end + 1) for kind, start, end in get_entities(tags)]


def test_entities_types_spans_and_display() -> None:
    tokens, tags = ["Jean", "Dupont", "visited", "Paris"], ["B-PER", "I-PER", "O", "B-LOC"]
    assert entities(tags) == [("PER", 0, 2), ("LOC", 3, 4)]
    assert entity_types(tags) == ["PER", "LOC"]
    assert entity_spans(tokens, tags) == spans(("Jean Dupont", "PER"), ("Paris", "LOC"))
    assert entities_display(tokens, tags) == "Jean Dupont (PER); Paris (LOC)"
    assert entities_display(tokens, ["O"] * 4) == "no entities"


# ---- words and spans -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "words"), [
    ("Ann's U.S. trip cost $3.5 million.", ["Ann's", "U.S.", "trip", "cost", "$", "3.5", "million", "."]),
    ("A well-known (German) band", ["A", "well-known", "(", "German", ")", "band"]),
    ("", []),
])
def test_tokenize_words(text: str, words: list[str]) -> None:
    assert tokenize_words(text) == words


@pytest.mark.parametrize(("found", "tags"), [
    ([], ["O"] * 7),
    ([("John Smith", "PER"), ("Acme Corp", "ORG")], ["B-PER", "I-PER", "O", "O", "B-ORG", "I-ORG", "O"]),
    ([("Acme Corp", "ORG"), ("Acme Corp", "ORG")], ["O", "O", "O", "O", "B-ORG", "I-ORG", "O"]),
    ([("John", "PER"), ("John Smith", "PER")], ["B-PER", "I-PER", "O", "O", "O", "O", "O"]),
])
def test_spans_to_bio(found: list[tuple[str, str]], tags: list[str]) -> None:
    tokens = ["John", "Smith", "joined", "the", "Acme", "Corp", "."]
    assert spans_to_bio(tokens, spans(*found), TYPES) == tags


def test_spans_to_bio_tags_every_occurrence() -> None:
    tokens = tokenize_words("Paris loves Paris.")
    assert spans_to_bio(tokens, spans(("Paris", "LOC")), TYPES) == ["B-LOC", "O", "B-LOC", "O"]


@pytest.mark.parametrize(("span", "message"), [
    (Span(text="Jane", type="PER"), "not in the text"),
    (Span(text="John", type="GPE"), "unknown entity type"),
    (Span(text="john smith", type="PER"), "not in the text"),
    (Span(text="...", type="PER"), "is not in the text"),
    (Span(text=" ", type="PER"), "has no words"),
])
def test_spans_to_bio_errors(span: Span, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spans_to_bio(["John", "Smith", "sings"], [span], TYPES)


def test_spans_to_bio_refuses_conflicting_nesting() -> None:
    tokens = ["University", "of", "Oxford"]
    with pytest.raises(ValueError, match="only occurs inside another entity"):
        spans_to_bio(tokens, spans(("University of Oxford", "ORG"), ("Oxford", "LOC")), TYPES)


def test_place_spans_keeps_what_fits_longest_first_and_says_why_the_rest_does_not() -> None:
    tokens = ["Angela", "Merkel", "visited", "the", "University", "of", "Oxford", "."]
    offered = spans(("Oxford", "LOC"), ("Berlin", "LOC"), ("Angela Merkel", "PER"), ("University of Oxford", "ORG"))
    placement = place_spans(tokens, offered, TYPES)
    assert placement.tags == ["B-PER", "I-PER", "O", "O", "B-ORG", "I-ORG", "I-ORG", "O"]
    assert placement.placed == spans(("University of Oxford", "ORG"), ("Angela Merkel", "PER"))
    assert placement.refused == ["span 'Oxford' (LOC) only occurs inside another entity",
                                 "span 'Berlin' (LOC) is not in the text"]
    assert spans_to_bio(tokens, placement.placed, TYPES) == placement.tags
