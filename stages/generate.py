"""generate@K: the teacher writes round K's inputs from round K's analysis; filtered against the pool so far."""

from pathlib import Path

import click

from evokd.data import load_task, read_samples
from evokd.entry import run_command
from evokd.loop.generate import generate
from evokd.loop.records import (
    AnalysisRecord,
    ProbeRow,
    ProbeScores,
    read_record,
    read_rows,
    stage_summary,
    write_record,
    write_rows,
)
from evokd.loop.step import round_step
from evokd.loop.unlabelled import Retriever, read_unlabelled, select_unlabelled
from evokd.params import load_params
from evokd.teacher.client import TeacherClient


@click.command()
@click.option("--round", "round_name", required=True)
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--analysis", type=click.Path(path_type=Path), required=True, help="round K's analysis.json")
@click.option("--probe-scores", type=click.Path(path_type=Path), required=True, help="round P's probe scores")
@click.option("--probe", type=click.Path(path_type=Path), required=True,
              help="round P's probe.jsonl: its mistakes are shown to hard requests (loop.n_mistakes)")
@click.option("--pool", type=click.Path(path_type=Path), required=True, help="round P's pool.jsonl")
@click.option("--student", type=click.Path(path_type=Path), default=None,
              help="round P's checkpoint; picks the least sure inputs when loop.select_factor > 1 or "
              "loop.n_unlabelled > 0 (else unread)")
@click.option("--unlabelled", type=click.Path(path_type=Path), default=None,
              help="the unlabelled pool; read when loop.retrieval_k or loop.n_unlabelled is on (else unread)")
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=Path("prompts"))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="round K's generated.jsonl")
@click.option("--stats", type=click.Path(path_type=Path), required=True)
def main(round_name: str, task: Path, analysis: Path, probe_scores: Path, probe: Path, pool: Path, student: Path | None,
         unlabelled: Path | None, prompts_dir: Path, out: Path, stats: Path) -> None:
    params = load_params()
    loop = params.loop
    step = round_step(params, load_task(task), prompts_dir, round_name,
                      TeacherClient(params.teacher, stage=f"generate@{round_name}"))
    samples = read_samples(pool, step.task)
    texts = read_unlabelled(unlabelled) if loop.retrieval_k or loop.n_unlabelled else []
    inputs, gen_stats = generate(step, read_record(analysis, AnalysisRecord).analysis,
                                 read_record(probe_scores, ProbeScores).per_label_f1(), samples,
                                 student=student if loop.select_factor > 1 else None,
                                 retriever=Retriever(texts, loop) if loop.retrieval_k else None,
                                 probe=read_rows(probe, ProbeRow) if loop.n_mistakes else None)
    if loop.n_unlabelled:
        picked, gen_stats.unlabelled = select_unlabelled(step, texts, samples, inputs, student)
        inputs += picked
    write_rows(out, inputs)
    write_record(stats, gen_stats)
    selection = gen_stats.selection
    note = (f"{selection.selected} of {selection.candidates} selected by the student's doubt (mean confidence "
            f"{selection.mean_confidence_selected} vs {selection.mean_confidence_candidates})"
            if selection and selection.selected else "")
    if gen_stats.unlabelled:
        note += (f"{'; ' if note else ''}{gen_stats.unlabelled.selected} unlabelled texts to label, the least sure of "
                 f"{gen_stats.unlabelled.candidates}")
    click.echo(stage_summary(f"generate@{round_name}", [gen_stats], note))


if __name__ == "__main__":
    run_command(main)
