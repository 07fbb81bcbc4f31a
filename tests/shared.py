"""What the tests share, defined once: task specs (a test keeps a local one only where it needs a special one),
the teacher config for the fake server, and the check that no gold test text reached the teacher."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from fake_openai import FakeOpenAI

from evokd.data import LabelSpec, TaskSpec
from evokd.loop.dedup import normalize
from evokd.student.config import StudentConfig
from evokd.teacher.config import TeacherConfig

# rotten_tomatoes-like, the label ids apart from the words the teacher reads (verbalizers)
REVIEWS = TaskSpec(name="rt", kind="classification", domain="Short snippets of film critics' reviews.",
                   labels=[LabelSpec(name="fresh", verbalizer="positive", description="the critic likes the film"),
                           LabelSpec(name="rotten", verbalizer="negative", description="the critic does not")])
# the same labels without verbalizers: the ids are the words the teacher reads
PLAIN_REVIEWS = TaskSpec(name="rt", kind="classification", domain="movie review snippets",
                         labels=[LabelSpec(name="fresh", description="positive review"),
                                 LabelSpec(name="rotten", description="negative review")])
# two banking intents whose words ("card arrival", "card linking") share their first token
BANK = TaskSpec(name="bank", kind="classification", domain="bank chat",
                labels=[LabelSpec(name="card_arrival", description="where is my card"),
                        LabelSpec(name="card_linking", description="link a card")])
NEWS = TaskSpec(name="conll", kind="ner", domain="news wire sentences",
                labels=[LabelSpec(name="PER", description="person"), LabelSpec(name="LOC", description="place")])
LETTERS = TaskSpec(name="abc", kind="classification", domain="letters",
                   labels=[LabelSpec(name=name, description=name) for name in ("a", "b", "c")])

# a student trained in seconds: one epoch, short inputs
TINY = StudentConfig(epochs=1, min_steps=0, min_steps_per_label=0, batch_size=8, max_length=32)


def fake_teacher(fake: FakeOpenAI, **overrides: object) -> TeacherConfig:
    """A teacher config for `fake`: one request at a time (replies are consumed in order), no autostart."""
    values = {"model": "org/fake", "served_name": fake.model, "port": fake.port, "autostart": False,
              "max_retries": 1, "max_invalid": 2, "timeout": 5.0, "concurrency": 1, "max_tokens": 64, **overrides}
    return TeacherConfig(**values)


def teacher_prompts(cache: Path) -> list[str]:
    """Every prompt in a teacher cache, its messages joined and normalized as the leak check compares texts."""
    with sqlite3.connect(cache) as db:
        requests = [json.loads(row[0]) for row in db.execute("SELECT request FROM answers")]
    return [normalize(" ".join(message["content"] for message in request["messages"])) for request in requests]


def assert_no_gold_leak(prompts: list[str], gold: set[str], seeds: set[str]) -> None:
    """No gold test text (longer than 25 characters, normalized) is in a prompt; one that is also a seed is the
    seed's, not a leak."""
    texts = {normalize(text) for text in gold} - {normalize(text) for text in seeds}
    for prompt in prompts:
        leaked = [text for text in texts if len(text) > 25 and text in prompt]
        assert not leaked, f"gold test text in a teacher request: {leaked[:1]}"
