"""NER teacher-side rules: inline markup, candidate substrings, the per-type merge, and per-type extraction
through the real client against a scripted fake server."""

import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply
from shared import fake_teacher

from evokd.data import LabelSpec, TaskSpec
from evokd.loop.spans import (
    MAX_ENTITIES,
    MAX_NAMES,
    MarkupError,
    candidates,
    entities_schema,
    extract_spans,
    first_sentence,
    merge_spans,
    names_schema,
    parse_markup,
    to_markup,
    unwrap_foreign,
)
from evokd.loop.step import derive_seed
from evokd.ner import Span, entity_spans, spans_to_bio, tokenize_words
from evokd.prompts import PromptSet
from evokd.teacher.client import TeacherClient

REPO = Path(__file__).resolve().parents[2]
PROMPTS = PromptSet(REPO / "prompts", "default")
TYPES = ["PER", "ORG", "LOC", "MISC"]
NEWS = TaskSpec(name="news", kind="ner", domain="news wire sentences",
                labels=[LabelSpec(name="PER", description="names of people"),
                        LabelSpec(name="LOC", description="names of places")])


def spans(*pairs: tuple[str, str]) -> list[Span]:
    return [Span(text=text, type=kind) for text, kind in pairs]


# ---- parse_markup ----------------------------------------------------------------------------------------


def test_markup_gives_the_plain_sentence_and_its_spans_in_order() -> None:
    text, found = parse_markup("[PER Ann Lee] flew to [LOC Oslo] for [ORG Nokia].", TYPES)
    assert text == "Ann Lee flew to Oslo for Nokia."
    assert found == spans(("Ann Lee", "PER"), ("Oslo", "LOC"), ("Nokia", "ORG"))
    assert spans_to_bio(tokenize_words(text), found, TYPES) == ["B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-ORG",
                                                                  "O"]


def test_markup_whitespace_is_collapsed_and_the_type_may_be_lower_case() -> None:
    text, found = parse_markup("  [per  Ann \t Lee ]  met\n[LOC Oslo]  ", TYPES)
    assert text == "Ann Lee met Oslo"
    assert found == spans(("Ann Lee", "PER"), ("Oslo", "LOC"))


def test_markup_punctuation_at_an_entity_edge_stays_in_the_text_but_not_in_the_span() -> None:
    text, found = parse_markup('[PER Ann Lee], 35, moved to [LOC Oslo.] and read [MISC "Ulysses"]', TYPES)
    assert text == 'Ann Lee, 35, moved to Oslo. and read "Ulysses"'
    assert found == spans(("Ann Lee", "PER"), ("Oslo", "LOC"), ("Ulysses", "MISC"))
    assert parse_markup("[LOC U.S.] officials", TYPES)[1] == spans(("U.S.", "LOC"))  # one word, period inside


def test_markup_a_possessive_after_an_entity_is_split_off_as_conll_writes_it() -> None:
    text, found = parse_markup("[PER Ann]'s flight and [ORG Nokia]’s plan", TYPES)
    assert text == "Ann 's flight and Nokia ’s plan"
    assert spans_to_bio(tokenize_words(text), found, TYPES)[:2] == ["B-PER", "O"]
    assert parse_markup("[PER Ann's] flight", TYPES) == ("Ann's flight", spans(("Ann's", "PER")))  # marked whole


def test_markup_a_repeated_entity_is_one_span_tagged_at_every_place() -> None:
    text, found = parse_markup("[PER Ann] met [PER Ann] again.", TYPES)
    assert found == spans(("Ann", "PER"))
    assert spans_to_bio(tokenize_words(text), found, TYPES) == ["B-PER", "O", "B-PER", "O", "O"]


def test_markup_a_sentence_without_markup_has_no_spans() -> None:
    assert parse_markup("Shares fell 3.5 percent on Monday.", TYPES) == ("Shares fell 3.5 percent on Monday.", [])


@pytest.mark.parametrize(("markup", "reason"), [
    ("[CITY Oslo] is cold.", "unknown_type"),
    ("[Oslo] is cold.", "unknown_type"),
    ("[PER Ann Lee flew to Oslo.", "unbalanced"),
    ("Ann Lee] flew to Oslo.", "unbalanced"),
    ("The index [sic rose.", "unbalanced"),
    ("[ORG Bank of [LOC England]] said.", "nested"),
    ("[PER] flew to Oslo.", "empty_entity"),
    ("[] flew to Oslo.", "empty_entity"),
    ("[PER ,] flew to Oslo.", "empty_entity"),
    ("[ORG Nokia]-backed start-up.", "split_word"),
    ("[ORG Jordan] beat [LOC Jordan].", "conflict"),
])
def test_markup_errors_name_a_short_reason(markup: str, reason: str) -> None:
    with pytest.raises(MarkupError) as error:
        parse_markup(markup, TYPES)
    assert error.value.reason == reason and str(error.value).startswith(reason + ":")
    assert isinstance(error.value, ValueError)


