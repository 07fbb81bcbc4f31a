"""Start, find, check and stop the vLLM teacher server.

A server is a machine-wide resource (it owns a port), so its state file, log and start lock live in a
per-user run directory keyed by port (EVOKD_RUN_DIR, default ~/.cache/evokd/run), not in the project: two
stages, two checkouts or two queued DVC experiments share one server and never start a second one.
The server runs in its own session so it outlives the stage that started it; an autostarted server gets a
watchdog process that stops it after `idle_timeout` seconds without requests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from filelock import FileLock, Timeout

from evokd.errors import EvokdError, TeacherUnavailable
from evokd.io import atomic_write_json
from evokd.teacher.bundled import BUNDLED_PREFIX, resolve_model
from evokd.teacher.config import TeacherConfig, evokd_cache_home

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 5.0  # seconds for /health, /v1/models and /metrics
STOP_GRACE = 30.0  # seconds between SIGTERM and SIGKILL
SMALL_MACHINE_CPUS = 4  # up to this many cores, the CPU teacher computes on all of them (cpu_binding)


def run_dir() -> Path:
    return Path(os.environ.get("EVOKD_RUN_DIR") or evokd_cache_home() / "run")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for tests and benchmarks that start their own server)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def server_paths(config: TeacherConfig) -> dict[str, Path]:
    stem = run_dir() / f"teacher-{config.port}"
    return {"state": stem.with_suffix(".json"), "log": stem.with_suffix(".log"),
            "lock": stem.with_suffix(".lock")}


def cpu_flags() -> str:
    """The flags line(s) of /proc/cpuinfo ("" where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(line for line in text.splitlines() if line.startswith("flags"))


def cpu_dtype(flags: str) -> str:
    """bfloat16 on a CPU with BF16 instructions, else float32: bf16 without them collapses batching (NOTES.md)."""
    return "bfloat16" if {"avx512_bf16", "amx_bf16"} & set(flags.split()) else "float32"


def cpu_binding(cpus: set[int] | None = None) -> str:
    """vLLM's `VLLM_CPU_OMP_THREADS_BIND`: every core on a machine of a few (vLLM's `auto` keeps one for its
    scheduler, which on 2 cores leaves the model one: 0.6 x the decoding rate, benchmarks/teacher_cpu.py), else
    vLLM's `auto`."""
    cpus = sorted(os.sched_getaffinity(0) if cpus is None else cpus)
    return ",".join(map(str, cpus)) if len(cpus) <= SMALL_MACHINE_CPUS else "auto"


def server_command(config: TeacherConfig, model: str) -> list[str]:
    """The vLLM command line for `model` (a resolved folder or hub id). The API key travels in the env."""
    common = ["--served-model-name", config.served_name, "--host", config.host, "--port", str(config.port),
              "--max-model-len", str(config.max_model_len), "--seed", str(config.seed),
              "--generation-config", "vllm"]
    if config.backend == "gpu":
        vllm = Path(sys.executable).with_name("vllm")
        dtype = [] if config.dtype == "auto" else ["--dtype", config.dtype]
        return [str(vllm) if vllm.exists() else "vllm", "serve", model, *common, *dtype,
                "--gpu-memory-utilization", str(config.gpu_memory_utilization)]
    dtype = cpu_dtype(cpu_flags()) if config.dtype == "auto" else config.dtype
    # vllm-cpu's console script looks for a `vllm` distribution that does not exist: run the module.
    # A whole prompt per scheduler step, never a chunk: a seeded request whose prefill is chunked kills the CPU
    # engine ("CPU Generator does not use offset", vllm-cpu 0.32). A prompt over the 2,048-token default (banking77's
    # analysis) was chunked, and so was the last of many concurrent prompts that filled a step's budget.
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, *common,
            "--dtype", dtype, "--enforce-eager", "--max-num-batched-tokens", str(max(config.max_model_len, 2048)),
            "--no-enable-chunked-prefill"]


