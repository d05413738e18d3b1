"""The alert store: clues from the alerts topic, the household ledger from the roster topic, accounts,
and the workflow steps (also the outbox that publishes them to ``screening.conclusions``).

Idempotent by construction: a clue is upserted by its alert id and only a higher revision replaces
its content (never its workflow state); a household by its id; a step by (clue id, step number).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from dixian.contract import Household
from dixian.contract.alerts import Alert, Conclusion
from dixian.contract.events import now_china
from dixian.contract.ids import county_of, township_of
from screening import auth
from screening.auth import Actor, ScopeError
from screening.db import Database, Row
from screening.workflow import (
    DECIDE_DAYS,
    ClueFacts,
    Deadline,
    Proposal,
    Request,
    Role,
    State,
    Transition,
    WorkflowError,
    deadline,
    decide,
    urgency_key,
)

SESSION_HOURS = 12
LOCK_AFTER = 5  # wrong passwords in a row
LOCK_MINUTES = 15
PLAN_DAYS = 10  # an assistance plan within 10 days of inclusion
CREATED_SOURCES = {"application": "农户申请", "cadre": "干部排查"}
SOURCE_ZH = {"department_warning": "部门预警", **CREATED_SOURCES, "campaign": "集中排查"}
# What each role has to act on; everything else in scope is readable.
TODO_STATES: dict[Role, tuple[State, ...]] = {
    Role.VILLAGE: (State.NEW, State.VISITED, State.PROPOSED, State.NOTICE),
    Role.TOWNSHIP: (State.TOWNSHIP,),
    Role.COUNTY: (State.COUNTY,),
    Role.OPERATOR: (),
}
HEALTH_RISKS = ("因病", "因残")  # never on a public notice


class NotFound(LookupError):
    def __init__(self, zh: str) -> None:
        super().__init__(zh)
        self.zh = zh


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
    def state(self) -> State:
        return State(self.row["state"])


def _d(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


class Store:
    def __init__(self, db: Database, now: Callable[[], datetime] = now_china, visit_days: int = 5) -> None:
        self.db = db
        self.now = now
        self.visit_days = visit_days

    def today(self) -> date:
        return self.now().date()

    def _ts(self) -> str:
        return self.now().isoformat(timespec="seconds")

    # ---- from the topics -------------------------------------------------------------------------
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
                        a.alert_id, "department_warning", a.household_id, a.village_code, a.township_code,
                        a.county_code, a.rule_id, a.rule_version, a.catalogue_version, a.department, a.title,
                        a.explanation, a.risk_label, a.severity, a.revision, a.hits, detail,
                        clue_date.isoformat(), ts, a.visit_by.isoformat(), a.decide_by.isoformat(),
                        State.NEW.value, ts,
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

    def upsert_households(self, households: Iterable[Household]) -> int:
        """The roster's latest record of each household (the national system's export wins)."""
        ts = self._ts()
        rows = [
            (
                h.household_id, h.village_code, township_of(h.village_code), county_of(h.village_code),
                h.household_type.value, h.monitoring_category.value if h.monitoring_category else None,
                h.monitoring_status.value, int(h.dibao), int(h.tekun), h.size, ",".join(h.risk_types), ts,
                float(h.per_capita_income), int(h.housing_safe), int(h.water_safe),
                sum(m.relation == "户主" for m in h.members), sum(m.can_work for m in h.members),
                sum(m.disabled for m in h.members), sum(m.seriously_ill for m in h.members),
                sum(not m.insured for m in h.members),
            )
            for h in households
        ]  # fmt: skip
        if not rows:
            return 0
        cols = (
            "household_id, village_code, township_code, county_code, household_type, category, status, dibao,"
            " tekun, persons, risk_types, updated_at, income_pc, housing_safe, water_safe, heads, can_work,"
            " disabled, ill, uninsured"
        )
        names = [c.strip() for c in cols.split(",")]
        update = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
        with self.db.transaction():
            self.db.executemany(
                f"INSERT INTO households ({cols}) VALUES ({','.join('?' * len(names))})"
                f" ON CONFLICT (household_id) DO UPDATE SET {update}",
                rows,
            )
        return len(rows)

    # ---- accounts and sessions -------------------------------------------------------------------
    def add_account(
        self, username: str, role: str, scope: str, password: str, display_name: str = ""
    ) -> None:
        r = auth.validate_account(username, role, scope)
        hashed = auth.hash_password(password)
        with self.db.transaction():
            if self.db.one("SELECT username FROM accounts WHERE username = ?", (username,)):
                raise ValueError(f"account {username!r} already exists (use `dixian users passwd`)")
            self.db.execute(
                "INSERT INTO accounts (username, display_name, role, scope, password_hash, disabled,"
                " created_at) VALUES (?, ?, ?, ?, ?, 0, ?)",
                (username, display_name or username, r.value, scope, hashed, self._ts()),
            )

    def set_password(self, username: str, password: str) -> None:
        hashed = auth.hash_password(password)
        with self.db.transaction():
            if not self.db.execute(
                "UPDATE accounts SET password_hash = ? WHERE username = ?", (hashed, username)
            ):
                raise ValueError(f"no account {username!r}")
            self.db.execute("DELETE FROM sessions WHERE username = ?", (username,))

    def set_disabled(self, username: str, disabled: bool) -> None:
        with self.db.transaction():
            if not self.db.execute(
                "UPDATE accounts SET disabled = ? WHERE username = ?", (int(disabled), username)
            ):
                raise ValueError(f"no account {username!r}")
            if disabled:
                self.db.execute("DELETE FROM sessions WHERE username = ?", (username,))

    def accounts(self) -> list[Row]:
        return self.db.query(
            "SELECT username, display_name, role, scope, disabled, created_at FROM accounts ORDER BY username"
        )

    def login(self, username: str, password: str) -> str | None:
        """A new session token, or None (unknown account, wrong password, disabled or locked: one
        answer). After ``LOCK_AFTER`` wrong passwords in a row the account is locked for
        ``LOCK_MINUTES``, even for the right password."""
        row = self.db.one(
            "SELECT password_hash, disabled, failed_logins, locked_until FROM accounts WHERE username = ?",
            (username,),
        )
        ok = auth.verify_password(password, row["password_hash"] if row else auth.DUMMY_HASH)
        now = self.now()
        ts = now.isoformat(timespec="seconds")
        if row is None:
            return None
        if row["locked_until"] and row["locked_until"] > ts:
            return None
        if not ok or row["disabled"]:
            failures = int(row["failed_logins"]) + (0 if ok else 1)
            locked = (now + timedelta(minutes=LOCK_MINUTES)).isoformat(timespec="seconds")
            with self.db.transaction():
                self.db.execute(
                    "UPDATE accounts SET failed_logins = ?, locked_until = ? WHERE username = ?",
                    (
                        0 if failures >= LOCK_AFTER else failures,
                        locked if failures >= LOCK_AFTER else None,
                        username,
                    ),
                )
            return None
        token, hashed = auth.new_token()
        with self.db.transaction():
            self.db.execute(
                "UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE username = ?", (username,)
            )
            self.db.execute("DELETE FROM sessions WHERE expires_at < ?", (ts,))
            self.db.execute(
                "INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (hashed, username, ts, (now + timedelta(hours=SESSION_HOURS)).isoformat(timespec="seconds")),
            )
        return token

    def logout(self, token: str) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM sessions WHERE token_hash = ?", (auth.token_hash(token),))

    def actor(self, token: str) -> Actor | None:
        row = self.db.one(
            "SELECT a.username, a.display_name, a.role, a.scope FROM sessions s"
            " JOIN accounts a ON a.username = s.username"
            " WHERE s.token_hash = ? AND s.expires_at > ? AND a.disabled = 0",
            (auth.token_hash(token), self._ts()),
        )
        if row is None:
            return None
        return Actor(row["username"], row["display_name"], Role(row["role"]), row["scope"])

    # ---- the queue -------------------------------------------------------------------------------
    def _view(self, row: Row, today: date) -> Clue:
        dl = deadline(
            State(row["state"]),
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
            params.append(State.CLOSED.value)
        today = self.today()
        views = [self._view(r, today) for r in self.db.query(sql, params)]
        views.sort(key=lambda c: urgency_key(c.deadline, c["severity"], date.fromisoformat(c["clue_date"])))
        return views

    def clue(self, actor: Actor, clue_id: str) -> Clue:
        row = self.db.one("SELECT * FROM clues WHERE clue_id = ?", (clue_id,))
        if row is None:
            raise NotFound(f"没有编号为 {clue_id} 的线索")
        actor.check(row["village_code"])
        return self._view(row, self.today())

    def steps(self, clue_id: str) -> list[Row]:
        return self.db.query("SELECT * FROM steps WHERE clue_id = ? ORDER BY seq", (clue_id,))

    def household(self, household_id: str) -> Row | None:
        return self.db.one("SELECT * FROM households WHERE household_id = ?", (household_id,))

    def act(self, actor: Actor, clue_id: str, request: Request) -> Transition:
        """Check scope, role and order, then record the step and the clue's new state together.

        A refusal raises (ScopeError / NotFound / WorkflowError) and changes nothing."""
        now = self.now()
        with self.db.transaction():
            row = self.db.one("SELECT * FROM clues WHERE clue_id = ?", (clue_id,))
            if row is None:
                raise NotFound(f"没有编号为 {clue_id} 的线索")
            actor.check(row["village_code"])
            hh = self.household(row["household_id"])
            facts = ClueFacts(
                state=State(row["state"]),
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
            if t.outcome == "included":  # an assistance plan is due within 10 days of inclusion
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
            raise WorkflowError("concurrent_change", "该线索刚刚被其他人处理过，请刷新后再试")
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

    def create_clue(
        self, actor: Actor, household_id: str, source: str, note: str, *, authorisation_signed: bool = False
    ) -> tuple[str, bool]:
        """A clue from a household's application or a cadre's screening, with the 15-day clock
        starting today. Idempotent per household, source and day: returns (clue id, created)."""
        if source not in CREATED_SOURCES:
            raise WorkflowError("bad_source", f"线索来源应为：{'、'.join(CREATED_SOURCES.values())}", 400)
        if actor.role != Role.VILLAGE:
            raise WorkflowError("wrong_role", "农户申请和干部排查线索由村级账号登记", 403)
        if not 2 <= len(note.strip()) <= 500:
            raise WorkflowError("note_required", "请填写申请事由或排查发现的情况（2–500字）", 400)
        hh = self.household(household_id)
        if hh is None:
            raise NotFound(f"户编号 {household_id} 不在农户名单中，请核对户编号")
        actor.check(hh["village_code"])
        today = self.today()
        basis = f"{household_id}|{source}|{today.isoformat()}".encode()
        clue_id = f"{source[:4]}-" + hashlib.blake2b(basis, digest_size=10).hexdigest()
        ts = self._ts()
        title, label = CREATED_SOURCES[source], "待核实"
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
                    title, note.strip(), label, "high" if source == "application" else "medium",
                    today.isoformat(), ts, (today + timedelta(days=self.visit_days)).isoformat(),
                    (today + timedelta(days=DECIDE_DAYS)).isoformat(), State.NEW.value, ts,
                    int(authorisation_signed),
                ),
            )  # fmt: skip
            self.record_step(actor, clue_id, "open", note.strip(), State.NEW.value)
        return clue_id, True

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
                alert_id=r["clue_id"] if r["source"] == "department_warning" else None,
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
            (village_code, State.NOTICE.value),
        )
        out = []
        for r in rows:
            risk = r["risk_label"].split("(")[0]
            start = date.fromisoformat(r["notice_from"])
            out.append(
                {
                    "household_id": r["household_id"],
                    "source": SOURCE_ZH.get(r["source"], r["source"]),
                    "persons": r["persons"],
                    "proposal": r["proposal"],
                    "category": r["category"] or "",
                    "risk": "（涉及健康信息，不予公示）" if risk.startswith(HEALTH_RISKS) else risk,
                    "notice_from": start.isoformat(),
                    "notice_until": (start + timedelta(days=5)).isoformat(),
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
            (county_code, Proposal.INCLUDE.value, State.CLOSED.value),
        )
        return [
            {k: r[k] for k in ("clue_id", "household_id", "village_code", "township_code", "category",
                               "state", "concluded_at", "household_type", "persons")}
            for r in rows
            if not (r["dibao"] or r["tekun"])
        ]  # fmt: skip


def open_store(url: str, now: Callable[[], datetime] = now_china, visit_days: int = 5) -> Store:
    """Open and migrate the store at ``url``."""
    db = Database(url)
    db.migrate()
    return Store(db, now, visit_days)


__all__ = ["NotFound", "ScopeError", "Store", "UpsertCounts", "open_store"]
