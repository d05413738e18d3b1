"""faust-streaming 0.15.3 loses records around rebalances; ``streams.faust_fixes.App`` does not.

Reproduced with a minimal worker (``faust_race_worker.py``: the consumer settings of
``streams.app.faust_app``, a table on the project's store, one agent on several topics in
``take_events`` batches, a record of every offset the agent is handed) run as real processes against
the broker, in two scenarios:

``takeover`` — defect (a), a worker that dies young: worker ``s`` starts on empty topics, worker ``k``
    joins and takes half of the partitions, a backlog arrives, ``k`` holds its first batch (never
    finishes it, never commits) and is killed. When its session expires, ``s`` is given all
    partitions, half of them with a backlog from offset 0 and no committed offset. The fetch ``s`` had
    in flight when the rebalance began returns their records while the flow is stopped; Faust drops
    them and calls ``perform_seek``, which seeks to the committed offset — and a partition without one
    is not sought at all (aiokafka seeks only to an offset > 0, Faust maps 0 to None): it stays past
    the dropped records. The records that arrive next are processed and committed, so the group's
    committed offset reaches the end of the partition: the backlog is lost without an error.
``join`` — defect (b), a worker joins during a backlog: ``s`` works through a backlog, committing as
    it goes, and ``k`` joins. ``Recovery.on_recovery_completed`` resumes ``s``'s stream partitions
    while the flow is running, awaits ``perform_seek`` (records flow into the stream queues
    meanwhile), then calls ``flow_control.resume()``, which clears those queues. The agent never sees
    the cleared records and the fetcher has moved past them. On a partition with a committed offset
    Faust does not commit past a hole of more than one record, so the lag stays stuck until the next
    rebalance reads them again.

Stock ``faust.App`` must fail — records never reach the agent although the committed offsets reach the
end, or the lag stays stuck: the proof that the test can fail. ``streams.faust_fixes.App`` must deliver
every record and reach lag 0. Both variants run the same worker with the same fault injection; only
the App class differs. Each run also checks from the worker's observations that its race window was
hit (the takeover's fetch was dropped; records were queued when the flow was resumed), so a pass of
the fixed App is not vacuous. Each fix is needed: with only the rewinding consumer, the join loses
the queued records (in the takeover, too, the rewound records were then wiped when the flow was
resumed); with only the queue fix, the takeover loses the backlog.

Fault injection (inside the worker processes only; the worker's docstring has the details): the idle
fetch waits 60 s instead of 1 s, so the fetch in flight when a rebalance starts spans it, and recovery
pauses 0.5 s before its highwater lookup, so the new partitions' records arrive while the flow is still
stopped (a); ``perform_seek`` is followed by a 2 s pause when it runs with the flow active, as a slow
seek would take (b); the agent awaits 50 ms after each batch (150 ms for the join's first worker), as
``streams.app`` awaits the broker's acknowledgement of each batch's outputs. These windows exist in
production; the injection makes them wide enough to be hit on every run. It changes no decision that
Faust or the fixes make: the same code runs, only slower.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from connectors.kafka import ensure_topics
from dixian.topics import TopicSpec

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKER = Path(__file__).with_name("faust_race_worker.py")
N_TOPICS = 4
PARTITIONS = 4
SESSION_S = 10.0
FAULTS = {
    "RACE_FETCH_TIMEOUT_S": "60",
    "RACE_RECOVERY_DELAY_S": "0.5",
    "RACE_SEEK_DELAY_S": "2.0",
    "RACE_BATCH_S": "0.05",
}
TAKEOVER_BACKLOG = 300  # records per partition
TAKEOVER_LATER = 20  # records per partition arriving after the takeover
JOIN_WARMUP = 5  # records per partition, committed before the join's backlog arrives
JOIN_BACKLOG = 1000
JOIN_BATCH_S = "0.15"  # the join's first worker, slower, so that the backlog outlasts the rebalance

TPKey = tuple[str, int]


class Worker:
    """One ``faust_race_worker.py`` process and the files it writes."""

    def __init__(self, name: str, out: Path, env: dict[str, str]) -> None:
        self.name = name
        self.out = out
        self.log = out / f"{name}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER)],
                env={**os.environ, **env, "RACE_NAME": name},
                cwd=out,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def events(self, kind: str) -> list[dict[str, Any]]:
        path = self.out / f"{self.name}.events"
        lines = path.read_text().splitlines() if path.exists() else []
        return [e for e in (json.loads(line) for line in lines if line.endswith("}")) if e["ev"] == kind]

    def seen(self) -> set[tuple[str, int, int]]:
        path = self.out / f"{self.name}.seen"
        lines = path.read_text().splitlines() if path.exists() else []
        return {(t, int(p), int(o)) for t, p, o in (line.split() for line in lines if line.count(" ") == 2)}

    def wait_event(
        self, kind: str, timeout: float, where: Callable[[dict[str, Any]], bool] = lambda e: True
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events(kind) if where(e)]
            if found:
                return found[-1]
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"worker {self.name}: no {kind!r} event within {timeout}s; log tail:\n{tail}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Outcome:
    """What the group committed and the agents saw, per input partition, and what the race was."""

    end: dict[TPKey, int]
    committed: dict[TPKey, int | None]
    missing: dict[TPKey, list[int]]
    window_hit: bool  # the scenario's race window was hit (else a pass proves nothing)
    observed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # the workers' diagnostics

    @property
    def lag(self) -> int:
        return sum(end - (self.committed[tp] or 0) for tp, end in self.end.items())

    @property
    def never_seen(self) -> int:
        return sum(len(m) for m in self.missing.values())

    @property
    def silently_lost(self) -> int:
        """Records the agents never saw, on partitions whose committed offset is at the end."""
        return sum(len(m) for tp, m in self.missing.items() if (self.committed[tp] or 0) >= self.end[tp])

    @property
    def failed(self) -> bool:
        return bool(self.never_seen or self.lag)

    def summary(self) -> str:
        counts = ", ".join(f"{kind}: {len(events)}" for kind, events in self.observed.items())
        lines = [
            f"never seen by an agent: {self.never_seen} (on partitions committed to their end: "
            f"{self.silently_lost}); lag: {self.lag}; race window hit: {self.window_hit}; {counts}"
        ]
        lines += [
            f"  {tp[0]}:{tp[1]} end={self.end[tp]} committed={self.committed[tp]} "
            f"never seen: {len(m)} ({m[0]}..{m[-1]})"
            for tp, m in sorted(self.missing.items())
            if m
        ]
        return "\n".join(lines)


class Scenario:
    """Fresh topics and consumer group; the workers it starts are stopped by the fixture."""

    def __init__(self, bootstrap: str, out: Path, variant: str, processes: list[Worker]) -> None:
        run = uuid.uuid4().hex[:8]
        self.bootstrap = bootstrap
        self.out = out
        self.processes = processes
        self.topics = [f"race{run}.in{i}" for i in range(N_TOPICS)]
        self.group = f"race-{variant}-{run}"
        self.tps = [TopicPartition(t, p) for t in self.topics for p in range(PARTITIONS)]
        self.env = {
            "RACE_APP": variant,
            "RACE_ID": self.group,
            "RACE_BOOTSTRAP": bootstrap,
            "RACE_TOPICS": ",".join(self.topics),
            "RACE_DIR": str(out),
            "RACE_SESSION_S": str(SESSION_S),
            **FAULTS,
        }
        out.mkdir(parents=True, exist_ok=True)
        asyncio.run(ensure_topics(bootstrap, [TopicSpec(t, PARTITIONS) for t in self.topics]))

    def start(self, name: str, **env: str) -> Worker:
        worker = Worker(name, self.out, {**self.env, **env})
        self.processes.append(worker)
        return worker

    def produce(self, first: int, count: int) -> None:
        async def produce() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=20)
            await producer.start()
            try:
                futures = [
                    await producer.send(
                        tp.topic, key=f"{tp}-{i}".encode(), value=b"x" * 50, partition=tp.partition
                    )
                    for tp in self.tps
                    for i in range(first, first + count)
                ]
                await asyncio.gather(*futures)
            finally:
                await producer.stop()

        asyncio.run(produce())

    def offsets(self) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int | None]]:
        async def offsets() -> tuple[dict[TopicPartition, int], dict[TopicPartition, int | None]]:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=self.group, enable_auto_commit=False
            )
            await consumer.start()
            try:
                ends = await consumer.end_offsets(self.tps)
                committed = {tp: await consumer.committed(tp) for tp in self.tps}
            finally:
                await consumer.stop()
            return ends, committed

        return asyncio.run(offsets())

    def caught_up(self, tps: list[TopicPartition], timeout: float, quiet: float) -> None:
        """Until the group's committed offsets are at the end of ``tps``, or have not moved for
        ``quiet`` seconds (a stuck lag), or ``timeout``."""
        deadline = time.monotonic() + timeout
        last: dict[TopicPartition, int | None] = {}
        moved = time.monotonic()
        while time.monotonic() < deadline:
            ends, committed = self.offsets()
            committed = {tp: committed[tp] for tp in tps}
            if all((committed[tp] or 0) >= ends[tp] for tp in tps):
                return
            if committed != last:
                last, moved = committed, time.monotonic()
            elif time.monotonic() - moved > quiet:
                return
            time.sleep(0.5)

    def outcome(self, agents: list[Worker], window_hit: Callable[[Outcome], bool]) -> Outcome:
        self.caught_up(self.tps, timeout=60, quiet=8)
        ends, committed = self.offsets()
        seen = set().union(*(w.seen() for w in agents))
        kinds = ("dropped_while_stopped", "dropped_while_paused", "resume")
        outcome = Outcome(
            end={(tp.topic, tp.partition): ends[tp] for tp in self.tps},
            committed={(tp.topic, tp.partition): committed[tp] for tp in self.tps},
            missing={
                (tp.topic, tp.partition): [
                    o for o in range(ends[tp]) if (tp.topic, tp.partition, o) not in seen
                ]
                for tp in self.tps
            },
            window_hit=False,
            observed={kind: [e for w in agents for e in w.events(kind)] for kind in kinds},
        )
        outcome.window_hit = window_hit(outcome)
        return outcome


def run_takeover(bootstrap: str, out: Path, variant: str, processes: list[Worker]) -> Outcome:
    """Defect (a): ``s`` takes over the never-committed partitions of ``k``, which died young."""
    sc = Scenario(bootstrap, out, variant, processes)
    survivor = sc.start("s")
    survivor.wait_event("ready", timeout=60)
    doomed = sc.start("k", RACE_STALL="1")
    shared = doomed.wait_event("ready", timeout=60)["gen"]
    mine = survivor.wait_event("ready", timeout=60, where=lambda e: e["gen"] == shared)["assigned"]
    assert 0 < len(mine) < len(sc.tps), f"the survivor was not given a share: {mine}"

    sc.produce(0, TAKEOVER_BACKLOG)
    doomed.wait_event("stalled", timeout=30)
    # the survivor finishes its share, then sits idle with a fetch in flight
    sc.caught_up([tp for tp in sc.tps if f"{tp.topic}:{tp.partition}" in mine], timeout=30, quiet=30)
    doomed.kill()
    taken = survivor.wait_event(
        "ready",
        timeout=SESSION_S + 60,
        where=lambda e: e["gen"] > shared and len(e["assigned"]) == len(sc.tps),
    )
    sc.produce(TAKEOVER_BACKLOG, TAKEOVER_LATER)  # traffic goes on after the takeover

    theirs = {tp for tp in taken["assigned"] if tp not in mine}

    def window_hit(o: Outcome) -> bool:
        # the fetch in flight returned records of the taken-over partitions and Faust dropped them
        drops = o.observed["dropped_while_stopped"] + o.observed["dropped_while_paused"]
        return any(set(e["records"]) & theirs for e in drops)

    return sc.outcome([survivor], window_hit)  # not k: its one batch was never finished


def run_join(bootstrap: str, out: Path, variant: str, processes: list[Worker]) -> Outcome:
    """Defect (b): ``k`` joins while ``s`` works through a backlog it has been committing.

    Every partition has a committed offset before the backlog arrives (``JOIN_WARMUP`` records), so a
    fetch that the rebalance drops is sought back to it and defect (a) cannot stand in for (b). Seen
    once in CI without the warm-up: ``s`` had finished twelve partitions when ``k`` joined, its fetch of
    the other four, never committed, was dropped while the flow was stopped, nothing was queued when
    the flow resumed, and the stock run lost those records through (a) with (b)'s window missed. ``s``
    awaits ``JOIN_BATCH_S`` after each batch, so the backlog outlasts ``k``'s start and the rebalance.
    """
    sc = Scenario(bootstrap, out, variant, processes)
    first = sc.start("s", RACE_BATCH_S=JOIN_BATCH_S)
    alone = first.wait_event("ready", timeout=60)["gen"]
    sc.produce(0, JOIN_WARMUP)
    sc.caught_up(sc.tps, timeout=60, quiet=30)
    _, committed = sc.offsets()
    assert all((c or 0) >= JOIN_WARMUP for c in committed.values()), f"warm-up not committed: {committed}"
    sc.produce(JOIN_WARMUP, JOIN_BACKLOG)
    second = sc.start("k")
    shared = second.wait_event("ready", timeout=60)["gen"]
    first.wait_event("ready", timeout=60, where=lambda e: e["gen"] == shared)
    assert shared > alone

    def window_hit(o: Outcome) -> bool:
        # records of the current generation were in the stream queues when the flow was resumed
        return any(e["gen"] == shared and e["queued"] for e in o.observed["resume"])

    return sc.outcome([first, second], window_hit)


SCENARIOS = {"takeover": run_takeover, "join": run_join}


@pytest.fixture
def processes() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_stock_faust_loses_records(
    scenario: str, bootstrap: str, tmp_path: Path, processes: list[Worker]
) -> None:
    """The reproduction can fail: with stock ``faust.App`` records never reach the agent."""
    outcome = SCENARIOS[scenario](bootstrap, tmp_path, "stock", processes)
    assert outcome.window_hit, (
        "the race window was not hit: the scenario proves nothing\n" + outcome.summary()
    )
    assert outcome.failed, (
        "stock faust.App lost nothing: the defect was not reproduced (or faust-streaming fixed it, "
        "and streams/faust_fixes.py may no longer be needed)\n" + outcome.summary()
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_fixed_app_loses_nothing(
    scenario: str, bootstrap: str, tmp_path: Path, processes: list[Worker]
) -> None:
    """``streams.faust_fixes.App``: every record reaches the agent and the lag reaches 0."""
    outcome = SCENARIOS[scenario](bootstrap, tmp_path, "fixed", processes)
    assert outcome.window_hit, (
        "the race window was not hit: the scenario proves nothing\n" + outcome.summary()
    )
    assert outcome.never_seen == 0, outcome.summary()
    assert outcome.lag == 0, outcome.summary()
