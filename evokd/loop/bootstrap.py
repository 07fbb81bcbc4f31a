"""Round r00: optional AugGPT-style warm-up of the seeds (EvoKD+Init) and a first plain batch, written with no
feedback, for round r01 to analyse once the seed-trained student has probed it. r00 writes the same files as
every round (evokd/loop/records.py); its analysis record says `none`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evokd.data import Sample, write_samples
from evokd.loop.analyze import no_analysis
from evokd.loop.generate import GeneratedInput, generate, paraphrase
from evokd.loop.label import label
from evokd.loop.records import GenStats, LabelStats, RoundFiles, write_record, write_rows
from evokd.loop.step import Step
from evokd.loop.train import Trained, fit_and_probe
from evokd.params import BOOTSTRAP_ROUND, Params


@dataclass(frozen=True)
class TeacherData:
    """r00's teacher work: the warm-up samples (EvoKD+Init), the first batch's inputs and labelled samples."""

    warmup: list[Sample]
    inputs: list[GeneratedInput]
    batch: list[Sample]
    gen_stats: GenStats
    label_stats: LabelStats


def teacher_data(step: Step, seeds: list[Sample]) -> TeacherData:
    """The warm-up (with `loop.init`) and the first batch, spread evenly over the labels (no analysis yet)."""
    config = step.loop
    warmup: list[Sample] = []
    warmup_gen = warmup_label = None
    if config.init:
        variants, warmup_gen = paraphrase(step, seeds, config.n_init)
        # a classification paraphrase keeps its seed's label; NER paraphrases are labelled again
        warmup, warmup_label = label(step, variants, separate=step.task.kind == "ner")
    inputs, gen_stats = generate(step, None, {}, [*seeds, *warmup])
    batch, label_stats = label(step, inputs, separate=config.separate_labeling, demos=seeds)
    return TeacherData(warmup=warmup, inputs=inputs, batch=batch,
                       gen_stats=gen_stats.model_copy(update={"warmup": warmup_gen}),
                       label_stats=label_stats.model_copy(update={"warmup": warmup_label}))


def bootstrap(params: Params, step: Step, seeds: list[Sample], test: list[Sample], out_model: Path,
              confusion_path: Path) -> tuple[TeacherData, Trained]:
    """The teacher's data, then the first student trained on the seeds (and the warm-up) from the base encoder;
    it probes the first batch. The pool starts as seeds + warm-up + batch."""
    data = teacher_data(step, seeds)
    warm = [*seeds, *data.warmup]
    return data, fit_and_probe(params, step.task, BOOTSTRAP_ROUND, data.batch, warm, warm, test, None, out_model,
                               confusion_path)


def write_bootstrap(files: RoundFiles, metrics_path: Path, data: TeacherData, trained: Trained) -> None:
    analysis, analyze_stats = no_analysis(BOOTSTRAP_ROUND)
    write_record(files.analysis, analysis)
    write_rows(files.history, [analysis])
    write_record(files.analyze_stats, analyze_stats)
    write_rows(files.generated, data.inputs)
    write_record(files.gen_stats, data.gen_stats)
    write_samples(files.labeled, data.batch)
    write_record(files.label_stats, data.label_stats)
    trained.write(files, metrics_path)
