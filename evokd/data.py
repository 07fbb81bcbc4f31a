"""The data layer: task specs and samples, one pydantic schema per task kind, JSONL in and out.

Every sample is one JSON object per line (pandas reads the files as they are) and carries its round, its stance
(how the round chose an input: hard, easy, static or unlabelled; none for the others) and its provenance with its origin
(gold, seed, teacher, init, unlabelled, review, gloss), so any line of any round can be traced back to a gold file or a
teacher request. Files of an older evokd, whose `stance` also held origins, read as they are.
Reading is strict: a bad line raises an InputError naming the file, the line and the field; writers check
everything before they write anything, and write atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evokd.errors import InputError
from evokd.io import atomic_write_yaml, read_jsonl_numbered, read_yaml, write_jsonl
from evokd.ner import Span, iob2_problem, is_tag, tag_set

# how the round chose an input: asked the teacher for a hard or an easy one, or for one with no feedback (static),
# or picked a text of the unlabelled pool for the student's doubt
Stance = Literal["hard", "easy", "static", "unlabelled"]
# where a sample comes from: gold data, a K-shot gold seed, a teacher-written input, a seed's paraphrase (the
# EvoKD+Init warm-up), a text of the unlabelled pool labelled by the teacher, an earlier sample in review, a label's
# gloss from the task file (student.glosses)
Origin = Literal["gold", "seed", "teacher", "init", "unlabelled", "review", "gloss"]
_OLD_STANCES = {"seed": "seed", "gold": "gold", "init": "init", "replay": "review"}


def split_old_stance(data: Any) -> Any:
    """Read-compatibility: an older file's `stance` that names an origin (seed, gold, init, replay) becomes the
    provenance's `origin` (replay: review) in place of its provenance `source`."""
    if not isinstance(data, dict) or data.get("stance") not in _OLD_STANCES:
        return data
    provenance = dict(data.get("provenance") or {})
    provenance.pop("source", None)
    provenance["origin"] = _OLD_STANCES[data["stance"]]
    return {**data, "stance": None, "provenance": provenance}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LabelSpec(_Strict):
    """A class label (classification) or an entity type (NER) with the one-line description the teacher reads.

    `verbalizer` is the word(s) the teacher reads and answers with in place of the id (ids such as `fresh` or
    `card_arrival` cost a small teacher 0.1-0.2 macro-F1 as label words); files always keep the id.
    """

    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    verbalizer: str | None = Field(None, min_length=1)

    @property
    def word(self) -> str:
        """What the teacher sees: the verbalizer, else the id with `_` as spaces."""
        return self.verbalizer or self.name.replace("_", " ")

    @property
    def gloss(self) -> str:
        """The label in a sentence: its word and description, a stand-in text of the label for an encoder."""
        return f"{self.word}: {self.description}"

    @field_validator("name")
    @classmethod
    def _no_space(cls, name: str) -> str:
        if any(ch.isspace() for ch in name):
            raise ValueError(f"label name {name!r} must not contain whitespace")
        return name


