"""One round step's context: the teacher, the task and prompts it reads, the loop's settings, the run seed and the
round. Every loop function (analyze, generate, label, the warm-up and the baselines' own batches) takes one Step
instead of the same seven arguments each, and derives its request seeds and provenance from it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from evokd.data import Origin, Provenance, TaskSpec
from evokd.loop.config import LoopConfig
from evokd.params import Params
from evokd.prompts import PromptSet
from evokd.teacher.client import ChatRequest, ChatResult, TeacherClient


def derive_seed(*parts: object) -> int:
    """A stable per-request seed from the run seed and the request's place (round, step, index).

    Stable seeds make identical requests on a rerun, so the teacher cache answers them for free.
    """
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class Step:
    """`client` is None only where no teacher is asked (labelling with `loop.separate_labeling` off);
    `teacher_model` is the served model name written into every teacher sample's provenance."""

    client: TeacherClient | None
    task: TaskSpec
    prompts: PromptSet
    loop: LoopConfig
    seed: int
    round: str
    teacher_model: str

    def seed_for(self, *parts: object) -> int:
        """The request seed of one request of this round (`parts`: the step and the request's place in it)."""
        return derive_seed(self.seed, self.round, *parts)

    def ask(self, requests: list[ChatRequest], what: str) -> list[ChatResult]:
        """Send the requests together (vLLM batches them); results keep their order."""
        assert self.client is not None, f"{what} needs a teacher client"
        return self.client.run(requests, desc=f"{what} {self.round}")

    def provenance(self, request_key: str, intent: str | None, origin: Origin = "teacher") -> Provenance:
        return Provenance(origin=origin, teacher_model=self.teacher_model, prompt_set=self.prompts.name,
                          request_key=request_key, intent=intent)

    def at(self, round_name: str) -> Step:
        """The same step under another round name (a baseline's batches are named like rounds: own seeds)."""
        return replace(self, round=round_name)


def round_step(params: Params, task: TaskSpec, prompts_dir: Path, round_name: str,
               client: TeacherClient | None) -> Step:
    """The Step of a pipeline stage, from params.yaml (loop, seed, prompt set, served name)."""
    return Step(client=client, task=task, prompts=PromptSet(prompts_dir, params.prompts.set), loop=params.loop,
                seed=params.seed, round=round_name, teacher_model=params.teacher.served_name)
