"""Fixtures against the real broker: one broker per session (started by `make test` /
`dixian kafka start`), a fresh topic prefix and consumer group per test."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connectors.kafka import broker_reachable, ensure_topics
from dixian.config import Settings
from dixian.topics import Topics
from streams.kafka_run import WorkerProcess, start_worker
from tests.helpers import missing
from tests.integration.month import Month, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def bootstrap() -> str:
    addr = os.environ.get("DIXIAN_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    if not broker_reachable(addr):
        missing(f"no Kafka broker at {addr}: start one with `dixian kafka start` (make test does)")
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


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    """A simulated month of 3,000 households and its embedded alert set (the fault tests' reference)."""
    return Month(tmp_path_factory.mktemp("month"))


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `dixian worker` processes (as in production), each with the test's settings and
    ``overrides`` (setting name → value); all stopped after the test."""
    started: list[WorkerProcess] = []

    def start(name: str, **overrides: object) -> WorkerProcess:
        own = settings.override(**overrides) if overrides else settings
        w = start_worker(own, name, tmp_path / "logs", free_port())
        started.append(w)
        w.wait_ready(timeout=180)  # a replacement joins once a killed member's session expires
        # a join rebalances the others: wait until every worker is ready in the new generation
        deadline = time.monotonic() + 120
        while not all(x.settled() for x in started if x.proc.poll() is None):
            assert time.monotonic() < deadline, "workers did not settle after the rebalance"
            time.sleep(0.2)
        return w

    yield start
    for w in started:
        w.stop()