class TaskSpec(_Strict):
    """What the student learns and the teacher is told: kind, labels with descriptions, domain, language."""

    name: str = Field(min_length=1)
    kind: Literal["classification", "ner"]
    domain: str = Field(min_length=1)
    language: str = "en"
    style: str | None = None  # how real inputs of the task read (length, register), told to the generator
    labels: list[LabelSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_labels(self) -> TaskSpec:
        names = [label.name for label in self.labels]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate labels: {', '.join(duplicates)}")
        words = [label.word.strip().lower() for label in self.labels]
        for index, word in enumerate(words):
            if words.index(word) != index:
                raise ValueError(f"labels {names[words.index(word)]!r} and {names[index]!r} have the same teacher "
                                 f"word {word!r}; give one of them another verbalizer (labels.{index}.verbalizer)")
        if self.kind == "classification" and len(names) < 2:
            raise ValueError("a classification task needs at least two labels")
        if self.kind == "ner":
            bad = [name for name in names if is_tag(name)]
            if bad:
                raise ValueError(f"entity types are bare names like PER, not tags: {', '.join(bad)}")
        return self

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    @property
    def words(self) -> dict[str, str]:
        """{label id: teacher word}, in label order."""
        return {label.name: label.word for label in self.labels}

    def label_of_word(self, word: str) -> str | None:
        """The label id a teacher word stands for (case and surrounding space ignored), None when none does."""
        wanted = word.strip().lower()
        return next((label.name for label in self.labels if label.word.strip().lower() == wanted), None)

    @property
    def tag_names(self) -> list[str]:
        """The IOB2 tag set of an NER task, in a fixed order: O, then B-/I- per entity type."""
        return tag_set(self.label_names)


class Provenance(_Strict):
    """Where a sample comes from (`origin`) and, for teacher data, the request (model, prompt set, cache key,
    intent)."""

    origin: Origin = "seed"
    teacher_model: str | None = None
    prompt_set: str | None = None
    request_key: str | None = None
    intent: str | None = None  # the label (or entity type) the teacher was asked to write for

    @model_validator(mode="before")
    @classmethod
    def _old_source(cls, data: Any) -> Any:
        """Read-compatibility: an older file's `source` (gold or teacher) is the origin."""
        if isinstance(data, dict) and "source" in data and "origin" not in data:
            data = {**data, "origin": data["source"]}
            del data["source"]
        return data


class ClassificationSample(_Strict):
    """`probs` is the teacher's calibrated distribution over the labels and `confidence` its top probability
    (teacher-labelled samples; gold ones have neither). The student may train on `probs` or weight by
    `confidence` (student.target, student.weighting)."""

    text: str = Field(min_length=1)
    label: str
    probs: dict[str, float] | None = None
    confidence: float | None = Field(None, ge=0, le=1)
    round: str = "seed"
    stance: Stance | None = None
    provenance: Provenance = Field(default_factory=Provenance)

    _old_stance = model_validator(mode="before")(split_old_stance)


class NerSample(_Strict):
    tokens: list[str] = Field(min_length=1)
    tags: list[str]
    text: str | None = None  # the teacher's original text, when the sample came from the teacher
    spans: list[Span] | None = None  # the teacher's spans, before conversion to BIO
    # word indices whose tag the teacher's two reads (markup, labelling call) disagree on: left out of the loss
    unsure: list[int] | None = None
    round: str = "seed"
    stance: Stance | None = None
    provenance: Provenance = Field(default_factory=Provenance)

    _old_stance = model_validator(mode="before")(split_old_stance)

    @field_validator("tags")
    @classmethod
    def _iob2(cls, tags: list[str]) -> list[str]:
        problem = iob2_problem(tags)
        if problem:
            raise ValueError(problem)
        return tags

    @model_validator(mode="after")
    def _one_tag_per_token(self) -> NerSample:
        if len(self.tags) != len(self.tokens):
            raise ValueError(f"{len(self.tags)} tags for {len(self.tokens)} tokens")
        outside = [index for index in self.unsure or [] if not 0 <= index < len(self.tokens)]
        if outside:
            raise ValueError(f"unsure word indices {outside} are not among the {len(self.tokens)} tokens")
        return self


Sample = ClassificationSample | NerSample


def _input_error(source: str, error: ValidationError, line: int | None = None) -> InputError:
    """The first pydantic error as an InputError naming the field (dotted path, e.g. tags.3)."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return InputError(source, first["msg"].removeprefix("Value error, "), line=line, field=field)


def load_task(path: str | Path) -> TaskSpec:
    """Read and validate a task spec (YAML)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(str(path), "expected a YAML mapping with name, kind, domain, labels")
    try:
        return TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise _input_error(str(path), exc) from None


def save_task(path: str | Path, task: TaskSpec) -> None:
    atomic_write_yaml(path, task.model_dump(mode="json"))


def parse_sample(row: dict, task: TaskSpec, source: str = "<sample>", line: int | None = None) -> Sample:
    """Validate one JSON object against the task: schema, then label (or tag) membership."""
    model = ClassificationSample if task.kind == "classification" else NerSample
    try:
        sample = model.model_validate(row)
    except ValidationError as exc:
        raise _input_error(source, exc, line) from None
    if isinstance(sample, ClassificationSample):
        if sample.label not in task.label_names:
            raise InputError(source, f"unknown label {sample.label!r}; the task has {', '.join(task.label_names)}",
                             line=line, field="label")
        unknown = sorted(set(sample.probs or {}) - set(task.label_names))
        if unknown:
            raise InputError(source, f"probs name unknown labels {unknown}", line=line, field=f"probs.{unknown[0]}")
    else:
        known = set(task.tag_names)
        for index, tag in enumerate(sample.tags):
            if tag not in known:
                raise InputError(source, f"unknown tag {tag!r}; entity types are {', '.join(task.label_names)}",
                                 line=line, field=f"tags.{index}")
        for index, span in enumerate(sample.spans or []):
            if span.type not in task.label_names:
                raise InputError(source, f"unknown entity type {span.type!r}", line=line,
                                 field=f"spans.{index}.type")
    return sample


def read_samples(path: str | Path, task: TaskSpec) -> list[Sample]:
    """Read a JSONL file of samples, validating every line against the task."""
    path = Path(path)
    return [parse_sample(row, task, str(path), number) for number, row in read_jsonl_numbered(path)]


def write_samples(path: str | Path, samples: Iterable[Sample]) -> None:
    """Write samples as JSONL, atomically."""
    write_jsonl(path, (sample.model_dump(mode="json") for sample in samples))


def write_prepared(out_dir: str | Path, task: TaskSpec, seeds: Sequence[Sample], test: Sequence[Sample] | None,
                   dev: Sequence[Sample] | None = None) -> list[Path]:
    """Write task.yaml, seeds.jsonl, test.jsonl and dev.jsonl (those given) into out_dir; returns the paths.

    Callers validate everything first, so a bad input never leaves a mix of old and new files.
    """
    out_dir = Path(out_dir)
    written = [out_dir / "task.yaml"]
    save_task(written[0], task)
    for name, samples in (("seeds", seeds), ("test", test), ("dev", dev)):
        if samples is not None:
            written.append(out_dir / f"{name}.jsonl")
            write_samples(written[-1], samples)
    return written
