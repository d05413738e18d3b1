from __future__ import annotations

from decimal import Decimal

import pytest

from dixian.contract import MODEL_BY_TYPE, ContractError, Dept, event_identity, parse_event
from dixian.contract.events import MedicalSettlement, identity_from_json
from tests.helpers import settlement


def test_valid_settlement_parses_with_china_time() -> None:
    ev = parse_event(settlement(), dept=Dept.MEDICAL_INSURANCE)
    assert isinstance(ev, MedicalSettlement)
    assert ev.out_of_pocket == Decimal("8200.00")
    assert ev.reported_at.utcoffset() is not None
    assert ev.reported_at.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]


def test_every_event_type_has_exactly_one_owner() -> None:
    assert set(MODEL_BY_TYPE)
    assert all(m.owner in Dept for m in MODEL_BY_TYPE.values())
    # Every department publishes at least one event type.
    assert {m.owner for m in MODEL_BY_TYPE.values()} == set(Dept)


def test_event_from_non_owning_department_is_refused() -> None:
    with pytest.raises(ContractError) as exc:
        parse_event(settlement(), dept=Dept.CIVIL_AFFAIRS)
    (problem,) = exc.value.problems
    assert problem.code == "ownership_conflict"
    assert "一数一源" in problem.zh
    assert "医保局" in problem.zh


def test_all_field_problems_reported_at_once() -> None:
    with pytest.raises(ContractError) as exc:
        parse_event(
            settlement(out_of_pocket="abc", village_code="123", visit="home"), dept=Dept.MEDICAL_INSURANCE
        )
    fields = {p.field for p in exc.value.problems}
    assert fields == {"out_of_pocket", "village_code", "visit"}


def test_unknown_fields_and_types_refused() -> None:
    with pytest.raises(ContractError) as exc:
        parse_event(settlement(bank_account="6222"), dept=Dept.MEDICAL_INSURANCE)
    assert exc.value.problems[0].code == "extra_forbidden"
    with pytest.raises(ContractError) as exc:
        parse_event(settlement(event_type="medical.unknown"), dept=Dept.MEDICAL_INSURANCE)
    assert exc.value.problems[0].code == "unknown_event_type"


def test_member_level_event_requires_member() -> None:
    with pytest.raises(ContractError) as exc:
        parse_event(settlement(member_id=None), dept=Dept.MEDICAL_INSURANCE)
    assert exc.value.problems[0].field == "member_id"


def _identity(**overrides: object) -> str:
    return event_identity(parse_event(settlement(**overrides), dept=Dept.MEDICAL_INSURANCE))


def test_event_identity_is_deterministic_and_content_based() -> None:
    assert _identity() == _identity()
    assert _identity() != _identity(out_of_pocket="1.00")
    # one amount, three spellings
    assert (
        _identity(out_of_pocket="8200") == _identity(out_of_pocket="8200.0") == _identity(out_of_pocket=8200)
    )
    # the report time and any given id are delivery metadata, not content
    assert _identity() == _identity(reported_at="2022-07-01 09:00:00", event_id="other-id-123")
    # one definition: the ingester's single-serialization path agrees with event_identity
    ev = parse_event(settlement(event_id="pending-event-id"), dept=Dept.MEDICAL_INSURANCE)
    assert identity_from_json("medical_insurance", ev.model_dump_json()) == _identity()
    # a corrected record keeps its department record id but is a new event
    assert _identity(source_ref="A1", total_cost="10") != _identity(source_ref="A1", total_cost="11")


def test_a_village_code_that_contradicts_the_household_number_is_refused() -> None:
    with pytest.raises(ContractError) as err:
        parse_event(settlement(village_code="450321101202"), dept=Dept.MEDICAL_INSURANCE)
    assert [(p.field, p.code) for p in err.value.problems] == [("village_code", "village_household_mismatch")]
    assert "450321101201" in err.value.problems[0].en
    # a household number that does not embed a village code is not checked against one
    parse_event(
        settlement(household_id="HH-0000-77", village_code="450321101202"), dept=Dept.MEDICAL_INSURANCE
    )


def test_the_roster_refuses_a_village_that_contradicts_the_household_number() -> None:
    from pydantic import ValidationError  # noqa: PLC0415

    from dixian.contract import Household  # noqa: PLC0415
    from tests.helpers import resident_id  # noqa: PLC0415

    record = {
        "household_id": "4503211012010001",
        "village_code": "450323102201",
        "household_type": "一般农户",
        "per_capita_income": "9000",
        "members": [{"member_id": resident_id(), "relation": "户主"}],
    }
    with pytest.raises(ValidationError, match="行政村代码与户编号不符"):
        Household.model_validate(record)


def test_an_event_reported_before_it_occurred_is_refused() -> None:
    with pytest.raises(ContractError) as err:
        parse_event(
            settlement(occurred_at="2022-07-01", reported_at="2022-06-30 18:00:00"),
            dept=Dept.MEDICAL_INSURANCE,
        )
    assert [(p.field, p.code) for p in err.value.problems] == [("reported_at", "reported_before_occurred")]
    # the same day is fine (a bill settled and reported on the day)
    parse_event(
        settlement(occurred_at="2022-06-30", reported_at="2022-06-30 18:00:00"), dept=Dept.MEDICAL_INSURANCE
    )
