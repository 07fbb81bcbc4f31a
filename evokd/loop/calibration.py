"""Turn a teacher's label log-scores into calibrated label distributions.

Small teachers prefer some label words whatever the input (SmolLM2-135M said `fresh` to every review). Batch
calibration (Zhou et al., 2023) estimates that preference as the mean distribution over the round's batch and
divides it out; contextual calibration (Zhao et al., 2021) estimates it from one content-free input instead.
Both are p(y|x) / prior(y), renormalised.

The batch mean is the teacher's bias only when the batch holds every label about equally, and a round's hard
inputs do not: a batch of mostly negative reviews has a mean near "negative", and dividing it out turns plain
negatives positive. Anchored calibration measures the prior once, on the bootstrap batch (its inputs are written
for the labels in turn), and divides that out of every later batch (benchmarks/calibration_skew.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def softmax(log_scores: Mapping[str, float]) -> dict[str, float]:
    """Probabilities from log-scores (labels with -inf get 0); the scores need not be normalised."""
    top = max(log_scores.values())
    if top == -math.inf:
        raise ValueError("every label has log-score -inf")
    exps = {label: math.exp(score - top) for label, score in log_scores.items()}
    total = sum(exps.values())
    return {label: value / total for label, value in exps.items()}


def batch_prior(distributions: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The mean distribution of a batch: the teacher's preference for each label regardless of the input."""
    if not distributions:
        raise ValueError("batch calibration needs at least one distribution")
    labels = list(distributions[0])
    return {label: sum(dist[label] for dist in distributions) / len(distributions) for label in labels}


def calibrate(distribution: Mapping[str, float], prior: Mapping[str, float], floor: float = 1e-6) -> dict[str, float]:
    """p(y|x) / prior(y), renormalised; `floor` keeps a label the prior gives no mass from dividing by zero."""
    scaled = {label: p / max(prior[label], floor) for label, p in distribution.items()}
    total = sum(scaled.values())
    return {label: value / total for label, value in scaled.items()}
