"""The queue store rebuilt from the topics after a total loss (the database and its backups gone).

What the topics hold, and so what comes back:

- ``households`` (compacted): the roster, i.e. the household ledger;
- ``screening.conclusions``: every workflow step ever published (the outbox publishes each one, with
  the household's whole case as it stood then: clue row, risk items, plan, measures, campaign). The
  latest case of each clue is written back as it was, and every step with it;
- ``alerts``: the department warnings. Those already in a case refresh their item to the latest
  revision; the others join their household's open clue or open one, in topic order, as the sink did.

County decisions are applied to the ledger in the order the broker appended them beside the roster
records, so a roster export after a decision still wins, as it did. Accounts, sessions and push tokens
are not on any topic: they are configuration, restored from the PostgreSQL backup or made again
(``dixian users``). Times at which the store received alerts that joined after a clue's last step are
the rebuild's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dixian.contract import Household
from dixian.contract.alerts import Alert, Conclusion
from dixian.contract.vocabulary import Outcome
from screening.store import Store

BATCH = 2000


class StoreNotEmptyError(RuntimeError):
    """A rebuild writes into an empty store only: it never merges into one that holds clues."""


@dataclass
class RebuildStats:
    households: int = 0
    cases: int = 0
    steps: int = 0
    decisions: int = 0
    alerts: int = 0
    opened: int = 0
    joined: int = 0
    refused: int = 0  # records that do not decode (dead-lettered when they first arrived)
    feed_runs: int = 0  # deliveries' facts

    def line(self) -> str:
        return (
            f"rebuilt: {self.households} roster records, {self.cases} cases with {self.steps} steps"
            f" ({self.decisions} county decisions), {self.alerts} alerts"
            f" (new clues {self.opened}, joined open clues {self.joined}); {self.feed_runs} deliveries;"
            f" undecodable records {self.refused}"
        )


def _insert(store: Store, table: str, row: dict[str, Any], conflict: str = "") -> None:
    cols = list(row)
    store.db.execute(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))}){conflict}",
        tuple(row[c] for c in cols),
    )


def rebuild(
    store: Store,
    roster: Iterable[tuple[int, Household]],
    conclusions: Iterable[tuple[int, Conclusion]],
    alerts: Iterable[Alert],
) -> RebuildStats:
    """Fill an empty store from the topics' records: ``roster`` and ``conclusions`` as
    (broker append time in ms, record), ``alerts`` in topic order."""
    held = store.db.one("SELECT COUNT(*) AS n FROM clues")
    if held and held["n"]:
        raise StoreNotEmptyError(
            f"the store holds {held['n']} clues: a rebuild writes into an empty store only"
            " (point DIXIAN_SCREENING_DB at a new database)"
        )
    stats = RebuildStats()
    steps: dict[str, tuple[int, Conclusion]] = {}
    for at, c in conclusions:
        steps.setdefault(c.conclusion_id, (at, c))  # a step published twice is one step
    latest: dict[str, Conclusion] = {}
    for _, c in steps.values():
        if c.case is None:
            continue
        clue_id = c.conclusion_id.rsplit("#", 1)[0]
        have = latest.get(clue_id)
        if have is None or _version(c) > _version(have):
            latest[clue_id] = c

    with store.db.transaction():
        # 1. the ledger: roster records and county decisions in the order the broker appended them
        timeline: list[tuple[int, int, Household | Conclusion]] = [(at, 0, h) for at, h in roster]
        timeline += [(at, 1, c) for at, c in steps.values() if c.outcome is not None]
        timeline.sort(key=lambda e: (e[0], e[1]))
        run: list[Household] = []
        for _, _, record in timeline:
            if isinstance(record, Household):
                run.append(record)
                continue
            stats.households += store.ledger.upsert(run)
            run = []
            assert record.outcome is not None
            store.ledger.decided(record.household_id, Outcome(record.outcome), record.category)
            stats.decisions += 1
        stats.households += store.ledger.upsert(run)

        # 2. each clue's latest case, as it stood
        for case in (c.case for c in latest.values()):
            assert case is not None
            if case.get("campaign"):
                _insert(store, "campaigns", case["campaign"], " ON CONFLICT (campaign_id) DO NOTHING")
            _insert(store, "clues", case["clue"])
            for item in case["items"]:
                _insert(store, "risk_items", item)
            for measure in case["measures"]:
                _insert(store, "measures", measure)
            if case.get("plan"):
                _insert(store, "plans", case["plan"])
            for item in case.get("corrections", []):  # cases published before 账实不符 items have none
                _insert(store, "corrections", item)
            stats.cases += 1

        # 3. every step, already published
        for _, c in sorted(steps.values(), key=lambda s: s[1].conclusion_id):
            clue_id, seq = c.conclusion_id.rsplit("#", 1)
            store.db.execute(
                "INSERT INTO steps (clue_id, seq, step, from_state, to_state, actor, role, at, note,"
                " proposal, outcome, category, published) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,1)",
                (
                    clue_id, int(seq), c.step, c.from_state or "", c.to_state or "", c.decided_by,
                    c.role or "", c.decided_at.isoformat(timespec="seconds"), c.note, c.proposal, c.outcome,
                    c.category,
                ),
            )  # fmt: skip
            stats.steps += 1

    # 4. the alerts, in topic order, as the sink applies them
    batch: list[Alert] = []
    for a in alerts:
        batch.append(a)
        if len(batch) >= BATCH:
            _alerts(store, batch, stats)
            batch = []
    _alerts(store, batch, stats)
    return stats


def _version(c: Conclusion) -> tuple[int, int]:
    """How late a published case is: the clue's step count when it was taken, then the step's number."""
    assert c.case is not None
    return int(c.case["clue"]["steps"]), int(c.conclusion_id.rsplit("#", 1)[1])


def _alerts(store: Store, batch: list[Alert], stats: RebuildStats) -> None:
    if not batch:
        return
    counts = store.clues.upsert_alerts(batch)
    stats.alerts += len(batch)
    stats.opened += counts.inserted
    stats.joined += counts.joined
