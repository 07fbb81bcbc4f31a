"""The JSON shapes the teacher must answer in, built per task so labels are enums the server enforces.

vLLM constrains decoding with these schemas (response_format json_schema); the client validates the answer
again with the same pydantic model, so an off-schema answer can never enter the data. Where the teacher names
labels in its own answer (analysis, labelled generation), the enums are the label words (`TaskSpec.words`):
the caller maps them back to ids right after validation.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from evokd.data import TaskSpec

ShortText = Annotated[str, Field(min_length=1, max_length=400)]


class Analysis(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: Annotated[str, Field(min_length=1, max_length=400)]
    weak_labels: Annotated[list[str], Field(max_length=8)]
    mastered_labels: Annotated[list[str], Field(max_length=8)]
    directions: Annotated[list[ShortText], Field(max_length=3)]

    @field_validator("weak_labels", "mastered_labels")
    @classmethod
    def _once_each(cls, labels: list[str]) -> list[str]:
        """Small teachers repeat a label to fill the list; each label counts once (order kept)."""
        return list(dict.fromkeys(labels))


def _word_enum(task: TaskSpec) -> Any:
    """The label words as a Literal (small teachers answer better with words than with ids like `fresh`)."""
    return Literal[tuple(task.words.values())]


@cache
def _schemas(task_json: str, max_chars: int) -> dict[str, type[BaseModel]]:
    task = TaskSpec.model_validate_json(task_json)
    word = _word_enum(task)
    strict = ConfigDict(extra="forbid")
    written = Annotated[str, Field(min_length=1, max_length=max_chars)]  # the server stops the text there
    analysis = create_model(
        "TaskAnalysis", __base__=Analysis,
        weak_labels=(Annotated[list[word], Field(max_length=8)], ...),  # type: ignore[valid-type]
        mastered_labels=(Annotated[list[word], Field(max_length=8)], ...),  # type: ignore[valid-type]
    )
    text = create_model("GeneratedText", __config__=strict, text=(written, ...))
    schemas = {"analysis": analysis, "generation": text, "paraphrase": text}
    # NER: a generated sentence carries its entities as inline markup, and its labelling schema is built per
    # sentence from its own substrings (evokd/loop/spans.py)
    if task.kind == "classification":
        schemas["generation_labeled"] = create_model("GeneratedExample", __config__=strict, text=(written, ...),
                                                     label=(word, ...))
        # a generated label word: the labelling answer of a server that gives no log-probs (evokd/loop/label.py)
        schemas["labeling"] = create_model("TextLabel", __config__=strict, label=(word, ...))
    return schemas


def schema_for(kind: str, task: TaskSpec, max_chars: int = 400) -> type[BaseModel]:
    """The answer model for a request kind: analysis, generation, generation_labeled (classification only: an NER
    sentence's entities come as markup in its text), labeling, paraphrase.

    `max_chars` bounds written texts in the schema itself, so the server's constrained decoding ends them there.
    """
    return _schemas(task.model_dump_json(), max_chars)[kind]
