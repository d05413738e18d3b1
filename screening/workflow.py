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
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dixian.contract.deadlines import NOTICE_DAYS
from dixian.contract.vocabulary import (
    AssetResult,
    ClueSource,
    ClueState,
    Decision,
    HouseholdType,
    MonitoringCategory,
    Outcome,
    Proposal,
    Role,
    Severity,
    Step,
    VisitMode,
)
from screening.refusal import Refusal

# (state the clue must be in, role that may act) for each step an officer or reviewer takes
ACTION_RULE: dict[Step, tuple[ClueState, Role]] = {
    Step.VISIT: (ClueState.NEW, Role.VILLAGE),
    Step.CONCLUDE: (ClueState.VISITED, Role.VILLAGE),
    Step.VILLAGE_REVIEW: (ClueState.PROPOSED, Role.VILLAGE),
    Step.NOTICE_END: (ClueState.NOTICE, Role.VILLAGE),
    Step.TOWNSHIP_REVIEW: (ClueState.TOWNSHIP, Role.TOWNSHIP),
    Step.COUNTY_DECIDE: (ClueState.COUNTY, Role.COUNTY),
}
NEEDS_NOTICE = frozenset({Proposal.INCLUDE, Proposal.ELIMINATE, Proposal.ROLLBACK})
# county approval → the outcome the stream processor applies to household state
APPROVED_OUTCOME = {
    Proposal.INCLUDE: Outcome.INCLUDED,
    Proposal.ALREADY_MONITORED: Outcome.ALREADY_MONITORED,
    Proposal.NO_RISK: Outcome.EXCLUDED,
    Proposal.ELIMINATE: Outcome.ELIMINATED,
    Proposal.ROLLBACK: Outcome.ROLLED_BACK,
}


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
    visit_mode: str | None = None  # VisitMode; None: in person
    team: tuple[str, ...] | None = None  # the screening team of two (names)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Request:
        visited = data.get("visited_on") or None
        try:
            visited_on = date.fromisoformat(str(visited)) if visited else None
        except ValueError as exc:
            raise Refusal("bad_date", f"走访日期格式不对：{visited}（应为 YYYY-MM-DD）") from exc
        note = data.get("note") or ""
        if not isinstance(note, str):
            raise Refusal("bad_note", "说明必须是文字")
        form = data.get("form")
        if form is not None and not isinstance(form, dict):
            raise Refusal("bad_form", "走访表（form）应为对象")
        team = data.get("team")
        if isinstance(team, str):
            team = [t for t in re.split(r"[、,，\s]+", team) if t]
        return cls(
            action=str(data.get("action") or ""),
            note=note.strip(),
            proposal=(str(data["proposal"]) if data.get("proposal") else None),
            category=(str(data["category"]) if data.get("category") else None),
            decision=(str(data["decision"]) if data.get("decision") else None),
            visited_on=visited_on,
            form=form,
            visit_mode=str(data["visit_mode"]) if data.get("visit_mode") else None,
            team=tuple(str(t) for t in team) if team else None,
        )


@dataclass(frozen=True)
class ClueFacts:
    """What the workflow needs to know of a clue."""

    state: ClueState
    clue_date: date
    proposal: Proposal | None = None
    notice_from: date | None = None
    household_type: str | None = None  # 脱贫户 / 一般农户, if the roster has the household
    category: str | None = None  # proposed with an inclusion
    source: str = ClueSource.DEPARTMENT_WARNING
    household_kind: str | None = None  # campaign visits: which visit form applies
    asset_result: str | None = None  # the county's 财产检索 result (AssetResult), if recorded
    assistance: bool = False  # already 低保 or 特困: the earlier asset check is reused


@dataclass(frozen=True)
class Transition:
    step: Step  # published as Conclusion.step: the action, or "return"
    to_state: ClueState
    updates: dict[str, Any] = field(default_factory=dict)  # clue columns to set
    proposal: Proposal | None = None
    outcome: Outcome | None = None
    category: str | None = None
    note: str = ""


def visit_mode(value: str | None) -> VisitMode:
    try:
        return VisitMode(value or VisitMode.HOME)
    except ValueError:
        raise Refusal("bad_visit_mode", f"走访方式应为：{'、'.join(m.zh for m in VisitMode)}") from None


_NAME = re.compile(r"^[\u4e00-\u9fff·A-Za-z]{2,20}$")


