"""Honest DVC deps: every module a stage runs is covered by that stage's `deps:`, and every stage that asks the
teacher lists `teacher.model` (part of every cache key) under `params:`.

A stage's modules are found statically: its script's imports of `evokd`, followed transitively (imports inside
functions included), so a new import that the deps miss fails here instead of leaving `dvc status` clean over
stale outputs.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PIPELINES = [REPO / "dvc.yaml", REPO / "benchmarks" / "dvc.yaml"]


def module_file(name: str) -> Path | None:
    path = REPO / Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """`evokd...` modules a file imports (`from evokd.a import b` counts evokd.a.b when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("evokd"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("evokd"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if module_file(f"{node.module}.{alias.name}"))
    return found


def closure(script: Path) -> set[Path]:
    """Every evokd file the script runs, its package __init__ files included."""
    files, todo = {script}, [script]
    while todo:
        for name in imported_modules(todo.pop()):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                path = module_file(".".join(parts[:depth]))
                if path is not None and path not in files:
                    files.add(path)
                    todo.append(path)
    return files


def stages() -> list[tuple[str, dict]]:
    found = []
    for pipeline in PIPELINES:
        for name, stage in yaml.safe_load(pipeline.read_text())["stages"].items():
            found.append((f"{pipeline.relative_to(REPO)}:{name}", stage.get("do", stage)))
    return found


@pytest.mark.parametrize(("name", "stage"), stages(), ids=[name for name, _ in stages()])
def test_stage_deps_cover_every_module_it_runs(name: str, stage: dict) -> None:
    script = re.search(r"python (stages/\S+\.py)", stage["cmd"])
    assert script, f"{name}: no stage script in its cmd"
    deps = [dep.split("${")[0].rstrip("/") for dep in stage.get("deps", [])]
    files = [str(path.relative_to(REPO)) for path in closure(REPO / script.group(1))]
    uncovered = sorted(path for path in files if not any(path == dep or path.startswith(dep + "/") for dep in deps))
    assert not uncovered, f"{name}: deps miss modules the stage runs: {uncovered}"
    if asks_teacher(REPO / script.group(1), stage["cmd"]):
        assert "teacher.model" in stage.get("params", []), f"{name}: asks the teacher but lacks teacher.model"


def asks_teacher(script: Path, cmd: str) -> bool:
    """The stage's command builds a TeacherClient (for a script of several commands: the one named in cmd)."""
    source = script.read_text(encoding="utf-8")
    command = re.search(rf"{script.name} (\w+)", cmd)
    if command:
        function = next(node for node in ast.walk(ast.parse(source))
                        if isinstance(node, ast.FunctionDef) and node.name == command.group(1))
        source = ast.get_source_segment(source, function) or ""
    return "TeacherClient(" in source
