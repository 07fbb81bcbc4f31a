"""Interrupted training and a locked teacher cache: what was there before stays intact, and the user is told."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultkit import PARAMS, REPO, SENTIMENT, FakeOpenAI, Project, Reply, fake_teacher

from evokd.errors import EvokdError
from evokd.loop.config import LoopConfig
from evokd.loop.generate import generate
from evokd.loop.step import Step
from evokd.prompts import PromptSet
from evokd.teacher.cache import AnswerCache
from evokd.teacher.client import TeacherClient

TRAIN = ("train", "--task", "task.yaml", "--train", "seeds.jsonl", "--out", "models/m", "--seed", "13")


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def interrupt_training(project: Project, scratch: Path, signum: int) -> subprocess.CompletedProcess:
    """Start a long `evokd train`, wait until the Trainer runs (its scratch folder exists), then send `signum`."""
    command = [sys.executable, "-m", "evokd.cli", *TRAIN, "--params", "long.yaml"]
    process = subprocess.Popen(command, cwd=project.root, env={**project.env, "TMPDIR": str(scratch)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(scratch.glob("evokd-train-*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, "training ended before it could be interrupted"
    time.sleep(2)  # a few optimizer steps in
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.mark.slow
def test_sigterm_and_sigint_during_training_keep_the_previous_checkpoint(project: Project, tmp_path: Path) -> None:
    for name, epochs in (("quick.yaml", 1), ("long.yaml", 2000)):
        project.write(name, {**PARAMS, "student": {**PARAMS["student"], "epochs": epochs, "batch_size": 2}})
    first = project.run(*TRAIN, "--params", "quick.yaml")
    assert first.returncode == 0, first.stderr
    before = tree_digest(project.root / "models" / "m")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for signum, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        stopped = interrupt_training(project, scratch, signum)
        assert stopped.returncode == code, stopped.stderr[-2000:]
        assert "Traceback" not in stopped.stderr
        assert tree_digest(project.root / "models" / "m") == before
        assert sorted(p.name for p in (project.root / "models").iterdir()) == ["m"]  # no temporary sibling left
        assert not list(scratch.glob("evokd-train-*"))  # the Trainer's scratch folder was removed too
    again = project.run(*TRAIN, "--params", "quick.yaml")
    assert again.returncode == 0, again.stderr
    assert json.loads((project.root / "models" / "m" / "train_log.json").read_text())["samples"] == 2


def test_a_locked_cache_is_a_clear_error_after_the_wait_and_stays_intact(fake: FakeOpenAI, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cache.sqlite"
    AnswerCache(path).put("earlier", {"value": 1})
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a write
    monkeypatch.setenv("EVOKD_CACHE_TIMEOUT", "0.5")
    fake.replies = [Reply(content=json.dumps({"text": "A valid answer that must be cached."}))]
    client = TeacherClient(fake_teacher(fake), path)
    started = time.monotonic()
    with pytest.raises(EvokdError, match=rf"teacher cache {path} is locked by another process \(waited 0.5 s\)"):
        generate(Step(client, SENTIMENT, PromptSet(REPO / "prompts", "default"), LoopConfig(n_hard=2, n_easy=0), 13,
                      "r01", "fake-model"), None, {}, [])
    assert time.monotonic() - started < 30
    holder.execute("ROLLBACK")
    holder.close()
    client.close()
    reopened = AnswerCache(path, busy_timeout=0.5)
    assert reopened._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert reopened.get("earlier") == {"value": 1}
    reopened.close()


def test_the_lock_wait_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOKD_CACHE_TIMEOUT", "0.25")
    assert AnswerCache(tmp_path / "c.sqlite").busy_timeout == 0.25
    assert AnswerCache(tmp_path / "c.sqlite", busy_timeout=3).busy_timeout == 3
