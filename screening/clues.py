"""Clues (线索) and their workflow steps. A clue arrives from the alerts topic (a department warning),
is recorded by an officer (application, cadre finding) or by a campaign; every step is written with
the clue's new state in one transaction and is also the outbox that publishes it to
``screening.conclusions``.

Idempotent by construction: a clue is upserted by its alert id and only a higher revision replaces
its content (never its workflow state); a step is keyed by (clue id, step number).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dixian.contract.alerts import Alert, Conclusion
from dixian.contract.deadlines import DECIDE_DAYS, NOTICE_DAYS, PLAN_DAYS, VISIT_DAYS
from dixian.contract.vocabulary import (
    HEALTH_RISKS,
    RECORDED_SOURCES,
    ClueSource,
    ClueState,
    MonitoringStatus,
    Outcome,
    Proposal,
    Role,
    Severity,
    Step,
)
from dixian.privacy import mask_free_text, mask_numbers
from screening.auth import Actor
from screening.corrections import from_answers, insert_findings
from screening.db import Database, Row
from screening.ledger import Ledger
from screening.refusal import NotFound, Refusal
from screening.workflow import (
    ClueFacts,
    Deadline,
    Request,
    Transition,
    deadline,
    decide,
    team_text,
    urgency_key,
)

# What each role has to act on; everything else in scope is readable.
TODO_STATES: dict[Role, tuple[ClueState, ...]] = {
    Role.VILLAGE: (ClueState.NEW, ClueState.VISITED, ClueState.PROPOSED, ClueState.NOTICE),
    Role.TOWNSHIP: (ClueState.TOWNSHIP,),
    Role.COUNTY: (ClueState.COUNTY,),
    Role.OPERATOR: (),
}


# what the public notice says for every reason it must not publish (illness, disability): one
# neutral wording, so that no marker tells a reader that something was withheld
NEUTRAL_RISK = "家庭生活困难"
SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int = 0  # new clues (households without an open one)
    updated: int = 0  # higher revisions of known alerts
    unchanged: int = 0  # replays and older revisions
    joined: int = 0  # alerts that joined their household's open clue as a further risk item


@dataclass(frozen=True)
class RiskItem:
    """One risk of a household's clue: an alert (one rule hit) or another source's record."""

    item_id: str
    household_id: str
    source: str
    title: str
    explanation: str
    risk_label: str
    severity: str
    item_date: date
    visit_by: date
    decide_by: date
    rule_id: str | None = None
    rule_version: int | None = None
    catalogue_version: str | None = None
    department: str | None = None
    revision: int = 1
    hits: int = 1
    detail_json: str = "{}"


def _alert_detail(a: Alert) -> str:
    return a.model_dump_json(
        include={
            "triggering_events",
            "evidence",
            "parameters",
            "window_start",
            "window_end",
            "risk_type",
            "guarantee",
        }
    )


def _alert_item(a: Alert) -> RiskItem:
    return RiskItem(
        item_id=a.alert_id, household_id=a.household_id, source=ClueSource.DEPARTMENT_WARNING,
        title=a.title, explanation=a.explanation, risk_label=a.risk_label, severity=a.severity,
        item_date=a.decide_by - timedelta(days=DECIDE_DAYS), visit_by=a.visit_by, decide_by=a.decide_by,
        rule_id=a.rule_id, rule_version=a.rule_version, catalogue_version=a.catalogue_version,
        department=a.department, revision=a.revision, hits=a.hits, detail_json=_alert_detail(a),
    )  # fmt: skip


@dataclass(frozen=True)
class _Arrival:
    """A risk item on its way into its household's clue, with the area a clue it opens is filed under."""

    item: RiskItem
    village: str
    township: str
    county: str
    extra: Mapping[str, Any] = field(default_factory=dict)  # further columns of a clue it opens


# Whoever may open a household's clue (the sink, an officer's record, a campaign) holds this lock
# (PostgreSQL) from before it looks for the household's open clue until it commits: otherwise two
# transactions that both found none would open two clues for one household.
OPENING_CLUES = 4504