def server_env(config: TeacherConfig) -> dict[str, str]:
    """The server's environment: the measured CPU settings (NOTES.md), no telemetry, the API key if any."""
    env = dict(os.environ)
    env.pop("VLLM_API_KEY", None)
    if config.api_key:
        env["VLLM_API_KEY"] = config.api_key
    env["VLLM_NO_USAGE_STATS"] = "1"
    env["DO_NOT_TRACK"] = "1"
    if config.model.startswith(BUNDLED_PREFIX):
        env["HF_HUB_OFFLINE"] = "1"
    if config.backend == "cpu":
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GiB
        env.setdefault("VLLM_CPU_OMP_THREADS_BIND", cpu_binding())
        iomp = Path(sys.prefix) / "lib" / "libiomp5.so"
        if iomp.is_file() and str(iomp) not in env.get("LD_PRELOAD", ""):
            env["LD_PRELOAD"] = " ".join(filter(None, [str(iomp), env.get("LD_PRELOAD")]))
    return env


def _headers(config: TeacherConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}


def served_models(config: TeacherConfig) -> list[str] | None:
    """The model ids listed at /v1/models, or None when nothing answers there."""
    url = f"{config.base_url}/models"
    try:
        response = httpx.get(url, headers=_headers(config), timeout=PROBE_TIMEOUT)
    except httpx.TransportError:
        return None
    if response.status_code in (401, 403):
        raise TeacherUnavailable(f"the teacher at {config.base_url} rejected the API key "
                                 f"(from ${config.api_key_env}): HTTP {response.status_code}")
    if response.status_code >= 500:
        return None  # up but not ready
    try:
        response.raise_for_status()
        return [entry["id"] for entry in response.json()["data"]]
    except (httpx.HTTPStatusError, ValueError, KeyError, TypeError) as exc:
        raise TeacherUnavailable(f"{url} is not an OpenAI-compatible model list: {exc}") from None


def is_serving(config: TeacherConfig) -> bool:
    """True if the configured model answers; False if nothing answers; an error if another model does."""
    models = served_models(config)
    if models is None:
        return False
    if config.served_name not in models:
        raise TeacherUnavailable(f"the server at {config.base_url} serves {models}, not "
                                 f"'{config.served_name}' (teacher.model {config.model}); stop it or change "
                                 "teacher.port")
    return True


def _healthy(config: TeacherConfig) -> bool:
    root = config.base_url.removesuffix("/v1")
    try:
        return httpx.get(f"{root}/health", timeout=PROBE_TIMEOUT).status_code == 200
    except httpx.TransportError:
        return False


def read_metrics(base_url: str) -> dict[str, float]:
    """vLLM's Prometheus counters and gauges at /metrics, summed over labels (name -> value)."""
    text = httpx.get(f"{base_url.removesuffix('/v1')}/metrics", timeout=PROBE_TIMEOUT).raise_for_status().text
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            with contextlib.suppress(ValueError):
                totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return totals


def read_state(config: TeacherConfig) -> dict[str, Any] | None:
    path = server_paths(config)["state"]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def alive(process: psutil.Process) -> bool:
    """Running and not a zombie (an exited child its parent has not reaped yet is gone for us)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(processes: list[psutil.Process], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(alive(process) for process in processes) and time.monotonic() < deadline:
        time.sleep(0.1)


def recorded_process(state: dict[str, Any] | None) -> psutil.Process | None:
    """The recorded process if it still runs; a reused pid (other start time) is not ours."""
    if not state:
        return None
    try:
        process = psutil.Process(state["pid"])
        return process if abs(process.create_time() - state["create_time"]) < 0.01 and alive(process) else None
    except (psutil.Error, KeyError):
        return None


def terminate(process: psutil.Process) -> None:
    """SIGTERM the server's process group (vLLM runs its engine in child processes), SIGKILL what remains."""
    pgid = process.pid
    try:
        group = os.getpgid(pgid) == pgid
    except ProcessLookupError:
        return
    send = os.killpg if group else os.kill
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        members = [process]
    with contextlib.suppress(ProcessLookupError):
        send(pgid, signal.SIGTERM)
    _wait_gone(members, STOP_GRACE)
    with contextlib.suppress(ProcessLookupError):
        send(pgid, signal.SIGKILL)
    _wait_gone(members, 5)


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _listens(process: psutil.Process, port: int) -> bool:
    """Whether the process (or a child) accepts connections on the port: the answer comes from it."""
    try:
        for member in [process, *process.children(recursive=True)]:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in member.net_connections("tcp")):
                return True
    except psutil.Error:
        pass
    return False


