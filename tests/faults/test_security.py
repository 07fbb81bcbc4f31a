"""Security: the server listens on loopback unless told otherwise, the API key lives only in the environment
(never in params, logs, stats, the cache or the server's command line), and the teacher's text is data."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import psutil
import pytest
from faultkit import REPO, SENTIMENT, FakeOpenAI, Project, Reply, fake_teacher

from evokd.data import ClassificationSample
from evokd.loop.config import LoopConfig
from evokd.loop.generate import generate
from evokd.loop.label import label
from evokd.loop.step import Step
from evokd.prompts import PromptSet
from evokd.teacher import server
from evokd.teacher.client import TeacherClient
from evokd.teacher.config import TeacherConfig

MARKER = "sk-evokd-secret-7f3a9c1e"
HOSTILE = ["../../etc/passwd is where my review of this film belongs",
           "{{ 7*7 }} out of ten {% raw %} for this {{ config }} movie",
           "$(rm -rf /) `touch pwned` ; a plot as empty as rm -rf *"]


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_the_server_binds_loopback_unless_told_and_the_key_travels_in_the_env(backend: str,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOKD_TEACHER_API_KEY", MARKER)
    config = TeacherConfig(backend=backend)
    command = server.server_command(config, "some/model")
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert MARKER not in " ".join(command)  # a command line is visible to every user (ps)
    assert server.server_env(config)["VLLM_API_KEY"] == MARKER
    told = server.server_command(TeacherConfig(backend=backend, host="0.0.0.0"), "some/model")
    assert told[told.index("--host") + 1] == "0.0.0.0"


def test_the_api_key_never_lands_in_a_file_a_log_or_the_cache(project: Project, tmp_path: Path) -> None:
    fake = FakeOpenAI("fake-model", api_key=MARKER).start()
    try:
        generate_stage = project.generate_stage(fake.port, n_hard=3)
        fake.replies = [Reply(content=json.dumps({"text": text})) for text in HOSTILE]
        fake.replies += [Reply(content=json.dumps({"label": "negative"})) for _ in HOSTILE]
        without = project.run(*generate_stage)
        assert without.returncode == 2 and "HTTP 401" in without.stderr and "EVOKD_TEACHER_API_KEY" in without.stderr
        project.env["EVOKD_TEACHER_API_KEY"] = MARKER
        runs = [project.run(*generate_stage, "--debug"),
                project.run("stages/label.py", "--round", "r01", "--task", "task.yaml", "--seeds", "seeds.jsonl",
                            "--generated", "generated.jsonl", "--out", "labeled.jsonl", "--stats", "label_stats.json",
                            "--debug")]
    finally:
        fake.stop()
    assert all(run.returncode == 0 for run in runs), [run.stderr[-2000:] for run in runs]
    assert {headers["authorization"] for headers in fake.headers} == {f"Bearer {MARKER}"}
    cache = Path(project.env["EVOKD_CACHE"])
    assert sqlite3.connect(cache).execute("SELECT count(*) FROM answers").fetchone()[0] == 6
    places = {str(path): path.read_bytes() for path in [*project.root.rglob("*"), *cache.parent.iterdir()]
              if path.is_file()}
    places |= {f"output of {run.args[1]}": (run.stdout + run.stderr).encode() for run in [without, *runs]}
    assert [name for name, content in places.items() if MARKER.encode() in content] == []
    assert any(name.endswith("labeled.jsonl") for name in places) and str(cache) in places


def test_the_server_log_state_and_command_line_never_show_the_key(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("EVOKD_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("EVOKD_TEACHER_API_KEY", MARKER)
    script = REPO / "tests" / "fake_openai.py"
    monkeypatch.setattr(server, "server_command", lambda config, model: [
        sys.executable, str(script), "--port", str(config.port), "--model", config.served_name])
    config = TeacherConfig(model="org/fake", served_name="fake-model", port=server.free_port(), startup_timeout=30)
    state = server.start_server(config)  # waits until /v1/models answers: only with the key from the env
    try:
        assert state is not None and server.is_serving(config)
        assert MARKER not in " ".join(psutil.Process(state["pid"]).cmdline())
    finally:
        server.stop_server(config)
    logs = [path for path in (tmp_path / "run").iterdir() if path.is_file()]
    assert logs and all(MARKER.encode() not in path.read_bytes() for path in logs)


def test_teacher_text_is_stored_verbatim_and_never_run_rendered_or_used_as_a_path(
        fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fake.replies = [Reply(content=json.dumps({"text": text})) for text in HOSTILE]
    fake.replies += [Reply(content=json.dumps({"label": "negative"})) for _ in HOSTILE]
    client = TeacherClient(fake_teacher(fake), tmp_path / "cache.sqlite")
    prompts = PromptSet(REPO / "prompts", "default")
    step = Step(client, SENTIMENT, prompts, LoopConfig(n_hard=3, n_easy=0), 13, "r01", "fake-model")
    inputs, _ = generate(step, None, {}, [])
    samples, _ = label(step, inputs, separate=True)
    assert [item.text for item in inputs] == HOSTILE
    assert [(s.text, s.label) for s in samples if isinstance(s, ClassificationSample)] == \
        [(text, "negative") for text in HOSTILE]
    labeling_prompts = [body["messages"][-1]["content"] for body in fake.requests[3:]]
    for text, prompt in zip(HOSTILE, labeling_prompts, strict=True):
        assert text in prompt  # rendered literally: no 49, no Jinja error, no expanded config
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cache.sqlite", "cache.sqlite-shm",
                                                                 "cache.sqlite-wal"]
