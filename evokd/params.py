"""params.yaml as one validated object; errors name the key and what was expected."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from evokd.errors import InputError
from evokd.io import atomic_write_text, read_yaml
from evokd.loop.config import LoopConfig
from evokd.student.config import StudentConfig
from evokd.teacher.config import TeacherConfig

BOOTSTRAP_ROUND = "r00"
BENCHMARKS = ("conll2003", "banking77", "rotten_tomatoes")


NOT_GIVEN = "tasks/none"
OWN_FILES = ("file", "seeds", "dev", "test", "unlabelled")


class TaskParams(BaseModel):
    """Where the task comes from: a packaged benchmark, or the user's own files (README "Your own task").

    Every file slot is a dep of the prepare stage (`${task.seeds}` in dvc.yaml). DVC can interpolate neither null
    nor a list into `deps:` (null crashes it, a list is refused), so a slot not in use names NOT_GIVEN, a placeholder
    committed file that never changes, and prepare reads nothing for it.
    """

    model_config = ConfigDict(extra="forbid")
    benchmark: str | None = Field(None, description="a packaged benchmark; None: the user's own files")
    shots: int = Field(1, ge=1, description="a benchmark's gold seeds per label (per entity type for NER)")
    unlabelled_split: Literal["train"] | None = Field(None, description="a benchmark's split whose texts (labels "
                                                      "dropped, seeds left out) are the unlabelled pool")
    unlabelled_max: int = Field(2000, ge=1, description="at most this many unlabelled texts (a seeded sample)")
    file: str = Field(NOT_GIVEN, min_length=1, description="the task file (TaskSpec YAML)")
    seeds: str = Field(NOT_GIVEN, min_length=1, description="labelled seeds")
    dev: str = Field(NOT_GIVEN, min_length=1, description="gold dev set (optional)")
    test: str = Field(NOT_GIVEN, min_length=1, description="gold test set (optional; evaluation only)")
    unlabelled: str = Field(NOT_GIVEN, min_length=1, description="unlabelled in-domain texts (optional)")
    text_column: str = Field("text", min_length=1)
    label_column: str = Field("label", min_length=1)
    tokens_column: str = Field("tokens", min_length=1)
    tags_column: str = Field("tags", min_length=1)

    def path(self, slot: str) -> str | None:
        """The file named by a slot of OWN_FILES, None when it names NOT_GIVEN."""
        value = getattr(self, slot)
        return None if value == NOT_GIVEN else value

    @model_validator(mode="after")
    def _benchmark_or_own_files(self) -> TaskParams:
        given = [slot for slot in OWN_FILES if self.path(slot)]
        if self.benchmark is not None:
            if self.benchmark not in BENCHMARKS:
                raise ValueError(f"unknown benchmark '{self.benchmark}'; expected one of {', '.join(BENCHMARKS)}")
            if given:
                raise ValueError(f"give either a benchmark or your own files, not both: benchmark is "
                                 f"'{self.benchmark}' and task.{given[0]} names a file; set benchmark: null for your "
                                 f"own task, or task.{given[0]}: {NOT_GIVEN}")
            return self
        missing = [slot for slot in ("file", "seeds") if slot not in given]
        if missing and not given:
            raise ValueError(f"no task: name a benchmark ({', '.join(BENCHMARKS)}) or your own task's file and seeds")
        if missing:
            raise ValueError(f"your own task needs task.{missing[0]} too (task.{given[0]} is set)")
        if self.unlabelled_split:
            raise ValueError("unlabelled_split takes texts from a benchmark's split; for your own task name a "
                             "file in task.unlabelled")
        return self


class PromptParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    set: str = "default"


class BenchParams(BaseModel):
    """Sizes of the baselines in benchmarks/dvc.yaml (the loop never reads them)."""

    model_config = ConfigDict(extra="forbid")
    batch_size: int = Field(8, ge=1, description="teacher requests per batch while a baseline spends its budget")
    teacher_test_size: int = Field(200, ge=1, description="test inputs the teacher labels zero-shot")
    fullshot_max_train: int | None = Field(2000, ge=1, description="seeded subset of the gold train set; "
                                           "None: all of it")


class RoundLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prev: str


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 13
    task: TaskParams
    teacher: TeacherConfig
    student: StudentConfig
    prompts: PromptParams = PromptParams()
    loop: LoopConfig = LoopConfig()
    bench: BenchParams = BenchParams()
    rounds: dict[str, RoundLink] = {}

    @model_validator(mode="after")
    def _rounds_form_a_chain(self) -> Params:
        """Every `prev` names r00 or another round, and following prev always reaches r00 (no cycles)."""
        for name in self.rounds:
            seen = [name]
            current = name
            while current != BOOTSTRAP_ROUND:
                link = self.rounds.get(current)
                if link is None:
                    raise ValueError(f"rounds.{seen[-2]}.prev names '{current}', which is neither "
                                     f"{BOOTSTRAP_ROUND} nor a round in rounds:")
                current = link.prev
                if current in seen:
                    raise ValueError(f"rounds.{name}: the prev chain is cyclic ({' -> '.join([*seen, current])})")
                seen.append(current)
        return self

    def round_order(self) -> list[str]:
        """Rounds after r00 in chain order (each after its prev)."""
        depth = {}
        for name in self.rounds:
            steps, current = 0, name
            while current != BOOTSTRAP_ROUND:
                current, steps = self.rounds[current].prev, steps + 1
            depth[name] = steps
        return sorted(self.rounds, key=lambda name: (depth[name], name))


def load_params(path: str | Path = "params.yaml") -> Params:
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise InputError(str(path), "expected a mapping of sections (task, teacher, student, loop, ...)")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(str(path), f"{first['msg']}; got {first.get('input')!r}{more}", field=key or None) from None


def student_config(path: str | Path | None) -> StudentConfig:
    """The `student:` section of a params file, or the defaults when there is none."""
    return load_params(path).student if path else StudentConfig()


def round_names(count: int) -> list[str]:
    return [f"r{index:02d}" for index in range(1, count + 1)]


def rewrite_rounds(path: str | Path, count: int) -> None:
    """Rewrite `rounds:` as the chain r01 <- r00, r02 <- r01, ... keeping the rest of the file and its comments."""
    if count < 0:
        raise InputError("evokd rounds", f"the number of rounds must be >= 0, got {count}")
    load_params(path)  # refuse to rewrite a file that is already broken
    yaml = YAML()
    yaml.preserve_quotes = True
    document = yaml.load(Path(path).read_text(encoding="utf-8"))
    chain = CommentedMap()
    previous = BOOTSTRAP_ROUND
    for name in round_names(count):
        link = CommentedMap(prev=previous)
        chain[name] = link
        previous = name
    document["rounds"] = chain
    buffer = StringIO()
    yaml.dump(document, buffer)
    atomic_write_text(path, buffer.getvalue())
