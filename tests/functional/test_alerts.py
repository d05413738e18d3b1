"""Alert semantics of the stream core, with the shipped catalogue in durable_rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dixian.contract import Dept, parse_event
from dixian.contract.alerts import Alert, Conclusion
from rules.live import LiveCatalogue
from streams.core import HouseholdState, apply_conclusion, process_event, window_of
from tests.helpers import HOUSEHOLD, VILLAGE


@pytest.fixture(scope="module")
def live() -> Iterator[LiveCatalogue]:
    lc = LiveCatalogue()
    yield lc
    lc.close()


def _housing(n: int, day: str, grade: str = "D", reported: str | None = None) -> Any:
    return parse_event(
        {
            "event_id": f"hous-{n:08d}",
            "event_type": "housing.dwelling_rated",
            "household_id": HOUSEHOLD,
            "village_code": VILLAGE,
            "occurred_at": day,
            "reported_at": f"{reported or day} 18:00:00",
            "grade": grade,
        },
        dept=Dept.HOUSING,
    )


def _run(events: list[Any], live: LiveCatalogue, state: HouseholdState | None = None) -> dict[str, Alert]:
    alerts: dict[str, Alert] = {}
    for e in events:
        out = process_event(state, e, live)
        state = out.state
        for doc in out.alerts:
            alerts[doc["alert_id"]] = Alert.model_validate(doc)
    return alerts


def test_same_rule_inside_window_updates_one_alert(live: LiveCatalogue) -> None:
    alerts = _run([_housing(1, "2022-06-03"), _housing(2, "2022-06-20", "C")], live)
    (alert,) = alerts.values()
    start, end = window_of(alert.triggering_events[0].occurred_at, 180)
    assert alert.alert_id == Alert.make_id(HOUSEHOLD, "HO-UNSAFE-DWELLING", start)
    assert (alert.revision, alert.hits, alert.window_start, alert.window_end) == (2, 2, start, end)
    assert alert.evidence["event.grade"] == "C"
    assert alert.risk_label == "住房安全"
    assert alert.guarantee == "housing"
    assert alert.severity == "high"
    assert str(alert.visit_by) == "2022-06-08"
    assert str(alert.decide_by) == "2022-06-18"


def test_next_window_opens_a_new_alert(live: LiveCatalogue) -> None:
    alerts = _run([_housing(1, "2022-06-03"), _housing(2, "2022-12-23")], live)
    assert len(alerts) == 2
    assert {a.revision for a in alerts.values()} == {1}


def test_processing_order_does_not_change_the_alert(live: LiveCatalogue) -> None:
    a, b = (
        _housing(1, "2022-06-03", "D", reported="2022-06-30"),
        _housing(2, "2022-06-20", "C", reported="2022-06-25"),
    )
    first = _run([a, b], live)
    second = _run([b, a], live)
    assert first.keys() == second.keys()
    (x,), (y,) = first.values(), second.values()
    assert x.model_dump(exclude={"catalogue_version"}) == y.model_dump(exclude={"catalogue_version"})
    assert str(x.decide_by) == "2022-07-10"  # from the earliest report


def test_redelivered_event_produces_nothing(live: LiveCatalogue) -> None:
    e = _housing(1, "2022-06-03")
    out = process_event(None, e, live)
    again = process_event(out.state, e, live)
    assert len(out.alerts) == 1
    assert not again.applied
    assert again.alerts == ()
    assert again.state == out.state


def test_conclusions_change_later_rule_outcomes(live: LiveCatalogue) -> None:
    disability = parse_event(
        {
            "event_id": "disa-00000001",
            "event_type": "disability.certified",
            "household_id": HOUSEHOLD,
            "village_code": VILLAGE,
            "occurred_at": "2022-06-20",
            "reported_at": "2022-06-30 10:00:00",
            "member_id": "11010519491231002X",
            "grade": 3,
            "kind": "physical",
        },
        dept=Dept.DISABILITY,
    )

    def rules_after(outcome: str | None) -> set[str]:
        state = None
        if outcome:
            state, _ = apply_conclusion(
                None,
                Conclusion(
                    conclusion_id=f"c-{outcome}",
                    household_id=HOUSEHOLD,
                    village_code=VILLAGE,
                    outcome=outcome,  # type: ignore[arg-type]
                    decided_at="2022-06-10T10:00:00+08:00",
                    decided_by="county",
                ),
            )  # type: ignore[arg-type]
        return {a["rule_id"] for a in process_event(state, disability, live).alerts}

    assert rules_after(None) == {"DI-NEW-CERT"}
    assert rules_after("included") == {"DI-NEW-CERT", "HH-MONITORED-NEW-RISK"}
    assert rules_after("eliminated") == {"DI-NEW-CERT", "HH-ELIMINATED-RELAPSE"}
    assert rules_after("excluded") == {"DI-NEW-CERT"}


def test_redelivered_event_can_resend_the_alerts_it_touched(live: LiveCatalogue) -> None:
    """The outbox: after a crash the alert records may be lost while the state survived."""
    from streams.core import touched_by  # noqa: PLC0415

    first, second = _housing(1, "2022-06-03"), _housing(2, "2022-06-20", "C")
    state = process_event(None, first, live).state
    state = process_event(state, second, live).state
    (resent,) = touched_by(state, first.event_id)
    assert resent.doc()["revision"] == 2  # the current revision, which also carries the later hit
    assert touched_by(state, "no-such-event") == []


def test_state_survives_its_table_encoding(live: LiveCatalogue) -> None:
    """The worker's table holds ``encode_state``: every field must come back as it was."""
    import orjson  # noqa: PLC0415

    from dixian.contract import Household  # noqa: PLC0415
    from streams.core import (  # noqa: PLC0415
        StateFormatError,
        apply_roster,
        decode_state,
        encode_state,
        hold,
        holds_events,
        released,
    )
    from tests.helpers import resident_id, settlement  # noqa: PLC0415

    roster = Household.model_validate(
        {
            "household_id": HOUSEHOLD,
            "village_code": VILLAGE,
            "household_type": "脱贫户",
            "per_capita_income": "7300.50",
            "dibao": True,
            "risk_types": ["因病"],
            "members": [
                {"member_id": resident_id(seq="123"), "relation": "户主", "seriously_ill": True},
                {
                    "member_id": resident_id(seq="456"),
                    "relation": "子女",
                    "can_work": False,
                    "disabled": True,
                },
            ],
        }
    )
    state = apply_roster(None, roster)
    job_loss = parse_event(
        {
            "event_id": "hrss-00000001",
            "event_type": "employment.job_lost",
            "household_id": HOUSEHOLD,
            "village_code": VILLAGE,
            "member_id": resident_id(seq="456"),
            "occurred_at": "2022-06-01",
            "reported_at": "2022-06-02 09:00:00",
        },
        dept=Dept.HRSS,
    )
    diagnosis = parse_event(
        {
            "event_id": "heal-00000001",
            "event_type": "health.serious_illness",
            "household_id": HOUSEHOLD,
            "village_code": VILLAGE,
            "member_id": resident_id(seq="123"),
            "occurred_at": "2022-06-05",
            "reported_at": "2022-06-06 09:00:00",
        },
        dept=Dept.HEALTH,
    )
    payment = parse_event(
        settlement(household_id=HOUSEHOLD, village_code=VILLAGE), dept=Dept.MEDICAL_INSURANCE
    )
    for e in (_housing(1, "2022-06-03"), _housing(2, "2022-06-20", "C"), job_loss, diagnosis, payment):
        state = process_event(state, e, live).state
    held = hold(state, _housing(3, "2022-06-21"))
    assert held is not None
    state = held
    state, _ = apply_conclusion(
        state,
        Conclusion(
            conclusion_id="clue-1#1",
            household_id=HOUSEHOLD,
            village_code=VILLAGE,
            alert_id=None,
            step="county_decide",
            outcome="included",
            category="边缘易致贫户",
            decided_at="2022-06-25T10:00:00+08:00",  # type: ignore[arg-type]
            decided_by="county-reviewer",
        ),
    )
    assert state.alert_docs
    assert state.profile is not None
    assert state.status_override
    assert state.job_losses
    assert state.diagnoses
    assert state.held
    raw = encode_state(state)
    assert decode_state(HOUSEHOLD, raw) == state
    assert holds_events(raw)
    assert not holds_events(encode_state(released(state)[0]))
    assert decode_state(HOUSEHOLD, encode_state(released(state)[0])).alert_docs == state.alert_docs
    # the alerts' documents follow the head unparsed, one per line
    head, *docs = raw.split(b"\n")
    assert [orjson.loads(d) for d in docs] == list(state.alert_docs)
    # a table written by the previous version (format 2: whole documents inside the array) is read
    row = orjson.loads(head)
    row[0], row[13] = 2, list(state.alert_docs)
    assert decode_state(HOUSEHOLD, orjson.dumps(row)) == state
    # format 3 kept each settlement's first four values: read, not to be judged again
    row = orjson.loads(head)
    row[0], row[6] = 3, [c[:4] for c in row[6]]
    older = decode_state(HOUSEHOLD, b"\n".join([orjson.dumps(row), *docs]))
    assert state.medical_costs
    assert [c[:4] for c in older.medical_costs] == [c[:4] for c in state.medical_costs]
    assert all(c.rest is None and c.fired == () for c in older.medical_costs)
    assert older._replace(medical_costs=state.medical_costs) == state
    with pytest.raises(StateFormatError):  # an index that does not match the documents
        decode_state(HOUSEHOLD, raw.rsplit(b"\n", 1)[0])
    bare = encode_state(apply_roster(None, roster))
    assert HOUSEHOLD.encode() not in bare  # the key is not repeated in the value
    assert len(bare) < 200  # a roster-only household stays small
    with pytest.raises(StateFormatError):
        decode_state(HOUSEHOLD, orjson.dumps([99, "x"]))
    with pytest.raises(StateFormatError):
        decode_state(HOUSEHOLD, b"{not json")


def test_encoded_states_hold_no_more_memory_than_their_length() -> None:
    """The table keeps every encoded state: 1,000 roster households must take ~their bytes, not
    orjson's 4 KiB buffer each (1M households would need 4 GB)."""
    import tracemalloc  # noqa: PLC0415

    from streams.core import HouseholdProfile, encode_state  # noqa: PLC0415

    state = HouseholdState(
        household_id=HOUSEHOLD,
        village_code=VILLAGE,
        profile=HouseholdProfile(type="一般农户", income_pc=9000.0),
    )
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [encode_state(state) for _ in range(1000)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1000 * (len(kept[0]) + 200)
