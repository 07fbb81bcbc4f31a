"""Fixtures of the teacher tests: configs pointing at the fake server (`fake`, in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fake_openai import FakeOpenAI
from shared import fake_teacher

from evokd.teacher.config import TeacherConfig


@pytest.fixture
def fake_config(fake: FakeOpenAI) -> Callable[..., TeacherConfig]:
    """A TeacherConfig for the fake server; keyword arguments override fields."""

    def make(**overrides: object) -> TeacherConfig:
        # several requests in flight and two retries: what the client's own tests exercise
        return fake_teacher(fake, **{"max_retries": 2, "concurrency": 4, "max_tokens": 32, **overrides})

    return make
