"""Unlabelled in-domain text put to work: prepare's `data/raw/unlabelled.jsonl` (rows `{"text": ...}`).

Retrieval seeding (`loop.retrieval_k`, SynthesizRR-style): every generation request shows k real texts of the
domain, so generated texts follow its style and spread. The index is word TF-IDF (scikit-learn): 2,000 texts are
read and indexed in 0.04 s on 2 CPU cores, answers are deterministic, and no model is loaded (the student encoder
would cost a forward pass over the whole pool every round). The query is what the request aims at: a hard request's
analysis direction (the pattern the text should show), otherwise the label's description. Each request draws its
k examples with its own seed from the RETRIEVAL_DEPTH x k texts nearest its query, so requests that share a query
still see different texts. They are shown as texts of the domain, never as texts of a label.

Active selection (`loop.n_unlabelled`): per round, the pool texts the previous student is least sure of, scored
like `loop.select_factor`'s candidates (generate.select_least_confident), are labelled by the teacher in the label
stage like generated inputs (stance `unlabelled`). Texts already in the sample pool (earlier rounds, the seeds)
or duplicating a generated input are never picked.

The pool holds texts only, never labels; prepare keeps the gold test set out of it.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from evokd.data import LabelSpec, Provenance, Sample
from evokd.errors import EvokdError, InputError
from evokd.io import read_jsonl_numbered
from evokd.loop.common import sample_text
from evokd.loop.config import LoopConfig
from evokd.loop.dedup import DuplicateFilter
from evokd.loop.generate import GeneratedInput, length_problem, select_least_confident
from evokd.loop.records import Selection
from evokd.loop.step import Step

RETRIEVAL_DEPTH = 4  # a request's k examples are drawn from the 4k texts nearest its query
CANDIDATES_PER_PICK = 20  # selection scores a seeded sample of 20 x n_unlabelled unused texts (not the whole pool)
STANCE = "unlabelled"


def read_unlabelled(path: Path | None) -> list[str]:
    """The pool's texts in file order, whitespace collapsed, each once; a bad row is an InputError naming the
    line. No pool or an empty one is an error too: a param asked for it."""
    if path is None:
        raise EvokdError("loop.retrieval_k and loop.n_unlabelled need the unlabelled pool (--unlabelled)")
    if not path.is_file():
        raise InputError(str(path), "no unlabelled pool, but loop.retrieval_k or loop.n_unlabelled asks for one: "
                         "name your texts in task.unlabelled (or, for a benchmark, set task.unlabelled_split: train)")
    texts: dict[str, None] = {}
    for number, row in read_jsonl_numbered(path):
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(str(path), 'expected a non-empty string "text"', line=number, field="text")
        texts[" ".join(text.split())] = None
    if not texts:
        raise InputError(str(path), "no unlabelled texts, but loop.retrieval_k or loop.n_unlabelled asks for "
                         "them (task.unlabelled, task.unlabelled_split)")
    return list(texts)


class Retriever:
    """A TF-IDF index over the pool's texts that fit the loop's length bounds (a longer example would contradict
    the request's length limit)."""

    def __init__(self, texts: list[str], config: LoopConfig):
        self.texts = [text for text in texts if config.min_chars <= len(text) <= config.max_chars]
        if not self.texts:
            raise EvokdError(f"none of the {len(texts)} unlabelled texts is {config.min_chars}-{config.max_chars} "
                             "characters long (loop.min_chars, loop.max_chars): nothing to retrieve")
        self.k = min(config.retrieval_k, len(self.texts))
        self._vectorizer = TfidfVectorizer(sublinear_tf=True)
        self._matrix = self._vectorizer.fit_transform(self.texts)

    def examples(self, intent: LabelSpec, direction: str | None, seed: int) -> list[str]:
        """k pool texts for one request, nearest its query first: drawn with `seed` from the texts nearest the
        query (texts sharing no word with it only fill up)."""
        query = direction or intent.description
        scores = linear_kernel(self._vectorizer.transform([query]), self._matrix).ravel()
        order = np.argsort(-scores, kind="stable")
        nearest = [int(index) for index in order[:RETRIEVAL_DEPTH * self.k] if scores[index] > 0]
        rng = random.Random(seed)
        picked = rng.sample(nearest, min(self.k, len(nearest)))
        if len(picked) < self.k:
            others = [int(index) for index in order if scores[index] <= 0]
            picked += rng.sample(others, self.k - len(picked))
        rank = {int(index): place for place, index in enumerate(order)}
        return [self.texts[index] for index in sorted(picked, key=rank.__getitem__)]


def select_unlabelled(step: Step, texts: list[str], pool: list[Sample], generated: list[GeneratedInput],
                      student: Path | None) -> tuple[list[GeneratedInput], Selection]:
    """`loop.n_unlabelled` pool texts the student is least sure of, as inputs for the label stage, and stats.

    Candidates are a seeded sample of the texts that pass the length checks and are new to the sample pool and
    to this round's generated inputs (exact and near duplicates, as for generated texts)."""
    if student is None:
        raise EvokdError("loop.n_unlabelled needs the previous round's student (--student)")
    config = step.loop
    order = random.Random(step.seed_for("unlabelled")).sample(texts, len(texts))
    duplicates = DuplicateFilter([*map(sample_text, pool), *(item.text for item in generated)],
                                 config.near_dup_threshold)
    wanted = CANDIDATES_PER_PICK * config.n_unlabelled
    provenance = Provenance(origin="unlabelled", teacher_model=step.teacher_model, prompt_set=step.prompts.name)
    candidates: list[GeneratedInput] = []
    for text in order:
        if len(candidates) == wanted:
            break
        if not length_problem(text, step.task, config) and not duplicates.check(text):
            candidates.append(GeneratedInput(text=text, intent="", stance=STANCE, round=step.round,
                                             provenance=provenance))
    return select_least_confident(step.task, [("", STANCE)] * config.n_unlabelled, candidates, student)
