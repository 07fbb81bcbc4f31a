"""analyze@K: the teacher reads round P's probe and writes round K's analysis."""

from pathlib import Path

import click

from evokd.data import load_task
from evokd.entry import run_command
from evokd.io import atomic_write_json, read_json, read_jsonl, write_jsonl
from evokd.loop.analyze import analyze
from evokd.loop.common import per_label_f1, stage_summary
from evokd.params import load_params
from evokd.prompts import PromptSet
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
    task_spec = load_task(task)
    prompts = PromptSet(prompts_dir, params.prompts.set)
    past = read_jsonl(history)
    client = TeacherClient(params.teacher, stage=f"analyze@{round_name}")
    analysis, from_teacher = analyze(client, task_spec, prompts, read_jsonl(probe),
                                     per_label_f1(read_json(probe_scores)),
                                     [row["summary"] for row in past], params.loop, params.seed, round_name)
    atomic_write_json(out, {"round": round_name, "from_teacher": from_teacher, **analysis.model_dump()})
    write_jsonl(out_history, [*past, {"round": round_name, "summary": analysis.summary}])
    analyze_stats = {"from_teacher": from_teacher, "teacher": client.stats.to_dict()}
    atomic_write_json(stats, analyze_stats)
    click.echo(stage_summary(f"analyze@{round_name}", analyze_stats,
                             "analysis by the teacher" if from_teacher else "fallback analysis (no valid answer)"))


if __name__ == "__main__":
    run_command(main)
