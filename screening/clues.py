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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from dixian.contract.alerts import Alert, Conclusion
from dixian.contract.deadlines import DECIDE_DAYS, NOTICE_DAYS, PLAN_DAYS, VISIT_DAYS
from dixian.contract.vocabulary import (
    HEALTH_RISKS,
    RECORDED_SOURCES,
    ClueSource,
    ClueState,
    Outcome,
    Proposal,
    Role,
    Severity,
    Step,
)
from screening.auth import Actor
from screening.db import Database, Row
from screening.ledger import Ledger
from screening.refusal import NotFound, Refusal
from screening.workflow import ClueFacts, Deadline, Request, Transition, deadline, decide, urgency_key

# What each role has to act on; everything else in scope is readable.
TODO_STATES: dict[Role, tuple[ClueState, ...]] = {
    Role.VILLAGE: (ClueState.NEW, ClueState.VISITED, ClueState.PROPOSED, ClueState.NOTICE),
    Role.TOWNSHIP: (ClueState.TOWNSHIP,),
    Role.COUNTY: (ClueState.COUNTY,),
    Role.OPERATOR: (),
}


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0  # replays and older revisions


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
        """One transaction: new alerts become clues in state ``new``; a higher revision of a known
        alert refreshes its content (hits, evidence, deadlines) and leaves its workflow alone."""
        latest: dict[str, Alert] = {}
        received = 0
        for a in alerts:
            received += 1
            if a.alert_id not in latest or a.revision > latest[a.alert_id].revision:
                latest[a.alert_id] = a
        if not latest:
            return UpsertCounts()
        ins = upd = 0
        same = received - len(latest)  # repeats inside the batch: older or equal revisions
        ts = self._ts()
        with self.db.transaction():
            known: dict[str, int] = {}
            ids = list(latest)
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for r in self.db.query(
                    f"SELECT clue_id, revision FROM clues WHERE clue_id IN ({marks})", chunk
                ):
                    known[r["clue_id"]] = int(r["revision"])
            new_rows, changed = [], []
            for a in latest.values():
                detail = a.model_dump_json(
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
                if a.alert_id not in known:
                    clue_date = a.decide_by - timedelta(days=DECIDE_DAYS)
                    new_rows.append((
                        a.alert_id, ClueSource.DEPARTMENT_WARNING, a.household_id, a.village_code,
                        a.township_code, a.county_code, a.rule_id, a.rule_version, a.catalogue_version,
                        a.department, a.title, a.explanation, a.risk_label, a.severity, a.revision, a.hits,
                        detail, clue_date.isoformat(), ts, a.visit_by.isoformat(), a.decide_by.isoformat(),
                        ClueState.NEW.value, ts,
                    ))  # fmt: skip
                elif a.revision > known[a.alert_id]:
                    changed.append((
                        a.rule_version, a.catalogue_version, a.revision, a.hits, detail,
                        a.visit_by.isoformat(), a.decide_by.isoformat(), ts, a.alert_id, a.revision,
                    ))  # fmt: skip
                else:
                    same += 1
            self.db.executemany(
                "INSERT INTO clues (clue_id, source, household_id, village_code, township_code, county_code,"
                " rule_id, rule_version, catalogue_version, department, title, explanation, risk_label,"
                " severity, revision, hits, detail_json, clue_date, received_at, visit_by, decide_by, state,"
                " updated_at) VALUES (" + ",".join("?" * 23) + ")",
                new_rows,
            )
            self.db.executemany(
                "UPDATE clues SET rule_version = ?, catalogue_version = ?, revision = ?, hits = ?,"
                " detail_json = ?, visit_by = ?, decide_by = ?, updated_at = ?"
                " WHERE clue_id = ? AND revision < ?",
                changed,
            )
            ins, upd = len(new_rows), len(changed)
        return UpsertCounts(ins, upd, same)

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
        self, actor: Actor, *, todo: bool = False, village: str | None = None, include_closed: bool = False
    ) -> list[Clue]:
        """The clues in the actor's scope (or one village of it), most urgent first."""
        area = village or actor.scope
        actor.check_area(area)
        sql = "SELECT * FROM clues WHERE village_code LIKE ?"
        params: list[Any] = [area + "%"]
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
        views.sort(key=lambda c: urgency_key(c.deadline, c["severity"], date.fromisoformat(c["clue_date"])))
        return views

    def get(self, actor: Actor, clue_id: str) -> Clue:
        row = self.db.one("SELECT * FROM clues WHERE clue_id = ?", (clue_id,))
        if row is None:
            raise NotFound(f"没有编号为 {clue_id} 的线索")
        actor.check(row["village_code"])
        return self._view(row, self.today())

    def steps(self, clue_id: str) -> list[Row]:
        return self.db.query("SELECT * FROM steps WHERE clue_id = ? ORDER BY seq", (clue_id,))

    def act(self, actor: Actor, clue_id: str, request: Request) -> Transition:
        """Check scope, role and order, then record the step and the clue's new state together.

        A refusal raises (ScopeError / NotFound / Refusal) and changes nothing."""
        now = self.now()
        with self.db.transaction():
            row = self.db.one("SELECT * FROM clues WHERE clue_id = ?", (clue_id,))
            if row is None:
                raise NotFound(f"没有编号为 {clue_id} 的线索")
            actor.check(row["village_code"])
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
            )
            t = decide(facts, request, actor.role, now.date(), now)
            self._append_step(
                actor, row, {"state": t.to_state.value, **t.updates}, t.step, t.to_state.value, t.note,
                proposal=t.proposal, outcome=t.outcome, category=t.category,
            )  # fmt: skip
            if t.outcome == Outcome.INCLUDED:  # an assistance plan is due within 10 days of inclusion
                self.db.execute(
                    "INSERT INTO plans (clue_id, household_id, village_code, county_code, included_on,"
                    " due_by) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (clue_id) DO NOTHING",
                    (
                        clue_id, row["household_id"], row["village_code"], row["county_code"],
                        now.date().isoformat(), (now.date() + timedelta(days=PLAN_DAYS)).isoformat(),
                    ),
                )  # fmt: skip
        return t

    def _append_step(
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

    def record_step(
        self, actor: Actor, clue_id: str, step: str, note: str, state: str, proposal: str | None = None
    ) -> int:
        """A step that does not move the clue (opening it, a plan measure): recorded and published."""
        row = self.db.one("SELECT clue_id, steps, state FROM clues WHERE clue_id = ?", (clue_id,))
        assert row is not None
        return self._append_step(actor, row, {}, step, state, note, proposal=proposal)

    def create(
        self, actor: Actor, household_id: str, source: str, note: str, *, authorisation_signed: bool = False
    ) -> tuple[str, bool]:
        """A clue from a household's application or a cadre's screening, with the 15-day clock
        starting today. Idempotent per household, source and day: returns (clue id, created)."""
        if source not in RECORDED_SOURCES:
            raise Refusal("bad_source", f"线索来源应为：{'、'.join(s.zh for s in RECORDED_SOURCES)}")
        if actor.role != Role.VILLAGE:
            raise Refusal("wrong_role", "农户申请和干部排查线索由村级账号登记")
        if not 2 <= len(note.strip()) <= 500:
            raise Refusal("note_required", "请填写申请事由或排查发现的情况（2–500字）")
        hh = self.ledger.household(household_id)
        if hh is None:
            raise NotFound(f"户编号 {household_id} 不在农户名单中，请核对户编号")
        actor.check(hh["village_code"])
        today = self.today()
        severity = Severity.HIGH if source == ClueSource.APPLICATION else Severity.MEDIUM
        basis = f"{household_id}|{source}|{today.isoformat()}".encode()
        clue_id = f"{source[:4]}-" + hashlib.blake2b(basis, digest_size=10).hexdigest()
        ts = self._ts()
        title, label = ClueSource(source).zh, "待核实"
        with self.db.transaction():
            if self.db.one("SELECT clue_id FROM clues WHERE clue_id = ?", (clue_id,)):
                return clue_id, False
            self.db.execute(
                "INSERT INTO clues (clue_id, source, household_id, village_code, township_code, county_code,"
                " title, explanation, risk_label, severity, revision, hits, detail_json, clue_date,"
                " received_at, visit_by, decide_by, state, steps, updated_at, authorisation_signed)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,1,1,'{}',?,?,?,?,?,0,?,?)",
                (
                    clue_id, source, household_id, hh["village_code"], hh["township_code"], hh["county_code"],
                    title, note.strip(), label, severity,
                    today.isoformat(), ts, (today + timedelta(days=self.visit_days)).isoformat(),
                    (today + timedelta(days=DECIDE_DAYS)).isoformat(), ClueState.NEW.value, ts,
                    int(authorisation_signed),
                ),
            )  # fmt: skip
            self.record_step(actor, clue_id, Step.OPEN, note.strip(), ClueState.NEW)
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
        rows = self.db.query(
            "SELECT s.*, c.household_id, c.village_code, c.source FROM steps s"
            " JOIN clues c ON c.clue_id = s.clue_id WHERE s.published = 0"
            " ORDER BY s.at, s.clue_id, s.seq LIMIT ?",
            (limit,),
        )
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
            )
            for r in rows
        ]

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
            "SELECT c.household_id, c.proposal, c.category, c.risk_label, c.notice_from, c.source, h.persons"
            " FROM clues c LEFT JOIN households h ON h.household_id = c.household_id"
            " WHERE c.village_code = ? AND c.state = ? ORDER BY c.notice_from, c.household_id",
            (village_code, ClueState.NOTICE.value),
        )
        out = []
        for r in rows:
            risk = r["risk_label"].split("(")[0]
            start = date.fromisoformat(r["notice_from"])
            out.append(
                {
                    "household_id": r["household_id"],
                    "source": ClueSource(r["source"]).zh,
                    "persons": r["persons"],
                    "proposal": r["proposal"],
                    "category": r["category"] or "",
                    "risk": "（涉及健康信息，不予公示）" if risk.startswith(HEALTH_RISKS) else risk,
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
            " c.concluded_at, h.household_type, h.persons, h.dibao, h.tekun"
            " FROM clues c LEFT JOIN households h ON h.household_id = c.household_id"
            " WHERE c.county_code = ? AND c.proposal = ? AND c.state <> ?"
            " ORDER BY c.township_code, c.village_code, c.household_id",
            (county_code, Proposal.INCLUDE.value, ClueState.CLOSED.value),
        )
        return [
            {k: r[k] for k in ("clue_id", "household_id", "village_code", "township_code", "category",
                               "state", "concluded_at", "household_type", "persons")}
            for r in rows
            if not (r["dibao"] or r["tekun"])
        ]  # fmt: skip
