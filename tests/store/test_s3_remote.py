"""Sharing a run through a real S3 object store (SeaweedFS): push, clone + pull, experiments, a wrong secret.

The recipe is README's "Sharing data", command for command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from pipeline.dvc_project import run
from seaweed import S3Store, bucket_keys, s3_client
from store_project import BUCKET, EXPERIMENT, SharedProject, clone, set_credentials

from evokd.io import read_json

OUTPUTS = ("data/raw", "data/rounds", "models", "data/export")


def tree(root: Path, skip: tuple[str, ...] = (".git", ".dvc/tmp")) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes), but for the skipped folders."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file() and not any(str(path.relative_to(root)).startswith(part + "/") for part in skip)}


def test_the_store_refuses_a_wrong_secret(s3_store: S3Store) -> None:
    assert s3_client(s3_store).head_bucket(Bucket=BUCKET)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as refused:
        s3_client(s3_store, secret_key="not-the-secret").list_objects_v2(Bucket=BUCKET)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.slow
def test_push_then_clone_and_pull_gives_byte_identical_files(shared_project: SharedProject, tmp_path: Path) -> None:
    assert any(key.startswith("runs/files/md5/") for key in bucket_keys(shared_project.store))
    status = run(["dvc", "status", "--cloud", "--json"], shared_project.root, env=shared_project.env)
    assert json.loads(status.stdout) == {}  # everything the workspace has is in the bucket
    consumer = clone(shared_project, tmp_path / "clone")
    assert not (consumer / "models" / "r02").exists()  # git carries models/.gitignore, not the checkpoints
    run(["dvc", "pull"], consumer, env=shared_project.env)
    for folder in OUTPUTS:
        pulled, original = tree(consumer / folder), tree(shared_project.root / folder)
        assert pulled and pulled == original, folder
    assert json.loads(run(["dvc", "status", "--json"], consumer, env=shared_project.env).stdout) == {}


@pytest.mark.slow
def test_a_wrong_secret_is_a_clear_error_and_changes_nothing(shared_project: SharedProject, tmp_path: Path) -> None:
    consumer = clone(shared_project, tmp_path / "clone")
    set_credentials(consumer, secret_key="not-the-secret")
    before = tree(consumer)
    pulled = run(["dvc", "pull"], consumer, check=False, env=shared_project.env)
    assert pulled.returncode != 0
    assert "403" in pulled.stderr or "Forbidden" in pulled.stderr, pulled.stderr
    assert tree(consumer) == before and not (consumer / ".dvc" / "cache").exists()
    # the producer: a push with a wrong secret fails, its workspace and cache stay, the bucket too
    producer, keys = shared_project.root, bucket_keys(shared_project.store)
    local = tree(producer)
    set_credentials(producer, secret_key="not-the-secret")
    try:
        pushed = run(["dvc", "push"], producer, check=False, env=shared_project.env)
    finally:
        set_credentials(producer)
    assert pushed.returncode != 0 and ("403" in pushed.stderr or "Forbidden" in pushed.stderr), pushed.stderr
    assert tree(producer) == local and bucket_keys(shared_project.store) == keys


@pytest.mark.slow
def test_exp_push_and_pull_carry_an_experiment_and_its_outputs(shared_project: SharedProject, experiment: str,
                                                             tmp_path: Path) -> None:
    assert experiment == EXPERIMENT
    assert not (shared_project.root / "models" / "r03").exists()  # the workspace stayed at HEAD
    consumer = clone(shared_project, tmp_path / "clone")
    listed = run(["dvc", "exp", "list", "--name-only", "origin"], consumer, env=shared_project.env)
    assert experiment in listed.stdout.split()
    run(["dvc", "exp", "pull", "origin", experiment], consumer, env=shared_project.env)
    run(["dvc", "exp", "apply", experiment], consumer, env=shared_project.env)
    assert (consumer / "models" / "r03" / "config.json").is_file()
    assert read_json(consumer / "metrics" / "summary.json")["rounds"] == 4
    # every output matches the hashes the experiment recorded in its dvc.lock: the bytes the producer made
    assert json.loads(run(["dvc", "status", "--json"], consumer, env=shared_project.env).stdout) == {}
