"""The embedded runner: the whole stream pipeline in one process, no Kafka. A host of the one driver
(``streams.driver``), like the Faust worker: it reads the local topic files written by ``LocalSink``,
keeps household state in memory, writes the alerts to ``alerts.jsonl`` beside the inputs and refused
records (with the reason) to the local dead-letter topic file, as the worker sends them to the
dead-letter topic.

Order: the roster first (as it is loaded before the monthly feeds), then each department's events in
the order the department published them, then screening conclusions. Within a household and a
department this is the order a Kafka partition keeps.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import orjson

from connectors.sinks import LocalSink, read_local, replace_local_letters
from dixian.contract import Dept
from dixian.contract.alerts import Alert
from dixian.contract.deadletter import DeadLetter
from dixian.contract.deadlines import Deadlines
from dixian.topics import Topics
from rules.live import LiveCatalogue
from streams.core import HouseholdState
from streams.driver import Driver, Effects, InputRecord

BATCH = 5000


@dataclass
class EmbeddedResult:
    consumed: Counter[str] = field(default_factory=Counter)
    applied: Counter[str] = field(default_factory=Counter)
    redelivered: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    rule_hits: Counter[str] = field(default_factory=Counter)
    suppressed: int = 0
    households: dict[str, HouseholdState] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)  # latest revision per alert id
    catalogue_version: str = ""

    def add(self, effects: Effects) -> None:
        for (name, labels), n in effects.counts.items():
            if name == "events_consumed":
                self.consumed[labels[0]] += n
            elif name == "events_applied":
                self.applied[labels[0]] += n
            elif name == "redeliveries":
                self.redelivered[labels[0]] += n
            elif name == "dead_letters":
                self.dead_letters[labels[1]] += n
            elif name == "rule_hits":
                self.rule_hits[labels[0]] += n
            elif name == "alerts_suppressed":
                self.suppressed += n
        for key, state in effects.states.items():
            self.households[key.decode()] = state
        for doc in effects.alerts:
            self.alerts[doc["alert_id"]] = Alert.model_validate(doc)


def local_records(local_dir: Path, topics: Topics) -> Iterator[InputRecord]:
    """The embedded order of the local topic files: roster, each department, conclusions."""
    names = [topics.households, *(topics.dept(d) for d in Dept), topics.conclusions]
    for topic in names:
        for key, value in read_local(local_dir / f"{topic}.jsonl"):
            yield InputRecord(topic, key, value)


def run_embedded(
    local_dir: Path,
    topics: Topics,
    live: LiveCatalogue | None = None,
    deadlines: Deadlines | None = None,
) -> EmbeddedResult:
    own = live is None
    live = live or LiveCatalogue()
    driver = Driver(topics, live, deadlines or Deadlines())
    result = EmbeddedResult(catalogue_version=live.version)
    out: list[tuple[bytes, bytes]] = []
    letters: list[DeadLetter] = []
    records = local_records(local_dir, topics)
    try:
        while batch := list(islice(records, BATCH)):
            effects = driver.process(batch, lambda key: result.households.get(key.decode()))
            result.add(effects)
            out.extend((d["village_code"].encode(), orjson.dumps(d)) for d in effects.alerts)
            letters.extend(effects.dead_letters)
    finally:
        if own:
            live.close()
    channels = {d.value for d in Dept} | {"roster", "conclusions"}
    replace_local_letters(local_dir, topics.dead_letter, letters, channels)
    alerts_path = local_dir / f"{topics.alerts}.jsonl"
    alerts_path.unlink(missing_ok=True)  # a run publishes the alerts of its inputs, from scratch

    async def write() -> None:
        sink = LocalSink(local_dir)
        await sink.start()
        await sink.send(topics.alerts, out)
        await sink.stop()

    asyncio.run(write())
    return result
