"""What the fault, bad-input and security tests share: the teacher tests' fake OpenAI server, small tasks, and a
throwaway project folder for running the real CLI entry points as subprocesses.

A module with its own name (not conftest) so that tests import it unambiguously next to other test folders.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from fake_openai import FakeOpenAI, Reply
from shared import NEWS, fake_teacher

from evokd.data import LabelSpec, TaskSpec

REPO = Path(__file__).resolve().parents[2]

__all__ = ["NEWS", "PARAMS", "REPO", "SENTIMENT", "FakeOpenAI", "Project", "Reply", "fake_teacher"]


# label ids that are their own words: the fault tests' seeds and scripted replies name "positive" and "negative"
SENTIMENT = TaskSpec(name="reviews", kind="classification", domain="movie reviews",
                     labels=[LabelSpec(name="positive", description="the reviewer liked the film"),
                             LabelSpec(name="negative", description="the reviewer disliked the film")])


PARAMS = {
    "seed": 13,
    "task": {"benchmark": "rotten_tomatoes", "shots": 1},
    "teacher": {"model": "org/fake", "served_name": "fake-model", "autostart": False, "max_retries": 1,
                "concurrency": 1, "timeout": 5.0},
    "student": {"base_model": "bundled:all-minilm-l6-v2", "epochs": 1, "min_steps": 0, "min_steps_per_label": 0},
    "loop": {"n_hard": 4, "n_easy": 0},
    "rounds": {"r01": {"prev": "r00"}},
}


class Project:
    """A throwaway project folder (params.yaml, prompts/, a task and seeds) in which the CLI runs as a user runs it."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.env = root, env

    def write(self, name: str, content: str | bytes | object) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        elif path.suffix == ".json":
            path.write_text(json.dumps(content), encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        return path

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """`evokd ARGS` (args starting with `stages/` run that stage script instead)."""
        script = [str(REPO / args[0])] if args[0].startswith("stages/") else ["-m", "evokd.cli", args[0]]
        command = [sys.executable, *script, *args[1:]]
        return subprocess.run(command, cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def generate_stage(self, port: int, n_hard: int) -> tuple[str, ...]:
        """Point params at a teacher on `port`, write generate@r01's inputs, return the stage's command line."""
        params = yaml.safe_load((self.root / "params.yaml").read_text())
        params["teacher"] = {**params["teacher"], "port": port}
        params["loop"] = {**params["loop"], "n_hard": n_hard, "n_easy": 0}
        self.write("params.yaml", params)
        self.write("analysis.json", {"round": "r01", "origin": "teacher", "analysis": {
            "summary": "weak on negative", "weak_labels": ["negative"], "mastered_labels": ["positive"],
            "directions": []}})
        scores = {name: {"precision": f1, "recall": f1, "f1": f1, "support": 1}
                  for name, f1 in (("positive", 1.0), ("negative", 0.0))}
        self.write("probe_scores.json", {"score": 0.5, "n": 2, "fooled_rate": 0.5, "per_label": scores})
        self.write("probe.jsonl", json.dumps({"text": "A flat, tired remake.", "gold": "negative",
                                              "predicted": "positive", "correct": False, "confidence": 0.9}) + "\n")
        return ("stages/generate.py", "--round", "r01", "--task", "task.yaml", "--analysis", "analysis.json",
                "--probe-scores", "probe_scores.json", "--probe", "probe.jsonl", "--pool", "seeds.jsonl",
                "--out", "generated.jsonl", "--stats", "gen_stats.json")

    def snapshot(self) -> dict[str, bytes]:
        """Every file under the project with its bytes, to show that a failed command changed nothing."""
        return {str(path.relative_to(self.root)): path.read_bytes()
                for path in sorted(self.root.rglob("*")) if path.is_file()}
