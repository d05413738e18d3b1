"""Round trips and the resident-ID checksum, checked over generated inputs."""

from __future__ import annotations

import string
from datetime import date, datetime, time, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dixian.contract import DEPT_EVENT_ADAPTER, EVENT_MODELS, Dept
from dixian.contract.ids import check_resident_id, resident_id_check_char
from dixian.contract.samples import SAMPLE_PAYLOADS
from dixian.contract.wire import Accepted, Refused, decode_event

WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]  # the definition: W_i = 2^(i-1) mod 11, i from 18 down


def _definition_valid(v: str) -> bool:
    """ISO 7064 MOD 11-2 straight from the standard: sum(a_i * W_i) + check ≡ 1 (mod 11)."""
    check = 10 if v[17] == "X" else int(v[17])
    return (sum(int(d) * w for d, w in zip(v[:17], WEIGHTS, strict=True)) + check) % 11 == 1


first17 = st.builds(
    lambda region, birth, seq: region + birth.strftime("%Y%m%d") + seq,
    st.sampled_from(["110105", "450321", "450332", "650102"]),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)),
    st.text(alphabet=string.digits, min_size=3, max_size=3),
)


@given(first17, st.sampled_from("0123456789X"))
def test_validator_agrees_with_checksum_definition(head: str, last: str) -> None:
    value = head + last
    try:
        check_resident_id(value)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == _definition_valid(value)
    assert _definition_valid(head + resident_id_check_char(head))


def _event_strategy(model: type[Any]) -> st.SearchStrategy[Any]:
    head = first17
    return st.builds(
        lambda h, oc, lag, eid: model.model_validate(
            {
                **_minimal_payload(model),
                "event_id": eid,
                "dept": model.owner.value,
                "household_id": "4503211012010001",
                "member_id": h + resident_id_check_char(h),
                "village_code": "450321101201",
                "occurred_at": oc,
                "reported_at": datetime.combine(oc, time()) + lag,  # reported on or after the day
            }
        ),
        head,
        st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 1, 1)),
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
        st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=8, max_size=40),
    )


def _minimal_payload(model: type[Any]) -> dict[str, Any]:
    return SAMPLE_PAYLOADS[model.model_fields["event_type"].default]


@settings(max_examples=50)
@given(st.one_of(*[_event_strategy(m) for m in EVENT_MODELS]))
def test_every_event_round_trips_through_json(event: Any) -> None:
    assert DEPT_EVENT_ADAPTER.validate_json(event.model_dump_json()) == event


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_garbage_never_crashes_stream_decoding(raw: bytes) -> None:
    result = decode_event(raw, Dept.WATER)
    assert isinstance(result, Accepted | Refused)
