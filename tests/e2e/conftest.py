"""Real parts on loopback for the multi-process test: a fresh PostgreSQL database, a Redis database, a
broker (Redis, and RabbitMQ when TEST_RABBITMQ_URL names one), an S3-compatible server (moto), and a
process table that always tears down every process group it started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
REDIS_DB = 13  # a dedicated database number, flushed before and after


def unavailable(reason: str) -> None:
    """Skip, or fail where CI promises the real parts (ATELIER_E2E_REQUIRED=1): never a silent skip there."""
    if os.environ.get("ATELIER_E2E_REQUIRED") == "1":
        pytest.fail(f"ATELIER_E2E_REQUIRED=1 but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path


@dataclass
class Processes:
    """Every process runs in its own session (process group): kill one group, and tear all down."""

    logdir: Path
    procs: dict[str, Proc] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        log = self.logdir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[name] = Proc(name, popen, log)
        return self.procs[name]

    def kill_group(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=10)

    def group_of(self, pid: int) -> str | None:
        """The name of the started process whose group holds pid (its workers are forked children)."""
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            return None
        return next((n for n, p in self.procs.items() if p.popen.pid == pgid), None)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGKILL)  # the group: forked workers too
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5)

    def tails(self, lines: int = 25) -> str:
        out = []
        for proc in self.procs.values():
            if proc.name == "moto" and proc.popen.poll() is None:
                continue  # its access log says little
            text = proc.log.read_text(errors="replace").splitlines() if proc.log.exists() else []
            out.append(f"--- {proc.name} (exit {proc.popen.poll()}) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server of DATABASE_URL, dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        unavailable("the multi-process test needs DATABASE_URL pointing at a PostgreSQL server")
    import psycopg

    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        unavailable("the multi-process test runs on loopback only; DATABASE_URL is not a loopback server")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    name = f"atelier_e2e_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL", "")
    if not url:
        unavailable("the multi-process test needs TEST_REDIS_URL (a real Redis server)")
    import redis

    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        unavailable("the multi-process test runs on loopback only; TEST_REDIS_URL is not a loopback server")
    ours = urlunsplit(parts._replace(path=f"/{REDIS_DB}"))
    client = redis.Redis.from_url(ours)
    client.flushdb()
    try:
        yield ours
    finally:
        client.flushdb()
        client.close()


def _delete_dramatiq_queues(url: str) -> None:
    """Every queue our actors use, with its delay and dead-letter queues: each test starts empty."""
    import dramatiq
    import pika

    names = [q for q in dramatiq.get_broker().get_declared_queues() if not q.endswith((".DQ", ".XQ"))]
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for name in names:
            for queue in (name, f"{name}.DQ", f"{name}.XQ"):
                channel.queue_delete(queue)
    finally:
        connection.close()


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_env(request: pytest.FixtureRequest, redis_url: str) -> Iterator[dict[str, str]]:
    """The deployed stack's broker variables: Redis alone, or RabbitMQ for messages (Redis stays the cache)."""
    if request.param == "redis":
        yield {}
        return
    url = os.environ.get("TEST_RABBITMQ_URL", "")
    if not url:
        unavailable("the RabbitMQ run of the multi-process test needs TEST_RABBITMQ_URL (a real RabbitMQ)")
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        unavailable(
            "the multi-process test runs on loopback only; TEST_RABBITMQ_URL is not a loopback server"
        )
    _delete_dramatiq_queues(url)
    try:
        yield {"RABBITMQ_URL": url}
    finally:
        _delete_dramatiq_queues(url)


@pytest.fixture
def processes(tmp_path: Path, pg_url: str, redis_url: str, broker_env: dict[str, str]) -> Iterator[Processes]:
    """Depends on the database and Redis fixtures so that every process stops before they are dropped."""
    logdir = tmp_path / "logs"
    logdir.mkdir()
    table = Processes(logdir)
    try:
        yield table
    finally:
        table.stop_all()


@dataclass
class S3:
    endpoint: str
    bucket: str
    client: Any


@pytest.fixture
def s3(processes: Processes) -> S3:
    """moto's server mode in its own process, with a bucket."""
    try:
        import boto3
        import moto.server  # noqa: F401
    except ImportError:
        unavailable("moto[server] and boto3 are not installed (they are in the dev extra)")
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "e2e", "AWS_SECRET_ACCESS_KEY": "e2e"}
    proc = processes.start(
        "moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env
    )
    wait_port(port, 60, proc.popen)
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
    )
    client.create_bucket(Bucket="atelier-e2e")
    return S3(endpoint, "atelier-e2e", client)
