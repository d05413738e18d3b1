"""The identification workflow (识别认定) of one clue, as an explicit state machine with deadlines.

new ─visit→ visited ─conclude→ proposed ─village_review→ notice (≥ 5 days) ─notice_end→ township
    ─township_review→ county ─county_decide→ closed

Proposals that change a household's status (inclusion, elimination, rollback) go through the public
notice; "already a monitoring object" and "no risk" go from the village review straight to the
township. Every review can return the clue to ``visited`` (with a note) for a new visit and conclusion.
Pure: no database, no clock; the caller passes ``today``/``now`` so deadlines are testable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

NOTICE_DAYS = 5  # public notice in the village for at least 5 days
DECIDE_DAYS = 15  # clue to county decision at most 15 days


class State(StrEnum):
    NEW = "new"
    VISITED = "visited"
    PROPOSED = "proposed"
    NOTICE = "notice"
    TOWNSHIP = "township"
    COUNTY = "county"
    CLOSED = "closed"


STATE_ZH = {
    State.NEW: "待走访",
    State.VISITED: "已走访，待结论",
    State.PROPOSED: "待村级评议",
    State.NOTICE: "公示中",
    State.TOWNSHIP: "待乡镇审核",
    State.COUNTY: "待县级审定",
    State.CLOSED: "已办结",
}


class Role(StrEnum):
    VILLAGE = "village"  # village officer (驻村工作队/村两委): one village
    TOWNSHIP = "township"  # township reviewer: the villages of one township
    COUNTY = "county"  # county approver: the townships of one county
    OPERATOR = "operator"  # city operator: reads everything, decides nothing


ROLE_ZH = {Role.VILLAGE: "村级", Role.TOWNSHIP: "乡镇", Role.COUNTY: "县级", Role.OPERATOR: "运维"}
SCOPE_DIGITS = {Role.VILLAGE: 12, Role.TOWNSHIP: 9, Role.COUNTY: 6, Role.OPERATOR: 4}


class Proposal(StrEnum):
    INCLUDE = "include"
    ALREADY_MONITORED = "already_monitored"
    NO_RISK = "no_risk"
    ELIMINATE = "eliminate"
    ROLLBACK = "rollback"


PROPOSAL_ZH = {
    Proposal.INCLUDE: "拟纳入监测对象",
    Proposal.ALREADY_MONITORED: "已是监测对象（记录新增风险）",
    Proposal.NO_RISK: "无返贫致贫风险（排除）",
    Proposal.ELIMINATE: "拟风险消除",
    Proposal.ROLLBACK: "拟回退风险消除",
}
NEEDS_NOTICE = frozenset({Proposal.INCLUDE, Proposal.ELIMINATE, Proposal.ROLLBACK})
# county approval → the outcome the stream processor applies to household state
APPROVED_OUTCOME = {
    Proposal.INCLUDE: "included",
    Proposal.ALREADY_MONITORED: "already_monitored",
    Proposal.NO_RISK: "excluded",
    Proposal.ELIMINATE: "eliminated",
    Proposal.ROLLBACK: "rolled_back",
}
OUTCOME_ZH = {
    "included": "纳入监测对象",
    "not_included": "不予纳入",
    "already_monitored": "已是监测对象，记录新增风险",
    "excluded": "排除（无风险）",
    "eliminated": "风险消除",
    "rolled_back": "回退风险消除，恢复监测",
}
CATEGORIES = ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")


class Action(StrEnum):
    VISIT = "visit"
    CONCLUDE = "conclude"
    VILLAGE_REVIEW = "village_review"
    NOTICE_END = "notice_end"
    TOWNSHIP_REVIEW = "township_review"
    COUNTY_DECIDE = "county_decide"


ACTION_ZH = {
    Action.VISIT: "登记入户走访",
    Action.CONCLUDE: "填写核实结论",
    Action.VILLAGE_REVIEW: "村级民主评议",
    Action.NOTICE_END: "结束公示",
    Action.TOWNSHIP_REVIEW: "乡镇审核",
    Action.COUNTY_DECIDE: "县级审定",
}
# (state the clue must be in, role that may act)
ACTION_RULE: dict[Action, tuple[State, Role]] = {
    Action.VISIT: (State.NEW, Role.VILLAGE),
    Action.CONCLUDE: (State.VISITED, Role.VILLAGE),
    Action.VILLAGE_REVIEW: (State.PROPOSED, Role.VILLAGE),
    Action.NOTICE_END: (State.NOTICE, Role.VILLAGE),
    Action.TOWNSHIP_REVIEW: (State.TOWNSHIP, Role.TOWNSHIP),
    Action.COUNTY_DECIDE: (State.COUNTY, Role.COUNTY),
}
DECISIONS = ("approve", "reject", "return")
DECISION_ZH = {"approve": "通过", "reject": "不予通过", "return": "退回重新核实"}


class WorkflowError(ValueError):
    """An action refused by the workflow; ``zh`` is what the officer reads. Nothing was changed."""

    def __init__(self, code: str, zh: str, status: int = 409) -> None:
        super().__init__(f"{code}: {zh}")
        self.code = code
        self.zh = zh
        self.status = status


@dataclass(frozen=True)
class Request:
    """What an officer submits: the action and its fields (from a form or the JSON API)."""

    action: str
    note: str = ""
    proposal: str | None = None
    category: str | None = None
    decision: str | None = None
    visited_on: date | None = None
    form: dict[str, Any] | None = None  # visit form answers (campaign visits)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Request:
        visited = data.get("visited_on") or None
        try:
            visited_on = date.fromisoformat(str(visited)) if visited else None
        except ValueError as exc:
            raise WorkflowError("bad_date", f"走访日期格式不对：{visited}（应为 YYYY-MM-DD）", 400) from exc
        note = data.get("note") or ""
        if not isinstance(note, str):
            raise WorkflowError("bad_note", "说明必须是文字", 400)
        form = data.get("form")
        if form is not None and not isinstance(form, dict):
            raise WorkflowError("bad_form", "走访表（form）应为对象", 400)
        return cls(
            action=str(data.get("action") or ""),
            note=note.strip(),
            proposal=(str(data["proposal"]) if data.get("proposal") else None),
            category=(str(data["category"]) if data.get("category") else None),
            decision=(str(data["decision"]) if data.get("decision") else None),
            visited_on=visited_on,
            form=form,
        )


@dataclass(frozen=True)
class ClueFacts:
    """What the workflow needs to know of a clue."""

    state: State
    clue_date: date
    proposal: Proposal | None = None
    notice_from: date | None = None
    household_type: str | None = None  # 脱贫户 / 一般农户, if the roster has the household
    category: str | None = None  # proposed with an inclusion
    source: str = "department_warning"
    household_kind: str | None = None  # campaign visits: which visit form applies


@dataclass(frozen=True)
class Transition:
    step: str  # published as Conclusion.step: the action, or "return"
    to_state: State
    updates: dict[str, Any] = field(default_factory=dict)  # clue columns to set
    proposal: str | None = None
    outcome: str | None = None
    category: str | None = None
    note: str = ""


def _need_note(req: Request, what: str) -> None:
    if len(req.note) < 2:
        raise WorkflowError("note_required", f"{what}必须填写说明（理由）", 400)
    if len(req.note) > 500:
        raise WorkflowError("note_too_long", "说明不能超过 500 字", 400)


def _returned(req: Request) -> Transition:
    _need_note(req, "退回")
    return Transition(
        "return",
        State.VISITED,
        {"proposal": None, "category": None, "notice_from": None},
        note=req.note,
    )


def decide(clue: ClueFacts, req: Request, role: Role, today: date, now: datetime) -> Transition:
    """The transition ``req`` makes, or a ``WorkflowError`` saying in Chinese why it is refused."""
    try:
        action = Action(req.action)
    except ValueError:
        raise WorkflowError("unknown_action", f"未知操作：{req.action or '（空）'}", 400) from None
    if len(req.note) > 500:
        raise WorkflowError("note_too_long", "说明不能超过 500 字", 400)
    need_state, need_role = ACTION_RULE[action]
    if role != need_role:
        raise WorkflowError(
            "wrong_role",
            f"“{ACTION_ZH[action]}”须由{ROLE_ZH[need_role]}账号办理，您是{ROLE_ZH[role]}账号",
            403,
        )
    if clue.state == State.CLOSED:
        raise WorkflowError("closed", "该线索已办结，不能再操作")
    if clue.state != need_state:
        raise WorkflowError(
            "out_of_order",
            f"当前环节是“{STATE_ZH[clue.state]}”，不能办理“{ACTION_ZH[action]}”"
            f"（须在“{STATE_ZH[need_state]}”环节）",
        )
    decision = req.decision
    if action not in (Action.VISIT, Action.CONCLUDE) and decision not in DECISIONS:
        raise WorkflowError("decision_required", "请选择审核意见：通过、不予通过或退回", 400)

    if action == Action.VISIT:
        visited_on = req.visited_on or today
        if visited_on > today:
            raise WorkflowError("visit_in_future", f"走访日期 {visited_on} 晚于今天，不能登记", 400)
        if visited_on < clue.clue_date:
            raise WorkflowError(
                "visit_before_clue", f"走访日期 {visited_on} 早于线索产生日期 {clue.clue_date}", 400
            )
        updates: dict[str, Any] = {"visited_on": visited_on.isoformat()}
        if clue.household_kind:
            from screening.forms import check_answers  # noqa: PLC0415

            answers = check_answers(clue.household_kind, req.form or {})
            updates["form_json"] = json.dumps(answers, ensure_ascii=False, sort_keys=True)
        else:
            _need_note(req, "入户走访")
        return Transition("visit", State.VISITED, updates, note=req.note)

    if action == Action.CONCLUDE:
        try:
            proposal = Proposal(req.proposal or "")
        except ValueError:
            raise WorkflowError("proposal_required", "请选择核实结论", 400) from None
        category = None
        if proposal == Proposal.NO_RISK and clue.source == "campaign":
            # a campaign visit that found no risk is recorded and closed: the filled form is the reason
            return Transition(
                "conclude",
                State.CLOSED,
                {"proposal": proposal.value, "concluded_at": now.isoformat(timespec="seconds")},
                proposal=proposal.value,
                note=req.note,
            )
        if proposal == Proposal.NO_RISK:
            _need_note(req, "排除（无风险）")
        elif proposal == Proposal.ALREADY_MONITORED:
            _need_note(req, "记录新增风险")
        elif proposal == Proposal.INCLUDE:
            if req.category not in CATEGORIES:
                raise WorkflowError(
                    "category_required", "拟纳入监测对象须选择类别：" + "、".join(CATEGORIES), 400
                )
            if req.category == "脱贫不稳定户" and clue.household_type not in (None, "脱贫户"):
                raise WorkflowError("category_mismatch", "只有脱贫户才能认定为脱贫不稳定户", 400)
            category = req.category
        return Transition(
            "conclude",
            State.PROPOSED,
            {
                "proposal": proposal.value,
                "category": category,
                "concluded_at": now.isoformat(timespec="seconds"),
            },
            proposal=proposal.value,
            category=category,
            note=req.note,
        )

    assert clue.proposal is not None, "a clue past the conclusion has a proposal"
    if decision == "return":
        return _returned(req)
    if action == Action.VILLAGE_REVIEW:
        if decision == "reject":
            raise WorkflowError("reject_not_here", "村级评议不同意时请选择“退回重新核实”", 400)
        if clue.proposal in NEEDS_NOTICE:
            return Transition(
                "village_review", State.NOTICE, {"notice_from": today.isoformat()}, note=req.note
            )
        return Transition("village_review", State.TOWNSHIP, note=req.note)
    if action == Action.NOTICE_END:
        if decision == "reject":
            raise WorkflowError("reject_not_here", "公示有异议时请选择“退回重新核实”", 400)
        assert clue.notice_from is not None
        ends = clue.notice_from + timedelta(days=NOTICE_DAYS)
        if today < ends:
            raise WorkflowError(
                "notice_too_short",
                f"公示自 {clue.notice_from} 起不少于 {NOTICE_DAYS} 天，{ends} 起才能结束公示",
            )
        return Transition("notice_end", State.TOWNSHIP, note=req.note)
    if action == Action.TOWNSHIP_REVIEW:
        if decision == "reject":
            raise WorkflowError("reject_not_here", "乡镇审核不同意时请选择“退回重新核实”", 400)
        return Transition("township_review", State.COUNTY, note=req.note)
    # county decision
    if decision == "reject":
        if clue.proposal != Proposal.INCLUDE:
            raise WorkflowError(
                "reject_not_here", "只有拟纳入的线索可以“不予纳入”；其他情况请退回重新核实", 400
            )
        outcome = "not_included"
    else:
        outcome = APPROVED_OUTCOME[clue.proposal]
    return Transition(
        "county_decide",
        State.CLOSED,
        {"outcome": outcome, "decided_at": now.isoformat(timespec="seconds")},
        proposal=clue.proposal.value,
        outcome=outcome,
        category=clue.category if outcome == "included" else None,
        note=req.note,
    )


# ---- deadlines ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Deadline:
    visit_overdue: bool
    decide_overdue: bool
    days_left: int  # to the next deadline that applies (negative: overdue by that many days)
    label: str  # what the officer reads: 走访剩 2 天 / 认定已超期 3 天 / 已办结

    @property
    def overdue(self) -> bool:
        return self.visit_overdue or self.decide_overdue


def deadline(
    state: State, visit_by: date, decide_by: date, today: date, decided_on: date | None = None
) -> Deadline:
    """Where a clue stands against its deadlines on ``today`` (a day counts until it ends)."""
    if state == State.CLOSED:
        late = decided_on is not None and decided_on > decide_by
        return Deadline(False, False, 0, "已办结（超期）" if late else "已办结")
    visit_overdue = state == State.NEW and today > visit_by
    decide_overdue = today > decide_by
    target, what = (visit_by, "走访") if state == State.NEW and not decide_overdue else (decide_by, "认定")
    days = (target - today).days
    if days < 0:
        label = f"{what}已超期 {-days} 天"
    elif days == 0:
        label = f"{what}今天到期"
    else:
        label = f"{what}剩 {days} 天"
    return Deadline(visit_overdue, decide_overdue, days, label)


SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def urgency_key(dl: Deadline, severity: str, clue_date: date) -> tuple[int, int, int, str]:
    """Sort key: open before closed, most overdue / least time left first, then severity, then age."""
    closed = 1 if dl.label.startswith("已办结") else 0
    return (closed, dl.days_left, SEVERITY_RANK.get(severity, 3), clue_date.isoformat())
