"""Fixtures of the teacher tests: configs pointing at the fake server (`fake`, in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fake_openai import FakeOpenAI

from evokd.teacher.config import TeacherConfig


@pytest.fixture
def fake_config(fake: FakeOpenAI) -> Callable[..., TeacherConfig]:
    """A TeacherConfig for the fake server; keyword arguments override fields."""

    def make(**overrides: object) -> TeacherConfig:
        values = {"model": "org/fake", "served_name": fake.model, "port": fake.port, "autostart": False,
                  "max_retries": 2, "max_invalid": 2, "timeout": 5.0, "concurrency": 4, "max_tokens": 32,
                  **overrides}
        return TeacherConfig(**values)

    return make
