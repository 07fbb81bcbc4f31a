"""The `evokd` command line. Each command is a thin wrapper over a library function.

Errors the user can act on (EvokdError) print as one line and exit 2; `--debug` shows the traceback.
"""

from __future__ import annotations

from pathlib import Path

import click

from evokd.bench.methods import BASELINES
from evokd.entry import run_command, setup_logging


@click.group()
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Evolving Knowledge Distillation with a vLLM teacher, versioned by DVC."""
    ctx.obj = {"debug": debug}
    setup_logging(debug)


# ---- teacher -------------------------------------------------------------------------------------------


@cli.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True, type=click.Path(),
              help="The params file whose `teacher:` section says what to serve.")
@click.option("--stop", is_flag=True, help="Stop the server evokd started on teacher.port.")
@click.option("--idle-timeout", type=float, default=None,
              help="Stop the server after this many seconds without requests (default: keep it running).")
def serve(params_path: str, stop: bool, idle_timeout: float | None) -> None:
    """Start the teacher (vLLM; the CPU build on a laptop) and wait until it serves the model; or stop it."""
    from evokd.teacher.config import load_teacher_config
    from evokd.teacher.server import server_paths, start_server, stop_server

    config = load_teacher_config(params_path)
    if stop:
        stopped = stop_server(config)
        click.echo(f"stopped the teacher on port {config.port}" if stopped
                   else f"no teacher started by evokd runs on port {config.port}")
        return
    state = start_server(config, idle_timeout=idle_timeout)
    where = f"'{config.served_name}' at {config.base_url}"
    if state is None:
        click.echo(f"the teacher already serves {where} (not started by evokd)")
    else:
        click.echo(f"the teacher serves {where} (pid {state['pid']}, log {server_paths(config)['log']}); "
                   "stop it with `evokd serve --stop`")


# ---- pipeline ------------------------------------------------------------------------------------------


@cli.command()
@click.argument("count", type=int)
@click.option("--params", "params_path", default="params.yaml", show_default=True, type=click.Path())
def rounds(count: int, params_path: str) -> None:
    """Rewrite the `rounds:` chain of params.yaml to COUNT rounds after r00 (comments and other keys kept)."""
    from evokd.params import rewrite_rounds

    rewrite_rounds(params_path, count)
    click.echo(f"{params_path}: rounds r01..r{count:02d} chained after r00" if count else f"{params_path}: no rounds")


# ---- data and student ----------------------------------------------------------------------------------


def _column_options(command):
    """--text-column, --label-column, --tokens-column, --tags-column: the task.*_column params (default there)."""
    for name in ("tags", "tokens", "label", "text"):
        option = click.option(f"--{name}-column", help=f"The column holding the {name} (task.{name}_column).")
        command = option(command)
    return command


def _task_params(**values: object):
    """TaskParams from the options given (the others keep the params defaults); bad values are a usage error."""
    from pydantic import ValidationError

    from evokd.params import TaskParams

    try:
        return TaskParams.model_validate({key: value for key, value in values.items() if value is not None})
    except ValidationError as exc:
        raise click.UsageError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None


@cli.command()
@click.option("--benchmark", help="conll2003, banking77 or rotten_tomatoes (or --task and --seeds for your own).")
@click.option("--shots", type=int, help="Gold seeds per label / entity type of a benchmark (default: task.shots).")
@click.option("--seed", type=int, default=13, show_default=True, help="Seed of the K-shot draw.")
@click.option("--task", "task_path", type=click.Path(), help="Your own task file (YAML).")
@click.option("--seeds", "seeds_path", help="Your own labelled seeds (.jsonl, .csv, .parquet, a save_to_disk "
              "folder, hf:org/name:split).")
@click.option("--test", "test_path", help="Your own gold test set (optional; evaluation only).")
@click.option("--dev", "dev_path", help="Your own gold dev set (optional).")
@click.option("--unlabelled", "unlabelled_path", help="Your own unlabelled in-domain texts (optional).")
@click.option("--unlabelled-split", type=click.Choice(["train"]),
              help="A benchmark's split whose texts (labels dropped) are the unlabelled pool.")
@_column_options
@click.option("--params", "params_path", type=click.Path(exists=True, dir_okay=False),
              help="Take the task: section and seed of this params file instead, as the prepare stage does.")
@click.option("--out", type=click.Path(), default="data/raw", show_default=True)
def prepare(benchmark: str | None, shots: int | None, seed: int, task_path: str | None, seeds_path: str | None,
            test_path: str | None, dev_path: str | None, unlabelled_path: str | None, unlabelled_split: str | None,
            text_column: str | None, label_column: str | None, tokens_column: str | None, tags_column: str | None,
            params_path: str | None, out: str) -> None:
    """Write task.yaml, seeds.jsonl, test.jsonl / dev.jsonl and unlabelled.jsonl (where there are) into --out."""
    from evokd.params import load_params
    from evokd.sources import prepare_task

    own = (task_path, seeds_path, test_path, dev_path, unlabelled_path)
    if params_path:
        params = load_params(params_path)
        task, seed = params.task, params.seed
    elif benchmark and any(own):
        raise click.UsageError("give either --benchmark or --task/--seeds, not both")
    elif not benchmark and not (task_path and seeds_path):
        raise click.UsageError("give --benchmark NAME, or --task FILE and --seeds FILE")
    else:
        task = _task_params(benchmark=benchmark, shots=shots, file=task_path, seeds=seeds_path, test=test_path,
                            dev=dev_path, unlabelled=unlabelled_path, unlabelled_split=unlabelled_split,
                            text_column=text_column, label_column=label_column, tokens_column=tokens_column,
                            tags_column=tags_column)
    written = prepare_task(task, seed, out)
    click.echo("wrote " + ", ".join(str(path) for path in written))


@cli.group()
def task() -> None:
    """Your own task: start its task file from a seeds file."""


@task.command("init")
@click.option("--seeds", "seeds_path", required=True, help="Labelled seeds (.jsonl, .csv, .parquet, a save_to_disk "
              "folder): the labels (or entity types) are read from them.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The task's folder, e.g. tasks/my_task.")
@_column_options
def task_init(seeds_path: str, out: Path, text_column: str | None, label_column: str | None,
              tokens_column: str | None, tags_column: str | None) -> None:
    """Write OUT/task.yaml with the seeds' labels and placeholders to describe them; never overwrites a file."""
    from evokd.sources import scaffold_task

    params = _task_params(file=str(out / "task.yaml"), seeds=seeds_path, text_column=text_column,
                          label_column=label_column, tokens_column=tokens_column, tags_column=tags_column)
    written, lines = scaffold_task(params)
    click.echo(f"wrote {written}: replace every TODO with one line for the teacher (the domain, each label).\n"
               "Then set in params.yaml (optional: dev, test, unlabelled) and run `dvc repro`:\n" + "\n".join(lines))


