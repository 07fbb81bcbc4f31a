"""Teacher labelling of a task with many labels: the teacher picking one of all labels (`loop.shortlist: 0`)
against scoring the k labels a sentence encoder puts nearest each text (`loop.shortlist: k`).

Texts are a seeded sample of the benchmark's gold train split (never the seeds, never the test set); the
answers go to the evaluation cache file, not the loop's. `shortlist` rows rank the labels by the encoder alone;
`+ intent` rows also put the gold label on every shortlist, as a generated input's written-for label is, so
they show what the teacher makes of a shortlist that holds the right label (an upper bound for generated inputs
whose intent is right). Tokens count the prompts as sent; vLLM's prefix cache prefills a shared prompt once.

    evokd serve && python benchmarks/label_shortlist.py --benchmark banking77 --size 100 --k 8
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import click
from sklearn.metrics import accuracy_score, f1_score

from evokd.baselines.zero_shot import evaluation_cache_path
from evokd.benchmarks import load_benchmark
from evokd.data import ClassificationSample, load_task, read_samples
from evokd.loop.label import classify
from evokd.loop.shortlist import Shortlister
from evokd.loop.step import Step
from evokd.params import load_params
from evokd.prompts import PromptSet
from evokd.sources import prepare_task
from evokd.teacher.client import TeacherClient


@click.command()
@click.option("--benchmark", default="banking77", show_default=True)
@click.option("--size", default=100, show_default=True, help="Gold train texts labelled per way.")
@click.option("--k", "ks", multiple=True, type=int, default=(8,), show_default=True, help="Shortlist sizes.")
@click.option("--seed", default=1, show_default=True, help="Draws the seeds and the texts.")
def main(benchmark: str, size: int, ks: tuple[int, ...], seed: int) -> None:
    params = load_params()
    task_params = params.task.model_copy(update={"benchmark": benchmark, "shots": 1, "unlabelled_split": None})
    with tempfile.TemporaryDirectory() as raw:
        prepare_task(task_params, seed, raw)
        task = load_task(Path(raw) / "task.yaml")
        seeds = read_samples(Path(raw) / "seeds.jsonl", task)
    seed_texts = {sample.text for sample in seeds if isinstance(sample, ClassificationSample)}
    pool = [s for s in load_benchmark(benchmark)["train"]
            if isinstance(s, ClassificationSample) and s.text not in seed_texts]
    texts = random.Random(seed).sample(pool, size)
    gold = [sample.label for sample in texts]
    words = [sample.text for sample in texts]

    encoder = Shortlister(task, seeds, params.loop.shortlist_encoder)
    click.echo(f"{benchmark}: {size} gold train texts, {len(task.labels)} labels, {len(seeds)} seeds, teacher "
               f"{params.teacher.served_name}, encoder {params.loop.shortlist_encoder}")
    for k in sorted({1, *ks}):
        lists = encoder.shortlists(words, k, [None] * size)
        recall = sum(label in names for label, names in zip(gold, lists, strict=True)) / size
        click.echo(f"encoder shortlist recall@{k}: {recall:.3f}" + (" (the encoder as a classifier)" if k == 1 else ""))

    ways = [("pick one of all", 0, False)] + [(f"shortlist {k}{plus}", k, intent)
                                              for k in ks for plus, intent in (("", False), (" + intent", True))]
    click.echo("| way | accuracy | macro-F1 | teacher requests | prompt tokens | seconds | accuracy / pick |")
    click.echo("|---|---|---|---|---|---|---|")
    base = None
    for name, k, intent in ways:
        client = TeacherClient(params.teacher, cache_path=evaluation_cache_path(), stage="label-shortlist")
        loop = params.loop.model_copy(update={"shortlist": k})
        step = Step(client=client, task=task, prompts=PromptSet("prompts", params.prompts.set), loop=loop,
                    seed=seed, round="evaluation", teacher_model=params.teacher.served_name)
        started = time.perf_counter()
        answers, _ = classify(step, words, seeds, intents=gold if intent else None)
        seconds = time.perf_counter() - started
        predicted = [answer.label or "none" for answer in answers]
        accuracy = accuracy_score(gold, predicted)
        base = base or accuracy
        macro = f1_score(gold, predicted, labels=sorted(set(gold)), average="macro", zero_division=0)
        click.echo(f"| {name} | {accuracy:.3f} | {macro:.3f} | {client.stats.requests} | "
                   f"{client.stats.prompt_tokens:,} | {seconds:.0f} ({client.stats.cached} cached) | "
                   f"{accuracy / base:.2f} x |")


if __name__ == "__main__":
    main()
