"""Fixtures of the teacher tests: a scriptable fake OpenAI server and configs pointing at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fake_openai import FakeOpenAI
from tenacity import wait_none

from evokd.teacher import client as client_module
from evokd.teacher.config import TeacherConfig


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries still happen, without the real exponential waits."""
    monkeypatch.setattr(client_module, "RETRY_WAIT", wait_none())


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI("fake-model").start()
    yield server
    server.stop()


@pytest.fixture
def fake_config(fake: FakeOpenAI) -> Callable[..., TeacherConfig]:
    """A TeacherConfig for the fake server; keyword arguments override fields."""

    def make(**overrides: object) -> TeacherConfig:
        values = {"model": "org/fake", "served_name": fake.model, "port": fake.port, "autostart": False,
                  "max_retries": 2, "max_invalid": 2, "timeout": 5.0, "concurrency": 4, "max_tokens": 32,
                  **overrides}
        return TeacherConfig(**values)

    return make
