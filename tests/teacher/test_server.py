"""Server lifecycle (start, record, reuse, lock, stop, idle shutdown) with the fake server as the process.

Only the command line is swapped: the real Popen, state file, lock, health wait, watchdog and process-group
stop all run. The real vLLM server is exercised in test_real_server.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest
import yaml
from click.testing import CliRunner
from fake_openai import FakeOpenAI

from evokd.cli import cli
from evokd.errors import TeacherUnavailable
from evokd.teacher import server, watchdog
from evokd.teacher.config import TeacherConfig

FAKE_SCRIPT = Path(__file__).parents[1] / "fake_openai.py"


def fake_command(config: TeacherConfig, model: str) -> list[str]:
    return [sys.executable, str(FAKE_SCRIPT), "--port", str(config.port), "--model", config.served_name]


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> TeacherConfig:
    monkeypatch.setattr(server, "server_command", fake_command)
    return TeacherConfig(model="org/fake", served_name="fake-model", port=server.free_port(), startup_timeout=20)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def eventually(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_cpu_command_and_environment_follow_the_measured_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOKD_TEACHER_API_KEY", "s3cret")
    config = TeacherConfig(model="bundled:smollm2-135m-instruct", served_name="smollm2-135m-instruct", dtype="float32")
    command = server.server_command(config, "/models/smol")
    assert command[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    assert {"--dtype", "float32", "--enforce-eager", "/models/smol", "smollm2-135m-instruct",
            "--no-enable-chunked-prefill"} <= set(command)
    assert "s3cret" not in " ".join(command)  # the key travels in the environment, never on the command line
    env = server.server_env(config)
    assert env["VLLM_API_KEY"] == "s3cret" and env["HF_HUB_OFFLINE"] == "1"
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == server.cpu_binding() and env["VLLM_NO_USAGE_STATS"] == "1"
    if (Path(sys.prefix) / "lib" / "libiomp5.so").is_file():
        assert "libiomp5.so" in env["LD_PRELOAD"]


def test_cpu_binding_takes_every_core_of_a_small_machine_and_leaves_big_ones_to_vllm(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert server.cpu_binding({1, 0}) == "0,1"
    assert server.cpu_binding(set(range(server.SMALL_MACHINE_CPUS + 1))) == "auto"
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0")  # a user's own binding wins
    config = TeacherConfig(model="bundled:smollm2-135m-instruct", served_name="smollm2-135m-instruct")
    assert server.server_env(config)["VLLM_CPU_OMP_THREADS_BIND"] == "0"


def test_gpu_command_is_vllm_serve_with_the_memory_fraction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVOKD_TEACHER_API_KEY", raising=False)
    monkeypatch.setenv("VLLM_API_KEY", "inherited")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    config = TeacherConfig(model="Qwen/Qwen2.5-7B-Instruct", served_name="qwen", backend="gpu",
                           gpu_memory_utilization=0.6)
    command = server.server_command(config, config.model)
    assert command[1:3] == ["serve", "Qwen/Qwen2.5-7B-Instruct"]
    assert command[command.index("--gpu-memory-utilization") + 1] == "0.6"
    assert command[command.index("--generation-config") + 1] == "vllm"
    env = server.server_env(config)
    assert "VLLM_API_KEY" not in env and "HF_HUB_OFFLINE" not in env  # no key configured; hub ids may download


def test_start_records_reuses_and_stops_exactly_that_process(config: TeacherConfig) -> None:
    state = server.start_server(config)
    pid = state["pid"]
    try:
        assert server.is_serving(config) and server.read_state(config)["pid"] == pid
        assert server.read_state(config)["model"] == "org/fake"
        assert server.start_server(config)["pid"] == pid  # already running: no second process
        server.ensure_server(config)
    finally:
        assert server.stop_server(config)
    assert eventually(lambda: gone(pid), 5) and server.read_state(config) is None
    assert not server.stop_server(config)


def test_a_server_that_dies_while_starting_is_reported_with_its_log(config: TeacherConfig,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "server_command",
                        lambda c, m: [sys.executable, "-c", "print('CUDA out of memory'); raise SystemExit(3)"])
    with pytest.raises(TeacherUnavailable, match="exited while starting(.|\n)*CUDA out of memory"):
        server.start_server(config)
    assert server.read_state(config) is None


def test_another_model_on_the_port_is_an_error_and_nothing_starts(config: TeacherConfig) -> None:
    other = FakeOpenAI("other-model", port=config.port).start()
    try:
        with pytest.raises(TeacherUnavailable, match=r"serves \['other-model'\], not 'fake-model'"):
            server.ensure_server(config)
        assert server.read_state(config) is None
    finally:
        other.stop()


def test_nothing_answering_without_autostart_is_an_error(config: TeacherConfig) -> None:
    with pytest.raises(TeacherUnavailable, match="nothing answers.*evokd serve"):
        server.ensure_server(config.model_copy(update={"autostart": False}))


def test_two_processes_autostarting_at_once_start_one_server(config: TeacherConfig, tmp_path: Path) -> None:
    config = config.model_copy(update={"idle_timeout": 0})  # no watchdog to outlive the test
    script = textwrap.dedent(f"""
        from evokd.teacher import server, watchdog
        from evokd.teacher.config import TeacherConfig
        server.server_command = lambda config, model: {fake_command(config, "")!r}
        config = TeacherConfig.model_validate({config.model_dump()!r})
        server.ensure_server(config)
        print(server.read_state(config)["pid"])
    """)
    racers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
              for _ in range(2)]
    try:
        pids = {racer.communicate(timeout=60)[0].strip() for racer in racers}
        assert len(pids) == 1 and all(racer.returncode == 0 for racer in racers)
        fakes = [p for p in psutil.process_iter(["cmdline"])
                 if str(FAKE_SCRIPT) in (p.info["cmdline"] or []) and str(config.port) in p.info["cmdline"]]
        assert len(fakes) == 1
    finally:
        server.stop_server(config)


def test_autostarted_server_stops_itself_when_idle_but_not_while_used(config: TeacherConfig) -> None:
    config = config.model_copy(update={"idle_timeout": 2.0})
    server.ensure_server(config)
    pid = server.read_state(config)["pid"]
    try:
        for seed in range(5):  # 5 s of requests, 1 s apart: never idle for 2 s
            httpx.post(f"{config.base_url}/chat/completions", json={"model": config.served_name, "seed": seed})
            time.sleep(1.0)
        assert not gone(pid) and server.read_state(config) is not None
        assert eventually(lambda: gone(pid) and server.read_state(config) is None, 10)
    finally:
        server.stop_server(config)


def test_serve_command_starts_and_stops(config: TeacherConfig, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"teacher": config.model_dump(exclude={"startup_timeout"})}))
    runner = CliRunner()
    started = runner.invoke(cli, ["serve", "--params", str(params)])
    assert started.exit_code == 0, started.output
    assert f"serves 'fake-model' at {config.base_url}" in started.output
    stopped = runner.invoke(cli, ["serve", "--params", str(params), "--stop"])
    assert "stopped the teacher" in stopped.output and not server.is_serving(config)
    again = runner.invoke(cli, ["serve", "--params", str(params), "--stop"])
    assert "no teacher started by evokd" in again.output


def test_watchdog_stops_a_server_that_stopped_answering(tmp_path: Path) -> None:
    fake = FakeOpenAI("fake-model").start()
    wedged = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    state = tmp_path / "teacher.json"
    state.write_text(json.dumps({"pid": wedged.pid, "create_time": psutil.Process(wedged.pid).create_time(),
                                 "base_url": fake.base_url}))
    threading.Timer(1.0, fake.stop).start()  # answers /metrics at first, then nothing listens any more
    try:
        assert watchdog.watch(state, idle_timeout=2.0, poll=0.3)
        assert wedged.wait(timeout=5) is not None and not state.exists()
    finally:
        wedged.kill()