def team_text(team: tuple[str, ...] | None) -> str | None:
    """The screening team as stored ("张三、李四"): two different names, or none recorded."""
    if not team:
        return None
    names = [t.strip() for t in team]
    if len(names) != 2 or len(set(names)) != 2 or not all(_NAME.match(n) for n in names):
        raise Refusal("bad_team", "排查工作组应为两名不同的人员姓名（2–20字），如：张三、李四")
    return "、".join(names)


def _need_note(req: Request, what: str) -> None:
    if len(req.note) < 2:
        raise Refusal("note_required", f"{what}必须填写说明（理由）")
    if len(req.note) > 500:
        raise Refusal("note_too_long", "说明不能超过 500 字")


def _returned(req: Request) -> Transition:
    _need_note(req, "退回")
    return Transition(
        Step.RETURN,
        ClueState.VISITED,
        # the proposal goes back to the village: a new one needs its own asset check (财产检索)
        {"proposal": None, "category": None, "notice_from": None, **ASSET_CHECK_CLEARED},
        note=req.note,
    )


ASSET_CHECK_CLEARED = {
    "asset_result": None,
    "asset_reason": None,
    "asset_found": None,
    "asset_checked_on": None,
    "asset_checked_by": None,
}


def decide(clue: ClueFacts, req: Request, role: Role, today: date, now: datetime) -> Transition:
    """The transition ``req`` makes, or a ``Refusal`` saying in Chinese why it is refused."""
    try:
        action = Step(req.action)
        if action not in ACTION_RULE:
            raise ValueError(action)
    except ValueError:
        raise Refusal("unknown_action", f"未知操作：{req.action or '（空）'}") from None
    if len(req.note) > 500:
        raise Refusal("note_too_long", "说明不能超过 500 字")
    need_state, need_role = ACTION_RULE[action]
    if role != need_role:
        raise Refusal(
            "wrong_role",
            f"“{action.zh}”须由{need_role.zh}账号办理，您是{role.zh}账号",
        )
    if clue.state == ClueState.CLOSED:
        raise Refusal("closed", "该线索已办结，不能再操作")
    if clue.state != need_state:
        raise Refusal(
            "out_of_order",
            f"当前环节是“{clue.state.zh}”，不能办理“{action.zh}”（须在“{need_state.zh}”环节）",
        )
    decision = req.decision
    if action not in (Step.VISIT, Step.CONCLUDE) and decision not in set(Decision):
        raise Refusal("decision_required", "请选择审核意见：通过、不予通过或退回")

    if action == Step.VISIT:
        visited_on = req.visited_on or today
        if visited_on > today:
            raise Refusal("visit_in_future", f"走访日期 {visited_on} 晚于今天，不能登记")
        if visited_on < clue.clue_date:
            raise Refusal("visit_before_clue", f"走访日期 {visited_on} 早于线索产生日期 {clue.clue_date}")
        mode = visit_mode(req.visit_mode)
        updates: dict[str, Any] = {
            "visited_on": visited_on.isoformat(),
            "visit_mode": mode.value,
            "visit_team": team_text(req.team),
            "online_pending": int(mode != VisitMode.HOME),
        }
        if mode != VisitMode.HOME:
            _need_note(req, f"{mode.zh}走访（说明不能入户的原因，如疫情防控）")
        if clue.household_kind:
            from screening.forms import check_answers  # noqa: PLC0415

            answers = check_answers(clue.household_kind, req.form or {})
            updates["form_json"] = json.dumps(answers, ensure_ascii=False, sort_keys=True)
        else:
            _need_note(req, "入户走访")
        return Transition(Step.VISIT, ClueState.VISITED, updates, note=req.note)

    if action == Step.CONCLUDE:
        try:
            proposal = Proposal(req.proposal or "")
        except ValueError:
            raise Refusal("proposal_required", "请选择核实结论") from None
        category = None
        if proposal == Proposal.NO_RISK and clue.source == ClueSource.CAMPAIGN:
            # a campaign visit that found no risk is recorded and closed: the filled form is the reason
            return Transition(
                Step.CONCLUDE,
                ClueState.CLOSED,
                {"proposal": proposal.value, "concluded_at": now.isoformat(timespec="seconds")},
                proposal=proposal,
                note=req.note,
            )
        if proposal == Proposal.NO_RISK:
            _need_note(req, "排除（无风险）")
        elif proposal == Proposal.ALREADY_MONITORED:
            _need_note(req, "记录新增风险")
        elif proposal == Proposal.INCLUDE:
            if req.category not in set(MonitoringCategory):
                raise Refusal(
                    "category_required", "拟纳入监测对象须选择类别：" + "、".join(MonitoringCategory)
                )
            if req.category == MonitoringCategory.UNSTABLE and clue.household_type not in (
                None,
                HouseholdType.FORMERLY_POOR,
            ):
                raise Refusal("category_mismatch", "只有脱贫户才能认定为脱贫不稳定户")
            category = req.category
        return Transition(
            Step.CONCLUDE,
            ClueState.PROPOSED,
            {
                "proposal": proposal.value,
                "category": category,
                "concluded_at": now.isoformat(timespec="seconds"),
            },
            proposal=proposal,
            category=category,
            note=req.note,
        )

    assert clue.proposal is not None, "a clue past the conclusion has a proposal"
    if decision == Decision.RETURN:
        return _returned(req)
    if action == Step.VILLAGE_REVIEW:
        if decision == Decision.REJECT:
            raise Refusal("reject_not_here", "村级评议不同意时请选择“退回重新核实”")
        if clue.proposal in NEEDS_NOTICE:
            return Transition(
                Step.VILLAGE_REVIEW, ClueState.NOTICE, {"notice_from": today.isoformat()}, note=req.note
            )
        return Transition(Step.VILLAGE_REVIEW, ClueState.TOWNSHIP, note=req.note)
    if action == Step.NOTICE_END:
        if decision == Decision.REJECT:
            raise Refusal("reject_not_here", "公示有异议时请选择“退回重新核实”")
        assert clue.notice_from is not None
        ends = clue.notice_from + timedelta(days=NOTICE_DAYS)
        if today < ends:
            raise Refusal(
                "notice_too_short",
                f"公示自 {clue.notice_from} 起不少于 {NOTICE_DAYS} 天，{ends} 起才能结束公示",
            )
        return Transition(Step.NOTICE_END, ClueState.TOWNSHIP, note=req.note)
    if action == Step.TOWNSHIP_REVIEW:
        if decision == Decision.REJECT:
            raise Refusal("reject_not_here", "乡镇审核不同意时请选择“退回重新核实”")
        return Transition(Step.TOWNSHIP_REVIEW, ClueState.COUNTY, note=req.note)
    # county decision
    if decision == Decision.REJECT:
        if clue.proposal != Proposal.INCLUDE:
            raise Refusal("reject_not_here", "只有拟纳入的线索可以“不予纳入”；其他情况请退回重新核实")
        outcome = Outcome.NOT_INCLUDED
    else:
        outcome = APPROVED_OUTCOME[clue.proposal]
        if outcome == Outcome.INCLUDED and not clue.assistance:
            if clue.asset_result is None:
                raise Refusal(
                    "asset_check_missing",
                    "纳入监测前须登记财产检索结果（低保、特困户沿用已有检索结果的除外）；请在“财产检索”名单中登记",
                )
            if clue.asset_result == AssetResult.FAILED:
                raise Refusal(
                    "asset_check_failed", "财产检索未通过，不能纳入；请审定为“不予纳入”或退回重新核实"
                )
    return Transition(
        Step.COUNTY_DECIDE,
        ClueState.CLOSED,
        {"outcome": outcome, "decided_at": now.isoformat(timespec="seconds")},
        proposal=clue.proposal,
        outcome=outcome,
        category=clue.category if outcome == Outcome.INCLUDED else None,
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
    state: ClueState, visit_by: date, decide_by: date, today: date, decided_on: date | None = None
) -> Deadline:
    """Where a clue stands against its deadlines on ``today`` (a day counts until it ends)."""
    if state == ClueState.CLOSED:
        late = decided_on is not None and decided_on > decide_by
        return Deadline(False, False, 0, "已办结（超期）" if late else "已办结")
    visit_overdue = state == ClueState.NEW and today > visit_by
    decide_overdue = today > decide_by
    target, what = (
        (visit_by, "走访") if state == ClueState.NEW and not decide_overdue else (decide_by, "认定")
    )
    days = (target - today).days
    if days < 0:
        label = f"{what}已超期 {-days} 天"
    elif days == 0:
        label = f"{what}今天到期"
    else:
        label = f"{what}剩 {days} 天"
    return Deadline(visit_overdue, decide_overdue, days, label)


SEVERITY_RANK = {s.value: rank for rank, s in enumerate(Severity)}


def urgency_key(dl: Deadline, severity: str, clue_date: date) -> tuple[int, int, int, str]:
    """Sort key: open before closed, most overdue / least time left first, then severity, then age."""
    closed = 1 if dl.label.startswith("已办结") else 0
    return (closed, dl.days_left, SEVERITY_RANK.get(severity, 3), clue_date.isoformat())
