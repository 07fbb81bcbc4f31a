"""Scores of predictions against gold samples.

Classification: accuracy and macro-F1 from scikit-learn, over the labels that occur in the gold or the
predictions (sklearn's default, so a small probe batch is not scored on labels it does not contain).
NER: strict IOB2 span precision/recall/F1 from seqeval, called directly (`evaluate.load` would need a hub).
Every result has a "score" key: macro-F1 for classification, span F1 for NER.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evokd.data import ClassificationSample, NerSample, Sample, TaskSpec
from evokd.ner import OUTSIDE, tag_type
from evokd.student.predict import Prediction


def score(task: TaskSpec, gold: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Any]:
    if len(gold) != len(predictions):
        raise ValueError(f"{len(gold)} gold samples but {len(predictions)} predictions")
    if not gold:
        raise ValueError("nothing to score")
    expected = NerSample if task.kind == "ner" else ClassificationSample
    if not all(isinstance(sample, expected) for sample in gold):
        raise ValueError(f"task {task.name!r} is {task.kind}: every gold sample must be a {expected.__name__}")
    if task.kind == "ner":
        return _score_ner([s.tags for s in gold], [p.tags or [] for p in predictions])  # type: ignore[union-attr]
    return _score_classification([s.label for s in gold], [p.label or "" for p in predictions])  # type: ignore[union-attr]


def confusion_rows(task: TaskSpec, gold: Sequence[Sample], predictions: Sequence[Prediction]) -> list[dict[str, str]]:
    """Raw {actual, predicted} rows, the form DVC's `confusion` plot template counts itself.

    Classification: one row per sample. NER: one row per token by entity type (B-/I- dropped), leaving out tokens
    that are O in both, which would otherwise swamp the matrix.
    """
    if task.kind != "ner":
        return [{"actual": sample.label, "predicted": prediction.label or ""}  # type: ignore[union-attr]
                for sample, prediction in zip(gold, predictions, strict=True)]
    rows = []
    for sample, prediction in zip(gold, predictions, strict=True):
        for actual, predicted in zip(sample.tags, prediction.tags or [], strict=True):  # type: ignore[union-attr]
            if actual != OUTSIDE or predicted != OUTSIDE:
                rows.append({"actual": tag_type(actual) or OUTSIDE, "predicted": tag_type(predicted) or OUTSIDE})
    return rows


def _score_classification(y_true: list[str], y_pred: list[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    labels = sorted(set(y_true) | set(y_pred))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                                     zero_division=0)
    macro_f1 = float(f1.mean())
    return {
        "score": macro_f1,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": macro_f1,
        "n": len(y_true),
        "per_label": {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)},
    }


def _score_ner(y_true: list[list[str]], y_pred: list[list[str]]) -> dict[str, Any]:
    from seqeval.metrics import accuracy_score, classification_report, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    for index, (gold, pred) in enumerate(zip(y_true, y_pred, strict=True)):
        if len(gold) != len(pred):
            raise ValueError(f"sample {index}: {len(gold)} gold tags but {len(pred)} predicted")
    strict = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    report = classification_report(y_true, y_pred, output_dict=True, **strict)
    f1 = float(f1_score(y_true, y_pred, **strict))
    return {
        "score": f1,
        "precision": float(precision_score(y_true, y_pred, **strict)),
        "recall": float(recall_score(y_true, y_pred, **strict)),
        "f1": f1,
        "token_accuracy": float(accuracy_score(y_true, y_pred)),
        "n": len(y_true),
        "per_label": {label: {"precision": float(v["precision"]), "recall": float(v["recall"]),
                              "f1": float(v["f1-score"]), "support": int(v["support"])}
                      for label, v in report.items() if not label.endswith(" avg")},
    }
