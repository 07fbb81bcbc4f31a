"""`evokd plan`: what the next `dvc repro` will ask of the teacher, before it spends a token.

Stages come from `dvc repro --dry`. Request counts come from the loop's own planning (evokd.loop.generate's
round plan and copies per input, evokd.loop.label's requests per input) under params.yaml. Prompt tokens are counted
on prompts rendered from the real templates with the seeds as examples: by the teacher's tokenizer through
vLLM's `POST /tokenize` when the server answers, else estimated as characters / 4 (labelled as such).
Completion tokens are an upper bound (max_tokens per request).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import httpx

from evokd.data import ClassificationSample, Sample, TaskSpec, load_task, read_samples
from evokd.loop.analyze import ANALYSIS_MAX_TOKENS, fallback_analysis
from evokd.loop.common import sample_text
from evokd.loop.config import LoopConfig
from evokd.loop.generate import copies_per_input, round_plan
from evokd.loop.label import labeling_requests, longer_words_mode
from evokd.loop.step import Step
from evokd.params import BOOTSTRAP_ROUND, Params
from evokd.prompts import PromptSet
from evokd.teacher.config import TeacherConfig

_RUNNING = re.compile(r"Running stage '([^']+)'")


def stages_to_run(root: Path) -> list[str] | None:
    """Stage names `dvc repro --dry` would run, in order; None when DVC cannot tell (not a DVC project...)."""
    try:
        done = subprocess.run(["dvc", "repro", "--dry"], cwd=root, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return list(dict.fromkeys(_RUNNING.findall(done.stdout)))


class TokenCounter:
    """Prompt tokens of a chat: the teacher's own count via /tokenize, else characters / 4."""

    def __init__(self, config: TeacherConfig | None):
        self.config, self.method = config, "heuristic (characters / 4)"
        if config is not None and self._server_count([{"role": "user", "content": "hi"}]) is not None:
            self.method = f"teacher tokenizer ({config.served_name} via /tokenize)"

    def _server_count(self, messages: list[dict[str, str]]) -> int | None:
        assert self.config is not None
        url = f"http://{self.config.host}:{self.config.port}/tokenize"
        try:
            response = httpx.post(url, json={"model": self.config.served_name, "messages": messages}, timeout=5)
            response.raise_for_status()
            return int(response.json()["count"])
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            return None

    def count(self, messages: list[dict[str, str]]) -> int:
        if self.method.startswith("teacher"):
            counted = self._server_count(messages)
            if counted is not None:
                return counted
        return sum(len(message["content"]) for message in messages) // 4 + 4 * len(messages)


def request_kinds(task: TaskSpec, prompts: PromptSet, seeds: list[Sample], params: Params
                  ) -> dict[str, list[dict[str, str]]]:
    """One representative rendered chat per request kind (generation prompts quote no analysis: lower bound)."""
    texts = [sample_text(sample) for sample in seeds] or ["An example text."]
    label = task.labels[0]
    rows = [{"text": text, "label": label.name, "predicted": label.name} for text in texts]
    loop = params.loop
    return {
        "generation": prompts.messages("generation", task, intent=label, stance="hard", examples=texts[:3],
                                       analysis=None, direction=None, with_label=not loop.separate_labeling),
        "labeling": prompts.messages("labeling", task, text=texts[0], demos=[], label=label),
        "analysis": prompts.messages("analysis", task, per_label={name: 0.5 for name in task.label_names},
                                     wrong=rows[:loop.n_wrong], correct=rows[:loop.n_correct]
                                     if loop.include_correct else None, history=[]),
        "paraphrase": prompts.messages("paraphrase", task, text=texts[0],
                                       label=seeds[0].label if seeds and isinstance(seeds[0], ClassificationSample)
                                       else label.name),
    }


def planned_scoring(task: TaskSpec, loop: LoopConfig) -> str:
    """How the plan assumes labels are scored: label words of one word as one token each (`first_token`, what
    label.scoring_mode finds for such words with the bundled teachers), else as label.longer_words_mode says."""
    if not any(len(word.split()) > 1 for word in task.words.values()):
        return "first_token"
    return longer_words_mode(task, loop)


