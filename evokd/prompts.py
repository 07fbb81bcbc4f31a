"""Prompt templates: `prompts/<set>/<kind>.j2` (Jinja2), one file per kind; NER kinds end in `_ner`.

A param picks the set, so `dvc exp run -S prompts.set=NAME` sweeps prompts without touching code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from evokd.data import TaskSpec
from evokd.errors import InputError


class PromptSet:
    def __init__(self, prompts_dir: str | Path, name: str):
        self.root = Path(prompts_dir) / name
        if not self.root.is_dir():
            folder = Path(prompts_dir)
            available = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
            raise InputError(str(folder), f"prompt set '{name}' not found; expected one of {available} "
                             f"(folders under {folder})", field="prompts.set")
        self.name = name
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.root),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )

    def template_name(self, kind: str, task: TaskSpec) -> str:
        specific = f"{kind}_ner.j2"
        if task.kind == "ner" and (self.root / specific).is_file():
            return specific
        return f"{kind}.j2"

    def render(self, template: str, **context: Any) -> str:
        try:
            return self._env.get_template(template).render(**context).strip()
        except jinja2.TemplateNotFound:
            raise InputError(str(self.root / template), "prompt template missing from the set") from None
        except jinja2.UndefinedError as exc:
            raise InputError(str(self.root / template), f"template uses an unknown variable: {exc}") from None

    def messages(self, kind: str, task: TaskSpec, **context: Any) -> list[dict[str, str]]:
        """The chat for one request: the set's system prompt, then the kind's user prompt."""
        return [
            {"role": "system", "content": self.render("system.j2", task=task)},
            {"role": "user", "content": self.render(self.template_name(kind, task), task=task, **context)},
        ]
