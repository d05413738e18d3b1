from __future__ import annotations

from decimal import Decimal

import orjson

from dixian.contract import Dept, parse_event
from streams.core import apply_event, intake
from tests.helpers import settlement


def _ev(**kw: object):  # type: ignore[no-untyped-def]
    return parse_event(settlement(**kw), dept=Dept.MEDICAL_INSURANCE)


def test_apply_event_accumulates_rolling_twelve_months() -> None:
    s, applied = apply_event(
        None, _ev(event_id="medi-00000001", occurred_at="2021-05-01", out_of_pocket="100")
    )
    assert applied
    s, _ = apply_event(s, _ev(event_id="medi-00000002", occurred_at="2022-03-01", out_of_pocket="200"))
    s, _ = apply_event(s, _ev(event_id="medi-00000003", occurred_at="2022-06-01", out_of_pocket="300"))
    # 2021-05-01 is more than 365 days before 2022-06-01 and was dropped.
    assert s.out_of_pocket_12m(s.last_event_at) == Decimal(500)  # type: ignore[arg-type]
    assert len(s.medical_costs) == 2
    assert s.events_seen == 3


def test_redelivered_event_is_not_applied_twice() -> None:
    ev = _ev()
    s, _ = apply_event(None, ev)
    s2, applied = apply_event(s, ev)
    assert not applied
    assert s2 == s


def test_intake_routes_garbage_and_valid_records() -> None:
    ok = intake(orjson.dumps(settlement()), Dept.MEDICAL_INSURANCE)
    assert ok.value is not None
    assert ok.dead_letter is None
    bad = intake(b"[1,2]", Dept.MEDICAL_INSURANCE)
    assert bad.value is None
    assert bad.dead_letter is not None
    assert bad.dead_letter.code == "not_object"
    assert bad.dead_letter.raw == "[1,2]"
    not_utf8 = intake(b"\xff\xfe", Dept.WATER)
    assert not_utf8.dead_letter is not None
    assert not_utf8.dead_letter.code == "not_json"


def test_refused_roster_and_conclusion_records_become_dead_letters() -> None:
    from streams.core import intake_conclusion, intake_roster  # noqa: PLC0415

    bad_roster = intake_roster(orjson.dumps({"household_id": "1", "members": []}))
    assert bad_roster.value is None
    assert bad_roster.dead_letter is not None
    assert bad_roster.dead_letter.dept == "roster"
    assert {p["field"] for p in bad_roster.dead_letter.problems} >= {"household_id", "village_code"}
    bad_conclusion = intake_conclusion(b"{oops")
    assert bad_conclusion.value is None
    assert bad_conclusion.dead_letter is not None
    assert bad_conclusion.dead_letter.code == "not_json"
    assert bad_conclusion.dead_letter.dept == "conclusions"


def test_a_processing_error_becomes_a_dead_letter_with_the_error() -> None:
    from streams.app import processing_error  # noqa: PLC0415

    letter = processing_error("water", b'{"event_id": "x"}', KeyError("hh_size"))
    assert (letter.code, letter.dept, letter.source) == ("processing_error", "water", "stream")
    assert "KeyError" in letter.reason_en
    assert "运维" in letter.reason_zh
    assert letter.raw == '{"event_id": "x"}'
