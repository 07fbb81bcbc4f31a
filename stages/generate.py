"""generate@K: the teacher writes round K's inputs from round K's analysis; filtered against the pool so far."""

from pathlib import Path

import click

from evokd.data import load_task, read_samples
from evokd.entry import run_command
from evokd.io import atomic_write_json, read_json, write_jsonl
from evokd.loop.common import per_label_f1, stage_summary
from evokd.loop.generate import generate
from evokd.loop.schemas import Analysis
from evokd.params import load_params
from evokd.prompts import PromptSet
from evokd.teacher.client import TeacherClient


@click.command()
@click.option("--round", "round_name", required=True)
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--analysis", type=click.Path(path_type=Path), required=True, help="round K's analysis.json")
@click.option("--probe-scores", type=click.Path(path_type=Path), required=True, help="round P's probe scores")
@click.option("--pool", type=click.Path(path_type=Path), required=True, help="round P's pool.jsonl")
@click.option("--student", type=click.Path(path_type=Path), default=None,
              help="round P's checkpoint; picks the least sure inputs when loop.select_factor > 1 (else unread)")
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=Path("prompts"))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="round K's generated.jsonl")
@click.option("--stats", type=click.Path(path_type=Path), required=True)
def main(round_name: str, task: Path, analysis: Path, probe_scores: Path, pool: Path, student: Path | None,
         prompts_dir: Path, out: Path, stats: Path) -> None:
    params = load_params()
    task_spec = load_task(task)
    client = TeacherClient(params.teacher, stage=f"generate@{round_name}")
    analysis_value = Analysis.model_validate({key: value for key, value in read_json(analysis).items()
                                              if key in Analysis.model_fields})
    inputs, gen_stats = generate(
        client, task_spec, PromptSet(prompts_dir, params.prompts.set), analysis_value,
        per_label_f1(read_json(probe_scores)), read_samples(pool, task_spec), params.loop, params.seed, round_name,
        params.teacher.served_name, params.loop.n_hard, params.loop.easy_count,
        with_label=not params.loop.separate_labeling,
        student=student if params.loop.select_factor > 1 else None)
    write_jsonl(out, [item.model_dump() for item in inputs])
    atomic_write_json(stats, gen_stats)
    selection = gen_stats.get("selection")
    note = (f"{selection['selected']} of {selection['candidates']} selected by the student's doubt (mean confidence "
            f"{selection['mean_confidence_selected']} vs {selection['mean_confidence_candidates']})"
            if selection and selection["selected"] else "")
    click.echo(stage_summary(f"generate@{round_name}", gen_stats, note))


if __name__ == "__main__":
    run_command(main)
