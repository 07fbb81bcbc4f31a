"""Teacher throughput: evokd's client vs the plain openai async client, and a fully cached replay.

The same N schema-constrained requests (same prompts, seeds and sampling) are sent
  (a) through evokd's TeacherClient at its configured concurrency, with a fresh cache,
  (b) with the plain `openai.AsyncOpenAI` client at several concurrencies (the best one is compared),
then (c) replayed through TeacherClient from the cache that (a) filled. Prints completion tokens/s,
the ratio ours/plain and the replay speed-up. Starts its own server on a free port (the `teacher:` section
of --params, the embedded SmolLM2 by default) and stops it at the end; --base-port uses one already running.
The settings are interleaved over --repeats rounds and the best rate of each counts, since other processes
on a shared machine make single runs noisy.

    python benchmarks/teacher_throughput.py [--n 64] [--plain-concurrency 8 16 32] [--repeats 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Literal

import openai
from pydantic import BaseModel, Field

from evokd.teacher.client import ChatRequest, TeacherClient, response_format
from evokd.teacher.config import TeacherConfig, load_teacher_config
from evokd.teacher.server import free_port, start_server, stop_server

GENRES = ["horror", "comedy", "drama", "thriller", "romance", "documentary", "western", "animated"]


class Review(BaseModel):
    sentiment: Literal["positive", "negative"]
    review: str = Field(max_length=160)


def make_requests(n: int) -> list[ChatRequest]:
    return [ChatRequest([{"role": "user", "content": f"Write a short review of a {GENRES[i % len(GENRES)]} "
                                                     f"movie (number {i}) as JSON with its sentiment."}],
                        Review, seed=1000 + i) for i in range(n)]


async def plain_run(config: TeacherConfig, requests: list[ChatRequest], concurrency: int) -> tuple[float, int]:
    """The baseline: the openai SDK alone, a semaphore and gather. Returns (seconds, completion tokens)."""
    semaphore = asyncio.Semaphore(concurrency)
    async with openai.AsyncOpenAI(base_url=config.base_url, api_key=config.api_key or "EMPTY",
                                  timeout=config.timeout, max_retries=0) as client:

        async def one(request: ChatRequest) -> int:
            async with semaphore:
                response = await client.chat.completions.create(
                    model=config.served_name, messages=request.messages, seed=request.seed,
                    temperature=config.temperature, top_p=config.top_p, max_tokens=config.max_tokens,
                    response_format=response_format(request.schema))
            return response.usage.completion_tokens

        start = time.perf_counter()
        tokens = sum(await asyncio.gather(*(one(request) for request in requests)))
        return time.perf_counter() - start, tokens


def ours_run(config: TeacherConfig, requests: list[ChatRequest], cache: Path) -> tuple[float, int, TeacherClient]:
    client = TeacherClient(config, cache, stage="benchmark")
    start = time.perf_counter()
    client.run(requests, desc="evokd client")
    return time.perf_counter() - start, client.stats.completion_tokens, client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file with a teacher: section")
    parser.add_argument("--n", type=int, default=64, help="requests per run")
    parser.add_argument("--plain-concurrency", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting; the best one counts")
    parser.add_argument("--base-port", type=int, default=None, help="use the server already on this port")
    args = parser.parse_args()

    params = Path(args.params)
    config = load_teacher_config(params) if params.is_file() else TeacherConfig()
    config = config.model_copy(update={"port": args.base_port or free_port(), "autostart": False, "cache": True})
    requests = make_requests(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        if args.base_port is None:
            os.environ["EVOKD_RUN_DIR"] = tmp  # the server's state file and log go away with the benchmark
            start_server(config)
        try:
            asyncio.run(plain_run(config, requests[: min(8, args.n)], 8))  # warm-up: first-request costs
            plain = dict.fromkeys(args.plain_concurrency, 0.0)
            ours: list[tuple[float, float, TeacherClient]] = []
            for repeat in range(args.repeats):  # interleaved, so that load from other processes hits all alike
                for concurrency in plain:
                    seconds, tokens = asyncio.run(plain_run(config, requests, concurrency))
                    plain[concurrency] = max(plain[concurrency], tokens / seconds)
                # a fresh cache each time: every request reaches the server
                seconds, tokens, client = ours_run(config, requests, Path(tmp) / f"cache{repeat}.sqlite")
                ours.append((tokens / seconds, seconds, client))
            for concurrency, rate in plain.items():
                print(f"plain openai client, concurrency {concurrency:3d}: {rate:7.1f} completion tok/s")
            rate, seconds, client = max(ours, key=lambda run: run[0])
            print(f"evokd client, concurrency {config.concurrency:3d}:        {rate:7.1f} completion tok/s "
                  f"({seconds:.1f} s; {client.stats.to_dict()})")
            best = max(plain, key=plain.get)
            print(f"ratio ours/plain (best plain: concurrency {best}): {rate / plain[best]:.2f}")
            replay_seconds, _, replay = ours_run(config, requests, client.cache.path)
            print(f"cached replay of {args.n} requests: {replay_seconds * 1000:.1f} ms "
                  f"({replay.stats.cached} from cache, {replay.stats.calls} calls), "
                  f"{seconds / replay_seconds:.0f}x faster than the first run")
        finally:
            if args.base_port is None:
                stop_server(config)

if __name__ == "__main__":
    main()
