"""NER on the teacher's side: the inline markup generation writes (`[PER Ann Lee] flew to [LOC Oslo].`), and span
extraction whose answers can only be substrings of the sentence.

A small teacher asked for spans as free text answers with spans that are not in the text (SmolLM2-135M: most of
them). Here the schema's entity text is an enum of the sentence's own word runs (`candidates`), so every answer
is in the text by construction; the answers become one consistent span set (`merge_spans`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from evokd.data import TaskSpec
from evokd.loop.step import derive_seed
from evokd.ner import Span, entities, occurrences, place_spans, spans_to_bio, tokenize_words
from evokd.prompts import PromptSet
from evokd.teacher.client import ChatRequest, TeacherClient

MAX_SPAN_WORDS = 6  # 99.9 % of CoNLL-2003 train entities have at most 6 words
MAX_CANDIDATES = 200  # enum size per sentence; past it the longest n-grams are left out
# Entities one answer may list (for one type, or for all): 99.8 % of CoNLL-2003 train sentences have at most 8
# distinct ones, and a small teacher that repeats one until the list is full is cut off sooner.
MAX_NAMES = 8
MAX_ENTITIES = 8
# Tokens no entity contains (0.1 % of CoNLL-2003 train entities do): n-grams across them are no candidates.
SEPARATORS = frozenset(',;:!?()[]{}"“”')
# Words a period ends without ending the sentence (`Mr. Lee`, `St. Louis`, `Acme Corp. Chairman`); initials
# (`U.S.`, `W.`) are told by their shape.
ABBREVIATIONS = frozenset({"Mr", "Mrs", "Ms", "Dr", "Prof", "Jr", "Sr", "St", "Mt", "Gen", "Gov", "Sen", "Rep",
                           "Rev", "Lt", "Col", "Capt", "Sgt", "Inc", "Corp", "Co", "Ltd"})
# A bracket, or sentence-final punctuation (with closing quotes) before whitespace; group 1: what follows it
_BOUNDARY = re.compile(r"[\[\]]|[.!?][\"'”’)]*(?=\s+(\S))")
_MARKER = re.compile(r"\[([^\[\]]*)\]")  # a marker with no bracket inside


class MarkupError(ValueError):
    """Why a marked-up sentence was refused; `reason` is a short code to count rejects by."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def first_sentence(markup: str) -> str:
    """The first sentence of a marked-up answer: asked for one sentence, a small teacher (Qwen2.5-Coder-1.5B)
    often writes a good one, then runs on with more until max_tokens cuts it (`... [ORG`), or copies the prompt.

    A sentence ends outside brackets at `.`, `!` or `?` (and closing quotes) followed by whitespace and an
    uppercase letter, a quote or `[`, but not after an abbreviation (ABBREVIATIONS) or initials (`U.S.`, `W.`).
    A text with no such end is returned whole.
    """
    depth = 0
    for match in _BOUNDARY.finditer(markup):
        if match.group() == "[":
            depth += 1
        elif match.group() == "]":
            depth = max(depth - 1, 0)
        elif depth == 0 and not _abbreviation(markup[:match.start()]):
            follower = match.group(1)
            if follower.isupper() or follower in "\"'“‘[":
                return markup[:match.end()]
    return markup


def _abbreviation(before: str) -> bool:
    """Whether the word that ends `before` (a period follows it) is an abbreviation or initials."""
    word = re.split(r"[^\w.]", before)[-1]
    return word in ABBREVIATIONS or re.fullmatch(r"[A-Z]|(?:[A-Za-z]\.)+[A-Za-z]", word) is not None


