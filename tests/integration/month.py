"""A simulated month and what the embedded runner makes of it: the reference every fault test of the
stream engine (one broker or the secured cluster) must end with."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from connectors.ingest import ingest_files
from connectors.sinks import LocalSink, Sink
from dixian.config import Settings
from dixian.simulate import simulate
from dixian.topics import Topics
from streams.embedded import run_embedded
from streams.kafka_run import AlertSet, collect_alerts, metric_sum


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports() -> tuple[int, int]:
    """Two distinct free ports (the kernel may hand out the same one twice in a row)."""
    while (ports := (free_port(), free_port()))[0] == ports[1]:
        pass
    return ports


class Month:
    """A simulated month: its files, and the alerts the embedded runner makes of them."""

    def __init__(self, root: Path) -> None:
        manifest = simulate(root / "sim", households=3000, month="2022-06", seed=47, malformed=0.01, rows=600)
        self.roster = [("roster", root / "sim" / "roster.csv")]
        self.feeds = [(f["dept"], root / "sim" / f["file"]) for f in manifest["feeds"]]  # type: ignore[index]
        local = Settings(data_dir=root / "local-state")
        ingest(local, LocalSink(local.local_dir), self.roster + self.feeds)
        self.local_dir = local.local_dir
        self.topics = Topics(local)
        result = run_embedded(local.local_dir, self.topics)
        self.expected = collect_alerts(a.model_dump_json().encode() for a in result.alerts.values())
        assert len(self.expected.latest) > 500
        rules = {a.rule_id for a in self.expected.latest.values()}
        assert "HH-JOBLOSS-WITH-ILLNESS" in rules  # the compound rule is part of the comparison


def ingest(settings: Settings, sink: Sink, files: list[tuple[str, Path]]) -> None:
    asyncio.run(ingest_files(settings, sink, files, month="2022-06"))


def same(got: AlertSet, want: AlertSet) -> None:
    """Equal alert sets: ids, and per id household, rule, window, revision and hits."""
    g, w = got.summary(), want.summary()
    missing = sorted(set(w) - set(g))
    extra = sorted(set(g) - set(w))
    changed = sorted(k for k in set(g) & set(w) if g[k] != w[k])
    detail = [("missing", w[k]) for k in missing[:10]] + [("extra", g[k]) for k in extra[:10]]
    detail += [("changed", w[k], g[k]) for k in changed[:10]]
    assert (len(missing), len(extra), len(changed)) == (0, 0, 0), detail


def metric(port: int, name: str) -> float:
    """The sum of a metric's samples on a worker's /metrics page."""
    return metric_sum(port, name)
