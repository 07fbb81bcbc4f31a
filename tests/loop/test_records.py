"""What a round folder holds: r00 writes the same typed files as every round, one reader sums a round's figures
(warm-up included), bad or old files are one clear error, and old sample files read with the new vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared import PLAIN_REVIEWS

from evokd.data import ClassificationSample, parse_sample, write_samples
from evokd.errors import InputError
from evokd.io import atomic_write_json
from evokd.loop.bootstrap import TeacherData, write_bootstrap
from evokd.loop.generate import GeneratedInput
from evokd.loop.records import (
    AnalysisRecord,
    GenStats,
    LabelStats,
    ProbeScores,
    RoundFiles,
    RoundMetrics,
    Scores,
    TeacherUsage,
    read_record,
    read_round,
    read_rows,
)
from evokd.loop.report import build_report
from evokd.loop.train import Trained
from evokd.status import round_status


def usage(tokens: int) -> TeacherUsage:
    return TeacherUsage(requests=1, prompt_tokens=tokens, total_tokens=tokens)


def metrics(name: str, score: float) -> RoundMetrics:
    return RoundMetrics(round=name, probe=ProbeScores(score=0.5, n=2, fooled_rate=0.5),
                        test=Scores(score=score, n=10), train={"samples": 4, "train_runtime_s": 1.0, "train_loss": 0.5})


def test_r00_writes_every_round_file_and_its_totals_count_the_warm_up(tmp_path: Path) -> None:
    batch = [ClassificationSample(text=f"text {index}", label="fresh", round="r00", stance="static",
                                  provenance={"origin": "teacher"}) for index in range(2)]
    data = TeacherData(
        warmup=[], batch=batch,
        inputs=[GeneratedInput(text="text 0", intent="fresh", stance="static", round="r00",
                               provenance={"origin": "teacher"})],
        gen_stats=GenStats(requested=3, kept=2, rejects={"duplicate": 1}, teacher=usage(100),
                           warmup=GenStats(requested=2, kept=1, rejects={"too_short": 1}, teacher=usage(40))),
        label_stats=LabelStats(inputs=2, kept=2, separate_labeling=True, scoring="first_token", teacher=usage(60),
                               warmup=LabelStats(inputs=1, kept=1, separate_labeling=False, scoring="proposed")))
    files = RoundFiles.at(tmp_path / "rounds" / "r00")
    write_bootstrap(files, tmp_path / "metrics" / "r00.json", data,
                    Trained(probe=[], pool=batch, metrics=metrics("r00", 0.6)))
    assert sorted(path.name for path in files.analysis.parent.iterdir()) == sorted(
        path.name for path in vars(files).values())  # the files of every round, nothing else
    [history] = read_rows(files.history, AnalysisRecord)  # one record, so DVC never sees an empty file
    assert history == read_record(files.analysis, AnalysisRecord) == AnalysisRecord(round="r00", origin="none")
    totals = read_round(PLAIN_REVIEWS, files.analysis.parent, tmp_path / "metrics" / "r00.json").totals
    assert (totals.kept, totals.requested, totals.rejected, totals.teacher.total_tokens) == (2, 5, 2, 200)
    summary = build_report(PLAIN_REVIEWS, ["r00"], tmp_path / "rounds", tmp_path / "metrics")["summary"]
    assert summary["teacher_tokens"] == 200 and summary["rejection_rate"] == 2 / 5 and summary["samples_kept"] == 2
    row = round_status(PLAIN_REVIEWS, "r00", tmp_path / "rounds", tmp_path / "metrics")
    assert (row["teacher_tokens"], row["rejected"], row["requested"]) == (200, 2, 5)
    assert row["stances"] == {"static": 2} and row["origins"] == {"teacher": 2}


def test_a_stats_file_that_does_not_fit_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "gen_stats.json"
    atomic_write_json(path, {"requested": "many", "kept": 1})
    with pytest.raises(InputError, match=r"gen_stats.json, field 'requested'"):
        read_record(path, GenStats)


def test_a_round_folder_of_an_older_evokd_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "r00"
    write_samples(folder / "labeled.jsonl", [])
    atomic_write_json(folder / "bootstrap_stats.json", {"generate": {}, "label": {}})
    with pytest.raises(InputError, match=r"bootstrap_stats.json: written by an older evokd .* rerun `dvc repro`"):
        read_round(PLAIN_REVIEWS, folder, tmp_path / "r00.json")


def test_old_sample_lines_read_with_stance_and_origin_apart() -> None:
    old = {"text": "Fine.", "label": "fresh", "round": "r02", "stance": "replay",
           "provenance": {"source": "teacher", "teacher_model": "m", "intent": "fresh"}}
    sample = parse_sample(json.loads(json.dumps(old)), PLAIN_REVIEWS)
    assert sample.stance is None and sample.provenance.origin == "review" and sample.provenance.teacher_model == "m"
    hard = parse_sample({**old, "stance": "hard"}, PLAIN_REVIEWS)
    assert hard.stance == "hard" and hard.provenance.origin == "teacher"
    with pytest.raises(InputError, match="field 'stance'"):
        parse_sample({**old, "stance": "sideways"}, PLAIN_REVIEWS)
