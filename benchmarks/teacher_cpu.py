"""Teacher CPU settings on this machine: completion tok/s by dtype (float32, bfloat16) and core binding (vLLM's
`auto`, which keeps one core for its scheduler, against every core), at concurrency 1 and 16, as ratios.

`teacher.dtype: auto` picks bfloat16 where the CPU has AVX512-BF16 or AMX and float32 elsewhere (bf16 without them
collapses batching, NOTES.md); the server binds vLLM's CPU worker to every core on a machine of up to 4
(`evokd.teacher.server.cpu_binding`). This measures both choices for one model. The same requests (fixed prompts
and seeds, `ignore_eos`, so every answer is exactly --max-tokens long; with --schema under the JSON-schema
constraint the loop uses) are sent to one server per setting; at concurrency C the first C x --per-stream requests
are sent. Starts each server on a free port (the `teacher:` section of --params with --model; one server at a time)
and stops it after its runs. Each setting runs --repeats times and the best rate counts, since other processes on a
shared machine make single runs noisy.

    python benchmarks/teacher_cpu.py [--model bundled:qwen2.5-coder-0.5b-instruct] [--dtypes float32 bfloat16]
        [--bindings auto all] [--concurrency 1 16] [--schema]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import openai
from pydantic import BaseModel, Field

from evokd.teacher.client import response_format
from evokd.teacher.config import TeacherConfig, load_teacher_config
from evokd.teacher.server import cpu_binding, cpu_dtype, cpu_flags, free_port, start_server, stop_server

DTYPES = ["float32", "bfloat16"]
BINDINGS = ["auto", "all"]  # vLLM's own (one core kept for the scheduler) | every core of this machine
FLAGS = ["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"]
GENRES = ["horror", "comedy", "drama", "thriller", "romance", "documentary", "western", "animated"]


class Review(BaseModel):
    """The --schema answer: a JSON object, as the loop's generation requests ask for."""

    review: str = Field(max_length=400)


def make_messages(n: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"Write a short review of a {GENRES[i % len(GENRES)]} movie (number {i})."}]
            for i in range(n)]


async def run(config: TeacherConfig, messages: list[list[dict[str, str]]], concurrency: int,
              max_tokens: int, schema: bool = False) -> float:
    """Send the requests with at most `concurrency` in flight; return completion tokens per second."""
    semaphore = asyncio.Semaphore(concurrency)
    extra = {"response_format": response_format(Review)} if schema else {}
    async with openai.AsyncOpenAI(base_url=config.base_url, api_key=config.api_key or "EMPTY",
                                  timeout=config.timeout, max_retries=0) as client:

        async def one(index: int, request: list[dict[str, str]]) -> int:
            async with semaphore:
                response = await client.chat.completions.create(
                    model=config.served_name, messages=request, seed=1000 + index, temperature=0.8,
                    top_p=0.95, max_tokens=max_tokens, extra_body={"ignore_eos": True}, **extra)
            return response.usage.completion_tokens

        start = time.perf_counter()
        tokens = sum(await asyncio.gather(*(one(i, request) for i, request in enumerate(messages))))
        return tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file with a teacher: section")
    parser.add_argument("--model", default="bundled:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=DTYPES)
    parser.add_argument("--bindings", nargs="+", choices=BINDINGS, default=BINDINGS)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--per-stream", type=int, default=3, help="requests per stream at each concurrency")
    parser.add_argument("--max-tokens", type=int, default=64, help="completion tokens per request")
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting; the best one counts")
    parser.add_argument("--schema", action="store_true", help="answers under a JSON-schema constraint")
    args = parser.parse_args()

    flags = cpu_flags()
    seen = [flag for flag in FLAGS if flag in flags.split()]
    cores = sorted(os.sched_getaffinity(0))
    print(f"CPU flags seen: {' '.join(seen) or '(none of ' + ' '.join(FLAGS) + ')'}; {len(cores)} cores; "
          f"teacher.dtype auto picks {cpu_dtype(flags)}, the server binds {cpu_binding()}")
    params = Path(args.params)
    base = load_teacher_config(params) if params.is_file() else TeacherConfig()
    served_name = args.model.removeprefix("bundled:").rstrip("/").rsplit("/", 1)[-1]
    messages = make_messages(max(args.concurrency) * args.per_stream)
    settings = [(dtype, binding) for dtype in args.dtypes for binding in args.bindings]
    rates: dict[tuple[str, str], dict[int, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EVOKD_RUN_DIR"] = tmp  # the servers' state files and logs go away with the benchmark
        for dtype, binding in settings:
            os.environ["VLLM_CPU_OMP_THREADS_BIND"] = "auto" if binding == "auto" else ",".join(map(str, cores))
            config = base.model_copy(update={"model": args.model, "served_name": served_name, "dtype": dtype,
                                             "backend": "cpu", "port": free_port(), "autostart": False})
            start = time.perf_counter()
            start_server(config)
            name = f"{dtype:8s} {binding:4s}"
            try:
                print(f"{name} server healthy in {time.perf_counter() - start:.0f} s", flush=True)
                asyncio.run(run(config, messages[:4], 4, 8))  # warm-up: first-request costs
                rates[dtype, binding] = dict.fromkeys(args.concurrency, 0.0)
                for _ in range(args.repeats):
                    for concurrency in args.concurrency:
                        rate = asyncio.run(run(config, messages[: concurrency * args.per_stream], concurrency,
                                               args.max_tokens, args.schema))
                        rates[dtype, binding][concurrency] = max(rates[dtype, binding][concurrency], rate)
            finally:
                stop_server(config)
            for concurrency, rate in rates[dtype, binding].items():
                print(f"{name} concurrency {concurrency:3d}: {rate:7.2f} completion tok/s", flush=True)
    print(f"model {args.model}, {args.max_tokens} tokens per answer{' (JSON schema)' if args.schema else ''}, "
          f"best of {args.repeats}; ratios to {settings[0][0]} {settings[0][1]}")
    for setting in settings[1:]:
        for concurrency in args.concurrency:
            print(f"{setting[0]} {setting[1]} / {settings[0][0]} {settings[0][1]} at concurrency {concurrency:3d}: "
                  f"{rates[setting][concurrency] / rates[settings[0]][concurrency]:.2f}")


if __name__ == "__main__":
    main()
