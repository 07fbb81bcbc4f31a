"""How a sample reads as text: what the teacher is shown and dedup compares (`sample_text`), and its gold answer
as the probe and the analysis show it (`sample_gold_display`)."""

from __future__ import annotations

from evokd.data import NerSample, Sample
from evokd.ner import entities_display


def sample_text(sample: Sample) -> str:
    if isinstance(sample, NerSample):
        return sample.text or " ".join(sample.tokens)
    return sample.text


def sample_gold_display(sample: Sample) -> str:
    if isinstance(sample, NerSample):
        return entities_display(sample.tokens, sample.tags)
    return sample.label
