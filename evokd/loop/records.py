"""What `data/rounds/K/` and `metrics/rounds/K.json` hold: one typed record per file, and the one reader of a
round (`read_round`) that the report, `evokd status`, `evokd bench` and the stage summary lines all use.

Every round, r00 included, writes the same files: analysis.json and analyses.jsonl (r00: one record whose
origin is `none`, as its batch is written without feedback), analyze_stats.json, gen_stats.json and
label_stats.json (r00 with `loop.init`: the warm-up's stats under `warmup`), generated.jsonl, labeled.jsonl,
probe.jsonl, probe_scores.json and pool.jsonl. Each stats file counts the teacher tokens of its own step only, so
a round's cost is their sum (`Round.totals`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evokd.data import Origin, Sample, Stance, TaskSpec, _input_error, read_samples
from evokd.errors import InputError
from evokd.io import atomic_write_json, read_json, read_jsonl_numbered, write_jsonl
from evokd.loop.schemas import Analysis
from evokd.teacher.client import TeacherClient

Record = TypeVar("Record", bound=BaseModel)
AnalysisOrigin = Literal["teacher", "fallback", "none"]  # none: r00, whose batch is written without feedback


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- teacher usage ---------------------------------------------------------------------------------------


class TeacherUsage(_Record):
    """The teacher cost of one step (evokd.teacher.client.TeacherStats: cached answers at their original cost)."""

    requests: int = 0
    cached: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    failed: int = 0
    failures: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def of(cls, client: TeacherClient | None) -> TeacherUsage:
        """Everything the client has spent so far (nothing without a client)."""
        return cls() if client is None else cls.model_validate(client.stats.to_dict())

    def combine(self, other: TeacherUsage, sign: int = 1) -> TeacherUsage:
        """The sum (sign 1) or difference (sign -1) of two usages."""
        numbers = {name: getattr(self, name) + sign * getattr(other, name)
                   for name in type(self).model_fields if name != "failures"}
        failures = Counter(self.failures)
        failures.update({reason: sign * count for reason, count in other.failures.items()})
        return TeacherUsage(**numbers, failures={reason: count for reason, count in sorted(failures.items()) if count})

    def since(self, before: TeacherUsage) -> TeacherUsage:
        return self.combine(before, -1)


def spent(client: TeacherClient | None, before: TeacherUsage) -> TeacherUsage:
    """What the client spent since `before` (one step's share of a client that serves several)."""
    return TeacherUsage.of(client).since(before)


# ---- stats of the teacher steps --------------------------------------------------------------------------


class AnalyzeStats(_Record):
    origin: AnalysisOrigin
    teacher: TeacherUsage = Field(default_factory=TeacherUsage)


class Selection(_Record):
    """`loop.select_factor` > 1: candidates the previous student saw and those kept for its doubt."""

    student: str
    candidates: int
    selected: int
    mean_confidence_candidates: float | None
    mean_confidence_selected: float | None


class GenStats(_Record):
    requested: int
    kept: int
    planned: dict[str, int] = Field(default_factory=dict)  # "stance:intent" -> inputs planned
    select_factor: int = 1
    selection: Selection | None = None
    unlabelled: Selection | None = None  # loop.n_unlabelled: pool texts picked for the student's doubt
    rejects: dict[str, int] = Field(default_factory=dict)
    teacher: TeacherUsage = Field(default_factory=TeacherUsage)
    warmup: GenStats | None = None  # r00 with loop.init: the paraphrases of the seeds (EvoKD+Init)


class LabelStats(_Record):
    inputs: int
    kept: int
    separate_labeling: bool
    scoring: str  # first_token, sequence, generated, spans, proposed
    disagreements: int = 0
    disagreement_policy: str = "keep_teacher"
    calibration: str | None = None
    demos: int = 0
    no_logprobs: int = 0
    prior: dict[str, float] | None = None
    mean_confidence: float | None = None
    rejects: dict[str, int] = Field(default_factory=dict)
    labels: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    teacher: TeacherUsage = Field(default_factory=TeacherUsage)
    warmup: LabelStats | None = None  # r00 with loop.init: the labels of the warm-up paraphrases


StepStats = AnalyzeStats | GenStats | LabelStats


def with_warmups(stats: Sequence[StepStats | None]) -> list[StepStats]:
    """The steps' stats (those that ran) and, after each, its warm-up's stats (r00 with `loop.init`)."""
    flat: list[StepStats] = []
    for part in stats:
        if part is not None:
            warmup = getattr(part, "warmup", None)
            flat += [part] if warmup is None else [part, warmup]
    return flat


def teacher_total(stats: Sequence[StepStats]) -> TeacherUsage:
    total = TeacherUsage()
    for part in stats:
        total = total.combine(part.teacher)
    return total


# ---- the analysis ----------------------------------------------------------------------------------------


class AnalysisRecord(_Record):
    """analysis.json of a round, and one line of analyses.jsonl (the history the next analyses read)."""

    round: str
    origin: AnalysisOrigin
    analysis: Analysis | None = None


def history_summaries(history: Sequence[AnalysisRecord]) -> list[str]:
    """The summaries of the earlier analyses, oldest first (r00's record has none)."""
    return [record.analysis.summary for record in history if record.analysis is not None]


# ---- the probe and the metrics ---------------------------------------------------------------------------


class ProbeRow(_Record):
    """One sample of a new batch as the previous student saw it (teacher's label as reference)."""

    text: str
    gold: str
    predicted: str
    correct: bool
    confidence: float
    stance: Stance | None = None
    origin: Origin = "teacher"
    intent: str | None = None


class LabelScore(_Record):
    precision: float
    recall: float
    f1: float
    support: int


class Scores(BaseModel):
    """evokd.student.metrics.score: `score` (macro-F1 or span F1), `n`, per label, and the kind's own figures."""

    model_config = ConfigDict(extra="allow")
    score: float
    n: int
    per_label: dict[str, LabelScore] = Field(default_factory=dict)

    def per_label_f1(self) -> dict[str, float]:
        return {name: values.f1 for name, values in self.per_label.items()}


class ProbeScores(Scores):
    """The previous student's scores on a new batch; `fooled_rate`: the share it got wrong."""

    fooled_rate: float


class RoundMetrics(_Record):
    """metrics/rounds/K.json (its keys are `dvc exp show` columns)."""

    round: str
    probe: ProbeScores
    test: Scores
    train: dict[str, Any]


# ---- reading and writing ---------------------------------------------------------------------------------


def read_record(path: str | Path, model: type[Record]) -> Record:
    """One JSON record; a file that does not fit names the file and the field."""
    try:
        return model.model_validate(read_json(path))
    except ValidationError as exc:
        raise _input_error(str(path), exc) from None


def write_record(path: str | Path, record: BaseModel) -> None:
    atomic_write_json(path, record.model_dump(mode="json"))


def read_rows(path: str | Path, model: type[Record]) -> list[Record]:
    """JSONL records; a line that does not fit names the file, the line and the field."""
    rows = []
    for number, row in read_jsonl_numbered(path):
        try:
            rows.append(model.model_validate(row))
        except ValidationError as exc:
            raise _input_error(str(path), exc, number) from None
    return rows


def write_rows(path: str | Path, rows: Sequence[BaseModel]) -> None:
    write_jsonl(path, (row.model_dump(mode="json") for row in rows))


@dataclass(frozen=True)
class RoundFiles:
    """The paths of one round's folder (dvc.yaml's outs name the same files)."""

    analysis: Path
    history: Path
    analyze_stats: Path
    generated: Path
    gen_stats: Path
    labeled: Path
    label_stats: Path
    probe: Path
    probe_scores: Path
    pool: Path

    @classmethod
    def at(cls, folder: Path) -> RoundFiles:
        return cls(analysis=folder / "analysis.json", history=folder / "analyses.jsonl",
                   analyze_stats=folder / "analyze_stats.json", generated=folder / "generated.jsonl",
                   gen_stats=folder / "gen_stats.json", labeled=folder / "labeled.jsonl",
                   label_stats=folder / "label_stats.json", probe=folder / "probe.jsonl",
                   probe_scores=folder / "probe_scores.json", pool=folder / "pool.jsonl")


OLD_BOOTSTRAP_STATS = "bootstrap_stats.json"


@dataclass(frozen=True)
class RoundTotals:
    """A round's figures summed over its steps: samples kept, inputs asked for and rejected, teacher cost."""

    kept: int
    requested: int
    rejected: int
    teacher: TeacherUsage


@dataclass(frozen=True)
class Round:
    """What one round wrote so far (None: that step has not run yet)."""

    name: str
    batch: list[Sample]
    analyze: AnalyzeStats | None
    generate: GenStats | None
    label: LabelStats | None
    metrics: RoundMetrics | None

    @property
    def totals(self) -> RoundTotals:
        steps = with_warmups([self.analyze, self.generate, self.label])
        return RoundTotals(
            kept=len(self.batch),
            requested=sum(stats.requested for stats in steps if isinstance(stats, GenStats)),
            rejected=sum(sum(stats.rejects.values()) for stats in steps if not isinstance(stats, AnalyzeStats)),
            teacher=teacher_total(steps))


def _optional(path: Path, model: type[Record]) -> Record | None:
    return read_record(path, model) if path.is_file() else None


def read_round(task: TaskSpec, round_dir: Path, metrics_path: Path) -> Round:
    """Read one round's folder and metrics file; a folder written by an older evokd is a clear error."""
    files = RoundFiles.at(round_dir)
    if (round_dir / OLD_BOOTSTRAP_STATS).is_file() and not files.gen_stats.is_file():
        raise InputError(str(round_dir / OLD_BOOTSTRAP_STATS), "written by an older evokd (r00 now writes "
                         "analyze_stats.json, gen_stats.json and label_stats.json like every round); rerun "
                         "`dvc repro`")
    return Round(name=round_dir.name,
                 batch=read_samples(files.labeled, task) if files.labeled.is_file() else [],
                 analyze=_optional(files.analyze_stats, AnalyzeStats),
                 generate=_optional(files.gen_stats, GenStats),
                 label=_optional(files.label_stats, LabelStats),
                 metrics=_optional(metrics_path, RoundMetrics))


# ---- the one line a stage prints -------------------------------------------------------------------------


def stage_summary(stage: str, stats: Sequence[StepStats] = (), note: str = "") -> str:
    """The one line a stage prints when it ends: kept/asked with reject reasons, teacher tokens, labels, a note.

    `stats` are the stage's steps in order (r00: generation, then labelling): kept is the last step's, asked the
    first's, rejects and tokens their sums (warm-ups included).
    e.g. `generate@r01: 10/12 kept (rejects: duplicate 1, too_long 1), 2,431 teacher tokens`."""
    parts = []
    counted = [part for part in stats if not isinstance(part, AnalyzeStats)]
    if counted:
        first = counted[0]
        asked = first.requested if isinstance(first, GenStats) else first.inputs
        rejects: Counter[str] = Counter()
        for part in with_warmups(counted):
            rejects.update(part.rejects)  # type: ignore[union-attr]
        shown = ", ".join(f"{reason} {count}" for reason, count in sorted(rejects.items()))
        parts.append(f"{counted[-1].kept}/{asked} kept" + (f" (rejects: {shown})" if shown else ""))
    teacher = teacher_total(with_warmups(stats))
    if teacher.requests:
        cached = f" ({teacher.cached} cached answers)" if teacher.cached else ""
        parts.append(f"{teacher.total_tokens:,} teacher tokens{cached}")
    labelled = next((part for part in reversed(stats) if isinstance(part, LabelStats)), None)
    if labelled is not None and labelled.labels:
        parts.append("labels " + " ".join(f"{name} {count}" for name, count in labelled.labels.items() if count))
    if note:
        parts.append(note)
    warnings = labelled.warnings if labelled is not None else []
    return f"{stage}: " + ", ".join(parts) + "".join(f"\nwarning: {line}" for line in warnings)
