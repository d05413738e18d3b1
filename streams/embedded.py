"""The embedded runner: the whole stream pipeline in one process, no Kafka. It reads the local topic
files written by ``LocalSink`` and calls the same ``streams.core`` functions as the Faust agent, so
the two cannot drift; alerts go to ``alerts.jsonl`` beside the inputs, refused records (with the
reason) to the local dead-letter topic file, as the worker sends them to the dead-letter topic.

Order: the roster first (as it is loaded before the monthly feeds), then each department's events in
the order the department published them, then screening conclusions. Within a household and a
department this is the order a Kafka partition keeps.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from connectors.sinks import LocalSink, read_local, replace_local_letters
from dixian.contract import Dept
from dixian.contract.alerts import Alert
from dixian.contract.deadletter import DeadLetter
from dixian.topics import Topics
from rules.live import LiveCatalogue
from streams.core import (
    DEFAULT_DEADLINES,
    Deadlines,
    HouseholdState,
    apply_conclusion,
    apply_roster,
    intake,
    intake_conclusion,
    intake_roster,
    process_event,
)


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


def run_embedded(
    local_dir: Path,
    topics: Topics,
    live: LiveCatalogue | None = None,
    deadlines: Deadlines = DEFAULT_DEADLINES,
) -> EmbeddedResult:
    own = live is None
    live = live or LiveCatalogue()
    result = EmbeddedResult(catalogue_version=live.version)
    out: list[tuple[bytes, bytes]] = []
    letters: list[DeadLetter] = []

    def refuse(letter: DeadLetter | None) -> None:
        assert letter is not None
        result.dead_letters[letter.code] += 1
        letters.append(letter)

    try:
        for _, raw in read_local(local_dir / f"{topics.households}.jsonl"):
            roster = intake_roster(raw)
            if roster.value is None:
                refuse(roster.dead_letter)
                continue
            hh = roster.value
            result.households[hh.household_id] = apply_roster(result.households.get(hh.household_id), hh)
        for dept in Dept:
            for _, raw in read_local(local_dir / f"{topics.dept(dept)}.jsonl"):
                result.consumed[dept.value] += 1
                got = intake(raw, dept)
                if got.value is None:
                    refuse(got.dead_letter)
                    continue
                hid = got.value.household_id
                outcome = process_event(result.households.get(hid), got.value, live, deadlines)
                result.households[hid] = outcome.state
                if not outcome.applied:
                    result.redelivered[dept.value] += 1
                    continue
                result.applied[dept.value] += 1
                result.suppressed += outcome.suppressed
                for hit in outcome.hits:
                    result.rule_hits[hit.rule_id] += 1
                for alert in outcome.alerts:
                    result.alerts[alert.alert_id] = alert
                    out.append((alert.village_code.encode(), alert.model_dump_json().encode()))
        for _, raw in read_local(local_dir / f"{topics.conclusions}.jsonl"):
            conclusion = intake_conclusion(raw)
            if conclusion.value is None:
                refuse(conclusion.dead_letter)
                continue
            c = conclusion.value
            result.households[c.household_id], _ = apply_conclusion(result.households.get(c.household_id), c)
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
