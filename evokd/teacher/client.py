"""The one client every stage uses to talk to the teacher (any OpenAI-compatible server).

Requests are sent concurrently (vLLM batches what arrives together) under a semaphore; transport failures
(connection errors, timeouts, 429, 5xx) are retried with exponential backoff; every answer is constrained by a
JSON schema (`response_format`), validated with pydantic, and re-asked with a derived seed when it is invalid
or cut at max_tokens. Valid answers go to the SQLite cache, so nothing already answered is asked again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_random
from tqdm.auto import tqdm

from evokd.errors import TeacherUnavailable
from evokd.teacher.cache import AnswerCache, cache_key, default_cache_path
from evokd.teacher.config import TeacherConfig
from evokd.teacher.server import ensure_server

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # part of every cache key: bump when the stored answer format changes
RETRYABLE = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)  # incl. timeouts
RETRY_WAIT = wait_exponential(multiplier=0.5, max=30) + wait_random(0, 0.5)  # 0.5, 1, 2, ... s + jitter


class RequestRefused(Exception):
    """The server answered this one request with a 4xx (e.g. prompt longer than max_model_len)."""


@dataclass(frozen=True)
class ChatRequest:
    """One constrained chat call. `seed` makes it reproducible; max_tokens/temperature override the config."""

    messages: list[dict[str, str]]
    schema: type[BaseModel]
    seed: int
    max_tokens: int | None = None
    temperature: float | None = None


@dataclass
class ChatResult:
    """The validated answer, or `error` (the last reason) when every re-ask was invalid.

    Tokens are all tokens spent on this request, re-asks included (for a cached answer: when it was asked).
    """

    request: ChatRequest
    value: BaseModel | None
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    key: str


@dataclass
class TeacherStats:
    """Token and request accounting of one client; `to_dict()` goes into the stage's stats file.

    prompt/completion tokens and failures count cached answers at their original cost, so a rerun from the
    cache reports the same budget; `calls` and `cached` say what this run really sent.
    """

    requests: int = 0  # requests completed (cached or not)
    cached: int = 0  # answered from the cache
    calls: int = 0  # chat calls that reached the server in this run (re-asks included)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failed: int = 0  # requests left without a valid answer
    failures: Counter[str] = field(default_factory=Counter)  # rejected answers by reason

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "cached": self.cached, "calls": self.calls,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
                "failed": self.failed, "failures": dict(sorted(self.failures.items()))}


def derive_seed(seed: int, attempt: int) -> int:
    """The seed of re-ask `attempt` (0 = the request's own seed): a different, reproducible sample."""
    if attempt == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}/{attempt}".encode()).digest()[:4], "big") >> 1


