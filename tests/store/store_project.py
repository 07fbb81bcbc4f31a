"""The shared EvoKD project of the store tests: its names, credentials, and how a consumer clones it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.dvc_project import run
from seaweed import S3Store

ACCESS_KEY, SECRET_KEY = "evokd-tests", "evokd-tests-secret"
BUCKET, REMOTE = "evokd", "store"
EXPERIMENT = "more-rounds"


@dataclass(frozen=True)
class SharedProject:
    root: Path  # the producer's workspace: 2 rounds run, committed, pushed
    origin: Path  # the git remote (a bare repo)
    store: S3Store
    env: dict[str, str]  # for dvc subprocesses


def set_credentials(repo: Path, secret_key: str = SECRET_KEY) -> None:
    """The README's way: credentials only in the git-ignored .dvc/config.local."""
    run(["dvc", "remote", "modify", "--local", REMOTE, "access_key_id", ACCESS_KEY], repo)
    run(["dvc", "remote", "modify", "--local", REMOTE, "secret_access_key", secret_key], repo)


def clone(shared: SharedProject, dest: Path) -> Path:
    """A consumer's clone of the git remote, with credentials for the DVC remote and a git identity."""
    run(["git", "clone", "-q", str(shared.origin), str(dest)], dest.parent)
    run(["git", "config", "user.name", "evokd consumer"], dest)
    run(["git", "config", "user.email", "consumer@evokd.invalid"], dest)
    set_credentials(dest)
    return dest
