"""Small pieces every loop step shares: request seeds, display text of samples, teacher provenance."""

from __future__ import annotations

import hashlib
from typing import Any

from seqeval.metrics.sequence_labeling import get_entities

from evokd.data import NerSample, Provenance, Sample, Span
from evokd.teacher.config import TeacherConfig
from evokd.teacher.server import stop_server


def derive_seed(*parts: object) -> int:
    """A stable per-request seed from the run seed and the request's place (round, step, index).

    Stable seeds make identical requests on a rerun, so the teacher cache answers them for free.
    """
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def sample_text(sample: Sample) -> str:
    if isinstance(sample, NerSample):
        return sample.text or " ".join(sample.tokens)
    return sample.text


def entities_display(tokens: list[str], tags: list[str]) -> str:
    """`Paris (LOC); Jean Dupont (PER)` — how NER spans are shown to the teacher."""
    spans = tags_to_spans(tokens, tags)
    return "; ".join(f"{span.text} ({span.type})" for span in spans) or "no entities"


def tags_to_spans(tokens: list[str], tags: list[str]) -> list[Span]:
    """Entity spans of an IOB2 sequence (seqeval's reading of it, the one the metrics use)."""
    return [Span(text=" ".join(tokens[start:end + 1]), type=kind) for kind, start, end in get_entities(tags)]


def sample_gold_display(sample: Sample) -> str:
    if isinstance(sample, NerSample):
        return entities_display(sample.tokens, sample.tags)
    return sample.label


def teacher_provenance(model: str, prompt_set: str, key: str, intent: str | None) -> Provenance:
    return Provenance(source="teacher", teacher_model=model, prompt_set=prompt_set, request_key=key, intent=intent)


def per_label_f1(scores: dict[str, Any]) -> dict[str, float]:
    """{label: F1} from a scores dict of evokd.student.metrics.score."""
    return {name: float(values["f1"]) for name, values in scores.get("per_label", {}).items()}


def stop_teacher_if_asked(config: TeacherConfig) -> None:
    """Free the cores for training when `teacher.stop_before_train` is on (see README: idle server cost)."""
    if config.stop_before_train and not config.endpoint:
        stop_server(config)


def stage_summary(stage: str, stats: dict[str, Any], note: str = "") -> str:
    """The one line a stage prints when it ends: kept/asked with reject reasons, teacher tokens, a note.

    e.g. `generate@r01: 10/12 kept (rejects: duplicate 1, too_long 1), 2,431 teacher tokens`."""
    parts = []
    if "kept" in stats:
        asked = stats.get("requested", stats.get("inputs", "?"))
        rejects = ", ".join(f"{reason} {count}" for reason, count in sorted(stats.get("rejects", {}).items()))
        parts.append(f"{stats['kept']}/{asked} kept" + (f" (rejects: {rejects})" if rejects else ""))
    teacher = stats.get("teacher")
    if teacher:
        cached = f" ({teacher['cached']} cached answers)" if teacher.get("cached") else ""
        parts.append(f"{teacher.get('total_tokens', 0):,} teacher tokens{cached}")
    if stats.get("labels"):
        parts.append("labels " + " ".join(f"{name} {count}" for name, count in stats["labels"].items() if count))
    if note:
        parts.append(note)
    return f"{stage}: " + ", ".join(parts) + "".join(f"\nwarning: {line}" for line in stats.get("warnings", []))
