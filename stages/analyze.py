"""analyze@K: the teacher reads round P's probe and writes round K's analysis (and the history so far)."""

from pathlib import Path

import click

from evokd.data import load_task
from evokd.entry import run_command
from evokd.loop.analyze import analyze
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
from evokd.params import load_params
from evokd.teacher.client import TeacherClient


@click.command()
@click.option("--round", "round_name", required=True)
@click.option("--task", type=click.Path(path_type=Path), required=True)
@click.option("--probe", type=click.Path(path_type=Path), required=True, help="round P's probe.jsonl")
@click.option("--probe-scores", type=click.Path(path_type=Path), required=True)
@click.option("--history", type=click.Path(path_type=Path), required=True, help="round P's analyses.jsonl")
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=Path("prompts"))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="round K's analysis.json")
@click.option("--out-history", type=click.Path(path_type=Path), required=True)
@click.option("--stats", type=click.Path(path_type=Path), required=True)
def main(round_name: str, task: Path, probe: Path, probe_scores: Path, history: Path, prompts_dir: Path,
         out: Path, out_history: Path, stats: Path) -> None:
    params = load_params()
    step = round_step(params, load_task(task), prompts_dir, round_name,
                      TeacherClient(params.teacher, stage=f"analyze@{round_name}"))
    past = read_rows(history, AnalysisRecord)
    record, analyze_stats = analyze(step, read_rows(probe, ProbeRow),
                                    read_record(probe_scores, ProbeScores).per_label_f1(), past)
    write_record(out, record)
    write_rows(out_history, [*past, record])
    write_record(stats, analyze_stats)
    click.echo(stage_summary(f"analyze@{round_name}", [analyze_stats], f"analysis: {record.origin}"))


if __name__ == "__main__":
    run_command(main)
