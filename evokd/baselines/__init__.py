"""The baselines EvoKD is measured against: seeds only (once, and again every round as EvoKD retrains them),
AugGPT-style paraphrases, static (ZeroGen-style) generation, the teacher itself zero-shot, and the full-shot
student (upper bound).

They reuse the loop's own steps (evokd.loop.generate, label, train) with the same teacher, prompts, filters and
student settings, so a difference in score comes from the student's feedback and nothing else. AugGPT and static
spend the same teacher token budget as the EvoKD run they are compared with; static also records its score at
every cumulative token count where an EvoKD round ended, for the token-efficiency curve.

One module per kind: teacher_data (AugGPT and static, spending a token budget), students (seeds only, full-shot),
zero_shot (the teacher itself). Each baseline's stage (stages/baseline_*.py) makes one call here and writes the
metrics record it gets back.
"""

from __future__ import annotations

import time
from typing import Any


def metrics_record(method: str, test: dict[str, Any], teacher_tokens: int, started: float,
                   **extra: Any) -> dict[str, Any]:
    """metrics/baselines/<method>.json: test score, teacher tokens, wall time since `started` (time.monotonic),
    the baseline's own numbers, then the full test scores."""
    return {"method": method, "score": test["score"], "teacher_tokens": teacher_tokens,
            "wall_s": round(time.monotonic() - started, 1), **extra, "test": test}


def without_test(curve: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A score curve as metrics keep it: each point without its full test scores."""
    return [{key: value for key, value in point.items() if key != "test"} for point in curve]
