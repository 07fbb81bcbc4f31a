"""Round r00: optional AugGPT-style warm-up of the seeds (EvoKD+Init) and a first plain batch, written with no
feedback, for round r01 to analyse once the seed-trained student has probed it."""

from __future__ import annotations

from typing import Any

from evokd.data import Sample, TaskSpec
from evokd.loop.config import LoopConfig
from evokd.loop.generate import GeneratedInput, generate, paraphrase
from evokd.loop.label import label
from evokd.prompts import PromptSet
from evokd.teacher.client import TeacherClient

ROUND = "r00"


def teacher_data(client: TeacherClient, task: TaskSpec, prompts: PromptSet, seeds: list[Sample],
                 config: LoopConfig, seed: int, teacher_model: str
                 ) -> tuple[list[Sample], list[GeneratedInput], list[Sample], dict[str, Any]]:
    """(warm-up samples, first batch inputs, first batch labelled, stats)."""
    stats: dict[str, Any] = {}
    init_samples: list[Sample] = []
    if config.init:
        variants, stats["init_generate"] = paraphrase(client, task, prompts, seeds, config.n_init, config, seed,
                                                      ROUND, teacher_model)
        # a classification paraphrase keeps its seed's label; NER paraphrases are labelled again
        init_samples, stats["init_label"] = label(client, task, prompts, variants, config, seed, ROUND,
                                                  separate=task.kind == "ner")
    inputs, stats["generate"] = generate(
        client, task, prompts, None, {}, [*seeds, *init_samples], config, seed, ROUND, teacher_model,
        config.n_hard, config.easy_count, with_label=not config.separate_labeling)
    batch, stats["label"] = label(client, task, prompts, inputs, config, seed, ROUND,
                                  separate=config.separate_labeling, demos=seeds)
    stats["teacher"] = client.stats.to_dict()
    return init_samples, inputs, batch, stats