# ---- first_sentence and unwrap_foreign: what a small teacher writes around a good sentence -------------------


@pytest.mark.parametrize(("answer", "first"), [
    # Qwen2.5-Coder-1.5B answers: one sentence, then more until max_tokens cuts one ([ORG), or the prompt copied
    ("It was reported that [PER Taylor] won the [ORG NFL] Super Bowl in [LOC Los Angeles]. [PER Brown] celebrated "
     "by [PER having a [LOC beach party] on [LOC Hawaii]. [ORG",
     "It was reported that [PER Taylor] won the [ORG NFL] Super Bowl in [LOC Los Angeles]."),
    ("The previous mark of 26:43.53 was set by [LOC Ethiopia] 's [PER Haile Gebreselassie] in June last year . The "
     "student's weaknesses are in per-type F1 scores.",
     "The previous mark of 26:43.53 was set by [LOC Ethiopia] 's [PER Haile Gebreselassie] in June last year ."),
    ("The [ORG Microsoft] release came with a new [LOC Windows Store]. [ORG Microsoft] [ORG Windows]",
     "The [ORG Microsoft] release came with a new [LOC Windows Store]."),
    # no end after abbreviations and initials, nor inside brackets
    ("Mr. Smith of the U.S. Senate met George W. Bush and Acme Corp. Chairman Al Ng in St. Louis. He left.",
     "Mr. Smith of the U.S. Senate met George W. Bush and Acme Corp. Chairman Al Ng in St. Louis."),
    ("[PER Martin Luther King Jr.] and [ORG Yahoo! Inc] won 3-1 in 1968. [LOC Oslo] lost.",
     "[PER Martin Luther King Jr.] and [ORG Yahoo! Inc] won 3-1 in 1968."),
    ('He said "we won." The crowd cheered.', 'He said "we won."'),
    ("Who won? [PER Ann] did.", "Who won?"),
    # no end before a lower-case word or a digit: the text is one sentence
    ("Shares rose 3.5 pct. analysts said, after No. 2 fell.", "Shares rose 3.5 pct. analysts said, after No. 2 fell."),
])
def test_first_sentence_ends_at_the_first_sentence_end_outside_brackets(answer: str, first: str) -> None:
    assert first_sentence(answer) == first


def test_unwrap_foreign_keeps_the_words_of_other_types_and_drops_empty_markers() -> None:
    answer = "The European Union [ORG] paid [NUM 382] dollars to [LOC Rome] on [DATE February 4, 1968] [per]."
    assert unwrap_foreign(answer, TYPES) == "The European Union  paid 382 dollars to [LOC Rome] on February 4, 1968 ."
    assert parse_markup(unwrap_foreign(answer, TYPES), TYPES) == (
        "The European Union paid 382 dollars to Rome on February 4, 1968 .", spans(("Rome", "LOC")))
    assert unwrap_foreign("[ORG Bank of [DATE 1990]] said", TYPES) == "[ORG Bank of 1990] said"


@pytest.mark.parametrize("markup", [
    "[Oslo] is cold.",  # one word: an entity without a type, or a type without words
    "[the Bank of England] said.",  # not a type
    "[US Army] troops",  # two capitals are more often a name than a type
    "[PER ,] flew to Oslo.",
    "[ORG Bank of [LOC England]] said.",
])
def test_unwrap_foreign_leaves_other_markers_to_parse_markup(markup: str) -> None:
    assert unwrap_foreign(markup, TYPES) == markup


