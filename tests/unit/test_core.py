from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from dixian.contract import Dept, parse_event
from dixian.contract.wire import Accepted, Refused, decode_conclusion, decode_event, decode_household
from streams.core import apply_event
from tests.helpers import HOUSEHOLD, settlement


@pytest.fixture
def live() -> Iterator[Any]:
    """The rule catalogue in force (durable_rules), closed after the test."""
    from rules.live import LiveCatalogue  # noqa: PLC0415

    catalogue = LiveCatalogue()
    yield catalogue
    catalogue.close()


def _ev(**kw: object):  # type: ignore[no-untyped-def]
    return parse_event(settlement(**kw), dept=Dept.MEDICAL_INSURANCE)


def test_apply_event_accumulates_rolling_twelve_months() -> None:
    s, applied = apply_event(
        None, _ev(event_id="medi-00000000", occurred_at="2020-05-01", out_of_pocket="50")
    )
    assert applied
    s, _ = apply_event(s, _ev(event_id="medi-00000001", occurred_at="2021-05-01", out_of_pocket="100"))
    s, _ = apply_event(s, _ev(event_id="medi-00000002", occurred_at="2022-03-01", out_of_pocket="200"))
    s, _ = apply_event(s, _ev(event_id="medi-00000003", occurred_at="2022-06-01", out_of_pocket="300"))
    # 2021-05-01 is more than 365 days before 2022-06-01: kept (a late record dated before it would
    # still find it) but not counted; 2020-05-01 is more than KEPT_DAYS before the newest: dropped.
    assert s.out_of_pocket_12m(s.last_event_at) == 500  # type: ignore[arg-type]
    assert [c.event_id for c in s.medical_costs] == ["medi-00000001", "medi-00000002", "medi-00000003"]


def test_redelivered_event_is_not_applied_twice() -> None:
    ev = _ev()
    s, _ = apply_event(None, ev)
    s2, applied = apply_event(s, ev)
    assert not applied
    assert s2 == s


def test_decoding_routes_garbage_and_valid_records() -> None:
    ok = decode_event(orjson.dumps(settlement()), Dept.MEDICAL_INSURANCE)
    assert isinstance(ok, Accepted)
    bad = decode_event(b"[1,2]", Dept.MEDICAL_INSURANCE)
    assert isinstance(bad, Refused)
    assert bad.letter.code == "not_object"
    assert bad.letter.raw == "[1,2]"
    not_utf8 = decode_event(b"\xff\xfe", Dept.WATER)
    assert isinstance(not_utf8, Refused)
    assert not_utf8.letter.code == "not_json"


def test_refused_roster_and_conclusion_records_become_dead_letters() -> None:
    bad_roster = decode_household(orjson.dumps({"household_id": "1", "members": []}))
    assert isinstance(bad_roster, Refused)
    assert bad_roster.letter.dept == "roster"
    assert {p["field"] for p in bad_roster.letter.problems} >= {"household_id", "village_code"}
    bad_conclusion = decode_conclusion(b"{oops")
    assert isinstance(bad_conclusion, Refused)
    assert bad_conclusion.letter.code == "not_json"
    assert bad_conclusion.letter.dept == "conclusions"


def test_a_roster_record_is_judged_alike_straight_from_json_and_from_its_object() -> None:
    """decode_household validates a record straight from its JSON and, for what that refuses, from
    the parsed object (which names the problems): both must accept and refuse the same records."""
    from dixian.contract import Household  # noqa: PLC0415
    from tests.helpers import resident_id  # noqa: PLC0415

    record = {
        "household_id": HOUSEHOLD,
        "village_code": HOUSEHOLD[:12],
        "household_type": "一般农户",
        "per_capita_income": 9000.5,  # a JSON number becomes the same amount either way
        "members": [{"member_id": resident_id(), "relation": "户主", "name": "黄小梅"}],
    }
    raw = orjson.dumps(record)
    ok = decode_household(raw)
    assert isinstance(ok, Accepted)
    assert ok.value == Household.model_validate(orjson.loads(raw))
    assert str(ok.value.per_capita_income) == "9000.50"
    for bad in (
        raw + b" x",  # trailing text
        raw.replace(b"9000.5", b"NaN"),
        raw.replace("黄小梅".encode(), b"\\ud800"),  # a lone surrogate
        raw.replace("黄小梅".encode(), b"\xff\xfe"),  # not UTF-8
    ):
        refused = decode_household(bad)
        assert isinstance(refused, Refused), bad
        assert refused.letter.code == "not_json", bad


def test_a_processing_error_becomes_a_dead_letter_with_the_error() -> None:
    from streams.driver import processing_error  # noqa: PLC0415

    letter = processing_error("water", b'{"event_id": "x"}', KeyError("hh_size"))
    assert (letter.code, letter.dept, letter.source) == ("processing_error", "water", "stream")
    assert "KeyError" in letter.reason_en
    assert "运维" in letter.reason_zh
    assert letter.raw == '{"event_id": "x"}'


def test_the_driver_turns_a_failing_core_into_a_dead_letter_and_writes_no_state(
    monkeypatch: pytest.MonkeyPatch, live: Any
) -> None:
    import streams.driver as driver_module  # noqa: PLC0415
    from dixian.config import Settings  # noqa: PLC0415
    from dixian.contract.deadlines import Deadlines  # noqa: PLC0415
    from dixian.topics import Topics  # noqa: PLC0415

    def broken(*_: object, **__: object) -> None:
        raise KeyError("hh_size")

    monkeypatch.setattr(driver_module, "process_event", broken)
    topics = Topics(Settings())
    driver = driver_module.Driver(topics, live, Deadlines())
    record = driver_module.InputRecord(
        topics.dept(Dept.MEDICAL_INSURANCE), HOUSEHOLD.encode(), orjson.dumps(settlement())
    )
    effects = driver.process([record], lambda key: None)
    assert [x.code for x in effects.dead_letters] == ["processing_error"]
    assert effects.states == {}
    assert effects.alerts == []
    assert effects.counts["dead_letters", ("medical_insurance", "processing_error")] == 1


