"""The teacher dies in the middle of `generate`: the stage says so clearly and leaves no output; once the server
is back, the rerun asks only for what was never answered (the rest comes from the cache)."""

from __future__ import annotations

import json
import threading
from typing import Any

from faultkit import FakeOpenAI, Project, Reply

from evokd.teacher.server import free_port


class DyingFake(FakeOpenAI):
    """Answers `lives` chat calls, then drops every connection and closes its port, like a killed server."""

    def __init__(self, model: str, port: int, lives: int):
        super().__init__(model, port)
        self.lives = lives
        self._dead = threading.Event()

    def _next_reply(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        reply = super()._next_reply(body, headers)
        if len(self.requests) <= self.lives:
            return reply
        if not self._dead.is_set():
            self._dead.set()
            threading.Thread(target=self.stop, daemon=True).start()
        return Reply(drop=True)


def test_server_killed_mid_generate_then_rerun_reuses_every_answer(project: Project) -> None:
    port = free_port()
    generate_stage = project.generate_stage(port, n_hard=6)
    distinct = iter(f"Review number {i}: {word} acting, {word} story." for i, word in
                    enumerate(["superb", "awful", "gentle", "clumsy", "bright", "hollow", "tender", "noisy"]))

    dying = DyingFake("fake-model", port, lives=2)
    dying.replies = [Reply(content=json.dumps({"text": next(distinct)})) for _ in range(2)]
    dying.start()
    first = project.run(*generate_stage)
    assert first.returncode == 2, first.stderr
    [message] = first.stderr.strip().splitlines()[-1:]
    assert message.startswith("error: the teacher at ") and f"127.0.0.1:{port}" in message and "fake-model" in message
    assert "Traceback" not in first.stderr
    assert not (project.root / "generated.jsonl").exists() and not (project.root / "gen_stats.json").exists()
    assert not list(project.root.glob(".generated.jsonl.*"))

    back = FakeOpenAI("fake-model", port)
    back.replies = [Reply(content=json.dumps({"text": next(distinct)})) for _ in range(4)]
    back.start()
    try:
        second = project.run(*generate_stage)
    finally:
        back.stop()
    assert second.returncode == 0, second.stderr
    assert len(back.requests) == 4  # 6 planned, 2 answered before the crash
    stats = json.loads((project.root / "gen_stats.json").read_text())
    assert stats["teacher"]["cached"] == 2 and stats["teacher"]["calls"] == 4 and stats["kept"] == 6
    assert len((project.root / "generated.jsonl").read_text().splitlines()) == 6
