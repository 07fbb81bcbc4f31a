"""params.yaml as one validated object; errors name the key and what was expected."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

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


class TaskParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    benchmark: str
    shots: int = Field(ge=1)

    @model_validator(mode="after")
    def _known_benchmark(self) -> TaskParams:
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"unknown benchmark '{self.benchmark}'; expected one of {', '.join(BENCHMARKS)}")
        return self


class PromptParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    set: str = "default"


class BenchParams(BaseModel):
    """Sizes of the baselines in benchmarks/dvc.yaml (the loop never reads them)."""

    model_config = ConfigDict(extra="forbid")
    batch_size: int = Field(8, ge=1, description="teacher requests per batch while a baseline spends its budget")
    teacher_test_size: int = Field(200, ge=1, description="test inputs the teacher labels zero-shot")
    fullshot_max_train: int | None = Field(None, ge=1, description="seeded subset of the gold train set; "
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