# the columns of a stored clue that an item joining it can change
_JOINED = (
    "items",
    "severity",
    "monitored_risk",
    "new_risk",
    "clue_date",
    "visit_by",
    "decide_by",
    "updated_at",
)


def _clue_columns(item: RiskItem, a: _Arrival, ts: str, *, monitored: bool) -> dict[str, Any]:
    """The columns of a new clue whose first item is ``item`` (the clue takes the item's id)."""
    return {
        "clue_id": item.item_id, "source": item.source, "household_id": item.household_id,
        "village_code": a.village, "township_code": a.township, "county_code": a.county,
        "rule_id": item.rule_id, "rule_version": item.rule_version,
        "catalogue_version": item.catalogue_version, "department": item.department,
        "title": item.title, "explanation": item.explanation, "risk_label": item.risk_label,
        "severity": item.severity, "revision": item.revision, "hits": item.hits,
        "detail_json": item.detail_json, "clue_date": item.item_date.isoformat(), "received_at": ts,
        "visit_by": item.visit_by.isoformat(), "decide_by": item.decide_by.isoformat(),
        "state": ClueState.NEW.value, "steps": 0, "updated_at": ts, "items": 1,
        "monitored_risk": int(monitored), **a.extra,
    }  # fmt: skip


def _join_row(row: dict[str, Any], item: RiskItem, ts: str, *, monitored: bool) -> bool:
    """Change the clue ``row`` as ``item`` joining it does; returns whether it came after the visit.
    Before the visit the clue's deadlines run from its earliest item; after it they stay, and the
    clue is marked as having a new risk to check."""
    after_visit = ClueState(row["state"]) != ClueState.NEW
    row["items"] = int(row["items"]) + 1
    row["severity"] = max(
        Severity(row["severity"]), Severity(item.severity), key=SEVERITY_RANK.__getitem__
    ).value
    row["monitored_risk"] = int(row["monitored_risk"]) or int(monitored)
    row["updated_at"] = ts
    if after_visit:
        row["new_risk"] = 1
    else:
        row["clue_date"] = min(row["clue_date"], item.item_date.isoformat())
        row["visit_by"] = min(row["visit_by"], item.visit_by.isoformat())
        row["decide_by"] = min(row["decide_by"], item.decide_by.isoformat())
    return after_visit


def _item_row(clue_id: str, item: RiskItem, ts: str, *, after_visit: bool) -> tuple[Any, ...]:
    """The ``risk_items`` row of ``item`` in clue ``clue_id``."""
    return (
        item.item_id, clue_id, item.household_id, item.source, item.rule_id, item.rule_version,
        item.catalogue_version, item.department, item.title, item.explanation, item.risk_label,
        item.severity, item.revision, item.hits, item.detail_json, item.item_date.isoformat(), ts,
        int(after_visit),
    )  # fmt: skip


@dataclass(frozen=True)
class Clue:
    row: Row
    deadline: Deadline

    def __getitem__(self, key: str) -> Any:
        return self.row[key]

    @property
    def detail(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.row["detail_json"])
        return value

    @property
    def state(self) -> ClueState:
        return ClueState(self.row["state"])


@dataclass(frozen=True)
class QueueFilter:
    """What the queue is narrowed to (all optional; the area is the ``village`` argument)."""

    state: ClueState | None = None
    source: ClueSource | None = None
    risk: str | None = None  # a risk label, or its beginning: 因病, 因残 ...
    household: str | None = None  # a household number or a householder's name, or its beginning
    overdue: bool = False


