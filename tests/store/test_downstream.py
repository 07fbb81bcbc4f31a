"""Taking the data downstream: `dvc get`/`dvc import` of an experiment's round and checkpoint from the git remote
(data from the S3 bucket, credentials from the environment), and the export stage's one-file dataset."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pipeline.dvc_project import run
from store_project import ACCESS_KEY, SECRET_KEY, SharedProject
from transformers import pipeline

from evokd.data import load_task, read_samples
from evokd.export import JSONL, PARQUET, SYNTHETIC_ORIGINS, synthetic_samples

pytestmark = pytest.mark.slow


def consumer_env(shared: SharedProject) -> dict[str, str]:
    """A consumer outside the repo: the endpoint comes from the repo's committed .dvc/config, the keys from here."""
    return {**shared.env, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}


def experiment_outs(shared: SharedProject, experiment: str) -> dict[str, dict]:
    """{path: out entry} of the experiment's dvc.lock, read from its git ref in the producer."""
    refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], shared.root).stdout.split()
    ref = next(ref for ref in refs if ref.endswith("/" + experiment))
    lock = yaml.safe_load(run(["git", "show", f"{ref}:dvc.lock"], shared.root).stdout)
    return {out["path"]: out for stage in lock["stages"].values() for out in stage.get("outs", [])}


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_dvc_get_a_round_and_the_checkpoint_of_an_experiment(shared_project: SharedProject, experiment: str,
                                                           tmp_path: Path) -> None:
    env, origin = consumer_env(shared_project), str(shared_project.origin)
    outs = experiment_outs(shared_project, experiment)
    run(["dvc", "get", origin, "data/rounds/r03/labeled.jsonl", "--rev", experiment, "-o", "labeled.jsonl"],
        tmp_path, env=env)
    assert md5(tmp_path / "labeled.jsonl") == outs["data/rounds/r03/labeled.jsonl"]["md5"]
    run(["dvc", "get", origin, "models/r03", "--rev", experiment, "-o", "model"], tmp_path, env=env)
    files = [path for path in (tmp_path / "model").rglob("*") if path.is_file()]
    assert len(files) == outs["models/r03"]["nfiles"] and sum(p.stat().st_size for p in files) == \
        outs["models/r03"]["size"]
    classify = pipeline("text-classification", model=str(tmp_path / "model"))
    assert classify("A warm, funny, beautifully made film.")[0]["label"] in {"fresh", "rotten"}


def test_without_credentials_dvc_get_fails_and_writes_nothing(shared_project: SharedProject, experiment: str,
                                                            tmp_path: Path) -> None:
    result = run(["dvc", "get", str(shared_project.origin), "data/export", "--rev", experiment, "-o", "export"],
                 tmp_path, check=False, env=shared_project.env)
    assert result.returncode != 0 and not (tmp_path / "export").exists()


def test_dvc_import_tracks_the_exported_dataset_without_secrets(shared_project: SharedProject, experiment: str,
                                                               tmp_path: Path) -> None:
    consumer, env = tmp_path / "consumer", consumer_env(shared_project)
    (consumer / "data").mkdir(parents=True)  # dvc import -o needs the folder it writes into
    for args in (["git", "init", "-q"], ["git", "config", "user.name", "c"], ["git", "config", "user.email", "c@x"],
                 ["dvc", "init", "-q"]):
        run(args, consumer)
    run(["dvc", "import", str(shared_project.origin), "data/export", "--rev", experiment, "-o", "data/evokd"],
        consumer, env=env)
    imported = yaml.safe_load((consumer / "data" / "evokd.dvc").read_text())
    assert imported["deps"][0]["repo"]["rev"] == experiment and imported["deps"][0]["repo"]["rev_lock"]
    frame = pd.read_parquet(consumer / "data" / "evokd" / PARQUET)
    assert set(frame["round"]) == {"r00", "r01", "r02", "r03"} and set(frame["origin"]) <= set(SYNTHETIC_ORIGINS)
    assert frame["text"].tolist() == pd.read_json(consumer / "data" / "evokd" / JSONL, lines=True)["text"].tolist()
    run(["git", "add", "-A"], consumer)
    committed = subprocess.run(["git", "grep", "-I", "-l", SECRET_KEY], cwd=consumer, capture_output=True, text=True)
    assert committed.returncode == 1 and not committed.stdout  # the secret is in no tracked file
    assert SECRET_KEY not in "".join(path.read_text(errors="ignore") for path in (consumer / ".dvc").rglob("config*"))


def test_export_stage_holds_every_teacher_sample_and_no_gold(shared_project: SharedProject) -> None:
    root = shared_project.root
    task = load_task(root / "data" / "raw" / "task.yaml")
    expected = synthetic_samples(task, root / "data" / "rounds" / "r02" / "pool.jsonl")
    frame = pd.read_parquet(root / "data" / "export" / PARQUET)
    assert len(expected) >= 5 and frame["text"].tolist() == [sample.text for sample in expected]
    assert frame["text"].tolist() == pd.read_json(root / "data" / "export" / JSONL, lines=True)["text"].tolist()
    assert frame["teacher_model"].nunique() == 1 and "smollm2" in frame["teacher_model"][0]
    written = frame[frame["origin"] == "teacher"]
    assert len(written) and written["intent"].notna().all() and written["request_key"].notna().all()
    gold = {sample.text for name in ("seeds", "test") for sample in read_samples(root / "data/raw" / f"{name}.jsonl",
                                                                                 task)}
    assert not gold & set(frame["text"])
    card = (root / "data" / "export" / "README.md").read_text()
    assert f"{len(expected)} samples for classification" in card and "| r02 |" in card
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("parquet", data_files=str(root / "data" / "export" / PARQUET), split="train",
                                   cache_dir=str(root.parent / "hf-cache"))
    assert loaded["text"] == frame["text"].tolist()
