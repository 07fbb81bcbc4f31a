"""Teacher labelling accuracy when a round's batch is not label-balanced, per calibration mode.

Batch calibration divides out the batch's mean label distribution, which is the teacher's bias only when the
batch holds every label equally. A round's hard inputs are not balanced: the teacher writes negative texts for
"positive" requests too, and a batch of 8 mostly negative texts has a mean of about 0.86 negative, so the
calibration turns plain negatives positive. This script scores gold test texts once (evaluation only: its own
cache file), then draws batches of 8 at several label skews and labels them with each calibration, offline.

    python benchmarks/calibration_skew.py --benchmark rotten_tomatoes --size 200   # needs `evokd serve`
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import replace
from pathlib import Path

import click

from evokd.baselines.zero_shot import evaluation_cache_path, evaluation_subset
from evokd.data import ClassificationSample, load_task, read_samples
from evokd.loop.calibration import batch_prior, calibrate
from evokd.loop.label import teacher_labels
from evokd.loop.step import Step
from evokd.params import load_params
from evokd.prompts import PromptSet
from evokd.sources import prepare_task
from evokd.teacher.client import TeacherClient

MODES = ("none", "batch", "contextual", "anchored")


def batch_accuracy(batches: list[list[int]], anchors: list[list[int]], dists: list[dict[str, float]],
                   gold: list[str], mode: str, content_free: dict[str, float]) -> float:
    """Share of right labels over the batches; `anchored` divides out the prior of the batch's anchor (a
    balanced batch drawn independently, as the bootstrap round's inputs are written for the labels in turn)."""
    right = total = 0
    for batch, anchor in zip(batches, anchors, strict=True):
        members = [dists[index] for index in batch]
        if mode == "contextual":
            prior = content_free
        elif mode == "anchored":
            prior = batch_prior([dists[index] for index in anchor])
        else:
            prior = batch_prior(members) if mode == "batch" else None
        for index, dist in zip(batch, members, strict=True):
            probs = calibrate(dist, prior) if prior is not None else dist
            right += max(probs, key=probs.__getitem__) == gold[index]
            total += 1
    return right / total


@click.command()
@click.option("--benchmark", default="rotten_tomatoes", show_default=True)
@click.option("--size", default=200, show_default=True, help="Gold test texts scored once.")
@click.option("--batch-size", default=8, show_default=True)
@click.option("--draws", default=300, show_default=True, help="Batches drawn per skew.")
@click.option("--seed", default=1, show_default=True)
def main(benchmark: str, size: int, batch_size: int, draws: int, seed: int) -> None:
    params = load_params()
    task_params = params.task.model_copy(update={"benchmark": benchmark, "shots": 1, "unlabelled_split": None})
    loop = params.loop.model_copy(update={"calibration": "none"})
    with tempfile.TemporaryDirectory() as raw:
        prepare_task(task_params, seed, raw)
        task = load_task(Path(raw) / "task.yaml")
        demos = read_samples(Path(raw) / "seeds.jsonl", task)
        test = [s for s in evaluation_subset(read_samples(Path(raw) / "test.jsonl", task), size, seed)
                if isinstance(s, ClassificationSample)]
    client = TeacherClient(params.teacher, cache_path=evaluation_cache_path(), stage="calibration-skew")
    step = Step(client=client, task=task, prompts=PromptSet("prompts", params.prompts.set), loop=loop,
                seed=seed, round="evaluation", teacher_model=params.teacher.served_name)
    answers, _ = teacher_labels(step, [s.text for s in test], demos)
    contextual = replace(step, loop=loop.model_copy(update={"calibration": "contextual"}))
    _, how = teacher_labels(contextual, [], demos)
    content_free = how["prior"]
    kept = [(answer.probs, sample.label) for answer, sample in zip(answers, test, strict=True) if answer.probs]
    dists, gold = [probs for probs, _ in kept], [label for _, label in kept]
    by_label = {label: [i for i, g in enumerate(gold) if g == label] for label in task.label_names}
    rng = random.Random(seed)
    click.echo(f"{benchmark}: {len(dists)} scored test texts, batches of {batch_size}, {draws} draws per skew; "
               f"content-free prior {content_free}")
    click.echo("| majority share | majority label | " + " | ".join(MODES) + " | anchored / batch |")
    click.echo("|---|---|" + "---|" * (len(MODES) + 1))
    for share in (0.5, 0.75, 0.875, 1.0):
        for majority in task.label_names[: 1 if share == 0.5 else len(task.label_names)]:
            others = [label for label in task.label_names if label != majority]
            n_major = round(share * batch_size)
            batches = []
            for _ in range(draws):
                batch = rng.sample(by_label[majority], n_major)
                batch += [rng.choice(by_label[rng.choice(others)]) for _ in range(batch_size - n_major)]
                batches.append(batch)
            per_label = batch_size // len(task.label_names)
            anchors = [[index for label in task.label_names for index in rng.sample(by_label[label], per_label)]
                       for _ in range(draws)]
            scores = {mode: batch_accuracy(batches, anchors, dists, gold, mode, content_free) for mode in MODES}
            click.echo(f"| {share:.3f} | {majority} | " + " | ".join(f"{scores[m]:.3f}" for m in MODES)
                       + f" | {scores['anchored'] / scores['batch']:.2f} x |")


if __name__ == "__main__":
    main()
