"""A minimal Faust worker for ``test_faust_races.py``: the consumer settings of ``streams.app.faust_app``,
a table on the project's store (``streams.store``, as ``streams.app``), one agent reading several
topics in ``take_events`` batches, and a record of every ``(topic, partition, offset)`` it is handed.

Run as ``python faust_race_worker.py`` (the test does, one process per worker). Environment:

``RACE_APP``              ``stock`` (``faust.App``) or ``fixed`` (``streams.faust_fixes.App``): the only
                          difference between the two variants of the test
``RACE_ID``               app id, i.e. the consumer group
``RACE_BOOTSTRAP``        the broker
``RACE_TOPICS``           comma-separated input topics (4 partitions each)
``RACE_DIR``              where the worker writes ``<name>.seen``, ``<name>.events`` and its data dir
``RACE_NAME``             the worker's name
``RACE_SESSION_S``        broker session timeout (seconds)
``RACE_STALL``            ``1``: the agent never finishes its first batch (a worker that dies before
                          its first commit; the test kills it)
``RACE_FETCH_TIMEOUT_S``  fault injection (a): how long an idle fetch waits for records (Faust: 1 s)
``RACE_RECOVERY_DELAY_S`` fault injection (a): a pause before recovery's highwater lookup, i.e.
                          between the new assignment and recovery resuming the flow
``RACE_SEEK_DELAY_S``     fault injection (b): a pause after the consumer's ``perform_seek`` when it
                          starts with the flow running, i.e. between recovery resuming the stream
                          partitions and ``flow_control.resume()``
``RACE_BATCH_S``          the agent's await after each batch (``streams.app`` awaits the broker's
                          acknowledgement of every batch's outputs before it takes the next)
``RACE_TRACE``            ``1``: also log every fetch and seek to ``<name>.events`` (for debugging)

The fault injection only stretches windows that exist in every worker; it does not change what Faust
or the fixes decide:

(a) A fetch that is in flight when a rebalance starts stays in flight across it: aiokafka's
    ``fetched_records`` waits for the new assignment and then returns records of it, filtered by
    Faust's live set of active partitions (empty, hence "all", once Faust has paused everything).
    aiokafka looks up the new partitions' positions when Faust's assignment callback returns; the
    records follow a few milliseconds later, about when recovery resumes the flow (after its
    highwater and offset lookups). Returned before, they are dropped. With Faust's 1 s timeout this
    needs a quick rebalance and a quick recovery; 60 s makes the fetch that waits when the rebalance
    starts span it, and a pause before recovery's highwater lookup (a slow broker round trip) lets
    the records arrive while the flow is still stopped.
(b) ``Recovery.on_recovery_completed`` resumes the stream partitions while the flow is running, awaits
    ``consumer.perform_seek()``, then calls ``flow_control.resume()``. Records fetched meanwhile go
    to the stream queues. ``perform_seek`` is broker round trips (aiokafka asks for the committed
    offset of one partition after the other), milliseconds here, seconds with many partitions on a
    remote broker; a drain loop that found no active partition sleeps 1 s before it fetches again,
    so records flow in this window once it lasts more than a second. The pause (2 s in the test)
    makes it so. It wraps whatever ``perform_seek`` the app's consumer has (Faust's or the fixed
    one) from the outside, so it is the same for both variants.

Everything else is observation: ``<name>.events`` (JSON lines) says when the worker was ready in
which generation and with which partitions, which records of a fetch Faust dropped (returned while
the flow was stopped, or for a paused partition), and what was queued when ``flow_control.resume()``
ran and what it removed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver

import streams.faust_fixes
import streams.store

VARIANT = os.environ["RACE_APP"]
APP_ID = os.environ["RACE_ID"]
BOOTSTRAP = os.environ["RACE_BOOTSTRAP"]
TOPICS = os.environ["RACE_TOPICS"].split(",")
OUT = Path(os.environ["RACE_DIR"])
NAME = os.environ["RACE_NAME"]
SESSION_S = float(os.environ.get("RACE_SESSION_S", "10"))
STALL = os.environ.get("RACE_STALL") == "1"
FETCH_TIMEOUT_S = float(os.environ.get("RACE_FETCH_TIMEOUT_S", "0"))
RECOVERY_DELAY_S = float(os.environ.get("RACE_RECOVERY_DELAY_S", "0"))
SEEK_DELAY_S = float(os.environ.get("RACE_SEEK_DELAY_S", "0"))
BATCH_S = float(os.environ.get("RACE_BATCH_S", "0"))
TRACE = os.environ.get("RACE_TRACE") == "1"  # every fetch and seek, to <name>.events
BATCH_RECORDS = 100
BATCH_WITHIN_S = 0.005

_events_lock = threading.Lock()  # the fetch wrapper writes from the consumer's thread
_events = (OUT / f"{NAME}.events").open("a", buffering=1)
_seen = (OUT / f"{NAME}.seen").open("a", buffering=1)


def event(kind: str, **fields: Any) -> None:
    fields.update(ev=kind, t=round(time.time(), 3))
    with _events_lock:
        _events.write(json.dumps(fields) + "\n")


def ranges(offsets: list[int]) -> list[list[int]]:
    """[1, 2, 3, 7] -> [[1, 3], [7, 7]]"""
    out: list[list[int]] = []
    for o in sorted(offsets):
        if out and o == out[-1][1] + 1:
            out[-1][1] = o
        else:
            out.append([o, o])
    return out


# ---- fault injection (a): the idle fetch waits longer ------------------------------------------------
_fetch_records = aiokafka_driver.AIOKafkaConsumerThread._fetch_records


async def _long_fetch_records(
    self: Any, consumer: Any, active_partitions: Any, timeout: float | None = None, max_records: Any = None
) -> Any:
    if FETCH_TIMEOUT_S:
        timeout = FETCH_TIMEOUT_S
    return await _fetch_records(self, consumer, active_partitions, timeout=timeout, max_records=max_records)


aiokafka_driver.AIOKafkaConsumerThread._fetch_records = _long_fetch_records  # type: ignore[method-assign]


# ---- the app: the consumer settings of streams.app.faust_app -----------------------------------------
AppClass: type[faust.App] = streams.faust_fixes.App if VARIANT == "fixed" else faust.App
assert VARIANT in {"stock", "fixed"}, VARIANT
app = AppClass(
    APP_ID,
    broker=f"kafka://{BOOTSTRAP}",
    store="memory://",
    datadir=str(OUT / f"{NAME}-data"),
    topic_partitions=4,
    topic_replication_factor=1,
    topic_allow_declare=True,
    processing_guarantee="at_least_once",
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
    broker_commit_every=1000,
    broker_session_timeout=SESSION_S,
    broker_heartbeat_interval=max(1.0, SESSION_S / 3),
    broker_commit_interval=1.0,
    stream_wait_empty=True,
    table_standby_replicas=0,
    loghandlers=[],
)


def _instrument(consumer: Any) -> None:
    """Fault injection and the observation hooks, on the consumer the app made (either class)."""
    perform_seek: Callable[[], Awaitable[None]] = consumer.perform_seek
    wait_next_records = consumer._wait_next_records
    highwaters = consumer.highwaters

    async def delayed_highwaters(*partitions: Any) -> Any:
        if RECOVERY_DELAY_S and not consumer.flow_active:  # recovery, during a rebalance
            await asyncio.sleep(RECOVERY_DELAY_S)
        return await highwaters(*partitions)

    async def delayed_perform_seek() -> None:
        flowing = consumer.flow_active  # False: the seek after a fetch returned while flow was stopped
        await perform_seek()
        if flowing and SEEK_DELAY_S:
            await asyncio.sleep(SEEK_DELAY_S)

    async def observed_wait_next_records(timeout: float) -> Any:
        records, active = await wait_next_records(timeout)
        if TRACE and records:
            event(
                "fetch",
                gen=app.consumer_generation_id,
                flow=consumer.flow_active,
                active=None if active is None else len(active),
                records={
                    f"{tp.topic}:{tp.partition}": ranges([r.offset for r in recs])
                    for tp, recs in records.items()
                },
            )
        if records:
            # getmany checks flow_active right after this returns, with no await in between: a batch
            # returned while the flow is stopped is dropped whole (and perform_seek is called); with
            # the flow running, records of a partition neither active nor buffered are skipped
            stopped = not consumer.flow_active
            dropped = {
                f"{tp.topic}:{tp.partition}": ranges([r.offset for r in recs])
                for tp, recs in records.items()
                if tp.topic in TOPICS
                and recs
                and (
                    stopped
                    or (active is not None and tp not in active and tp not in consumer._buffered_partitions)
                )
            }
            if dropped:
                kind = "dropped_while_stopped" if stopped else "dropped_while_paused"
                event(kind, gen=app.consumer_generation_id, records=dropped)
        return records, active

    seek_wait = consumer.seek_wait

    async def traced_seek_wait(partitions: Any) -> None:
        event(
            "seek_wait",
            gen=app.consumer_generation_id,
            to={f"{tp.topic}:{tp.partition}": o for tp, o in partitions.items()},
        )
        await seek_wait(partitions)
        event("seek_wait_done", gen=app.consumer_generation_id)

    async def traced_perform_seek() -> None:
        event("perform_seek", gen=app.consumer_generation_id, flow=consumer.flow_active)
        await delayed_perform_seek()
        event("perform_seek_done", gen=app.consumer_generation_id)

    if TRACE:
        consumer.seek_wait = traced_seek_wait
    consumer.perform_seek = traced_perform_seek if TRACE else delayed_perform_seek
    consumer._wait_next_records = observed_wait_next_records
    consumer.highwaters = delayed_highwaters

    flow_control = app.flow_control
    resume = flow_control.resume

    def queued() -> set[tuple[str, int, int]]:
        return {
            (m.topic, m.partition, m.offset)
            for q in list(flow_control._queues)
            for item in list(q._queue)
            if (m := getattr(item, "message", None)) is not None and m.topic in TOPICS
        }

    def observed_resume() -> None:
        before = queued()
        resume()
        if before:
            by_tp: dict[str, list[int]] = {}
            for topic, partition, offset in before - queued():
                by_tp.setdefault(f"{topic}:{partition}", []).append(offset)
            event(
                "resume",
                gen=app.consumer_generation_id,
                queued=len(before),
                removed={k: ranges(v) for k, v in by_tp.items()},
            )

    flow_control.resume = observed_resume


_new_consumer = app._new_consumer


def _new_instrumented_consumer() -> Any:
    consumer = _new_consumer()
    _instrument(consumer)
    return consumer


app._new_consumer = _new_instrumented_consumer  # type: ignore[method-assign]

_on_rebalance_end = app.on_rebalance_end


def _ready() -> None:
    _on_rebalance_end()
    assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment() if tp.topic in TOPICS)
    event("ready", gen=app.consumer_generation_id, assigned=assigned)


app.on_rebalance_end = _ready  # type: ignore[method-assign]

inputs = app.topic(*TOPICS, key_serializer="raw", value_serializer="raw")
table = app.Table(  # as streams.app: the project's bulk-recovered memory store
    "race_state",
    default=None,
    partitions=4,
    key_type=bytes,
    value_type=bytes,
    use_partitioner=True,
    store=streams.store.register(),
)


@app.agent(inputs, name="race_agent", concurrency=1)
async def race_agent(stream: Any) -> None:
    async for events in stream.take_events(BATCH_RECORDS, within=BATCH_WITHIN_S):
        if STALL:
            event("stalled", records=len(events))
            await asyncio.Event().wait()  # hold the batch: nothing acked, nothing committed
        for e in events:
            table[e.message.key] = e.message.value
        _seen.write("".join(f"{e.message.topic} {e.message.partition} {e.message.offset}\n" for e in events))
        if BATCH_S:
            await asyncio.sleep(BATCH_S)  # streams.app awaits the broker's acks of the batch's outputs


if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "-l", "info", "--without-web"]
    app.main()