@cli.command()
@click.option("--task", "task_path", type=click.Path(), required=True, help="task.yaml")
@click.option("--train", "train_paths", required=True, help="Training samples: FILE[,FILE...] (JSONL).")
@click.option("--out", type=click.Path(), required=True, help="Checkpoint folder to (re)write.")
@click.option("--init", "init_from", type=click.Path(exists=True, file_okay=False),
              help="Continue from this checkpoint (the previous round's) instead of the base model.")
@click.option("--params", "params_path", type=click.Path(exists=True, dir_okay=False),
              help="Read the `student:` section of this params file (default: built-in defaults).")
@click.option("--seed", type=int, default=13, show_default=True)
def train(task_path: str, train_paths: str, out: str, init_from: str | None, params_path: str | None,
          seed: int) -> None:
    """Fine-tune the student on the given samples and write a Hugging Face checkpoint."""
    from evokd.data import load_task, read_samples
    from evokd.params import student_config
    from evokd.student.train import train_student

    task = load_task(task_path)
    samples = [sample for path in train_paths.split(",") for sample in read_samples(path.strip(), task)]
    log = train_student(task, samples, student_config(params_path), out, init_from=init_from, seed=seed)
    click.echo(f"trained on {log['samples']} samples in {log['train_runtime_s']:.0f} s "
               f"(loss {log['train_loss']:.4f}); checkpoint: {out}")