def unwrap_foreign(markup: str, types: Sequence[str]) -> str:
    """`markup` without the markers that name no entity of the task: a marker of a type the task lacks
    (`[NUM 382]`, `[DATE May 4]`: a first word of 3+ capitals that is not a type) becomes its words, and an
    empty marker of a type (`[ORG]`) is removed. Small teachers write both in otherwise good sentences, which
    parse_markup would refuse (unknown_type, empty_entity). Other markers are left to parse_markup."""
    known = {name.lower() for name in types}

    def unwrap(match: re.Match[str]) -> str:
        kind, *rest = match.group(1).split(None, 1) or [""]
        if kind.lower() in known:
            return match.group() if rest else ""
        if rest and re.fullmatch(r"[A-Z][A-Z_]{2,}", kind):
            return rest[0]
        return match.group()

    return _MARKER.sub(unwrap, markup)


def parse_markup(text: str, types: Sequence[str]) -> tuple[str, list[Span]]:
    """The plain sentence and its entity spans from inline markup `[TYPE entity words]`.

    Square brackets are reserved for markup: a stray `[` or `]` is `unbalanced`, a `[` inside an entity is
    `nested`. Whitespace runs become one space (inside entities too) and the text is stripped. Punctuation at an
    entity's edges (`[LOC Oslo.]`) stays in the text but not in the span; a possessive `[PER Ann]'s` becomes
    `Ann 's`, as CoNLL writes it (tokenize_words keeps `Ann's` whole). The type must be one of `types` (exactly,
    else case-insensitively). A span is listed once however often it is marked (spans_to_bio tags every
    occurrence, marked or not); a sentence without markup has no spans. Raises MarkupError (a ValueError) for:
    unknown_type, unbalanced, nested, empty_entity, split_word (an entity that starts or ends inside a word, e.g.
    `[ORG Nokia]-backed`) and conflict (spans that cannot become one IOB2 sequence, e.g. the same words marked
    with two types).
    """
    pieces: list[tuple[str, str | None]] = []  # (plain text, None) or (entity words, type)
    open_at, last = None, 0
    for match in re.finditer(r"[\[\]]", text):
        if match.group() == "[":
            if open_at is not None:
                raise MarkupError("nested", f"'[' inside {text[open_at:match.end()][:40]!r}")
            pieces.append((re.sub(r"\s+", " ", text[last:match.start()]), None))
            open_at = match.start()
        else:
            if open_at is None:
                before = text[max(0, match.start() - 30):match.end()]
                raise MarkupError("unbalanced", f"']' closes nothing in {before!r}")
            pieces.append(_entity(text[open_at + 1:match.start()], types))
            open_at = None
        last = match.end()
    if open_at is not None:
        raise MarkupError("unbalanced", f"{text[open_at:][:40]!r} is not closed")
    pieces.append((re.sub(r"\s+", " ", text[last:]), None))
    pieces[0] = (pieces[0][0].lstrip(), None)  # the first and last pieces are plain text
    pieces[-1] = (pieces[-1][0].rstrip(), None)
    plain, entities = "", []
    for words, kind in pieces:
        if kind is not None:
            start, end = _trim_punctuation(words)
            entities.append((len(plain) + start, len(plain) + end, kind))
        elif entities and entities[-1][1] == len(plain) and re.match(r"['’]\w", words):
            words = " " + words  # `[PER Ann]'s` -> `Ann 's`, as CoNLL writes it: tokenize_words keeps Ann's whole
        plain += words
    tokens = tokenize_words(plain)
    spans: dict[tuple[str, str], Span] = {}
    for start, end, kind in entities:
        if tokenize_words(plain[:start]) + tokenize_words(plain[start:end]) + tokenize_words(plain[end:]) != tokens:
            raise MarkupError("split_word", f"{plain[start:end]!r} ({kind}) starts or ends inside a word")
        spans.setdefault((plain[start:end], kind), Span(text=plain[start:end], type=kind))
    try:
        spans_to_bio(tokens, spans.values(), types)
    except ValueError as exc:
        raise MarkupError("conflict", str(exc)) from None
    return plain, list(spans.values())


