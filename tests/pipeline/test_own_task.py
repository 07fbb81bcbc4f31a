"""A user's own task through real DVC: params name the files, `prepare` depends on exactly them, and `dvc exp run
-S task.seeds=...` (queued too) picks another file. Only `prepare` runs, so no teacher is needed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from dvc_project import edit_params, make_project, run

from evokd.data import load_task, read_samples
from evokd.teacher.config import TeacherConfig

pytestmark = pytest.mark.slow

TASK = """name: tickets
kind: classification
domain: Messages customers send to a bank's support chat.
labels:
  - {name: card_arrival, description: The customer asks when a new card will arrive.}
  - {name: top_up_failed, description: Adding money to the account did not work.}
"""
SEEDS = "text,intent\nWhen will my new card get here?,card_arrival\nMy top-up was declined.,top_up_failed\n"
OTHER = '{"text": "Still waiting for the card.", "intent": "card_arrival"}\n' \
        '{"text": "Top up failed twice.", "intent": "top_up_failed"}\n' \
        '{"text": "Where is the card I ordered?", "intent": "card_arrival"}\n'
TEST = "text,intent\nCard not delivered yet.,card_arrival\nWhy did my top up fail?,top_up_failed\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    cache = tmp_path_factory.mktemp("cache") / "teacher.sqlite"
    return {**os.environ, "EVOKD_CACHE": str(cache), "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def project(env: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("own") / "project", TeacherConfig())
    files = {"task.yaml": TASK, "seeds.csv": SEEDS, "other.jsonl": OTHER, "test.csv": TEST,
             "pool.txt": "Card not delivered yet.\nCan I freeze my card?\n"}
    for name, text in files.items():
        (root / "tasks/tickets" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "tasks/tickets" / name).write_text(text, encoding="utf-8")
    edit_params(root / "params.yaml", {"task": {
        "benchmark": None, "file": "tasks/tickets/task.yaml", "seeds": "tasks/tickets/seeds.csv",
        "test": "tasks/tickets/test.csv", "unlabelled": "tasks/tickets/pool.txt", "label_column": "intent"}})
    run(["dvc", "repro", "prepare"], root, env=env)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "own task"], root)
    return root


def status(project: Path, env: dict) -> dict:
    return json.loads(run(["dvc", "status", "--json"], project, env=env).stdout)


def seed_texts(project: Path) -> list[str]:
    task = load_task(project / "data/raw/task.yaml")
    return [sample.text for sample in read_samples(project / "data/raw/seeds.jsonl", task)]


def test_prepare_reads_the_files_params_name(project: Path, env: dict) -> None:
    assert seed_texts(project) == ["When will my new card get here?", "My top-up was declined."]
    # the pool keeps no gold test text
    assert (project / "data/raw/unlabelled.jsonl").read_text() == '{"text": "Can I freeze my card?"}\n'
    lock = (project / "dvc.lock").read_text()
    for path in ("tasks/tickets/seeds.csv", "tasks/tickets/test.csv", "tasks/tickets/task.yaml"):
        assert f"path: {path}" in lock
    assert "prepare" not in status(project, env)


def test_editing_a_seed_makes_only_prepare_stale(project: Path, env: dict) -> None:
    seeds = project / "tasks/tickets/seeds.csv"
    seeds.write_text(SEEDS.replace("declined", "refused"), encoding="utf-8")
    try:
        changed = status(project, env)["prepare"]
        assert changed == [{"changed deps": {"tasks/tickets/seeds.csv": "modified"}}]
    finally:
        seeds.write_text(SEEDS, encoding="utf-8")
    assert "prepare" not in status(project, env)


def test_a_test_file_edit_changes_only_the_test_set(project: Path, env: dict) -> None:
    before = {name: (project / "data/raw" / name).read_bytes() for name in ("task.yaml", "seeds.jsonl")}
    test = project / "tasks/tickets/test.csv"
    test.write_text(TEST + "My card never came.,card_arrival\n", encoding="utf-8")
    stale = status(project, env)
    assert stale["prepare"] == [{"changed deps": {"tasks/tickets/test.csv": "modified"}}]
    # the test file is a dep of prepare only; later stages see it through data/raw
    assert all("tasks/tickets" not in json.dumps(changes) for stage, changes in stale.items() if stage != "prepare")
    dry = run(["dvc", "repro", "--dry", "prepare"], project, env=env).stdout
    assert "Running stage 'prepare'" in dry
    run(["dvc", "repro", "prepare"], project, env=env)
    assert {name: (project / "data/raw" / name).read_bytes() for name in before} == before
    assert len((project / "data/raw/test.jsonl").read_text().splitlines()) == 3
    run(["git", "checkout", "--", "tasks/tickets/test.csv"], project)
    run(["dvc", "repro", "prepare"], project, env=env)


def test_exp_run_picks_another_seeds_file(project: Path, env: dict) -> None:
    run(["dvc", "exp", "run", "-n", "other-seeds", "-S", "task.seeds=tasks/tickets/other.jsonl", "prepare"],
        project, env=env)
    assert seed_texts(project) == ["Still waiting for the card.", "Top up failed twice.",
                                   "Where is the card I ordered?"]
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project, env=env).stdout)
    experiments = {exp["name"]: exp for entry in shown for exp in entry.get("experiments") or []}
    params = experiments["other-seeds"]["revs"][0]["data"]["params"]["params.yaml"]["data"]
    assert params["task"]["seeds"] == "tasks/tickets/other.jsonl"
    run(["git", "checkout", "--", "params.yaml", "dvc.lock"], project)
    run(["dvc", "checkout", "data/raw"], project, env=env)


def test_a_queued_experiment_reads_the_other_file_from_git(project: Path, env: dict) -> None:
    run(["dvc", "exp", "run", "--queue", "-n", "queued-seeds", "-S", "task.seeds=tasks/tickets/other.jsonl",
         "prepare"], project, env=env)
    run(["dvc", "queue", "start"], project, env=env)
    deadline, state = time.monotonic() + 600, ""
    while time.monotonic() < deadline:
        state = run(["dvc", "queue", "status"], project, env=env).stdout
        if "queued-seeds" in state and ("Success" in state or "Failed" in state):
            break
        time.sleep(5)
    run(["dvc", "queue", "stop"], project, check=False, env=env)
    assert "Success" in state, state + run(["dvc", "queue", "logs", "queued-seeds"], project, check=False,
                                           env=env).stdout
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project, env=env).stdout)
    [revision] = [exp["revs"][0] for entry in shown for exp in entry.get("experiments") or []
                  if exp["name"] == "queued-seeds"]
    lock = run(["git", "show", f"{revision['rev']}:dvc.lock"], project).stdout
    assert "path: tasks/tickets/other.jsonl" in lock and "path: tasks/tickets/seeds.csv" not in lock
