"""One real S3 object store (SeaweedFS) per session, and one real 2-round EvoKD project shared through it: git
remote a local bare repo, DVC remote the S3 bucket, credentials in `.dvc/config.local` (never committed). Every
store test reuses them; the 2-round `dvc repro` with the SmolLM2 teacher runs once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from pipeline.dvc_project import make_project, run
from seaweed import S3Store, start_store, stop_store
from store_project import ACCESS_KEY, BUCKET, EXPERIMENT, REMOTE, SECRET_KEY, SharedProject, set_credentials

from evokd.teacher.config import TeacherConfig


@pytest.fixture(scope="session")
def _no_cloud_credentials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No inherited AWS_* settings, profiles or instance metadata: botocore sees only what a test configures."""
    nowhere = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            patch.delenv(name)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("AWS_CONFIG_FILE", str(nowhere / "config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere / "credentials"))
        yield


@pytest.fixture(scope="session")
def s3_store(_no_cloud_credentials: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Store]:
    store = start_store(tmp_path_factory.mktemp("seaweedfs"), BUCKET, ACCESS_KEY, SECRET_KEY)
    try:
        yield store
    finally:
        stop_store(store)


@pytest.fixture(scope="session")
def shared_project(teacher_server: TeacherConfig, s3_store: S3Store,
                   tmp_path_factory: pytest.TempPathFactory) -> SharedProject:
    env = {**os.environ, "EVOKD_CACHE": str(tmp_path_factory.mktemp("cache") / "teacher.sqlite"),
           "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    base = tmp_path_factory.mktemp("store-project")
    root = make_project(base / "project", teacher_server)
    run(["dvc", "repro"], root, env=env)
    run(["dvc", "remote", "add", "-d", REMOTE, f"s3://{BUCKET}/runs"], root)
    run(["dvc", "remote", "modify", REMOTE, "endpointurl", s3_store.endpoint], root)
    set_credentials(root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "two rounds, S3 remote"], root)
    origin = base / "origin.git"
    run(["git", "init", "-q", "--bare", str(origin)], base)
    run(["git", "remote", "add", "origin", str(origin)], root)
    run(["git", "push", "-q", "origin", "HEAD"], root)
    run(["dvc", "push"], root, env=env)
    return SharedProject(root, origin, s3_store, env)


@pytest.fixture(scope="session")
def experiment(shared_project: SharedProject) -> str:
    """A third round as an experiment (outside the workspace, which stays at HEAD), pushed with its outputs."""
    root, env = shared_project.root, shared_project.env
    run(["dvc", "exp", "run", "--temp", "-n", EXPERIMENT, "-S", "+rounds.r03={prev: r02}"], root, env=env)
    run(["dvc", "exp", "push", "origin", EXPERIMENT], root, env=env)
    return EXPERIMENT
