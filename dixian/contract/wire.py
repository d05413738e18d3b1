"""Reading a topic's record: an accepted value or a dead letter, never an exception.

Every reader of a topic (the stream workers, the embedded runner, the backtest, the alert store's
sink) decodes through these functions, so a record is judged the same way wherever it is read.
Records are validated again when read: any producer with access can write to a topic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

import orjson
from pydantic import TypeAdapter, ValidationError

from dixian.contract.alerts import Alert, Conclusion
from dixian.contract.deadletter import DeadLetter
from dixian.contract.departments import Dept
from dixian.contract.events import DEPT_EVENT_ADAPTER, DeptEvent, now_china
from dixian.contract.feedruns import FeedRun
from dixian.contract.roster import Household
from dixian.contract.validate import ContractError, Problem, parse_event, problems_from

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Accepted(Generic[T]):
    """A record that passed the contract."""

    value: T


@dataclass(frozen=True, slots=True)
class Refused:
    """A record the contract refused, as the dead letter that says why."""

    letter: DeadLetter


Decoded: TypeAlias = Accepted[T] | Refused


def refusal(channel: str, problems: list[Problem], raw: bytes) -> Refused:
    """A record read from a topic and refused (``channel``: a department, roster, conclusions …)."""
    text = raw.decode("utf-8", errors="replace")
    return Refused(
        DeadLetter.from_problems(problems, source="stream", dept=channel, raw=text, at=now_china())
    )


def decode(
    raw: bytes,
    channel: str,
    validate: Callable[[Mapping[str, Any]], T],
    parse: Callable[[bytes], T] | None = None,
) -> Decoded[T]:
    """``raw`` accepted by ``validate`` (given the record's JSON object), or refused naming why.
    ``parse``, if given, validates straight from the JSON (pydantic's ``model_validate_json``): the
    common case, a valid record, costs one pass; whatever it refuses goes through ``validate``, which
    names the problems (both refuse the same records: non-JSON, NaN, lone surrogates, trailing text)."""
    if parse is not None:
        try:
            return Accepted(parse(raw))
        except ValidationError:
            pass
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        problems = [Problem("(record)", "not_json", "不是有效的JSON", f"not valid JSON: {exc}")]
    else:
        if not isinstance(data, Mapping):
            problems = [Problem("(record)", "not_object", "记录不是JSON对象", "record is not a JSON object")]
        else:
            try:
                return Accepted(validate(data))
            except ContractError as exc:
                problems = exc.problems
            except ValidationError as exc:
                problems = problems_from(exc)
    return refusal(channel, problems, raw)


def decode_event(raw: bytes, dept: Dept) -> Decoded[DeptEvent]:
    """A record of ``dept.<dept>``."""
    return decode(raw, dept.value, lambda data: parse_event(data, dept=dept))


def decode_household(raw: bytes) -> Decoded[Household]:
    """A record of the households (roster) topic."""
    return decode(raw, "roster", Household.model_validate, Household.model_validate_json)


def decode_conclusion(raw: bytes) -> Decoded[Conclusion]:
    """A record of the screening.conclusions topic."""
    return decode(raw, "conclusions", Conclusion.model_validate, Conclusion.model_validate_json)


def decode_alert(raw: bytes) -> Decoded[Alert]:
    """A record of the alerts topic."""
    return decode(raw, "alerts", Alert.model_validate, Alert.model_validate_json)


def decode_feed_run(raw: bytes) -> Decoded[FeedRun]:
    """A record of the feed-runs topic (a delivery's facts)."""
    return decode(raw, "feed_runs", FeedRun.model_validate, FeedRun.model_validate_json)


# ---- department records: one event, or a batch of them --------------------------------------------
_EVENTS_ADAPTER: TypeAdapter[list[DeptEvent]] = TypeAdapter(list[DeptEvent])


def _owned(events: list[DeptEvent], dept: Dept) -> bool:
    """Whether every event is one ``dept`` may publish, as ``parse_event`` requires."""
    for e in events:
        model = type(e)
        if model.owner != dept or e.dept != dept or (model.member_level and e.member_id is None):
            return False
    return True


def batch_value(values: list[bytes]) -> bytes:
    """One record's value for several events' JSON: the JSON array of them (one event: itself)."""
    return values[0] if len(values) == 1 else b"[" + b",".join(values) + b"]"


def decode_events(raw: bytes, dept: Dept) -> list[Decoded[DeptEvent]]:
    """A record of ``dept.<dept>``: one event (a JSON object, as any outside client sends) or a
    batch of events (a JSON array of such objects, as the project's bulk producers send). Each event
    is accepted or refused on its own; a refused event's dead letter holds that event's JSON.

    The common case — every event valid — is validated straight from the JSON in one pass; anything
    else is decoded event by event through ``parse_event``, which names every problem."""
    head = raw.lstrip()[:1]
    try:
        if head == b"[":
            events = _EVENTS_ADAPTER.validate_json(raw)
        else:
            events = [DEPT_EVENT_ADAPTER.validate_json(raw)]
        if events and _owned(events, dept):
            return [Accepted(e) for e in events]
    except ValidationError:
        pass
    if head != b"[":
        return [decode_event(raw, dept)]
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return [decode_event(raw, dept)]
    if not items:
        return []
    return [decode_event(orjson.dumps(item), dept) for item in items]
