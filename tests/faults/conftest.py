"""Fixtures of the fault, bad-input and security tests (helpers in faultkit.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from faultkit import PARAMS, REPO, SENTIMENT, Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project with valid params.yaml, task.yaml and seeds.jsonl, a private teacher cache and no hub access."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "prompts", root / "prompts", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "EVOKD_CACHE": str(tmp_path / "cache" / "teacher.sqlite"), "EVOKD_RUN_DIR":
           str(tmp_path / "run"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"}
    env.pop("EVOKD_TEACHER_API_KEY", None)
    made = Project(root, env)
    made.write("params.yaml", PARAMS)
    made.write("task.yaml", SENTIMENT.model_dump(mode="json"))
    made.write("seeds.jsonl", '{"text": "A warm, funny film.", "label": "positive"}\n'
                              '{"text": "Dull and far too long.", "label": "negative"}\n')
    return made
