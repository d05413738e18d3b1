"""`dixian rules backtest`: the stored inputs replayed through two catalogues by the one driver, as
the embedded runner replays them (roster, each department, conclusions), so the active catalogue's
hits are the hits the workers found."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from connectors.kafka import read_topic
from dixian.contract import Dept
from dixian.contract.deadlines import Deadlines
from dixian.kafka_access import KafkaTarget
from dixian.topics import Topics
from rules.catalogue import Catalogue
from rules.live import LiveCatalogue
from streams.core import HouseholdState
from streams.driver import Driver, InputRecord
from streams.embedded import BATCH, local_records


@dataclass
class Replay:
    """What one catalogue makes of the inputs."""

    evaluations: int = 0  # events applied and evaluated
    hits: Counter[str] = field(default_factory=Counter)  # by rule id
    dead_letters: int = 0


def kafka_records(kafka: KafkaTarget, topics: Topics) -> Iterator[InputRecord]:
    """Every input topic read to its end, in the embedded runner's order."""
    for topic in [topics.households, *(topics.dept(d) for d in Dept), topics.conclusions]:
        for key, value in asyncio.run(read_topic(kafka, topic)):
            if value is not None:
                yield InputRecord(topic, key, value)


def replay(
    records: Iterable[InputRecord],
    topics: Topics,
    catalogue: Catalogue,
    deadlines: Deadlines,
    progress: Callable[[int], None] | None = None,
) -> Replay:
    """The inputs through ``catalogue``; ``progress`` hears how many records each batch took."""
    live = LiveCatalogue(catalogue)
    driver = Driver(topics, live, deadlines)
    states: dict[bytes, HouseholdState] = {}
    result = Replay()
    it = iter(records)
    try:
        while batch := list(islice(it, BATCH)):
            effects = driver.process(batch, states.get)
            states.update(effects.states)
            for (name, labels), n in effects.counts.items():
                if name == "evaluations":
                    result.evaluations += n
                elif name == "rule_hits":
                    result.hits[labels[0]] += n
                elif name == "dead_letters":
                    result.dead_letters += n
            if progress:
                progress(len(batch))
    finally:
        live.close()
    return result


def stored_records(topics: Topics, *, local_dir: Path | None, kafka: KafkaTarget) -> list[InputRecord]:
    """The inputs to replay: the embedded default's local topic files, or the broker's topics."""
    return list(local_records(local_dir, topics) if local_dir else kafka_records(kafka, topics))
