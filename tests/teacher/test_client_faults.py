"""The client against a fake OpenAI server on loopback: every failure mode a real teacher can show."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from fake_openai import Reply
from pydantic import BaseModel, field_validator

from evokd.errors import TeacherUnavailable
from evokd.teacher.client import ChatRequest, TeacherClient
from evokd.teacher.server import free_port


class Echo(BaseModel):
    seed: int


class Label(BaseModel):
    label: Literal["positive", "negative"]


def ask(n: int = 1, schema: type[BaseModel] = Echo, **kwargs: object) -> list[ChatRequest]:
    return [ChatRequest([{"role": "user", "content": f"question {i}"}], schema, seed=100 + i, **kwargs)
            for i in range(n)]


def test_answers_keep_order_validate_and_carry_the_request(fake, fake_config, tmp_path: Path) -> None:
    client = TeacherClient(fake_config(), tmp_path / "cache.sqlite")
    requests = ask(6)
    results = client.run(requests)
    assert [r.value.seed for r in results] == [r.seed for r in requests]
    assert all(r.error is None and not r.cached for r in results)
    body = fake.requests[0]
    assert body["model"] == fake.model and body["max_tokens"] == 32
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"] == Echo.model_json_schema()
    stats = client.stats.to_dict()
    assert stats["requests"] == stats["calls"] == 6 and stats["prompt_tokens"] == 60
    assert stats["completion_tokens"] == 30 and stats["failed"] == 0


def test_concurrency_is_bounded(fake, fake_config, tmp_path: Path) -> None:
    fake.replies = [Reply(delay=0.2) for _ in range(8)]
    TeacherClient(fake_config(concurrency=3), tmp_path / "cache.sqlite").run(ask(8))
    assert fake.max_in_flight == 3


def test_refused_connection_names_the_url_and_what_to_do(fake_config, tmp_path: Path) -> None:
    config = fake_config(port=free_port())
    with pytest.raises(TeacherUnavailable, match=rf"nothing answers at {config.base_url}.*evokd serve"):
        TeacherClient(config, tmp_path / "cache.sqlite").run(ask())


def test_dropped_connections_are_retried(fake, fake_config, tmp_path: Path) -> None:
    fake.replies = [Reply(drop=True), Reply(drop=True)]
    [result] = TeacherClient(fake_config(max_retries=2), tmp_path / "cache.sqlite").run(ask())
    assert result.value == Echo(seed=100) and len(fake.requests) == 3


def test_server_errors_then_success(fake, fake_config, tmp_path: Path) -> None:
    fake.replies = [Reply(status=500), Reply(status=503)]
    client = TeacherClient(fake_config(max_retries=2), tmp_path / "cache.sqlite")
    [result] = client.run(ask())
    assert result.value == Echo(seed=100) and len(fake.requests) == 3
    assert client.stats.failures == {}  # transport retries are not invalid answers


def test_persistent_server_errors_raise_naming_url_model_and_tries(fake, fake_config, tmp_path: Path) -> None:
    fake.replies = [Reply(status=500) for _ in range(5)]
    config = fake_config(max_retries=2)
    with pytest.raises(TeacherUnavailable) as error:
        TeacherClient(config, tmp_path / "cache.sqlite").run(ask())
    message = str(error.value)
    assert config.base_url in message and fake.model in message and "3 tries" in message
    assert len(fake.requests) == 3


def test_slow_reply_past_the_timeout_is_retried_then_given_up(fake, fake_config, tmp_path: Path) -> None:
    # generous margins: on a busy 2-core machine even a prompt reply can take a good part of a second
    fake.replies = [Reply(delay=4.0)]
    [result] = TeacherClient(fake_config(timeout=2.0, max_retries=1), tmp_path / "c.sqlite").run(ask())
    assert result.value == Echo(seed=100) and len(fake.requests) == 2

    fake.replies = [Reply(delay=4.0), Reply(delay=4.0)]
    with pytest.raises(TeacherUnavailable, match="timeout 2 s.*Timeout"):
        TeacherClient(fake_config(timeout=2.0, max_retries=1), tmp_path / "c.sqlite").run(ask(2)[1:])


@pytest.mark.parametrize(("reply", "reason"), [
    (Reply(content="not json {"), "invalid_json"),
    (Reply(content='{"label": "maybe"}'), "schema"),
    (Reply(content='{"label": "posi', finish_reason="length"), "length"),
])
def test_invalid_answer_is_asked_again_with_another_seed(fake, fake_config, tmp_path: Path, reply: Reply,
                                                         reason: str) -> None:
    fake.replies = [reply, Reply(content='{"label": "negative"}')]
    client = TeacherClient(fake_config(), tmp_path / "cache.sqlite")
    [result] = client.run(ask(schema=Label))
    assert result.value == Label(label="negative") and result.error is None
    assert client.stats.failures == {reason: 1} and client.stats.calls == 2
    assert result.prompt_tokens == 20 and result.completion_tokens == 10  # both attempts are paid for
    first, second = (body["seed"] for body in fake.requests)
    assert first == 100 and second != first


def test_answer_still_invalid_after_max_invalid_is_a_result_error_and_not_cached(fake, fake_config,
                                                                                 tmp_path: Path) -> None:
    fake.replies = [Reply(content="nope") for _ in range(3)]
    client = TeacherClient(fake_config(max_invalid=2), tmp_path / "cache.sqlite")
    [result] = client.run(ask(schema=Label))
    assert result.value is None and result.error == "invalid_json after 3 tries"
    assert client.stats.failed == 1 and client.stats.failures == {"invalid_json": 3}
    assert len({body["seed"] for body in fake.requests}) == 3

    fake.replies = []  # the next run asks again (failures are not cached) and now gets an Echo-shaped answer
    again = TeacherClient(fake_config(), tmp_path / "cache.sqlite")
    again.run(ask())
    assert again.stats.calls == 1


def test_wrong_model_id_is_an_error_before_any_request(fake, fake_config, tmp_path: Path) -> None:
    with pytest.raises(TeacherUnavailable, match=r"serves \['fake-model'\], not 'other-model'"):
        TeacherClient(fake_config(served_name="other-model"), tmp_path / "cache.sqlite").run(ask())
    assert fake.requests == []


def test_bad_request_is_a_result_error_not_a_crash(fake, fake_config, tmp_path: Path) -> None:
    fake.replies = [Reply(status=400)]
    client = TeacherClient(fake_config(), tmp_path / "cache.sqlite")
    results = client.run(ask(2))
    [refused] = [r for r in results if r.error]  # whichever request the 400 met; the other one is fine
    assert refused.error.startswith("rejected by the server: HTTP 400") and refused.value is None
    assert sum(r.value is not None for r in results) == 1
    assert client.stats.failures == {"rejected": 1} and len(fake.requests) == 2


def test_api_key_is_sent_from_the_named_environment_variable(fake, fake_config, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TEACHER_KEY", "s3cret")
    TeacherClient(fake_config(api_key_env="MY_TEACHER_KEY"), tmp_path / "cache.sqlite").run(ask())
    assert fake.headers[-1]["authorization"] == "Bearer s3cret"


def test_cache_hit_sends_nothing_and_reports_the_same_budget(fake, fake_config, tmp_path: Path) -> None:
    fake.replies = [Reply(content="nope")]  # one invalid attempt, paid for and remembered with the answer
    first = TeacherClient(fake_config(), tmp_path / "cache.sqlite")
    answers = [r.value for r in first.run(ask(3))]
    sent = len(fake.requests)
    replay = TeacherClient(fake_config(), tmp_path / "cache.sqlite")
    results = replay.run(ask(3))
    assert len(fake.requests) == sent and all(r.cached for r in results)
    assert [r.value for r in results] == answers
    budget = {"requests", "prompt_tokens", "completion_tokens", "failures", "failed"}
    assert {k: v for k, v in replay.stats.to_dict().items() if k in budget} == \
        {k: v for k, v in first.stats.to_dict().items() if k in budget}
    assert replay.stats.calls == 0 and replay.stats.cached == 3


def test_cache_key_covers_sampling_and_seed_and_can_be_turned_off(fake, fake_config, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    TeacherClient(fake_config(), cache).run(ask(1))
    for config, requests in [(fake_config(temperature=0.1), ask(1)), (fake_config(), ask(1, max_tokens=8)),
                             (fake_config(served_name=fake.model, model="org/other"), ask(1)),
                             (fake_config(cache=False), ask(1))]:
        sent = len(fake.requests)
        TeacherClient(config, cache).run(requests)
        assert len(fake.requests) == sent + 1, config
    assert TeacherClient(fake_config(), cache).run(ask(1))[0].cached


def test_a_cached_answer_the_schema_now_rejects_is_asked_again(fake, fake_config, tmp_path: Path) -> None:
    def answer_schema(forbid: int | None) -> type[BaseModel]:
        class Answer(BaseModel):  # same JSON schema (and cache key) either way; only the validator differs
            seed: int

            @field_validator("seed")
            @classmethod
            def allowed(cls, seed: int) -> int:
                if seed == forbid:
                    raise ValueError("forbidden seed")
                return seed

        return Answer

    TeacherClient(fake_config(), tmp_path / "cache.sqlite").run(ask(schema=answer_schema(None)))
    fake.replies = [Reply(content='{"seed": 7}')]
    [result] = TeacherClient(fake_config(), tmp_path / "cache.sqlite").run(ask(schema=answer_schema(100)))
    assert not result.cached and result.value.seed == 7 and len(fake.requests) == 2
