"""Faust wiring: department topics → household state table (+ dead letters).

Thin by design: each agent decodes, calls ``streams.core``, and emits. One agent subscribes to
all ``dept.*`` topics; the household table is co-partitioned with them (same key, same count).
"""

from __future__ import annotations

import time
from typing import Any

import faust
import orjson
from prometheus_client import CollectorRegistry

from dixian.config import Settings
from dixian.contract import Dept, Problem
from dixian.contract.deadletter import DeadLetter
from dixian.contract.events import now_china
from dixian.topics import Topics
from streams.core import HouseholdState, apply_event, intake
from streams.metrics import PipelineMetrics

HOUSEHOLD_TABLE = "household_state"
INTAKE_AGENT = "household_intake"


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> faust.App:
    topics = Topics(settings)
    app = faust.App(
        settings.worker_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_enabled=settings.web_port != 0,
        web_port=settings.web_port or 6066,
        web_in_thread=False,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        stream_wait_empty=False,
        loghandlers=[],
    )
    metrics = PipelineMetrics(registry or CollectorRegistry())
    app.dixian_metrics = metrics  # type: ignore[attr-defined]

    dept_by_topic = {topics.dept(d): d for d in Dept}
    dept_topics = app.topic(*dept_by_topic, key_serializer="raw", value_serializer="raw")
    dead_letter_topic = app.topic(topics.dead_letter, key_serializer="raw", value_serializer="raw")
    table = app.Table(
        HOUSEHOLD_TABLE,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,
        value_type=bytes,
    )

    async def send_dead_letter(letter: DeadLetter) -> None:
        metrics.dead_letters.labels(letter.dept, letter.code).inc()
        await dead_letter_topic.send(key=letter.dept.encode(), value=letter.model_dump_json().encode())

    @app.agent(dept_topics, name=INTAKE_AGENT, concurrency=1)
    async def household_intake(stream: Any) -> None:
        async for record in stream.events():
            msg = record.message
            dept = dept_by_topic[msg.topic]
            metrics.events_consumed.labels(dept.value).inc()
            result = intake(record.value, dept)
            if result.event is None:
                assert result.dead_letter is not None
                await send_dead_letter(result.dead_letter)
                continue
            event = result.event
            key = event.household_id.encode()
            if msg.key != key:
                # The table writes to the record's partition: a record keyed by anything but its
                # household would put that household's state on the wrong partition.
                await send_dead_letter(
                    DeadLetter.from_problems(
                        [
                            Problem(
                                "(key)",
                                "key_mismatch",
                                "记录键与户编号不一致",
                                f"record key {msg.key!r} is not the household id",
                            )
                        ],
                        source="stream",
                        dept=dept.value,
                        raw=record.value.decode("utf-8", "replace"),
                        at=now_china(),
                    )
                )
                continue
            raw_state = table.get(key)
            prev = HouseholdState.model_validate_json(raw_state) if raw_state else None
            state, applied = apply_event(prev, event)
            if applied:
                table[key] = orjson.dumps(state.model_dump(mode="json"))
                metrics.events_applied.labels(dept.value).inc()
            else:
                metrics.redeliveries.labels(dept.value).inc()
            metrics.latency.observe(max(0.0, time.time() - msg.timestamp / 1000.0))

    @app.timer(interval=10.0)  # type: ignore[untyped-decorator]
    async def report_state_size() -> None:
        metrics.households.set(len(table))

    return app
