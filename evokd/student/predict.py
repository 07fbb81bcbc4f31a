"""Predict with a student checkpoint: labels with probabilities, or word-level IOB2 tags.

A plain inference loop: examples are sorted by length so each batch pads little, run under
`torch.inference_mode()`, and returned in the caller's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evokd.data import Sample, TaskSpec
from evokd.ner import OUTSIDE, repair_iob2
from evokd.student.encoding import check_labels, features_of, first_subtokens, label_list, load_tokenizer, tokenize


@dataclass
class Prediction:
    label: str | None  # classification: the predicted label
    tags: list[str] | None  # NER: one IOB2 tag per word of the sample
    probs: dict[str, float] | None  # classification: probability of every label
    confidence: float  # classification: top probability; NER: the lowest top-tag probability over words


def predict(checkpoint: str | Path, task: TaskSpec, samples: Sequence[Sample], batch_size: int = 64,
            max_length: int | None = None) -> list[Prediction]:
    """Predict every sample, in order. max_length defaults to what the model reads (512 for BERT); NER words
    cut off beyond it are tagged O with confidence 0."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    check_labels(checkpoint, task)
    if not samples:
        return []
    auto = AutoModelForTokenClassification if task.kind == "ner" else AutoModelForSequenceClassification
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = auto.from_pretrained(checkpoint).eval().to(device)
    tokenizer = load_tokenizer(checkpoint)
    limit = max_length or min(tokenizer.model_max_length, getattr(model.config, "max_position_embeddings", 512))
    batch = tokenize(task, samples, tokenizer, limit)
    names = label_list(task)
    order = sorted(range(len(samples)), key=lambda i: len(batch["input_ids"][i]))
    predictions: dict[int, Prediction] = {}
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        inputs = tokenizer.pad([features_of(batch, i) for i in chunk], return_tensors="pt").to(device)
        with torch.inference_mode():
            probs = model(**inputs).logits.float().softmax(dim=-1).cpu()
        for row, index in enumerate(chunk):
            if task.kind == "ner":
                predictions[index] = _word_tags(probs[row], batch.word_ids(index), len(samples[index].tokens),
                                                names)
            else:
                predictions[index] = _label(probs[row], names)
    return [predictions[i] for i in range(len(samples))]


def _label(probs: Any, names: Sequence[str]) -> Prediction:
    top = int(probs.argmax())
    return Prediction(label=names[top], tags=None, confidence=float(probs[top]),
                      probs=dict(zip(names, probs.tolist(), strict=True)))


def _word_tags(probs: Any, word_ids: Sequence[int | None], n_words: int, names: Sequence[str]) -> Prediction:
    """Word-level tags from sub-token probabilities: each word takes its first sub-token's tag."""
    positions = first_subtokens(word_ids)
    tags, confidences = [], []
    for word in range(n_words):
        if word in positions:
            top_p, top = probs[positions[word]].max(dim=-1)
            tags.append(names[int(top)])
            confidences.append(float(top_p))
        else:
            tags.append(OUTSIDE)
            confidences.append(0.0)
    return Prediction(label=None, tags=repair_iob2(tags), probs=None, confidence=min(confidences))