@cli.command()
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--task", "task_path", type=click.Path(), required=True, help="task.yaml")
@click.option("--data", "data_path", type=click.Path(), required=True, help="Gold samples (JSONL).")
@click.option("--out", type=click.Path(), required=True, help="metrics.json to write.")
def evaluate(model_dir: str, task_path: str, data_path: str, out: str) -> None:
    """Score a checkpoint on gold samples: accuracy/macro-F1, or strict span F1 (seqeval) for NER."""
    from evokd.data import load_task, read_samples
    from evokd.io import atomic_write_json
    from evokd.student.metrics import score
    from evokd.student.predict import predict

    task = load_task(task_path)
    samples = read_samples(data_path, task)
    metrics = score(task, samples, predict(model_dir, task, samples))
    atomic_write_json(out, metrics)
    click.echo(f"score {metrics['score']:.4f} on {metrics['n']} samples; wrote {out}")


@cli.command()
@click.option("--benchmark", required=True, help="conll2003, banking77 or rotten_tomatoes.")
@click.option("--out", type=click.Path(), required=True, help="Folder for model/ and metrics.json.")
@click.option("--max-train", type=int, help="Train on a seeded random subset of this size.")
@click.option("--epochs", type=float, help="Override student.epochs.")
@click.option("--params", "params_path", type=click.Path(exists=True, dir_okay=False),
              help="Read the `student:` section of this params file (default: built-in defaults).")
@click.option("--seed", type=int, default=13, show_default=True)
def fullshot(benchmark: str, out: str, max_train: int | None, epochs: float | None, params_path: str | None,
             seed: int) -> None:
    """Train on the benchmark's whole gold training set: the upper bound the loop is compared with."""
    from evokd.baselines.students import run_fullshot
    from evokd.params import student_config

    config = student_config(params_path)
    if epochs is not None:
        config = config.model_copy(update={"epochs": epochs})
    metrics = run_fullshot(benchmark, out, config, seed=seed, max_train=max_train)
    click.echo(f"{benchmark}: score {metrics['score']:.4f} on {metrics['test_samples']} test samples "
               f"(trained on {metrics['train_samples']}); wrote {out}/metrics.json")


# ---- benchmarks ----------------------------------------------------------------------------------------


def _seed_list(text: str, option: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}", param_hint=option) from None


@cli.command()
@click.option("--benchmark", required=True, help="conll2003, banking77 or rotten_tomatoes.")
@click.option("--shots", type=int, default=1, show_default=True, help="Gold seeds per label / entity type.")
@click.option("--seeds", "seed_list", default="1,2,3", show_default=True, help="Run seeds, comma-separated.")
@click.option("--rounds", type=int, help="Rounds after r00 (default: the chain in params.yaml).")
@click.option("--ablations", is_flag=True, help="Add one EvoKD experiment per switch turned (see README).")
@click.option("--ablation-seeds", default=None, help="Run the ablations on these seeds only (comma-separated; "
              "default with --ablations: every seed).")
@click.option("--variants", "variant_list", default=None,
              help="With --ablations: only these variants, in this order (comma-separated names of "
                   "evokd/bench/methods.py; default: all of them).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("metrics/bench"), show_default=True)
@click.option("--baselines", "baseline_list", default=",".join(BASELINES), show_default=True,
              help="The baselines to run beside EvoKD, comma-separated (fewer: a cheaper bench).")
@click.option("--resume", is_flag=True, help="Keep the results of an interrupted bench in OUT; run only the rest.")
def bench(benchmark: str, shots: int, seed_list: str, rounds: int | None, ablations: bool,
          ablation_seeds: str | None, variant_list: str | None, out: Path, baseline_list: str, resume: bool) -> None:
    """Run EvoKD and every baseline over seeds as DVC experiments; write OUT/BENCHMARK.{json,md,png}.

    Run it in a git + DVC checkout of the project you can spare: every run is a `dvc exp run` in the workspace.
    """
    from evokd.bench.methods import ABLATIONS
    from evokd.bench.run import run_bench

    seeds = _seed_list(seed_list, "--seeds")
    varied = _seed_list(ablation_seeds, "--ablation-seeds") if ablation_seeds else seeds if ablations else []
    baselines = [name.strip() for name in baseline_list.split(",") if name.strip()]
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise click.BadParameter(f"unknown baseline(s) {', '.join(unknown)}; known: {', '.join(BASELINES)}",
                                 param_hint="--baselines")
    variants = [name.strip() for name in variant_list.split(",") if name.strip()] if variant_list else list(ABLATIONS)
    unknown = sorted(set(variants) - set(ABLATIONS))
    if unknown:
        raise click.BadParameter(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(ABLATIONS)}",
                                 param_hint="--variants")
    command = (f"evokd bench --benchmark {benchmark} --shots {shots} --seeds {','.join(map(str, seeds))}"
               + (f" --rounds {rounds}" if rounds is not None else "")
               + (f" --ablations --ablation-seeds {','.join(map(str, varied))}" if varied else "")
               + (f" --variants {','.join(variants)}" if varied and variants != list(ABLATIONS) else "")
               + (f" --baselines {','.join(baselines)}" if set(baselines) != set(BASELINES) else "") + f" --out {out}")
    run_bench(Path.cwd(), benchmark, shots, seeds, rounds, varied, out, command, resume=resume,
              baselines=baselines, variants=variants)
    click.echo(f"wrote {out / benchmark}.json, .md and .png")


