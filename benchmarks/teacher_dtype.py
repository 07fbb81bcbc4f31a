"""Teacher dtype on this CPU: completion tok/s of float32 vs bfloat16 at concurrency 1 and 16, as ratios.

`teacher.dtype: auto` picks bfloat16 where the CPU has AVX512-BF16 or AMX and float32 elsewhere (bf16 without them
collapses batching, NOTES.md); this measures that choice for one model. The same requests (fixed prompts and
seeds, `ignore_eos`, so every answer is exactly --max-tokens long) are sent to a float32 server, then to a bfloat16
one; at concurrency C the first C x --per-stream requests are sent. Starts each server on a free port (the
`teacher:` section of --params with --model; one server at a time) and stops it after its runs. Each setting runs
--repeats times and the best rate counts, since other processes on a shared machine make single runs noisy.

    python benchmarks/teacher_dtype.py [--model bundled:qwen2.5-coder-0.5b-instruct] [--concurrency 1 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import openai

from evokd.teacher.config import TeacherConfig, load_teacher_config
from evokd.teacher.server import cpu_dtype, cpu_flags, free_port, start_server, stop_server

DTYPES = ["float32", "bfloat16"]
FLAGS = ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"]
GENRES = ["horror", "comedy", "drama", "thriller", "romance", "documentary", "western", "animated"]


def make_messages(n: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"Write a short review of a {GENRES[i % len(GENRES)]} movie (number {i})."}]
            for i in range(n)]


async def run(config: TeacherConfig, messages: list[list[dict[str, str]]], concurrency: int,
              max_tokens: int) -> float:
    """Send the requests with at most `concurrency` in flight; return completion tokens per second."""
    semaphore = asyncio.Semaphore(concurrency)
    async with openai.AsyncOpenAI(base_url=config.base_url, api_key=config.api_key or "EMPTY",
                                  timeout=config.timeout, max_retries=0) as client:

        async def one(index: int, request: list[dict[str, str]]) -> int:
            async with semaphore:
                response = await client.chat.completions.create(
                    model=config.served_name, messages=request, seed=1000 + index, temperature=0.8,
                    top_p=0.95, max_tokens=max_tokens, extra_body={"ignore_eos": True})
            return response.usage.completion_tokens

        start = time.perf_counter()
        tokens = sum(await asyncio.gather(*(one(i, request) for i, request in enumerate(messages))))
        return tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file with a teacher: section")
    parser.add_argument("--model", default="bundled:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--per-stream", type=int, default=3, help="requests per stream at each concurrency")
    parser.add_argument("--max-tokens", type=int, default=64, help="completion tokens per request")
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting; the best one counts")
    args = parser.parse_args()

    flags = cpu_flags()
    seen = [flag for flag in FLAGS if flag in flags.split()]
    print(f"CPU flags seen: {' '.join(seen) or '(none of ' + ' '.join(FLAGS) + ')'}; "
          f"teacher.dtype auto picks {cpu_dtype(flags)}")
    params = Path(args.params)
    base = load_teacher_config(params) if params.is_file() else TeacherConfig()
    served_name = args.model.removeprefix("bundled:").rstrip("/").rsplit("/", 1)[-1]
    messages = make_messages(max(args.concurrency) * args.per_stream)
    rates: dict[str, dict[int, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EVOKD_RUN_DIR"] = tmp  # the servers' state files and logs go away with the benchmark
        for dtype in DTYPES:
            config = base.model_copy(update={"model": args.model, "served_name": served_name, "dtype": dtype,
                                             "backend": "cpu", "port": free_port(), "autostart": False})
            start = time.perf_counter()
            start_server(config)
            try:
                print(f"{dtype:8s} server healthy in {time.perf_counter() - start:.0f} s")
                asyncio.run(run(config, messages[:4], 4, 8))  # warm-up: first-request costs
                rates[dtype] = dict.fromkeys(args.concurrency, 0.0)
                for _ in range(args.repeats):
                    for concurrency in args.concurrency:
                        rate = asyncio.run(run(config, messages[: concurrency * args.per_stream], concurrency,
                                               args.max_tokens))
                        rates[dtype][concurrency] = max(rates[dtype][concurrency], rate)
            finally:
                stop_server(config)
            for concurrency, rate in rates[dtype].items():
                print(f"{dtype:8s} concurrency {concurrency:3d}: {rate:7.1f} completion tok/s")
    print(f"model {args.model}, {args.max_tokens} tokens per answer, best of {args.repeats}")
    for concurrency in args.concurrency:
        print(f"ratio bf16/fp32 at concurrency {concurrency:3d}: "
              f"{rates['bfloat16'][concurrency] / rates['float32'][concurrency]:.2f}")


if __name__ == "__main__":
    main()
