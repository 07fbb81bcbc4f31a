"""params.yaml is the defaults' one home for a run; the config models repeat them for code that builds a config
without the file (tests, notebooks). They must not drift apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from evokd.loop.config import LoopConfig
from evokd.params import BenchParams, load_params
from evokd.student.config import StudentConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("section", "model"), [("loop", LoopConfig), ("student", StudentConfig),
                                                ("bench", BenchParams)])
def test_the_config_models_default_to_what_params_yaml_sets(section: str, model: type) -> None:
    in_file = getattr(load_params(REPO / "params.yaml"), section).model_dump()
    assert model().model_dump() == in_file
