"""Batch prediction for `evokd predict`: JSONL in ({"text": ...} or evokd samples), JSONL out.

The task comes from the checkpoint itself (task.yaml, written by train_student; for older checkpoints the
label names in config.json), so a checkpoint folder is all a user needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evokd.data import ClassificationSample, LabelSpec, NerSample, Sample, TaskSpec, load_task
from evokd.errors import InputError
from evokd.ner import entities, tag_type, tokenize_words
from evokd.student.card import TASK_FILE
from evokd.student.predict import Prediction, predict


def checkpoint_task(model_dir: str | Path) -> TaskSpec:
    """The checkpoint's task: its task.yaml, else rebuilt from the label names in config.json."""
    model_dir = Path(model_dir)
    if (model_dir / TASK_FILE).is_file():
        return load_task(model_dir / TASK_FILE)
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise InputError(str(model_dir), "not a student checkpoint (no task.yaml or config.json)")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    names = [config.get("id2label", {})[key] for key in sorted(config.get("id2label", {}), key=int)]
    ner = any(arch.endswith("ForTokenClassification") for arch in config.get("architectures", []))
    if ner:
        names = [name for name in dict.fromkeys(map(tag_type, names)) if name is not None]
    if not names:
        raise InputError(str(config_path), "the checkpoint names no labels (id2label)")
    return TaskSpec(name=model_dir.name, kind="ner" if ner else "classification", domain="unknown",
                    labels=[LabelSpec(name=name, description=name) for name in names])


def read_inputs(lines: Iterable[str], source: str, task: TaskSpec) -> list[tuple[dict[str, Any], Sample]]:
    """(input row, sample to predict) per non-blank line. NER text is split with tokenize_words unless the row
    already has `tokens`; labels in the rows are ignored (the model predicts them)."""
    inputs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(source, f"not JSON: {exc.msg}", line=number) from None
        if not isinstance(row, dict) or not (isinstance(row.get("text"), str) and row["text"].strip()
                                             or isinstance(row.get("tokens"), list) and row["tokens"]):
            raise InputError(source, 'expected an object with a non-empty "text" (or "tokens")', line=number)
        if task.kind == "ner":
            tokens = [str(token) for token in row["tokens"]] if row.get("tokens") else tokenize_words(row["text"])
            if not tokens:
                raise InputError(source, "the text has no words", line=number, field="text")
            inputs.append((row, NerSample(tokens=tokens, tags=["O"] * len(tokens), text=row.get("text"))))
        else:
            text = row.get("text") or " ".join(map(str, row["tokens"]))
            inputs.append((row, ClassificationSample(text=text, label=task.label_names[0])))
    return inputs


def prediction_row(row: dict[str, Any], sample: Sample, prediction: Prediction) -> dict[str, Any]:
    """One output line: the input's id and text, then the label and probabilities, or tokens, tags and spans."""
    out: dict[str, Any] = {"id": row["id"]} if "id" in row else {}
    if isinstance(sample, NerSample):
        tags = prediction.tags or []
        spans = [{"text": " ".join(sample.tokens[start:end]), "type": kind, "start": start, "end": end}
                 for kind, start, end in entities(tags)]
        return {**out, "text": sample.text or " ".join(sample.tokens), "tokens": sample.tokens, "tags": tags,
                "spans": spans, "confidence": round(prediction.confidence, 4)}
    probs = {name: round(value, 4) for name, value in (prediction.probs or {}).items()}
    return {**out, "text": sample.text, "label": prediction.label, "confidence": round(prediction.confidence, 4),
            "probs": probs}


def predict_lines(model_dir: str | Path, lines: Iterable[str], source: str = "<stdin>",
                  batch_size: int = 64) -> list[dict[str, Any]]:
    """Predict every JSONL input line with the checkpoint; one output row per input, in order."""
    task = checkpoint_task(model_dir)
    inputs = read_inputs(lines, source, task)
    samples = [sample for _, sample in inputs]
    predictions = predict(model_dir, task, samples, batch_size=batch_size)
    return [prediction_row(row, sample, prediction)
            for (row, sample), prediction in zip(inputs, predictions, strict=True)]
