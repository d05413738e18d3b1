"""Every topic's name and shape, declared once.

Keyed topics share one partition count so that Faust tables (keyed by household id) are
co-partitioned with the department topics; counts are fixed at creation and never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from dixian.config import Settings
from dixian.contract.departments import Dept


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    retention_days: int | None = None  # None: kept for ever

    def config(self) -> dict[str, str]:
        # The broker stamps every record with its append time, whatever the producer's clock says:
        # the workers' roster gate reasons about when records were written (streams.app.RosterGate),
        # and the latency they report runs from that moment.
        stamped = {"message.timestamp.type": "LogAppendTime"}
        if self.compacted:
            return {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000", **stamped}
        keep = str(self.retention_days * 86_400_000) if self.retention_days else "-1"
        return {"cleanup.policy": "delete", "retention.ms": keep, **stamped}


HOUSEHOLD_TABLE = "household_state"  # the workers' Faust table of household state


class Topics:
    """The topic names for one deployment (``settings.topic_prefix`` + a stable base name)."""

    def __init__(self, settings: Settings) -> None:
        self._prefix = settings.topic_prefix
        self._partitions = settings.partitions
        self._app_id = settings.worker_id
        self._dead_letter_days = settings.dead_letter_retention_days

    def _n(self, base: str) -> str:
        return f"{self._prefix}{base}"

    def dept(self, dept: Dept) -> str:
        """Accepted change events of one department, keyed by household id."""
        return self._n(f"dept.{dept.value}")

    @property
    def households(self) -> str:
        """The household roster, compacted, keyed by household id."""
        return self._n("households")

    @property
    def dead_letter(self) -> str:
        """Every refused record with file, row, field and reason; keyed by department."""
        return self._n("deadletter")

    @property
    def alerts(self) -> str:
        """Risk clues for village officers, keyed by village code."""
        return self._n("alerts")

    @property
    def conclusions(self) -> str:
        """Officer and reviewer conclusions flowing back into household state."""
        return self._n("screening.conclusions")

    @property
    def feed_runs(self) -> str:
        """Each ingest run's facts (rows read, accepted, rejected by reason …), compacted, keyed by
        run id: the reports' delivery figures, whichever machine ingested."""
        return self._n("feeds.runs")

    @property
    def rules_control(self) -> str:
        """Published rule catalogue versions, compacted, one key."""
        return self._n("control.rules")

    @property
    def household_changelog(self) -> str:
        """The workers' household state table's changelog, compacted, keyed by household id: the
        name Faust gives it (``<app id>-<table>-changelog``; the app id is the worker id)."""
        return f"{self._app_id}-{HOUSEHOLD_TABLE}-changelog"

    def all(self) -> list[TopicSpec]:
        p = self._partitions
        specs = [TopicSpec(self.dept(d), p) for d in Dept]
        specs += [
            TopicSpec(self.households, p, compacted=True),
            # refused rows hold what the department sent (ID numbers among it): kept long enough to
            # fix and send again, then deleted; only operators may read them (dixian.acls)
            TopicSpec(self.dead_letter, p, retention_days=self._dead_letter_days),
            TopicSpec(self.alerts, p),
            TopicSpec(self.conclusions, p),
            TopicSpec(self.rules_control, 1, compacted=True),
            TopicSpec(self.feed_runs, p, compacted=True),
        ]
        return specs

    def for_worker(self) -> list[TopicSpec]:
        """The topics a stream worker reads or writes (its ACLs allow no others: it creates only
        these when it starts on an empty cluster)."""
        used = {self.households, self.dead_letter, self.alerts, self.conclusions, self.rules_control}
        used |= {self.dept(d) for d in Dept}
        return [s for s in self.all() if s.name in used]
