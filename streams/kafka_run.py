"""Running the pipeline through the real broker: worker processes, ingestion, waiting for them to
catch up, and the alerts they published. Used by `dixian demo --kafka` and the integration tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from connectors.kafka import group_lag, read_topic
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.alerts import Alert
from dixian.topics import Topics


def metric_samples(port: int) -> list[Sample]:
    """Every sample on the /metrics page a worker serves on ``port``, read by prometheus_client's
    own parser (a sample's name keeps its suffix: ``..._total``, ``..._bucket``)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def metric_sum(port: int, name: str) -> float:
    """The sum of the samples named ``name`` (every label set) on a worker's /metrics page."""
    return sum(sample.value for sample in metric_samples(port) if sample.name == name)


@dataclass
class WorkerProcess:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Worker ready" in self.log_text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"worker {self.name} exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}"
                )
            time.sleep(0.2)
        raise RuntimeError(f"worker {self.name} not ready after {timeout}s:\n{self.log_text()[-3000:]}")

    def settled(self) -> bool:
        """Ready after its latest partition assignment (not only after the first one)."""
        text = self.log_text()
        return text.count("Worker ready") >= max(1, text.count("Executing _on_partitions_assigned"))

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, as when a machine dies."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(
    settings: Settings, name: str, log_dir: Path, metrics_port: int, extra_env: dict[str, str] | None = None
) -> WorkerProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"worker-{name}.log"
    env = {**os.environ, **settings.environ(), **(extra_env or {})}
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
        str(metrics_port),
    ]
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    return WorkerProcess(name, proc, log, metrics_port)


def input_topics(settings: Settings) -> list[str]:
    t = Topics(settings)
    return [*(t.dept(d) for d in Dept), t.households, t.conclusions]


def wait_caught_up(
    settings: Settings,
    topics: Iterable[str],
    timeout: float = 300,
    workers: list[WorkerProcess] | None = None,
) -> None:
    """Until the workers' consumer group has committed every record of ``topics``."""
    topics = list(topics)
    deadline = time.monotonic() + timeout
    while True:
        try:
            lag: int | str = asyncio.run(group_lag(settings.kafka, settings.worker_id, topics))
        except KafkaError as exc:  # a broker restarting: ask again
            lag = f"unknown ({exc!r})"
        if lag == 0:
            return
        for w in workers or []:
            if w.proc.poll() is not None:
                raise RuntimeError(f"worker {w.name} died:\n{w.log_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{lag} records still unprocessed after {timeout}s")
        time.sleep(0.5)


@dataclass
class AlertSet:
    latest: dict[str, Alert]  # alert id -> highest revision
    records: int  # alert records on the topic (replays of a revision included)

    def summary(self) -> dict[str, tuple[str, str, str, int, int]]:
        """What must be equal between two runs: per alert id, who, which rule, when, how often."""
        return {
            a.alert_id: (a.household_id, a.rule_id, a.window_start.isoformat(), a.revision, a.hits)
            for a in self.latest.values()
        }


def collect_alerts(values: Iterable[bytes | None]) -> AlertSet:
    latest: dict[str, Alert] = {}
    n = 0
    for v in values:
        if v is None:
            continue
        n += 1
        a = Alert.model_validate_json(v)
        if a.alert_id not in latest or latest[a.alert_id].revision < a.revision:
            latest[a.alert_id] = a
    return AlertSet(latest, n)


def kafka_alerts(settings: Settings) -> AlertSet:
    records = asyncio.run(read_topic(settings.kafka, Topics(settings).alerts))
    return collect_alerts(v for _, v in records)
