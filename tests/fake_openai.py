"""A scriptable fake OpenAI-compatible server on loopback, for the fault tests of the teacher client.

In-process: `FakeOpenAI(model).start()` serves in a thread; queue `Reply`s for the next chat calls.
As a process (`python fake_openai.py --port P --model NAME`): stands in for vLLM in server lifecycle tests
(pid, lock, stop, idle watchdog); its /metrics counts chat requests like vLLM's `request_success_total`.
With an API key (argument, or VLLM_API_KEY in the environment as vLLM reads it), /v1 routes answer 401 to a
request without `Authorization: Bearer KEY`.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the fake does with one chat call. content None: echo {"seed": <the request's seed>}."""

    status: int = 200
    content: str | None = None
    finish_reason: str = "stop"
    delay: float = 0.0
    drop: bool = False  # close the connection without answering


class FakeOpenAI:
    def __init__(self, model: str = "fake-model", port: int = 0, api_key: str | None = None):
        self.model = model
        self.api_key = api_key
        self.replies: list[Reply] = []  # consumed in order; empty -> Reply()
        self.requests: list[dict[str, Any]] = []  # chat request bodies, in arrival order
        self.headers: list[dict[str, str]] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _next_reply(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.replies.pop(0) if self.replies else Reply()

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _refused(self) -> bool:
                """vLLM's --api-key check: only /v1 routes, bearer token."""
                if not fake.api_key or not self.path.startswith("/v1/") or \
                        self.headers.get("Authorization") == f"Bearer {fake.api_key}":
                    return False
                self._send(401, {"error": {"message": "Unauthorized"}})
                return True

            def do_GET(self) -> None:
                if self._refused():
                    return
                if self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})
                elif self.path == "/health":
                    self._send(200, "", "text/plain")
                elif self.path == "/metrics":
                    self._send(200, f'vllm:request_success_total{{model_name="{fake.model}"}} '
                                    f"{len(fake.requests)}.0\nvllm:num_requests_running 0.0\n", "text/plain")
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self._refused():
                    return
                if self.path != "/v1/chat/completions":  # e.g. vLLM's /tokenize: a hosted endpoint has none
                    self._send(404, {"error": {"message": "not found"}})
                    return
                reply = fake._next_reply(body, {k.lower(): v for k, v in self.headers.items()})
                try:
                    time.sleep(reply.delay)
                    if reply.drop:
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if body.get("model") != fake.model:
                        self._send(404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}})
                    elif reply.status != 200:
                        self._send(reply.status, {"error": {"message": f"fake error {reply.status}"}})
                    else:
                        content = reply.content if reply.content is not None else json.dumps({"seed": body["seed"]})
                        self._send(200, {
                            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": fake.model,
                            "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                                         "message": {"role": "assistant", "content": content}}],
                            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
                finally:
                    fake._done()

        return Handler


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    FakeOpenAI(args.model, args.port, os.environ.get("VLLM_API_KEY")).httpd.serve_forever()
