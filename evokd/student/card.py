"""The checkpoint explains itself: task.yaml (labels with descriptions) and a model card (README.md).

The card is rebuilt from what the checkpoint folder holds (task.yaml, train_log.json with a summary of the
training data's provenance) plus test metrics when the caller knows them, so the loop can rewrite it after
evaluation without retraining anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evokd.data import Sample, TaskSpec, load_task
from evokd.io import atomic_write_text, read_json

TASK_FILE = "task.yaml"
CARD_FILE = "README.md"


def data_summary(samples: Sequence[Sample]) -> dict[str, dict[str, int]]:
    """Where the training samples came from: counts per round, stance, origin, teacher model and prompt set."""
    def count(values: Sequence[str | None]) -> dict[str, int]:
        return dict(sorted(Counter(value for value in values if value).items()))

    return {
        "rounds": count([sample.round for sample in samples]),
        "stances": count([sample.stance for sample in samples]),
        "origins": count([sample.provenance.origin for sample in samples]),
        "teacher_models": count([sample.provenance.teacher_model for sample in samples]),
        "prompt_sets": count([sample.provenance.prompt_set for sample in samples]),
    }


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {value}" for name, value in counts.items()) or "none"


def _metrics_section(metrics: dict[str, Any] | None) -> list[str]:
    if not metrics:
        return ["Not evaluated yet: `evokd evaluate --model DIR --task task.yaml --data test.jsonl --out m.json`."]
    headline = {key: metrics[key] for key in ("score", "accuracy", "macro_f1", "precision", "recall", "f1")
                if key in metrics}
    lines = [f"On {metrics.get('n', '?')} held-out gold test samples: "
             + ", ".join(f"{key} {value:.4f}" for key, value in headline.items()) + ".", ""]
    per_label = metrics.get("per_label", {})
    if per_label:
        lines += ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
                  for name, v in per_label.items()]
    return lines


def render_card(task: TaskSpec, log: dict[str, Any], metrics: dict[str, Any] | None = None) -> str:
    """The card's Markdown (with the Hugging Face metadata header)."""
    data = log.get("data", {})
    pipeline_task = "token-classification" if task.kind == "ner" else "text-classification"
    extra = ', aggregation_strategy="first"' if task.kind == "ner" else ""
    labels = "\n".join(f"- `{label.name}`: {label.description}" for label in task.labels)
    kind = "named entity recognition (IOB2 tags over words)" if task.kind == "ner" else "text classification"
    lines = [
        "---", f"pipeline_tag: {pipeline_task}", "library_name: transformers", f"language: {task.language}",
        "tags: [evokd, knowledge-distillation]", "---", "",
        f"# {task.name} student (EvoKD)", "",
        f"A small encoder fine-tuned for {kind} on {task.domain}",
        "", "## Model", "",
        f"- Base encoder: `{log.get('base_model')}`"
        + (f" (continued from `{log['init_from']}`)" if log.get("init_from") else ""),
        f"- Trained on {log.get('samples')} samples"
        + (f" and {log['glosses']} label glosses (a label's word and description)" if log.get("glosses") else "")
        + f", {log.get('epochs')} epochs, seed {log.get('seed')}, "
        f"device {log.get('device')}; final training loss {log.get('train_loss', float('nan')):.4f}",
        "", "## Task and labels", "", labels, "",
        "## Training data", "",
        f"- Rounds: {_counts(data.get('rounds', {}))}",
        f"- Stances: {_counts(data.get('stances', {}))}",
        f"- Origins: {_counts(data.get('origins', {}))}",
        f"- Teacher models: {_counts(data.get('teacher_models', {}))}",
        f"- Prompt sets: {_counts(data.get('prompt_sets', {}))}",
        "", "Teacher samples were written by the teacher LLM for this round's student (EvoKD); `seed`/`gold` "
        "origins are human-labelled.", "",
        "## Test metrics", "", *_metrics_section(metrics), "",
        "## Use", "", "```python", "from transformers import pipeline", "",
        f'classify = pipeline("{pipeline_task}", model="path/to/this/folder"{extra})',
        'print(classify("your text here"))', "```", "",
        "Or batch prediction to JSONL: `evokd predict --model path/to/this/folder input.jsonl`.", "",
    ]
    return "\n".join(lines)


def write_model_card(model_dir: str | Path, metrics: dict[str, Any] | None = None) -> Path:
    """(Re)write model_dir/README.md atomically from its task.yaml and train_log.json (and test metrics)."""
    model_dir = Path(model_dir)
    log = read_json(model_dir / "train_log.json")
    path = model_dir / CARD_FILE
    atomic_write_text(path, render_card(load_task(model_dir / TASK_FILE), log, metrics))
    return path
