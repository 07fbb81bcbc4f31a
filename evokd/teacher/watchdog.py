"""Stop an autostarted teacher server after `idle_timeout` seconds without requests.

Runs as its own detached process (`python -m evokd.teacher.watchdog --state FILE --idle-timeout S`), since
the stage that started the server exits long before. Activity is read from vLLM's /metrics: any change of
the request and token counters, or a running or waiting request, resets the idle clock. It exits when the
recorded server is gone (stopped by `evokd serve --stop`, or crashed). Once the server has answered, a
/metrics that stops answering counts as idle, so a wedged server does not live forever.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import time
from pathlib import Path

import httpx

from evokd.teacher.server import read_metrics, recorded_process, terminate

log = logging.getLogger("evokd.teacher.watchdog")

ACTIVITY = ("vllm:request_success_total", "vllm:prompt_tokens_total", "vllm:generation_tokens_total")
BUSY = ("vllm:num_requests_running", "vllm:num_requests_waiting")


def activity(metrics: dict[str, float]) -> tuple[tuple[float, ...], bool]:
    """(the counters that change with every request, whether a request is in flight right now)."""
    counters = tuple(metrics.get(name, 0.0) for name in ACTIVITY)
    return counters, any(metrics.get(name, 0.0) > 0 for name in BUSY)


def watch(state_path: Path, idle_timeout: float, poll: float) -> bool:
    """Poll until the server has been idle for idle_timeout (then stop it: True) or is gone (False)."""
    state = json.loads(state_path.read_text(encoding="utf-8"))
    last_seen: tuple[float, ...] | None = None
    last_active = time.monotonic()
    while True:
        time.sleep(poll)
        process = recorded_process(state)
        if process is None:
            return False
        try:
            counters, busy = activity(read_metrics(state["base_url"]))
        except httpx.HTTPError:
            # Never answered yet: still loading (the start-up wait has its own timeout), so busy.
            # Answered before: an unreachable server serves nobody, so the idle clock runs.
            counters, busy = last_seen, last_seen is None
        if busy or counters != last_seen:
            last_seen, last_active = counters, time.monotonic()
        elif time.monotonic() - last_active >= idle_timeout:
            log.info("teacher idle for %.0f s: stopping pid %s", idle_timeout, process.pid)
            terminate(process)
            with contextlib.suppress(FileNotFoundError, ValueError):
                if json.loads(state_path.read_text(encoding="utf-8")).get("pid") == state["pid"]:
                    state_path.unlink()
            return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True, help="the server's state file")
    parser.add_argument("--idle-timeout", type=float, required=True, help="seconds without requests")
    parser.add_argument("--poll", type=float, default=None, help="seconds between checks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    watch(args.state, args.idle_timeout, args.poll or min(15.0, max(0.5, args.idle_timeout / 10)))


if __name__ == "__main__":
    main()
