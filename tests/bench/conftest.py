"""The bench tests build their temporary DVC project with the pipeline tests' helpers (tests/pipeline)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))