def test_a_copy_of_an_event_that_waits_for_the_roster_is_counted_as_a_redelivery(live: Any) -> None:
    """Every department record reconciles: consumed = applied + held + redelivered + dead letters,
    also when both copies of an event come while its household waits for its roster record."""
    from dixian.config import Settings  # noqa: PLC0415
    from dixian.contract.deadlines import Deadlines  # noqa: PLC0415
    from dixian.topics import Topics  # noqa: PLC0415
    from streams.driver import Driver, InputRecord  # noqa: PLC0415

    topics = Topics(Settings())
    driver = Driver(topics, live, Deadlines(), partitions=1)
    value = orjson.dumps(settlement())
    record = InputRecord(topics.dept(Dept.MEDICAL_INSURANCE), HOUSEHOLD.encode(), value, 0)
    effects = driver.process([record, record], lambda key: None, lambda partition: False)
    released = driver.release([HOUSEHOLD.encode()], effects.states.get)
    dept = ("medical_insurance",)
    assert effects.counts["events_consumed", dept] == 2
    assert (effects.counts["events_held", dept], effects.counts["redeliveries", dept]) == (1, 1)
    assert [e for _, e, _ in effects.states[HOUSEHOLD.encode()].held] == [settlement()["event_id"]]
    assert released.counts["events_applied", dept] == 1
    assert released.states[HOUSEHOLD.encode()].events_seen == 1


def _alerts_in(order: list[Any], live: Any) -> tuple[dict[str, tuple[Any, ...]], Any]:
    """The alerts (latest revision per id) and the state after these events, in this order."""
    from streams.core import process_event  # noqa: PLC0415

    state, out = None, {}
    for event in order:
        outcome = process_event(state, event, live)
        state = outcome.state
        for alert in outcome.published:
            d = alert.doc()
            out[d["alert_id"]] = (
                d["rule_id"],
                d["revision"],
                d["hits"],
                [t["event_id"] for t in d["triggering_events"]],
            )
    return out, state


def test_a_settlement_dated_before_a_judged_one_judges_it_again(live: Any) -> None:
    """9,000 yuan in May (reported late, in August) and 9,000 in June: the June settlement's 12-month
    total (18,000) is over the threshold (17,000 fires, 15,000 does not) whichever came first."""
    may = _ev(
        event_id="medi-00000010",
        occurred_at="2022-05-01",
        reported_at="2022-08-30 18:00:00",
        visit="outpatient",
        out_of_pocket="9000",
    )
    june = _ev(event_id="medi-00000011", occurred_at="2022-06-01", visit="outpatient", out_of_pocket="9000")
    in_date_order, _ = _alerts_in([may, june], live)
    late_last, state = _alerts_in([june, may], live)
    assert list(in_date_order.values()) == [("MI-OOP-OTHER", 1, 1, ["medi-00000011"])]
    assert late_last == in_date_order
    june_kept = next(c for c in state.medical_costs if c.event_id == "medi-00000011")
    assert june_kept.fired == ("MI-OOP-OTHER",)


def test_a_settlement_judged_again_is_counted_once(live: Any) -> None:
    """June alone (17,500) is over the threshold; May's arrival judges June again, which must not
    count June's hit a second time."""
    may = _ev(event_id="medi-00000020", occurred_at="2022-05-01", visit="outpatient", out_of_pocket="9000")
    june = _ev(event_id="medi-00000021", occurred_at="2022-06-01", visit="outpatient", out_of_pocket="17500")
    in_date_order, _ = _alerts_in([may, june], live)
    late_last, state = _alerts_in([june, may], live)
    assert list(in_date_order.values()) == [("MI-OOP-OTHER", 1, 1, ["medi-00000021"])]
    assert late_last == in_date_order
    from streams.core import decode_state, encode_state  # noqa: PLC0415

    assert decode_state(state.household_id, encode_state(state)) == state  # what was judged is kept


def test_a_redelivered_settlement_sends_again_the_alerts_its_judging_again_made(live: Any) -> None:
    """The alert that May's arrival makes names only June; May sent again (its first sending may
    have been lost in a crash) must send it again."""
    from dixian.config import Settings  # noqa: PLC0415
    from dixian.contract.deadlines import Deadlines  # noqa: PLC0415
    from dixian.topics import Topics  # noqa: PLC0415
    from streams.core import HouseholdState  # noqa: PLC0415
    from streams.driver import Driver, InputRecord  # noqa: PLC0415

    topics = Topics(Settings())
    driver = Driver(topics, live, Deadlines())
    states: dict[bytes, HouseholdState] = {}

    def send(event: Any) -> list[str]:
        record = InputRecord(
            topics.dept(Dept.MEDICAL_INSURANCE), HOUSEHOLD.encode(), event.model_dump_json().encode()
        )
        effects = driver.process([record], states.get)
        states.update(effects.states)
        return [a.doc()["rule_id"] for a in effects.published]

    may = _ev(event_id="medi-00000030", occurred_at="2022-05-01", visit="outpatient", out_of_pocket="9000")
    june = _ev(event_id="medi-00000031", occurred_at="2022-06-01", visit="outpatient", out_of_pocket="9000")
    assert send(june) == []
    assert send(may) == ["MI-OOP-OTHER"]
    assert send(may) == ["MI-OOP-OTHER"]
