"""Exact and near-duplicate detection of generated texts against the whole pool so far.

Near duplicates are found by cosine similarity of character n-gram TF-IDF vectors (scikit-learn): it catches
the small edits (a changed word, punctuation) a teacher makes when it repeats itself.
"""

from __future__ import annotations

import re

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", text.lower())).strip()


class DuplicateFilter:
    """Holds the pool's texts; `check` says why a candidate is a duplicate (or None) and adds it if new."""

    def __init__(self, pool_texts: list[str], threshold: float):
        self.threshold = threshold
        self.texts: list[str] = []
        self.seen: set[str] = set()
        for text in pool_texts:
            self._add(text)

    def _add(self, text: str) -> None:
        self.texts.append(text)
        self.seen.add(normalize(text))

    def check(self, text: str) -> str | None:
        if normalize(text) in self.seen:
            return "duplicate"
        if self.texts and self.threshold < 1.0 and self._max_similarity(text) >= self.threshold:
            return "near_duplicate"
        self._add(text)
        return None

    def _max_similarity(self, text: str) -> float:
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True)
        try:
            matrix = vectorizer.fit_transform([*self.texts, text])
        except ValueError:  # no n-grams at all (e.g. only punctuation): nothing to compare
            return 0.0
        return float(cosine_similarity(matrix[-1], matrix[:-1]).max())
