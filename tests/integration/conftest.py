"""Fixtures against the real broker: one broker per session (started by `make test` /
`dixian kafka start`), a fresh topic prefix and consumer group per test."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.kafka import ensure_topics
from dixian.config import Settings
from dixian.topics import Topics

pytestmark = pytest.mark.integration


def _broker_reachable(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",", maxsplit=1)[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def bootstrap() -> str:
    addr = os.environ.get("DIXIAN_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    if not _broker_reachable(addr):
        msg = f"no Kafka broker at {addr}: start one with `dixian kafka start` (make test does)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {msg}")
        pytest.skip(msg)
    return addr


@pytest.fixture
def settings(bootstrap: str, tmp_path: Path) -> Settings:
    """Settings with a fresh topic prefix and consumer group, topics already created."""
    run = uuid.uuid4().hex[:8]
    s = Settings(
        kafka_bootstrap=bootstrap,
        topic_prefix=f"t{run}.",
        worker_id=f"dixian-test-{run}",
        partitions=4,
        data_dir=tmp_path / "data",
    )
    asyncio.run(ensure_topics(bootstrap, Topics(s).all()))
    return s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Worker ready" in self.log_text():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"worker not ready after {timeout}s:\n{self.log_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def start_worker(settings: Settings, tmp_path: Path) -> Iterator[object]:
    """Start `dixian worker` as a separate OS process (as in production); stopped after the test."""
    started: list[WorkerProcess] = []

    def start(name: str = "w1") -> WorkerProcess:
        log = tmp_path / f"{name}.log"
        port = free_port()
        env = {
            **os.environ,
            "DIXIAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "DIXIAN_TOPIC_PREFIX": settings.topic_prefix,
            "DIXIAN_PARTITIONS": str(settings.partitions),
            "DIXIAN_DATA_DIR": str(settings.data_dir),
        }
        cmd = [
            sys.executable,
            "-m",
            "dixian",
            "worker",
            "--worker-id",
            settings.worker_id,
            "--web-port",
            "0",
            "--metrics-port",
            str(port),
        ]
        with log.open("wb") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        w = WorkerProcess(proc, log, port)
        started.append(w)
        w.wait_ready()
        return w

    yield start
    for w in started:
        w.stop()