def _d(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


class Clues:
    def __init__(
        self,
        db: Database,
        now: Callable[[], datetime],
        ledger: Ledger,
        visit_days: int = VISIT_DAYS,
    ) -> None:
        self.db = db
        self.now = now
        self.ledger = ledger
        self.visit_days = visit_days

    def today(self) -> date:
        return self.now().date()

    def _ts(self) -> str:
        return self.now().isoformat(timespec="seconds")

    # ---- from the alerts topic -------------------------------------------------------------------
    def upsert_alerts(self, alerts: Iterable[Alert]) -> UpsertCounts:
        """One transaction. Each alert is a risk item of its household's open clue: a known alert's
        higher revision refreshes its item (and, for the clue's first item, the clue's content), never
        the workflow; a new alert joins the household's open clue, or opens one when there is none.
        New alerts join in the order they arrived (a household's alerts share its village's partition,
        so that order is the topic's): the first opens the clue, whatever the batches were, and a
        rebuild that reads the topic again opens the same clues (``screening.rebuild``)."""
        latest: dict[str, Alert] = {}
        received = 0
        for a in alerts:
            received += 1
            if a.alert_id not in latest or a.revision > latest[a.alert_id].revision:
                latest[a.alert_id] = a
        if not latest:
            return UpsertCounts()
        same = received - len(latest)  # repeats inside the batch: older or equal revisions
        ts = self._ts()
        with self.db.transaction():
            self.db.serialise(OPENING_CLUES)  # first: before this transaction locks any clue
            known = {
                r["item_id"]: (int(r["revision"]), r["clue_id"])
                for r in self.db.query_in(
                    "SELECT item_id, revision, clue_id FROM risk_items WHERE item_id", list(latest)
                )
            }
            item_updates, clue_updates, fresh = [], [], []
            for a in latest.values():
                if a.alert_id not in known:
                    fresh.append(a)
                elif a.revision > known[a.alert_id][0]:
                    detail = _alert_detail(a)
                    item_updates.append(
                        (
                            a.rule_version,
                            a.catalogue_version,
                            a.revision,
                            a.hits,
                            detail,
                            a.alert_id,
                            a.revision,
                        )
                    )
                    if known[a.alert_id][1] == a.alert_id:  # the clue's first item
                        clue_updates.append((
                            a.rule_version, a.catalogue_version, a.revision, a.hits, detail, ts,
                            a.alert_id, a.revision,
                        ))  # fmt: skip
                else:
                    same += 1
            self.db.executemany(
                "UPDATE risk_items SET rule_version = ?, catalogue_version = ?, revision = ?, hits = ?,"
                " detail_json = ? WHERE item_id = ? AND revision < ?",
                item_updates,
            )
            self.db.executemany(
                "UPDATE clues SET rule_version = ?, catalogue_version = ?, revision = ?, hits = ?,"
                " detail_json = ?, updated_at = ? WHERE clue_id = ? AND revision < ?",
                clue_updates,
            )
            added = self._add(
                [_Arrival(_alert_item(a), a.village_code, a.township_code, a.county_code) for a in fresh], ts
            )
        opened = sum(1 for _, new in added if new)
        return UpsertCounts(opened, len(item_updates), same, len(added) - opened)

    def _add(self, arrivals: Sequence[_Arrival], ts: str) -> list[tuple[str, bool]]:
        """Each item, in order, joins its household's open clue (the earliest, should a store of an
        earlier version hold more), or opens one that the household's later items then join. Returns
        each item's clue id and whether it opened it (``_join_row`` says what joining changes).

        Read with one query per 500 households and written with one statement per kind of row, so a
        sink batch of 2,000 alerts costs a few round trips to the database, not several per alert
        (bench/sink_bench.py). On PostgreSQL the open clues are locked until the transaction ends,
        so a reviewer's change to one waits for it."""
        if not arrivals:
            return []
        self.db.serialise(OPENING_CLUES)
        households = list(dict.fromkeys(a.item.household_id for a in arrivals))
        lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
        open_rows: dict[str, Row] = {}
        for stored in self.db.query_in(
            "SELECT * FROM clues WHERE state <> ? AND household_id",
            households,
            lock,
            before=(ClueState.CLOSED.value,),
        ):
            # the earliest; chosen here, as FOR UPDATE may return rows that changed while it waited
            # out of order
            have = open_rows.get(stored["household_id"])
            if have is None or (stored["clue_date"], stored["clue_id"]) < (
                have["clue_date"],
                have["clue_id"],
            ):
                open_rows[stored["household_id"]] = stored
        monitored = {
            r["household_id"]
            for r in self.db.query_in(
                "SELECT household_id FROM households WHERE status = ? AND household_id",
                households,
                before=(MonitoringStatus.MONITORED.value,),
            )
        }
        opened: dict[str, dict[str, Any]] = {}  # clue id -> the new clue's columns, as they end
        joined: dict[str, Row] = {}  # clue id -> a stored clue's row, as it ends
        items: list[tuple[Any, ...]] = []
        added: list[tuple[str, bool]] = []
        for a in arrivals:
            item, household = a.item, a.item.household_id
            row = open_rows.get(household)
            if row is None:
                open_rows[household] = opened[item.item_id] = _clue_columns(
                    item, a, ts, monitored=household in monitored
                )
                items.append(_item_row(item.item_id, item, ts, after_visit=False))
                added.append((item.item_id, True))
                continue
            after_visit = _join_row(row, item, ts, monitored=household in monitored)
            items.append(_item_row(row["clue_id"], item, ts, after_visit=after_visit))
            if row["clue_id"] not in opened:
                joined[row["clue_id"]] = row
            added.append((str(row["clue_id"]), False))
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for cols in opened.values():
            by_columns.setdefault(tuple(cols), []).append(tuple(cols.values()))
        for names, rows in by_columns.items():
            self.db.executemany(
                f"INSERT INTO clues ({', '.join(names)}) VALUES ({','.join('?' * len(names))})", rows
            )
        self.db.executemany(
            "INSERT INTO risk_items (item_id, clue_id, household_id, source, rule_id, rule_version,"
            " catalogue_version, department, title, explanation, risk_label, severity, revision, hits,"
            " detail_json, item_date, received_at, after_visit) VALUES (" + ",".join("?" * 18) + ")",
            items,
        )
        self.db.executemany(
            "UPDATE clues SET " + ", ".join(f"{c} = ?" for c in _JOINED) + " WHERE clue_id = ?",
            [(*(r[c] for c in _JOINED), clue_id) for clue_id, r in joined.items()],
        )
        return added

    def items(self, clue_id: str) -> list[Row]:
        """The clue's risk items, in order of date."""
        return self.db.query(
            "SELECT * FROM risk_items WHERE clue_id = ? ORDER BY item_date, received_at, item_id", (clue_id,)
        )

    # ---- the queue -------------------------------------------------------------------------------
    def _view(self, row: Row, today: date) -> Clue:
        dl = deadline(
            ClueState(row["state"]),
            date.fromisoformat(row["visit_by"]),
            date.fromisoformat(row["decide_by"]),
            today,
            _d(row.get("decided_at")),
        )
        return Clue(row, dl)

    def queue(
        self,
        actor: Actor,
        *,
        todo: bool = False,
        village: str | None = None,
        include_closed: bool = False,
        where: QueueFilter | None = None,
    ) -> list[Clue]:
        """The clues in the actor's scope (or one township or village of it), most urgent first."""
        area = village or actor.scope
        actor.check_area(area)
        sql = (
            "SELECT c.*, (SELECT h.head_name FROM households h WHERE h.household_id = c.household_id)"
            " AS head_name FROM clues c WHERE c.village_code LIKE ?"
        )
        params: list[Any] = [area + "%"]
        f = where or QueueFilter()
        if f.state:
            sql += " AND state = ?"
            params.append(f.state.value)
        if f.source:
            sql += " AND source = ?"
            params.append(f.source.value)
        if f.household and f.household.isdigit():
            sql += " AND c.household_id LIKE ?"
            params.append(f.household + "%")
        elif f.household:  # a householder's name, or its beginning
            sql += (
                " AND EXISTS (SELECT 1 FROM households h"
                " WHERE h.household_id = c.household_id AND h.head_name LIKE ?)"
            )
            params.append(f.household + "%")
        if f.risk:
            sql += (
                " AND EXISTS (SELECT 1 FROM risk_items i WHERE i.clue_id = c.clue_id AND i.risk_label LIKE ?)"
            )
            params.append(f.risk + "%")
        if todo:
            states = TODO_STATES[actor.role]
            if not states:
                return []
            sql += " AND state IN (" + ",".join("?" * len(states)) + ")"
            params += [s.value for s in states]
        elif not include_closed:
            sql += " AND state <> ?"
            params.append(ClueState.CLOSED.value)
        today = self.today()
        views = [self._view(r, today) for r in self.db.query(sql, params)]
        if f.overdue:
            views = [v for v in views if v.deadline.overdue]
        # the clue id breaks ties: the same store gives the same order, and so the same pages, every time
        views.sort(
            key=lambda c: (
                *urgency_key(c.deadline, c["severity"], date.fromisoformat(c["clue_date"])),
                c["clue_id"],
            )
        )
        return views

    def get(self, actor: Actor, clue_id: str) -> Clue:
        row = self.db.one(
            "SELECT c.*, (SELECT h.head_name FROM households h WHERE h.household_id = c.household_id)"
            " AS head_name FROM clues c WHERE c.clue_id = ?",
            (clue_id,),
        )
        unknown = f"没有编号为 {clue_id} 的线索"
        if row is None:
            raise NotFound(unknown)
        actor.check_record(row["village_code"], unknown)
        return self._view(row, self.today())

    def steps(self, clue_id: str) -> list[Row]:
        return self.db.query("SELECT * FROM steps WHERE clue_id = ? ORDER BY seq", (clue_id,))

    def act(self, actor: Actor, clue_id: str, request: Request) -> Transition:
        """Check scope, role and order, then record the step and the clue's new state together.

        A refusal raises (ScopeError / NotFound / Refusal) and changes nothing."""
        now = self.now()
        with self.db.transaction():
            row = self.row_in_scope(actor, clue_id)
            hh = self.ledger.household(row["household_id"])
            facts = ClueFacts(
                state=ClueState(row["state"]),
                clue_date=date.fromisoformat(row["clue_date"]),
                proposal=Proposal(row["proposal"]) if row["proposal"] else None,
                notice_from=_d(row["notice_from"]),
                household_type=hh["household_type"] if hh else None,
                category=row["category"],
                source=row["source"],
                household_kind=row["household_kind"],
                asset_result=row["asset_result"],
                assistance=bool(hh and (hh["dibao"] or hh["tekun"])),
            )
            t = decide(facts, request, actor.role, now.date(), now)
            self.append_step(
                actor, row, {"state": t.to_state.value, **t.updates}, t.step, t.to_state.value, t.note,
                proposal=t.proposal, outcome=t.outcome, category=t.category,
            )  # fmt: skip
            if t.step == Step.VISIT and t.updates.get("form_json"):
                # what the visit found that the ledger holds otherwise: items for the national system
                found = from_answers(json.loads(t.updates["form_json"]), hh, request.note)
                if found:
                    insert_findings(self.db, now.date(), actor, row, found, "visit")
            if t.outcome is not None:  # the household ledger records the county's decision
                self.ledger.decided(row["household_id"], t.outcome, t.category)
            # an assistance plan is due within 10 days of inclusion; a monitoring object that came in
            # with the roster and has no plan yet gets one on its first case the county decides
            if t.outcome == Outcome.INCLUDED or (
                t.outcome == Outcome.ALREADY_MONITORED
                and self.db.one("SELECT 1 AS x FROM plans WHERE household_id = ?", (row["household_id"],))
                is None
            ):
                self.db.execute(
                    "INSERT INTO plans (clue_id, household_id, village_code, county_code, included_on,"
                    " due_by) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (clue_id) DO NOTHING",
                    (
                        clue_id, row["household_id"], row["village_code"], row["county_code"],
                        now.date().isoformat(), (now.date() + timedelta(days=PLAN_DAYS)).isoformat(),
                    ),
                )  # fmt: skip
        return t

    def row_in_scope(self, actor: Actor, clue_id: str) -> Row:
        """The clue's row, for a write; one outside the actor's scope is answered as an unknown id."""
        row = self.db.one("SELECT * FROM clues WHERE clue_id = ?", (clue_id,))
        unknown = f"没有编号为 {clue_id} 的线索"
        if row is None:
            raise NotFound(unknown)
        actor.check_record(row["village_code"], unknown)
        return row

    def append_step(
        self,
        actor: Actor,
        row: Row,
        cols: dict[str, Any],
        step: str,
        to_state: str,
        note: str,
        *,
        proposal: str | None = None,
        outcome: str | None = None,
        category: str | None = None,
    ) -> int:
        """Set ``cols`` on the clue ``row`` and record the step, numbered after the clue's last one.

        The update only applies if nobody recorded a step since ``row`` was read (optimistic check)."""
        seq = int(row["steps"]) + 1
        ts = self._ts()
        note = mask_free_text(note)  # stored and published: no ID, phone or card number in clear
        if cols.get("form_json"):
            answers = json.loads(cols["form_json"])
            masked = {k: mask_numbers(v) if isinstance(v, str) else v for k, v in answers.items()}
            cols = {**cols, "form_json": json.dumps(masked, ensure_ascii=False, sort_keys=True)}
        cols = {**cols, "steps": seq, "updated_at": ts}
        assignments = ", ".join(f"{k} = ?" for k in cols)
        changed = self.db.execute(
            f"UPDATE clues SET {assignments} WHERE clue_id = ? AND steps = ?",
            (*cols.values(), row["clue_id"], row["steps"]),
        )
        if changed != 1:
            raise Refusal("concurrent_change", "该线索刚刚被其他人处理过，请刷新后再试")
        self.db.execute(
            "INSERT INTO steps (clue_id, seq, step, from_state, to_state, actor, role, at, note,"
            " proposal, outcome, category, published) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,0)",
            (
                row["clue_id"], seq, step, row["state"], to_state, actor.username, actor.role.value, ts, note,
                proposal, outcome, category,
            ),
        )  # fmt: skip
        return seq

    def in_person(
        self, actor: Actor, clue_id: str, visited_on: date, note: str, team: tuple[str, ...] | None = None
    ) -> int:
        """The home visit that follows an online one (电话/微信): recorded, published, and the clue's
        flag cleared. Returns the step's number."""
        if actor.role != Role.VILLAGE:
            raise Refusal("wrong_role", "补充入户核实由村级账号登记")
        with self.db.transaction():
            row = self.row_in_scope(actor, clue_id)
            if not row["online_pending"]:
                raise Refusal("not_online", "该线索没有待补充入户核实的线上走访")
            if visited_on > self.today():
                raise Refusal("visit_in_future", f"走访日期 {visited_on} 晚于今天，不能登记")
            if row["visited_on"] and visited_on < date.fromisoformat(row["visited_on"]):
                raise Refusal("visit_before_online", f"入户日期早于线上走访日期 {row['visited_on']}")
            if not 2 <= len(note.strip()) <= 500:
                raise Refusal("note_required", "请填写入户核实的情况（2–500字）")
            cols: dict[str, Any] = {"online_pending": 0, "in_person_on": visited_on.isoformat()}
            if team:
                cols["visit_team"] = team_text(team)
            return self.append_step(actor, row, cols, Step.IN_PERSON, row["state"], note.strip())

    def record_step(
        self, actor: Actor, clue_id: str, step: str, note: str, state: str, proposal: str | None = None
    ) -> int:
        """A step that does not move the clue (opening it, a plan measure): recorded and published."""
        row = self.db.one("SELECT clue_id, steps, state FROM clues WHERE clue_id = ?", (clue_id,))
        assert row is not None
        return self.append_step(actor, row, {}, step, state, note, proposal=proposal)

    def create(
        self, actor: Actor, household_id: str, source: str, note: str, *, authorisation_signed: bool = False
    ) -> tuple[str, bool]:
        """A household's application or a cadre's finding, with the 15-day clock starting today: it
        joins the household's open clue as a risk item, or opens a clue. Idempotent per household,
        source and day: returns (clue id, whether this recorded something new)."""
        if source not in RECORDED_SOURCES:
            raise Refusal("bad_source", f"线索来源应为：{'、'.join(s.zh for s in RECORDED_SOURCES)}")
        if actor.role != Role.VILLAGE:
            raise Refusal("wrong_role", "农户申请和干部排查线索由村级账号登记")
        if not 2 <= len(note.strip()) <= 500:
            raise Refusal("note_required", "请填写申请事由或排查发现的情况（2–500字）")
        hh = self.ledger.household(household_id)
        unknown = f"户编号 {household_id} 不在农户名单中，请核对户编号"
        if hh is None:
            raise NotFound(unknown)
        actor.check_record(hh["village_code"], unknown)
        today = self.today()
        basis = f"{household_id}|{source}|{today.isoformat()}".encode()
        item = RiskItem(
            item_id=f"{source[:4]}-" + hashlib.blake2b(basis, digest_size=10).hexdigest(),
            household_id=household_id,
            source=source,
            title=ClueSource(source).zh,
            explanation=mask_free_text(note.strip()),
            risk_label="待核实",
            severity=Severity.HIGH if source == ClueSource.APPLICATION else Severity.MEDIUM,
            item_date=today,
            visit_by=today + timedelta(days=self.visit_days),
            decide_by=today + timedelta(days=DECIDE_DAYS),
        )
        ts = self._ts()
        with self.db.transaction():
            done = self.db.one("SELECT clue_id FROM risk_items WHERE item_id = ?", (item.item_id,))
            if done:
                return str(done["clue_id"]), False
            arrival = _Arrival(
                item, hh["village_code"], hh["township_code"], hh["county_code"],
                {"authorisation_signed": int(authorisation_signed)},
            )  # fmt: skip
            ((clue_id, opened),) = self._add([arrival], ts)
            if not opened and authorisation_signed:
                self.db.execute("UPDATE clues SET authorisation_signed = 1 WHERE clue_id = ?", (clue_id,))
            row = self.db.one("SELECT clue_id, steps, state FROM clues WHERE clue_id = ?", (clue_id,))
            assert row is not None
            self.append_step(
                actor, row, {}, Step.OPEN, row["state"], f"{ClueSource(source).zh}：{note.strip()}"
            )
        return clue_id, True

    def apply(self, village: str, household_id: str, description: str) -> str:
        """The public form (/apply): the household number must belong to the village (say nothing
        else); the clue is recorded as the household's application."""
        hh = self.ledger.household(household_id)
        if hh is None or hh["village_code"] != village:
            raise Refusal(
                "household_mismatch",
                "户编号与所在行政村不匹配，请核对明白卡上的户编号，或联系村干部代为申请",
            )
        public = Actor("public-form", "网上申请", Role.VILLAGE, village)
        clue_id, _ = self.create(
            public, household_id, ClueSource.APPLICATION, "（网上申请）" + description.strip()
        )
        return clue_id

    # ---- outbox ----------------------------------------------------------------------------------
    def pending_conclusions(self, limit: int = 500) -> list[Conclusion]:
        """The steps not yet published, oldest first, each with its household's case as it stands now
        (the store is rebuilt from these: ``screening.rebuild``)."""
        rows = self.db.query(
            "SELECT s.*, c.household_id, c.village_code, c.source FROM steps s"
            " JOIN clues c ON c.clue_id = s.clue_id WHERE s.published = 0"
            " ORDER BY s.at, s.clue_id, s.seq LIMIT ?",
            (limit,),
        )
        cases = self.cases({r["clue_id"] for r in rows})
        return [
            Conclusion(
                conclusion_id=f"{r['clue_id']}#{r['seq']}",
                household_id=r["household_id"],
                village_code=r["village_code"],
                alert_id=r["clue_id"] if r["source"] == ClueSource.DEPARTMENT_WARNING else None,
                step=r["step"],
                proposal=r["proposal"],
                outcome=r["outcome"],
                category=r["category"],
                decided_at=datetime.fromisoformat(r["at"]),
                decided_by=r["actor"],
                note=r["note"],
                from_state=r["from_state"],
                to_state=r["to_state"],
                role=r["role"],
                case=cases[r["clue_id"]],
            )
            for r in rows
        ]

    def cases(self, clue_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Each clue's whole record: its row, risk items, plan, measures and campaign."""
        ids = sorted(clue_ids)

        def by_clue(table: str) -> dict[str, list[Row]]:
            out: dict[str, list[Row]] = {}
            for r in self.db.query_in(f"SELECT * FROM {table} WHERE clue_id", ids):
                out.setdefault(r["clue_id"], []).append(r)
            return out

        clues = {r["clue_id"]: r for r in self.db.query_in("SELECT * FROM clues WHERE clue_id", ids)}
        items, measures, plans = by_clue("risk_items"), by_clue("measures"), by_clue("plans")
        corrections = by_clue("corrections")
        campaign_ids = sorted({c["campaign_id"] for c in clues.values() if c.get("campaign_id")})
        campaigns = {
            r["campaign_id"]: r
            for r in self.db.query_in("SELECT * FROM campaigns WHERE campaign_id", campaign_ids)
        }
        return {
            cid: {
                "clue": row,
                "items": sorted(items.get(cid, []), key=lambda r: r["item_id"]),
                "measures": sorted(measures.get(cid, []), key=lambda r: r["seq"]),
                "plan": next(iter(plans.get(cid, [])), None),
                "campaign": campaigns.get(row.get("campaign_id") or ""),
                "corrections": sorted(corrections.get(cid, []), key=lambda r: r["seq"]),
            }
            for cid, row in clues.items()
        }

    def mark_published(self, conclusion_ids: Iterable[str]) -> None:
        keys = [tuple(cid.rsplit("#", 1)) for cid in conclusion_ids]
        with self.db.transaction():
            self.db.executemany(
                "UPDATE steps SET published = 1 WHERE clue_id = ? AND seq = ?", [(c, int(s)) for c, s in keys]
            )

    # ---- public notice and asset check ----------------------------------------------------------
    def notice(self, actor: Actor, village_code: str) -> list[dict[str, Any]]:
        """Households of one village in public notice: no ID number, phone, bank account or health detail."""
        actor.check_area(village_code)
        rows = self.db.query(
            "SELECT c.clue_id, c.household_id, c.proposal, c.category, c.risk_label, c.notice_from, c.source,"
            " h.persons, h.head_name"
            " FROM clues c LEFT JOIN households h ON h.household_id = c.household_id"
            " WHERE c.village_code = ? AND c.state = ? ORDER BY c.notice_from, c.household_id",
            (village_code, ClueState.NOTICE.value),
        )
        labels: dict[str, list[str]] = {}
        for i in self.db.query_in(
            "SELECT clue_id, risk_label FROM risk_items WHERE clue_id", [r["clue_id"] for r in rows]
        ):
            label = i["risk_label"].split("(")[0]
            if label.startswith(HEALTH_RISKS):
                label = NEUTRAL_RISK
            if label != "待核实" and label not in labels.setdefault(i["clue_id"], []):
                labels[i["clue_id"]].append(label)
        out = []
        for r in rows:
            risk = "、".join(sorted(labels.get(r["clue_id"], []))) or r["risk_label"].split("(")[0]
            start = date.fromisoformat(r["notice_from"])
            out.append(
                {
                    "household_id": r["household_id"],
                    "head_name": r["head_name"] or "",
                    "source": ClueSource(r["source"]).zh,
                    "persons": r["persons"],
                    "proposal": r["proposal"],
                    "category": r["category"] or "",
                    "risk": NEUTRAL_RISK if risk.startswith(HEALTH_RISKS) else risk,
                    "notice_from": start.isoformat(),
                    "notice_until": (start + timedelta(days=NOTICE_DAYS)).isoformat(),
                }
            )
        return out

    def asset_check(self, actor: Actor, county_code: str) -> list[dict[str, Any]]:
        """Households proposed for inclusion that are not already 低保/特困 (财产检索 needed)."""
        actor.check_area(county_code)
        rows = self.db.query(
            "SELECT c.clue_id, c.household_id, c.village_code, c.township_code, c.category, c.state,"
            " c.concluded_at, c.asset_result, c.asset_checked_on, c.asset_reason, c.asset_found,"
            " h.household_type, h.persons, h.dibao, h.tekun, h.head_name"
            " FROM clues c LEFT JOIN households h ON h.household_id = c.household_id"
            " WHERE c.county_code = ? AND c.proposal = ? AND c.state <> ?"
            " ORDER BY c.township_code, c.village_code, c.household_id",
            (county_code, Proposal.INCLUDE.value, ClueState.CLOSED.value),
        )
        return [
            {k: r[k] for k in ("clue_id", "household_id", "head_name", "village_code", "township_code",
                               "category", "state", "concluded_at", "household_type", "persons",
                               "asset_result", "asset_checked_on", "asset_reason", "asset_found")}
            for r in rows
            if not (r["dibao"] or r["tekun"])
        ]  # fmt: skip
