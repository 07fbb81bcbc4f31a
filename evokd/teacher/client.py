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

import httpx
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
class Scoring:
    """Ask for log-probs rather than a free answer (vLLM's extensions of the OpenAI API).

    With `token_ids`, the answer is constrained to `choices` (vLLM `structured_outputs.choice`) and the first
    answer token's log-probs of exactly those ids come back (`logprob_token_ids`): one call scores labels that
    are one token each. With `prefill`, the chat is continued by that assistant text (`continue_final_message`)
    and the log-probs of its tokens come back as prompt log-probs (`prompt_logprobs`): a label of several tokens
    scored as a whole. With `choices` alone, the teacher picks one of them under the constraint and the log-probs
    of the tokens it wrote come back: one call per input however many labels there are, but only the picked
    label's probability. A server that sends no log-probs (a hosted endpoint) still answers the constrained choice.
    """

    choices: tuple[str, ...] = ()
    token_ids: tuple[int, ...] = ()
    prefill: str | None = None


class ScoredAnswer(BaseModel):
    """What a Scoring request brings back; None log-probs mean the server sent none."""

    text: str
    token_logprobs: dict[int, float] | None = None  # first answer token: id -> log-prob
    prefill_logprob: float | None = None  # sum over the prefill's tokens
    choice_logprob: float | None = None  # sum over the tokens of the picked choice (`choices` without token ids)


@dataclass(frozen=True)
class ChatRequest:
    """One constrained chat call. `seed` makes it reproducible; max_tokens/temperature override the config.

    A request with `scoring` asks for log-probs (its schema is ScoredAnswer)."""

    messages: list[dict[str, str]]
    schema: type[BaseModel]
    seed: int
    max_tokens: int | None = None
    temperature: float | None = None
    scoring: Scoring | None = None


@dataclass
class ChatResult:
    """The validated answer, or `error` (what happened, for people) and `reason` (why, for code: the last
    rejection, e.g. `schema`, `length`, `rejected`) when every re-ask was invalid.

    Tokens are all tokens spent on this request, re-asks included (for a cached answer: when it was asked).
    """

    request: ChatRequest
    value: BaseModel | None
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    key: str
    reason: str | None = None

    @property
    def reject(self) -> str:
        """The reject counter of a failed request, as the stages' stats name it: `teacher_<reason>`."""
        return f"teacher_{self.reason or 'invalid'}"


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


def parse_scored(response: Any, scoring: Scoring) -> tuple[ScoredAnswer | None, str | None]:
    """The log-probs of a Scoring request's response, or (None, reason)."""
    choice = response.choices[0]
    if scoring.prefill is not None:
        entries = getattr(response, "prompt_logprobs", None)
        if not entries:
            return ScoredAnswer(text=choice.message.content or ""), None
        total, covered = 0.0, ""
        for entry in reversed(entries):  # the prompt ends with the prefill: walk back over its tokens
            if not entry:
                return None, "prefill_mismatch"
            token = next(iter(entry.values()))
            covered = token["decoded_token"] + covered
            total += float(token["logprob"])
            if len(covered) >= len(scoring.prefill):
                break
        if covered.strip() != scoring.prefill.strip():
            return None, "prefill_mismatch"
        return ScoredAnswer(text=choice.message.content or "", prefill_logprob=total), None
    text = choice.message.content or ""
    whole = not scoring.token_ids  # the whole choice was generated, not just its first token
    if text not in scoring.choices and (whole or not any(option.startswith(text) and text
                                                          for option in scoring.choices)):
        return None, "schema"
    content = choice.logprobs.content if choice.logprobs is not None else None
    if not content:
        return ScoredAnswer(text=text), None
    if whole:
        return ScoredAnswer(text=text, choice_logprob=sum(float(token.logprob) for token in content)), None
    wanted = set(scoring.token_ids)
    found = {int(top.token.removeprefix("token_id:")): float(top.logprob) for top in content[0].top_logprobs
             if top.token.removeprefix("token_id:").isdigit()}
    return ScoredAnswer(text=text, token_logprobs={i: lp for i, lp in found.items() if i in wanted}), None


def scoring_arguments(scoring: Scoring) -> dict[str, Any]:
    """The request fields of a Scoring request."""
    if scoring.prefill is not None:
        return {"extra_body": {"continue_final_message": True, "add_generation_prompt": False,
                               "prompt_logprobs": 0}}
    if not scoring.token_ids:
        return {"logprobs": True, "extra_body": {"structured_outputs": {"choice": list(scoring.choices)}}}
    return {"logprobs": True, "top_logprobs": len(scoring.token_ids),
            "extra_body": {"structured_outputs": {"choice": list(scoring.choices)},
                           "logprob_token_ids": list(scoring.token_ids), "return_tokens_as_token_ids": True}}


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
        scoring = None if request.scoring is None else scoring_arguments(request.scoring)
        return cache_key({"format": CACHE_FORMAT, "model": self.config.model,
                          "served_name": self.config.served_name, "messages": self._messages(request),
                          "schema": request.schema.model_json_schema(), "sampling": self._sampling(request),
                          "seed": request.seed, **({"scoring": scoring} if scoring else {})})

    @staticmethod
    def _messages(request: ChatRequest) -> list[dict[str, str]]:
        if request.scoring is not None and request.scoring.prefill is not None:
            return [*request.messages, {"role": "assistant", "content": request.scoring.prefill}]
        return request.messages

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
                                                   prompt_tokens, completion_tokens, False, key, "rejected"), rejected)
                finally:
                    self.stats.calls += 1
                if response.usage:
                    prompt_tokens += response.usage.prompt_tokens
                    completion_tokens += response.usage.completion_tokens
                choice = response.choices[0]
                if request.scoring is not None:
                    value, reason = parse_scored(response, request.scoring)
                else:
                    value, reason = parse_answer(choice.message.content, choice.finish_reason, request.schema)
                if value is not None:
                    if self.cache is not None:
                        answer = {"value": value.model_dump(mode="json"), "prompt_tokens": prompt_tokens,
                                  "completion_tokens": completion_tokens, "rejected": rejected}
                        self.cache.put(key, answer, self.stage,
                                       {"messages": self._messages(request), "seed": request.seed,
                                        "schema": request.schema.__name__})
                    return self._record(ChatResult(request, value, None, prompt_tokens, completion_tokens,
                                                   False, key), rejected)
                rejected.append(reason)
                log.debug("invalid teacher answer (%s), attempt %d: %r", reason, attempt + 1,
                          choice.message.content)
        return self._record(ChatResult(request, None, f"{reason} after {len(rejected)} tries", prompt_tokens,
                                       completion_tokens, False, key, reason), rejected)

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
                    if request.scoring is not None:
                        return await client.chat.completions.create(
                            model=self.config.served_name, messages=self._messages(request), seed=seed,
                            **scoring_arguments(request.scoring), **self._sampling(request))
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

    def tokenize(self, text: str) -> list[int] | None:
        """Token ids of `text` by the teacher's own tokenizer (vLLM `POST /tokenize`, no special tokens);
        None when the server has no such route (a hosted endpoint). Starts the server if needed."""
        ensure_server(self.config)
        self._server_checked = True
        root = self.config.base_url.removesuffix("/v1")
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        try:
            response = httpx.post(f"{root}/tokenize", headers=headers, timeout=self.config.timeout,
                                  json={"model": self.config.served_name, "prompt": text, "add_special_tokens": False})
            response.raise_for_status()
            return [int(token) for token in response.json()["tokens"]]
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            return None

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