def stage_requests(stage: str, params: Params, task: TaskSpec, prompts: PromptSet, seeds: list[Sample]
                   ) -> dict[str, int]:
    """Teacher requests per kind that one stage makes (before re-asks of invalid answers), from the loop's own
    planning: the round's (intent, stance) plan, the copies per input `loop.select_factor` asks for, and the
    labelling requests per input. Labelling is counted for every planned input (an upper bound: rejects and
    the selection leave fewer)."""
    loop = params.loop
    scoring = planned_scoring(task, loop)
    kind, _, round_name = stage.partition("@")
    step = Step(client=None, task=task, prompts=prompts, loop=loop, seed=params.seed,
                round=round_name or BOOTSTRAP_ROUND, teacher_model=params.teacher.served_name)
    if kind == "bootstrap":
        planned = len(round_plan(step, None, {}, seeds))
        n_seeds = len(seeds) or len(task.labels) * params.task.shots  # before prepare: the shots per label
        warmup = loop.n_init * n_seeds if loop.init else 0  # paraphrase: per_seed requests per seed
        labeling = labeling_requests(task, loop, planned, scoring) if loop.separate_labeling else 0
        if task.kind == "ner":
            labeling += labeling_requests(task, loop, warmup, scoring)
        return {"paraphrase": warmup, "generation": planned, "labeling": labeling}
    if kind == "analyze":
        return {"analysis": 1}
    if kind not in ("generate", "label"):
        return {}
    planned = len(round_plan(step, fallback_analysis(task, {}), {}, seeds))
    if kind == "generate":  # the stage gives the previous student whenever select_factor asks for selection
        return {"generation": planned * copies_per_input(loop, with_student=True)}
    inputs = planned + loop.n_unlabelled  # the label stage labels the picked unlabelled texts too
    return {"labeling": labeling_requests(task, loop, inputs, scoring) if loop.separate_labeling else 0}


def build_plan(root: Path, params: Params, stages: list[str] | None, counter: TokenCounter,
               prompts_dir: Path | None = None) -> dict[str, Any]:
    """The plan as a dict: stages, per-stage requests and token estimates, per-round totals, sample counts."""
    raw = root / "data" / "raw"
    task_path = raw / "task.yaml"
    if task_path.is_file():
        task = load_task(task_path)
    else:
        from evokd.benchmarks import task_spec

        task = task_spec(params.task.benchmark)
    seeds = read_samples(raw / "seeds.jsonl", task) if (raw / "seeds.jsonl").is_file() else []
    prompts = PromptSet(prompts_dir or root / "prompts", params.prompts.set)
    chats = request_kinds(task, prompts, seeds, params)
    prompt_tokens = {kind: counter.count(messages) for kind, messages in chats.items()}
    max_completion = {kind: ANALYSIS_MAX_TOKENS if kind == "analysis" else params.teacher.max_tokens
                      for kind in chats}
    planned = stages if stages is not None else [
        "bootstrap", *(f"{step}@{name}" for name in params.round_order() for step in ("analyze", "generate",
                                                                                       "label", "train"))]
    rows, rounds = [], {}
    for stage in planned:
        requests = {kind: count for kind, count in stage_requests(stage, params, task, prompts, seeds).items()
                    if count}
        row = {"stage": stage, "requests": sum(requests.values()),
               "prompt_tokens": sum(prompt_tokens[kind] * count for kind, count in requests.items()),
               "max_completion_tokens": sum(max_completion[kind] * count for kind, count in requests.items())}
        rows.append(row)
        name = BOOTSTRAP_ROUND if stage == "bootstrap" else stage.partition("@")[2]
        if name and (requests or stage.startswith("train")):
            total = rounds.setdefault(name, {"round": name, "requests": 0, "prompt_tokens": 0,
                                             "max_completion_tokens": 0,
                                             "max_new_samples": params.loop.n_hard + params.loop.easy_count})
            for key in ("requests", "prompt_tokens", "max_completion_tokens"):
                total[key] += row[key]
    return {"stages": planned, "stages_from": "dvc repro --dry" if stages is not None else "params.yaml (no DVC)",
            "token_count": counter.method, "prompt_tokens_per_request": prompt_tokens, "per_stage": rows,
            "per_round": list(rounds.values()),
            "total": {key: sum(row[key] for row in rows)
                      for key in ("requests", "prompt_tokens", "max_completion_tokens")}}


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """The plan for people: what runs, then one line per round."""
    if not plan["stages"]:
        return ["Nothing to run: the pipeline is up to date."]
    lines = [f"Stages to run ({plan['stages_from']}): {', '.join(plan['stages'])}",
             f"Prompt tokens: {plan['token_count']}; completion tokens are an upper bound (max_tokens).", ""]
    for row in plan["per_round"]:
        lines.append(f"{row['round']}: {row['requests']} teacher requests, ~{row['prompt_tokens']:,} prompt + "
                     f"<= {row['max_completion_tokens']:,} completion tokens, up to {row['max_new_samples']} "
                     "new samples (fewer after rejects)")
    total = plan["total"]
    lines.append(f"total: {total['requests']} requests, ~{total['prompt_tokens']:,} prompt + "
                 f"<= {total['max_completion_tokens']:,} completion tokens")
    return lines