def response_format(schema: type[BaseModel]) -> dict[str, Any]:
    """The current vLLM/OpenAI structured-output form (the old `guided_json` is ignored by new vLLM)."""
    return {"type": "json_schema",
            "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema(), "strict": True}}


def parse_answer(content: str | None, finish_reason: str | None,
                 schema: type[BaseModel]) -> tuple[BaseModel | None, str | None]:
    """(value, None) for a valid answer, else (None, reason): length, invalid_json or schema."""
    if finish_reason == "length":
        return None, "length"
    try:
        data = json.loads(content or "")
    except json.JSONDecodeError:
        return None, "invalid_json"
    try:
        return schema.model_validate(data), None
    except ValidationError:
        return None, "schema"


class TeacherClient:
    """Send ChatRequests to the configured teacher; results keep the order of the requests."""

    def __init__(self, config: TeacherConfig, cache_path: Path | None = None, stage: str = ""):
        self.config = config
        self.stage = stage
        self.stats = TeacherStats()
        self.cache = AnswerCache(cache_path or default_cache_path()) if config.cache else None
        self._server_checked = False

    def key(self, request: ChatRequest) -> str:
        """Everything that determines the answer: model, messages, schema, sampling, seed."""
        return cache_key({"format": CACHE_FORMAT, "model": self.config.model,
                          "served_name": self.config.served_name, "messages": request.messages,
                          "schema": request.schema.model_json_schema(), "sampling": self._sampling(request),
                          "seed": request.seed})

    def _sampling(self, request: ChatRequest) -> dict[str, Any]:
        temperature = self.config.temperature if request.temperature is None else request.temperature
        return {"temperature": temperature, "top_p": self.config.top_p,
                "max_tokens": request.max_tokens or self.config.max_tokens}

    def run(self, requests: list[ChatRequest], desc: str = "teacher") -> list[ChatResult]:
        return asyncio.run(self.complete_many(requests, desc))

    async def complete_many(self, requests: list[ChatRequest], desc: str = "teacher") -> list[ChatResult]:
        semaphore = asyncio.Semaphore(self.config.concurrency)
        server_lock = asyncio.Lock()
        bar = tqdm(total=len(requests), desc=desc, unit="req", disable=None)
        async with openai.AsyncOpenAI(base_url=self.config.base_url, api_key=self.config.api_key or "EMPTY",
                                      timeout=self.config.timeout, max_retries=0) as client:

            async def one(request: ChatRequest) -> ChatResult:
                result = await self._complete(client, request, semaphore, server_lock)
                bar.update()
                return result

            tasks = [asyncio.create_task(one(request)) for request in requests]
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            finally:
                bar.close()

    async def _complete(self, client: openai.AsyncOpenAI, request: ChatRequest, semaphore: asyncio.Semaphore,
                        server_lock: asyncio.Lock) -> ChatResult:
        key = self.key(request)
        hit = self._cached(key, request.schema)
        if hit is not None:
            value, answer = hit
            return self._record(ChatResult(request, value, None, answer["prompt_tokens"],
                                           answer["completion_tokens"], True, key), answer["rejected"])
        async with server_lock:  # once per batch, and only when something must really be asked
            if not self._server_checked:
                await asyncio.to_thread(ensure_server, self.config)
                self._server_checked = True
        rejected: list[str] = []
        prompt_tokens = completion_tokens = 0
        async with semaphore:
            for attempt in range(self.config.max_invalid + 1):
                try:
                    response = await self._call(client, request, derive_seed(request.seed, attempt))
                except RequestRefused as exc:  # a 4xx for this request: asking again will not help
                    rejected.append("rejected")
                    return self._record(ChatResult(request, None, f"rejected by the server: {exc}",
                                                   prompt_tokens, completion_tokens, False, key), rejected)
                finally:
                    self.stats.calls += 1
                if response.usage:
                    prompt_tokens += response.usage.prompt_tokens
                    completion_tokens += response.usage.completion_tokens
                choice = response.choices[0]
                value, reason = parse_answer(choice.message.content, choice.finish_reason, request.schema)
                if value is not None:
                    if self.cache is not None:
                        answer = {"value": value.model_dump(mode="json"), "prompt_tokens": prompt_tokens,
                                  "completion_tokens": completion_tokens, "rejected": rejected}
                        self.cache.put(key, answer, self.stage,
                                       {"messages": request.messages, "seed": request.seed,
                                        "schema": request.schema.__name__})
                    return self._record(ChatResult(request, value, None, prompt_tokens, completion_tokens,
                                                   False, key), rejected)
                rejected.append(reason)
                log.debug("invalid teacher answer (%s), attempt %d: %r", reason, attempt + 1,
                          choice.message.content)
        return self._record(ChatResult(request, None, f"{reason} after {len(rejected)} tries", prompt_tokens,
                                       completion_tokens, False, key), rejected)

    def _cached(self, key: str, schema: type[BaseModel]) -> tuple[BaseModel, dict[str, Any]] | None:
        """The cached answer, unless the schema's validators (not part of the key) now reject it."""
        answer = self.cache.get(key) if self.cache is not None else None
        if answer is None:
            return None
        try:
            return schema.model_validate(answer["value"]), answer
        except ValidationError:
            return None

    async def _call(self, client: openai.AsyncOpenAI, request: ChatRequest,
                    seed: int) -> openai.types.chat.ChatCompletion:
        """One chat call with transport retries; a 4xx refusal of this one request raises RequestRefused."""
        tries = self.config.max_retries + 1
        where = f"the teacher at {self.config.base_url} (model '{self.config.served_name}')"
        try:
            async for attempt in AsyncRetrying(stop=stop_after_attempt(tries), wait=RETRY_WAIT,
                                               retry=retry_if_exception_type(RETRYABLE), reraise=True,
                                               before_sleep=_log_retry):
                with attempt:
                    return await client.chat.completions.create(
                        model=self.config.served_name, messages=request.messages, seed=seed,
                        response_format=response_format(request.schema), **self._sampling(request))
        except RETRYABLE as exc:
            raise TeacherUnavailable(f"{where} did not answer after {tries} tries (timeout "
                                     f"{self.config.timeout:g} s, retrying connection errors, timeouts, 429 "
                                     f"and 5xx); last error: {type(exc).__name__}: {exc}") from None
        except (openai.NotFoundError, openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise TeacherUnavailable(f"{where} refused the request: HTTP {exc.status_code}: "
                                     f"{exc.message}") from None
        except openai.APIStatusError as exc:
            raise RequestRefused(f"HTTP {exc.status_code}: {exc.message}") from None

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def _record(self, result: ChatResult, rejected: list[str]) -> ChatResult:
        self.stats.requests += 1
        self.stats.cached += result.cached
        self.stats.prompt_tokens += result.prompt_tokens
        self.stats.completion_tokens += result.completion_tokens
        self.stats.failed += result.error is not None
        self.stats.failures.update(rejected)
        return result


def _log_retry(state: Any) -> None:
    log.warning("teacher call failed (%s); retry %d in %.1f s", state.outcome.exception(),
                state.attempt_number, state.next_action.sleep)