CONLL_LIKE = [
    (["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
     ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"]),
    (["Peter", "Blackburn", "said", "in", "New", "York", "on", "Friday", "."],
     ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O", "O", "O"]),
    (["Leeds", "1", "Manchester", "United", "2", "(", "halftime", "0-1", ")"],
     ["B-ORG", "O", "B-ORG", "I-ORG", "O", "O", "O", "O", "O"]),
    (["U.S.", "stocks", "fell", ",", "traders", "said", "."], ["B-LOC", "O", "O", "O", "O", "O", "O"]),
    (["Germany", "'s", "representative", "to", "the", "European", "Union", "'s", "committee"],
     ["B-LOC", "O", "O", "O", "O", "B-ORG", "I-ORG", "O", "O"]),
]


@pytest.mark.parametrize(("tokens", "tags"), CONLL_LIKE)
def test_to_markup_round_trips_through_parse_markup(tokens: list[str], tags: list[str]) -> None:
    markup = to_markup(tokens, tags)
    text, found = parse_markup(markup, TYPES)
    assert text == " ".join(tokens)
    assert found == entity_spans(tokens, tags)
    assert spans_to_bio(tokens, found, TYPES) == tags


def test_to_markup_shows_entities_in_brackets_and_turns_square_brackets_into_parentheses() -> None:
    assert to_markup(["Ann", "Lee", "flew", "to", "[", "Oslo", "]"], ["B-PER", "I-PER", "O", "O", "O", "B-LOC", "O"]) \
        == "[PER Ann Lee] flew to ( [LOC Oslo] )"


# ---- candidates and merge --------------------------------------------------------------------------------


def test_candidates_are_word_runs_that_start_and_end_with_a_word_and_cross_no_separator() -> None:
    assert candidates('ann lee, of nokia, said: "oslo."', max_words=3) == [
        "ann", "lee", "of", "nokia", "said", "oslo", "ann lee", "of nokia"]
    assert candidates("Ann Lee, of Nokia, said: \"Oslo.\"", max_words=3) == ["Ann", "Lee", "Nokia", "Oslo", "Ann Lee"]


def test_candidates_in_a_text_with_capitals_start_and_end_with_a_capitalised_word() -> None:
    assert candidates("Shares in U.S. Steel's unit rose 3.5 percent .", max_words=3) == [
        "Shares", "U.S.", "Steel's", "U.S. Steel's", "Shares in U.S."]  # inner words need no capital
    assert candidates("The Bank of England said .") == ["The", "Bank", "England", "The Bank", "Bank of England",
                                                         "The Bank of England"]


def test_candidates_keep_the_text_as_written_once_each_and_the_shortest_under_the_limit() -> None:
    assert candidates("New  York and New York") == ["New", "York", "New  York", "New York", "York and New",
                                                    "New  York and New", "York and New York",
                                                    "New  York and New York"]
    words = " ".join(f"w{index}" for index in range(40))
    limited = candidates(words, limit=50)
    assert len(limited) == 50 and limited[:40] == words.split() and all(len(c.split()) <= 2 for c in limited)
    assert max(len(c.split()) for c in candidates(words)) == 6
    assert candidates("... !") == []


def test_answer_schemas_are_enums_of_the_candidates_with_bounded_lists() -> None:
    schema = names_schema(("Ann Lee", "Oslo")).model_json_schema()
    assert schema["properties"]["names"]["items"] == {"enum": ["Ann Lee", "Oslo"], "type": "string"}
    assert schema["properties"]["names"]["maxItems"] == MAX_NAMES and schema["additionalProperties"] is False
    with pytest.raises(ValueError):
        names_schema(("Ann Lee", "Oslo")).model_validate({"names": ["Berlin"]})
    joint = entities_schema(("Ann Lee", "Oslo"), ("PER", "LOC"))
    entity = joint.model_json_schema()["$defs"]["Entity"]
    assert entity["properties"]["text"]["enum"] == ["Ann Lee", "Oslo"]
    assert entity["properties"]["type"]["enum"] == ["PER", "LOC"] and entity["additionalProperties"] is False
    assert joint.model_json_schema()["properties"]["entities"]["maxItems"] == MAX_ENTITIES
    with pytest.raises(ValueError):
        joint.model_validate({"entities": [{"text": "Oslo", "type": "CITY"}]})


def test_merge_longer_span_wins_and_a_shorter_one_stays_where_it_stands_alone() -> None:
    tokens = tokenize_words("The New York Times said New York was calm .")
    merged = merge_spans(tokens, {"LOC": ["New York"], "ORG": ["New York Times"]}, TYPES)
    assert merged == spans(("New York Times", "ORG"), ("New York", "LOC"))
    assert spans_to_bio(tokens, merged, TYPES) == ["O", "B-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "I-LOC", "O",
                                                   "O", "O"]
    inside_only = tokenize_words("The New York Times said .")
    assert merge_spans(inside_only, {"LOC": ["New York"], "ORG": ["New York Times"]}, TYPES) == \
        spans(("New York Times", "ORG"))


def test_merge_drops_words_named_for_two_types_and_keeps_the_first_of_equal_overlaps() -> None:
    tokens = tokenize_words("Jordan beat New York Times in Amman .")
    answers = {"PER": ["Jordan"], "LOC": ["Jordan", "Amman", "New York"], "ORG": ["York Times"]}
    merged = merge_spans(tokens, answers, TYPES)
    assert merged == spans(("New York", "LOC"), ("Amman", "LOC"))
    assert spans_to_bio(tokens, merged, TYPES) == ["O", "O", "B-LOC", "I-LOC", "O", "O", "B-LOC", "O"]


def test_merge_keeps_same_type_overlaps_and_drops_names_not_in_the_text() -> None:
    tokens = tokenize_words("Ann Lee and Lee met .")
    merged = merge_spans(tokens, {"PER": ["Lee", "Ann Lee", "Lee", "Bob"]}, TYPES)
    assert merged == spans(("Ann Lee", "PER"), ("Lee", "PER"))
    assert spans_to_bio(tokens, merged, TYPES) == ["B-PER", "I-PER", "O", "B-PER", "O", "O"]


# ---- extract_spans through the client --------------------------------------------------------------------


def names(*values: str) -> Reply:
    return Reply(content=json.dumps({"names": list(values)}))


def client_for(fake: FakeOpenAI, tmp_path: Path) -> TeacherClient:
    return TeacherClient(fake_teacher(fake, max_retries=0), tmp_path / "cache.sqlite", stage="test")


def test_extract_spans_asks_once_per_text_for_entities_among_its_candidates(fake: FakeOpenAI, tmp_path: Path) -> None:
    texts = ["Ann Lee flew to Oslo .", "Nothing happened today .", "all lower case here", ". , !"]
    entity = [{"text": "Ann Lee", "type": "PER"}, {"text": "Oslo", "type": "LOC"}, {"text": "Oslo", "type": "PER"}]
    fake.replies = [Reply(content=json.dumps({"entities": entity})),  # Oslo named for two types: dropped
                    Reply(content=json.dumps({"entities": []})),
                    *[Reply(content='{"entities": [')] * 3]           # invalid JSON on every re-ask
    answers = extract_spans(client_for(fake, tmp_path), NEWS, PROMPTS, texts, 13, "r01")
    assert answers == [(spans(("Ann Lee", "PER")), None), ([], None), (None, "teacher_invalid_json"),
                       ([], None)]  # no candidates, nothing asked
    assert len(fake.requests) == 1 + 1 + 3
    first = fake.requests[0]
    items = first["response_format"]["json_schema"]["schema"]["$defs"]["Entity"]["properties"]
    assert items["text"]["enum"] == candidates(texts[0]) == ["Ann", "Lee", "Oslo", "Ann Lee", "Lee flew to Oslo",
                                                             "Ann Lee flew to Oslo"]
    assert items["type"]["enum"] == ["PER", "LOC"]
    prompt = first["messages"][-1]["content"]
    assert texts[0] in prompt and "names of people" in prompt and "names of places" in prompt
    assert first["seed"] == derive_seed(13, "r01", "label", texts[0]) and first["temperature"] == 0.0


def test_extract_spans_per_type_asks_one_request_per_type(fake: FakeOpenAI, tmp_path: Path) -> None:
    texts = ["Ann Lee flew to Oslo .", "Paris Hilton visited Paris .", "Bob met Carl in Rome .",
             "Lund lives in Malmo ."]
    fake.replies = [
        names("Ann Lee"), names("Oslo"),                          # both types answer
        names("Paris Hilton"), names("Paris"),                    # the longer span wins where they overlap
        *[names("Berlin")] * 3, *[Reply(status=400)],              # not in the enum: schema, then a refusal
        *[Reply(content="{}", finish_reason="length")] * 3, names("Malmo"),  # PER failed, LOC kept
    ]
    answers = extract_spans(client_for(fake, tmp_path), NEWS, PROMPTS, texts, 13, "r01", per_type=True)
    assert answers == [
        (spans(("Ann Lee", "PER"), ("Oslo", "LOC")), None),
        (spans(("Paris Hilton", "PER"), ("Paris", "LOC")), None),
        (None, "teacher_schema"),
        (spans(("Malmo", "LOC")), None),
    ]
    assert len(fake.requests) == 2 + 2 + 4 + 4
    first, second = fake.requests[0], fake.requests[1]
    enum = first["response_format"]["json_schema"]["schema"]["properties"]["names"]["items"]["enum"]
    assert enum == candidates(texts[0])
    assert "List only the PER entities" in first["messages"][-1]["content"]
    assert texts[0] in first["messages"][-1]["content"]
    assert "List only the LOC entities" in second["messages"][-1]["content"]
    assert first["seed"] == derive_seed(13, "r01", "label", texts[0], "PER") != second["seed"]
