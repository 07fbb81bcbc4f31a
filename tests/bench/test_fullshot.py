"""The full-shot upper bound through `evokd fullshot`: a real (capped) fine-tune of the bundled encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evokd.baselines import students
from evokd.benchmarks import load_benchmark
from evokd.cli import cli
from evokd.student.config import StudentConfig

pytestmark = pytest.mark.slow


def test_fullshot_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A capped full-shot run through the CLI (on a 96-sample slice of the benchmark, to stay quick)."""
    splits = load_benchmark("rotten_tomatoes")
    monkeypatch.setattr(students, "load_benchmark",
                        lambda name: {"train": splits["train"][:96], "test": splits["test"][:64]})
    result = CliRunner().invoke(cli, ["fullshot", "--benchmark", "rotten_tomatoes", "--out", str(tmp_path),
                                      "--max-train", "32", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert (metrics["train_samples"], metrics["test_samples"], metrics["n"]) == (32, 64, 64)
    # 1 epoch of 32 samples and the 2 labels' glosses is 3 steps, unless the floor is higher
    steps = max(StudentConfig().min_steps, 3)
    assert (metrics["train"]["samples"], metrics["train"]["glosses"], metrics["train"]["steps"]) == (32, 2, steps)
    assert metrics["train"]["epochs"] == round(steps / 3, 3)  # the epochs actually run
    assert set(metrics["per_label"]) <= {"fresh", "rotten"} and 0 <= metrics["score"] <= 1
    assert (tmp_path / "model" / "config.json").is_file()