def _wait_ready(config: TeacherConfig, process: psutil.Process, log_path: Path) -> None:
    deadline = time.monotonic() + config.startup_timeout
    while True:
        if not alive(process):
            raise TeacherUnavailable(f"the teacher server exited while starting; see {log_path}:\n"
                                     f"{_log_tail(log_path)}")
        if _healthy(config) and is_serving(config) and _listens(process, config.port):
            return
        if time.monotonic() > deadline:
            raise TeacherUnavailable(f"the teacher server (pid {process.pid}) did not answer at {config.base_url} "
                                     f"within {config.startup_timeout:.0f} s; see {log_path}")
        time.sleep(1.0)


def _launch(config: TeacherConfig, idle_timeout: float | None) -> tuple[dict[str, Any], psutil.Process]:
    """Start the server process; its recorded state and the process, looked at once (it may be gone soon after)."""
    paths = server_paths(config)
    model = resolve_model(config.model)
    command = server_command(config, model)
    paths["log"].parent.mkdir(parents=True, exist_ok=True)
    log.info("starting the teacher: %s (log: %s)", " ".join(command), paths["log"])
    with open(paths["log"], "ab") as log_file:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                 env=server_env(config), start_new_session=True)
    try:
        process = psutil.Process(child.pid)
        created = process.create_time()
    except psutil.NoSuchProcess:  # gone (and reaped) before it could be looked at: a crash at start
        raise TeacherUnavailable(f"the teacher server exited while starting; see {paths['log']}:\n"
                                 f"{_log_tail(paths['log'])}") from None
    state = {"pid": child.pid, "create_time": created, "model": config.model,
             "resolved_model": model, "served_name": config.served_name, "base_url": config.base_url,
             "log": str(paths["log"]), "started_at": time.time(), "idle_timeout": idle_timeout}
    atomic_write_json(paths["state"], state)
    if idle_timeout and idle_timeout > 0:
        with open(paths["log"], "ab") as log_file:
            subprocess.Popen([sys.executable, "-m", "evokd.teacher.watchdog", "--state", str(paths["state"]),
                              "--idle-timeout", str(idle_timeout)],
                             stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                             start_new_session=True)
    return state, process


def start_server(config: TeacherConfig, idle_timeout: float | None = None) -> dict[str, Any] | None:
    """Start the configured server and wait until it serves the model; return its recorded state.

    Returns the recorded state of the server that already answers (None if someone else started it).
    A server answering with another model is an error. `idle_timeout` > 0 adds the idle watchdog.
    """
    if config.endpoint:
        raise EvokdError(f"teacher.endpoint is set ({config.endpoint}): that server is not evokd's to start")
    paths = server_paths(config)
    paths["lock"].parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(paths["lock"]), timeout=config.startup_timeout + 60):
            state = read_state(config)
            process = recorded_process(state)
            if process is None:
                if is_serving(config):
                    log.info("the teacher already answers at %s (not started by evokd)", config.base_url)
                    return None
                state, process = _launch(config, idle_timeout)
            try:
                _wait_ready(config, process, paths["log"])
            except BaseException:
                stop_server(config)
                raise
            log.info("the teacher serves '%s' at %s (pid %s)", config.served_name, config.base_url,
                     state["pid"])
            return state
    except Timeout:
        raise TeacherUnavailable(f"another process holds {paths['lock']} (starting the teacher) for too "
                                 f"long; see {paths['log']}") from None


def stop_server(config: TeacherConfig) -> bool:
    """Stop the server recorded for this port (exactly that process and its children). False if none runs."""
    path = server_paths(config)["state"]
    state = read_state(config)
    process = recorded_process(state)
    if process is not None:
        log.info("stopping the teacher server (pid %s)", process.pid)
        terminate(process)
    path.unlink(missing_ok=True)
    return process is not None


def ensure_server(config: TeacherConfig) -> None:
    """Make sure the configured model answers: return if it does, autostart it if allowed, else raise."""
    if is_serving(config):
        return
    if config.endpoint or not config.autostart:
        raise TeacherUnavailable(f"nothing answers at {config.base_url} (model '{config.served_name}'); "
                                 "start it with `evokd serve` or set teacher.autostart: true")
    start_server(config, idle_timeout=config.idle_timeout)
