"""What a classification student learns from each sample: a target distribution over the labels and a loss weight.

`student.target: soft` trains on the teacher's calibrated distribution (`ClassificationSample.probs`) instead of
its top label, so a sample the teacher was unsure about pulls the student less far; gold samples (no probs)
keep their one-hot label. `student.weighting: confidence` multiplies each sample's loss by the teacher's
`confidence` (gold: 1.0). Both go through one loss, `soft_cross_entropy`, which for one-hot targets and unit
weights is the plain cross entropy the model would compute itself. NER students train on their tags whatever
the target: a sentence has no teacher distribution per word.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evokd.data import ClassificationSample, Sample
from evokd.errors import EvokdError
from evokd.student.config import StudentConfig

TARGETS = "targets"
WEIGHTS = "weights"


def target_distribution(sample: ClassificationSample, labels: Sequence[str], target: str) -> list[float]:
    """The sample's target over `labels` (in id order): one-hot on its label, or its `probs` renormalised to 1.

    Soft falls back to one-hot when the sample has no probs (gold seeds). Labels missing from probs get 0."""
    if target == "hard" or sample.probs is None:
        return [float(label == sample.label) for label in labels]
    unknown = sorted(set(sample.probs) - set(labels))
    if unknown:
        raise EvokdError(f"sample {sample.text[:40]!r}: probs name labels {unknown} that the task lacks")
    if any(p < 0 for p in sample.probs.values()) or sum(sample.probs.values()) <= 0:
        raise EvokdError(f"sample {sample.text[:40]!r}: probs {sample.probs} are not a distribution")
    total = sum(sample.probs.values())
    return [sample.probs.get(label, 0.0) / total for label in labels]


def sample_weight(sample: Sample, weighting: str) -> float:
    """The sample's loss weight: its teacher confidence under `confidence` weighting, else 1.0 (gold, NER)."""
    confidence = getattr(sample, "confidence", None)
    return confidence if weighting == "confidence" and confidence is not None else 1.0


def add_targets(features: list[dict[str, Any]], samples: Sequence[Sample], labels: Sequence[str],
                config: StudentConfig) -> list[dict[str, Any]]:
    """Classification features with their target distribution and loss weight, for `TargetCollator`."""
    return [{**feature, TARGETS: target_distribution(sample, labels, config.target),
             WEIGHTS: sample_weight(sample, config.weighting)}
            for feature, sample in zip(features, samples, strict=True)]


def soft_cross_entropy(logits: Any, targets: Any, weights: Any) -> Any:
    """Batch mean of weight_i * H(target_i, softmax(logits_i)).

    The soft cross entropy differs from KL(target || student) only by the targets' entropy, a constant, so the
    gradients are KL's. Weights scale each sample's term; the mean is over the batch, so weights below 1 give
    a sample less pull rather than renormalising the batch."""
    import torch

    per_sample = -(targets * torch.log_softmax(logits.float(), dim=-1)).sum(dim=-1)
    return (weights * per_sample).mean()


class TargetCollator:
    """Dynamic padding of the token fields (the tokenizer's collator), plus the targets and weights as tensors."""

    def __init__(self, tokenizer: Any) -> None:
        from transformers import DataCollatorWithPadding

        self.pad = DataCollatorWithPadding(tokenizer)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        batch = self.pad([{k: v for k, v in f.items() if k not in (TARGETS, WEIGHTS)} for f in features])
        batch[TARGETS] = torch.tensor([f[TARGETS] for f in features], dtype=torch.float32)
        batch[WEIGHTS] = torch.tensor([f[WEIGHTS] for f in features], dtype=torch.float32)
        return batch


def target_trainer(**kwargs: Any) -> Any:
    """A Trainer whose loss is `soft_cross_entropy` on the batch's targets and weights (see TargetCollator)."""
    from transformers import Trainer

    class TargetTrainer(Trainer):
        loss_is_scaled_for_ga = False  # a per-batch mean: the Trainer divides by the accumulation steps

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            targets, weights = inputs.pop(TARGETS), inputs.pop(WEIGHTS)
            inputs.pop("labels", None)  # the hard label is in targets; the model must not add its own loss
            outputs = model(**inputs)
            loss = soft_cross_entropy(outputs.logits, targets, weights)
            return (loss, outputs) if return_outputs else loss

    return TargetTrainer(**kwargs)
