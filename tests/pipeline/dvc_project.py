"""Helpers to build a real EvoKD project in a temporary git + DVC repo."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

from evokd.teacher.config import TeacherConfig

REPO = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("dvc.yaml", "params.yaml", ".gitignore", "evokd", "stages", "prompts", "tasks")

# Small enough for CI on 2 cores, large enough that every step has data to work on.
SMALL = {
    "loop": {"n_hard": 3, "n_easy": 2, "n_wrong": 3, "n_correct": 2, "review_size": 4},
    "student": {"epochs": 1, "min_steps": 8, "min_steps_per_label": 0},
    "teacher": {"max_tokens": 96, "concurrency": 8},
}


def run(args: list[str], cwd: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
                             f"{result.stderr[-3000:]}")
    return result


def edit_params(path: Path, changes: dict) -> None:
    yaml = YAML()
    document = yaml.load(path.read_text())
    for section, values in changes.items():
        if isinstance(values, dict):
            document[section].update(values)
        else:
            document[section] = values
    with path.open("w") as handle:
        yaml.dump(document, handle)


def make_project(root: Path, teacher: TeacherConfig) -> Path:
    """Copy the pipeline files into a fresh git + DVC repo with small params pointed at the session teacher."""
    root.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    changes = {key: dict(values) for key, values in SMALL.items()}
    changes["teacher"].update(model=teacher.model, served_name=teacher.served_name, port=teacher.port,
                              max_model_len=teacher.max_model_len)
    edit_params(root / "params.yaml", changes)
    run(["git", "init", "-q"], root)
    run(["git", "config", "user.name", "evokd tests"], root)
    run(["git", "config", "user.email", "tests@evokd.invalid"], root)
    run(["dvc", "init", "-q"], root)
    shutil.copytree(REPO / ".dvc" / "plots", root / ".dvc" / "plots")  # the custom plot templates of dvc.yaml
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "project"], root)
    return root
