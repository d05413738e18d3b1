"""The identification workflow as a pure state machine: order, roles, required reasons, deadlines."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from dixian.contract.events import CHINA_TZ
from dixian.contract.vocabulary import ClueState, Proposal, Role
from screening.refusal import Refusal
from screening.web.common import status_of
from screening.workflow import ACTION_RULE, ClueFacts, Request, deadline, decide

TODAY = date(2022, 7, 1)
NOW = datetime(2022, 7, 1, 10, tzinfo=CHINA_TZ)


def facts(state: ClueState, proposal: Proposal | None = None, **kw: object) -> ClueFacts:
    return ClueFacts(state=state, clue_date=date(2022, 6, 30), proposal=proposal, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("proposal", "path"),
    [
        (Proposal.INCLUDE, [ClueState.NOTICE, ClueState.TOWNSHIP, ClueState.COUNTY, ClueState.CLOSED]),
        (Proposal.ELIMINATE, [ClueState.NOTICE, ClueState.TOWNSHIP, ClueState.COUNTY, ClueState.CLOSED]),
        (Proposal.NO_RISK, [ClueState.TOWNSHIP, ClueState.COUNTY, ClueState.CLOSED]),
        (Proposal.ALREADY_MONITORED, [ClueState.TOWNSHIP, ClueState.COUNTY, ClueState.CLOSED]),
    ],
)
def test_notice_only_for_status_changes(proposal: Proposal, path: list[ClueState]) -> None:
    t = decide(
        facts(ClueState.PROPOSED, proposal),
        Request("village_review", decision="approve"),
        Role.VILLAGE,
        TODAY,
        NOW,
    )
    assert t.to_state == path[0]


def test_every_action_is_refused_in_every_other_state() -> None:
    for action, (state, role) in ACTION_RULE.items():
        for other in ClueState:
            if other == state:
                continue
            req = Request(action.value, note="说明文字", proposal="no_risk", decision="approve")
            with pytest.raises(Refusal) as exc:
                decide(facts(other, Proposal.NO_RISK, notice_from=date(2022, 6, 1)), req, role, TODAY, NOW)
            assert exc.value.code in ("out_of_order", "closed")


def test_wrong_role_is_named_in_chinese() -> None:
    with pytest.raises(Refusal) as exc:
        decide(
            facts(ClueState.COUNTY, Proposal.INCLUDE),
            Request("county_decide", decision="approve"),
            Role.TOWNSHIP,
            TODAY,
            NOW,
        )
    assert status_of(exc.value) == 403
    assert "县级" in exc.value.zh
    assert "乡镇" in exc.value.zh


def test_an_inclusion_needs_a_passed_asset_check_unless_dibao_or_tekun() -> None:
    approve = Request("county_decide", decision="approve")
    for missing in (facts(ClueState.COUNTY, Proposal.INCLUDE, category="边缘易致贫户"),):
        with pytest.raises(Refusal, match="asset_check_missing"):
            decide(missing, approve, Role.COUNTY, TODAY, NOW)
    failed = facts(ClueState.COUNTY, Proposal.INCLUDE, category="边缘易致贫户", asset_result="failed")
    with pytest.raises(Refusal, match="asset_check_failed"):
        decide(failed, approve, Role.COUNTY, TODAY, NOW)
    # a failed check: the county decides 不予纳入
    assert decide(failed, Request("county_decide", decision="reject"), Role.COUNTY, TODAY, NOW).outcome == (
        "not_included"
    )
    # 低保/特困: the earlier check is reused
    reused = facts(ClueState.COUNTY, Proposal.INCLUDE, category="边缘易致贫户", assistance=True)
    assert decide(reused, approve, Role.COUNTY, TODAY, NOW).outcome == "included"
    # other outcomes need none
    eliminate = facts(ClueState.COUNTY, Proposal.ELIMINATE)
    assert decide(eliminate, approve, Role.COUNTY, TODAY, NOW).outcome == "eliminated"


def test_county_outcomes() -> None:
    county = facts(ClueState.COUNTY, Proposal.INCLUDE, category="边缘易致贫户", asset_result="passed")
    approve = decide(county, Request("county_decide", decision="approve"), Role.COUNTY, TODAY, NOW)
    assert (approve.outcome, approve.category, approve.to_state) == (
        "included",
        "边缘易致贫户",
        ClueState.CLOSED,
    )
    reject = decide(county, Request("county_decide", decision="reject"), Role.COUNTY, TODAY, NOW)
    assert reject.outcome == "not_included"
    assert reject.category is None
    with pytest.raises(Refusal, match="reject_not_here"):
        decide(
            facts(ClueState.COUNTY, Proposal.NO_RISK),
            Request("county_decide", decision="reject"),
            Role.COUNTY,
            TODAY,
            NOW,
        )
    back = decide(
        county, Request("county_decide", decision="return", note="收入核算有误"), Role.COUNTY, TODAY, NOW
    )
    assert back.to_state == ClueState.VISITED
    assert back.step == "return"
    assert back.updates["proposal"] is None
    with pytest.raises(Refusal, match="note_required"):
        decide(county, Request("county_decide", decision="return"), Role.COUNTY, TODAY, NOW)


def test_inclusion_needs_a_category_that_fits_the_household() -> None:
    visited = facts(ClueState.VISITED, household_type="一般农户")
    with pytest.raises(Refusal, match="category_required"):
        decide(visited, Request("conclude", proposal="include"), Role.VILLAGE, TODAY, NOW)
    with pytest.raises(Refusal, match="category_mismatch"):
        decide(
            visited,
            Request("conclude", proposal="include", category="脱贫不稳定户"),
            Role.VILLAGE,
            TODAY,
            NOW,
        )


def test_visit_dates_are_checked() -> None:
    new = facts(ClueState.NEW)
    with pytest.raises(Refusal, match="visit_in_future"):
        decide(new, Request("visit", note="走访", visited_on=date(2022, 7, 2)), Role.VILLAGE, TODAY, NOW)
    with pytest.raises(Refusal, match="visit_before_clue"):
        decide(new, Request("visit", note="走访", visited_on=date(2022, 6, 1)), Role.VILLAGE, TODAY, NOW)


def test_deadlines_turn_overdue_the_day_after() -> None:
    visit_by, decide_by = date(2022, 7, 5), date(2022, 7, 15)
    assert deadline(ClueState.NEW, visit_by, decide_by, date(2022, 7, 5)).label == "走访今天到期"
    d = deadline(ClueState.NEW, visit_by, decide_by, date(2022, 7, 6))
    assert d.visit_overdue
    assert not d.decide_overdue
    assert d.label == "走访已超期 1 天"
    d = deadline(ClueState.TOWNSHIP, visit_by, decide_by, date(2022, 7, 15))
    assert not d.overdue
    assert d.label == "认定今天到期"
    d = deadline(ClueState.TOWNSHIP, visit_by, decide_by, date(2022, 7, 16))
    assert d.decide_overdue
    assert d.days_left == -1
    assert (
        deadline(ClueState.CLOSED, visit_by, decide_by, date(2022, 8, 1), date(2022, 7, 20)).label
        == "已办结（超期）"
    )
    assert (
        deadline(ClueState.CLOSED, visit_by, decide_by, date(2022, 8, 1), date(2022, 7, 10)).label == "已办结"
    )