def _entity(inside: str, types: Sequence[str]) -> tuple[str, str]:
    """(entity words, type) of the inside of `[TYPE entity words]`."""
    kind, *rest = inside.split(None, 1) or [""]
    name = kind if kind in types else {name.lower(): name for name in types}.get(kind.lower())
    if name is None and kind:
        raise MarkupError("unknown_type", f"{kind!r} in '[{inside[:40]}]'; types are {', '.join(types)}")
    if name is None or not rest:
        raise MarkupError("empty_entity", f"'[{inside[:40]}]' names no words")
    return " ".join(rest[0].split()), name


def _trim_punctuation(words: str) -> tuple[int, int]:
    """(start, end) of `words` without the punctuation tokens at its edges (`Oslo.` -> `Oslo`)."""
    tokens = tokenize_words(words)
    offsets = [offset for token, offset in zip(tokens, _offsets(words, tokens), strict=True) if _is_word(token)]
    if not offsets:
        raise MarkupError("empty_entity", f"{words!r} has no words")
    return offsets[0][0], offsets[-1][1]


def to_markup(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """A tagged sentence as inline markup (`[PER Ann Lee] flew to [LOC Oslo] .`), words joined by spaces.

    Square brackets in the words become parentheses, so the markup stays unambiguous (5 of 14,041 CoNLL-2003
    train sentences have any); otherwise parse_markup gives back " ".join(tokens) and the entities.
    """
    words = [token.replace("[", "(").replace("]", ")") for token in tokens]
    for kind, start, end in reversed(entities(tags)):
        words[start:end] = [f"[{kind} {' '.join(words[start:end])}]"]
    return " ".join(words)


def _is_word(token: str) -> bool:
    return any(ch.isalnum() for ch in token)


def _offsets(text: str, tokens: Sequence[str]) -> list[tuple[int, int]]:
    """(start, end) of each token of tokenize_words(text); only whitespace lies between tokens."""
    offsets, position = [], 0
    for token in tokens:
        start = text.index(token, position)
        offsets.append((start, start + len(token)))
        position = start + len(token)
    return offsets


def candidates(text: str, max_words: int = MAX_SPAN_WORDS, limit: int = MAX_CANDIDATES) -> list[str]:
    """The substrings an entity of `text` can be: runs of 1..max_words words (tokenize_words) that start and end
    with a word (not punctuation) and cross no separator (comma, colon, bracket, quote...), each once, shorter
    first, at most `limit`.

    In a text with capitals, only runs whose first and last words have one: 99.3 % of CoNLL-2003 train entities
    do, the enum shrinks from ~51 to ~6 runs a sentence, and a small teacher stops naming common nouns (strict
    span F1 of Qwen2.5-Coder-1.5B 0.50 -> 0.61 on 20 train sentences). A text without capitals keeps all runs.
    """
    tokens = tokenize_words(text)
    offsets = _offsets(text, tokens)
    cased = any(_has_capital(token) for token in tokens)
    found: dict[str, None] = {}
    for size in range(1, max_words + 1):
        for start in range(len(tokens) - size + 1):
            first, last = tokens[start], tokens[start + size - 1]
            if not (_is_word(first) and _is_word(last)) or SEPARATORS.intersection(tokens[start:start + size]):
                continue
            if cased and not (_has_capital(first) and _has_capital(last)):
                continue
            substring = text[offsets[start][0]:offsets[start + size - 1][1]]
            if tokenize_words(substring) == tokens[start:start + size]:
                found.setdefault(substring)
                if len(found) == limit:
                    return list(found)
    return list(found)


def _has_capital(token: str) -> bool:
    return any(ch.isupper() for ch in token)


@cache
def names_schema(choices: tuple[str, ...]) -> type[BaseModel]:
    """The answer of a request for one entity type: a list of the sentence's candidate substrings (an enum)."""
    return create_model("EntityNames", __config__=ConfigDict(extra="forbid"),
                        names=(Annotated[list[Literal[choices]], Field(max_length=MAX_NAMES)], ...))  # type: ignore[valid-type]


@cache
def entities_schema(choices: tuple[str, ...], types: tuple[str, ...]) -> type[BaseModel]:
    """The answer of a request for all types at once: entities whose text is a candidate substring (an enum)."""
    strict = ConfigDict(extra="forbid")
    entity = create_model("Entity", __config__=strict, text=(Literal[choices], ...),  # type: ignore[valid-type]
                          type=(Literal[types], ...))  # type: ignore[valid-type]
    return create_model("EntityLabels", __config__=strict,
                        entities=(Annotated[list[entity], Field(max_length=MAX_ENTITIES)], ...))  # type: ignore[valid-type]


def merge_spans(tokens: Sequence[str], answers: Mapping[str, Sequence[str]], types: Sequence[str]) -> list[Span]:
    """One consistent span set from per-type answers ({type: names}).

    Words named for two types are dropped (nothing tells which is right). Otherwise the longer span wins: spans
    are placed by place_spans, longest first (then by first occurrence), and the ones that do not fit (every
    occurrence overlaps a placed span of another type) are dropped. The result is in that order, so
    spans_to_bio(tokens, result, types) places exactly these and never raises.
    """
    claimed: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for kind, names in answers.items():
        for name in names:
            claimed[tuple(tokenize_words(name))].add(kind)
    unique = [(Span(text=name, type=kind), tokenize_words(name)) for kind in types
              for name in dict.fromkeys(answers.get(kind, ())) if len(claimed[tuple(tokenize_words(name))]) == 1]
    ordered = sorted(unique, key=lambda item: (-len(item[1]), occurrences(tokens, item[1])[:1]))
    return place_spans(tokens, [span for span, _ in ordered], types).placed


def extract_spans(client: TeacherClient, task: TaskSpec, prompts: PromptSet, texts: Sequence[str], seed: int,
                  round_name: str, per_type: bool = False) -> list[tuple[list[Span] | None, str | None]]:
    """Entity spans of each text from the teacher, whose answers can only name the text's candidate substrings
    (a JSON-schema enum, enforced by the server and validated again by the client), merged by merge_spans.

    By default one request per text lists entities with their types (`labeling_ner.j2` with `label` None); with
    `per_type`, one request per entity type lists that type's names (`label` is the type). Asked per type, the
    small Qwen2.5-Coder teachers name most names for every type and the merge drops them: strict span F1 on 20
    CoNLL-2003 train sentences, joint vs per type, 0.36 vs 0.28 (0.5B) and 0.63 vs 0.19 (1.5B).

    Per text: (spans, None), or (None, `teacher_<why>`) when every request for it failed (the first failure,
    as teacher_labels words it). A text whose requests failed for some types only keeps the others' spans.
    """
    jobs: list[tuple[int, str | None]] = []
    requests = []
    for index, text in enumerate(texts):
        choices = tuple(candidates(text))
        if not choices:
            continue
        for label in task.labels if per_type else [None]:
            schema = names_schema(choices) if label else entities_schema(choices, tuple(task.label_names))
            jobs.append((index, label.name if label else None))
            requests.append(ChatRequest(
                messages=prompts.messages("labeling", task, text=text, label=label), schema=schema,
                seed=derive_seed(seed, round_name, "label", text, *([label.name] if label else [])), temperature=0.0))
    answers: list[dict[str, list[str]] | None] = [None] * len(texts)
    failures: list[str | None] = [None] * len(texts)
    for (index, kind), result in zip(jobs, client.run(requests, desc=f"label {round_name}"), strict=True):
        if result.value is None:
            failures[index] = failures[index] or result.reject
            continue
        if answers[index] is None:
            answers[index] = {}
        named = answers[index]
        pairs = ([(kind, name) for name in result.value.names] if kind else
                 [(entity.type, entity.text) for entity in result.value.entities])
        for type_name, name in pairs:
            named.setdefault(type_name, []).append(name)
    return [(None, failures[index]) if answers[index] is None and failures[index]
            else (merge_spans(tokenize_words(text), answers[index] or {}, task.label_names), None)
            for index, text in enumerate(texts)]
