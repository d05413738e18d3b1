"""The embedded runner: the stream core in one process, reading the local topic files written by
``LocalSink`` (no Kafka). It calls the same ``streams.core`` functions as the Faust agents, so the
two cannot drift."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from dixian.contract import Dept
from dixian.topics import Topics
from streams.core import HouseholdState, apply_event, intake


@dataclass
class EmbeddedResult:
    consumed: Counter[str] = field(default_factory=Counter)
    applied: Counter[str] = field(default_factory=Counter)
    redelivered: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    households: dict[str, HouseholdState] = field(default_factory=dict)


def _records(path: Path) -> Iterator[tuple[bytes, bytes]]:
    if not path.exists():
        return
    with path.open("rb") as fh:
        for line in fh:
            rec = orjson.loads(line)
            yield rec["key"].encode(), orjson.dumps(rec["value"])


def run_embedded(local_dir: Path, topics: Topics) -> EmbeddedResult:
    """Apply every department event in ``local_dir`` to household state, department by department
    (per household the order within a department is kept, as Kafka keeps it per partition)."""
    result = EmbeddedResult()
    for dept in Dept:
        for _key, value in _records(local_dir / f"{topics.dept(dept)}.jsonl"):
            result.consumed[dept.value] += 1
            outcome = intake(value, dept)
            if outcome.event is None:
                assert outcome.dead_letter is not None
                result.dead_letters[outcome.dead_letter.code] += 1
                continue
            hid = outcome.event.household_id
            state, applied = apply_event(result.households.get(hid), outcome.event)
            result.households[hid] = state
            (result.applied if applied else result.redelivered)[dept.value] += 1
    return result