# ---- what users see: predict, status, plan -------------------------------------------------------------


@cli.command()
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), required=True,
              help="A student checkpoint (models/<K>).")
@click.option("--out", type=click.Path(), help="JSONL file to write (default: stdout).")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.argument("input_file", metavar="FILE|-", type=click.File("r", encoding="utf-8"))
def predict(model_dir: str, out: str | None, batch_size: int, input_file: click.utils.LazyFile) -> None:
    """Predict JSONL lines ({"text": ...} or samples): label + probs, or tokens + tags + spans for NER."""
    import json

    from evokd.io import write_jsonl
    from evokd.student.batch import predict_lines

    rows = predict_lines(model_dir, input_file, source=input_file.name, batch_size=batch_size)
    if out:
        write_jsonl(out, rows)
        click.echo(f"{len(rows)} predictions written to {out}", err=True)
    else:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))


@cli.command()
@click.option("--task", "task_path", type=click.Path(path_type=Path), default=Path("data/raw/task.yaml"),
              show_default=True)
@click.option("--rounds-dir", type=click.Path(path_type=Path), default=Path("data/rounds"), show_default=True)
@click.option("--metrics-dir", type=click.Path(path_type=Path), default=Path("metrics/rounds"), show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def status(task_path: Path, rounds_dir: Path, metrics_dir: Path, as_json: bool) -> None:
    """A table of rounds: samples kept per stance and label, rejects, fooled rate, teacher tokens, test score."""
    import json

    from rich.console import Console

    from evokd.data import load_task
    from evokd.status import pipeline_status, status_table

    rows = pipeline_status(load_task(task_path), rounds_dir, metrics_dir)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo(f"no rounds yet under {rounds_dir}: run `dvc repro`")
    else:
        Console().print(status_table(rows))


@cli.command()
@click.option("--task", "task_path", type=click.Path(path_type=Path), default=Path("data/raw/task.yaml"),
              show_default=True)
@click.option("--rounds-dir", type=click.Path(path_type=Path), default=Path("data/rounds"), show_default=True)
@click.option("--round", "final_round", help="Export this round's pool (default: the last round folder by name).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/export"), show_default=True)
def export(task_path: Path, rounds_dir: Path, final_round: str | None, out: Path) -> None:
    """The synthetic dataset as synthetic.jsonl, synthetic.parquet and a dataset card (gold samples left out)."""
    from evokd.data import load_task
    from evokd.export import export_dataset, final_pool, synthetic_samples

    task = load_task(task_path)
    counts = export_dataset(task, synthetic_samples(task, final_pool(rounds_dir, final_round)), out)
    click.echo(f"{counts['samples']} synthetic samples from {len(counts['rounds'])} rounds written to {out}")


@cli.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True, type=click.Path())
@click.option("--no-dvc", is_flag=True, help="Plan every stage from params.yaml instead of asking `dvc repro --dry`.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(params_path: str, no_dvc: bool, as_json: bool) -> None:
    """What the next `dvc repro` will do: stages, teacher requests and tokens per round, new samples."""
    import json

    from evokd.params import load_params
    from evokd.plan import TokenCounter, build_plan, plan_lines, stages_to_run

    params = load_params(params_path)
    root = Path(params_path).resolve().parent
    stages = None if no_dvc else stages_to_run(root)
    result = build_plan(root, params, stages, TokenCounter(params.teacher))
    click.echo(json.dumps(result, indent=2) if as_json else "\n".join(plan_lines(result)))


def main() -> None:
    run_command(cli)


if __name__ == "__main__":
    main()
