"""The queue sink's roster-first rule when the fetcher was quicker than the pause: alert records
returned while the roster is still being read are not applied but fetched again later."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import TopicPartition

from screening.sink import RosterFirst


@dataclass
class _Msg:
    offset: int
    value: bytes = b"{}"


class _Consumer:
    """Only what RosterFirst.hold_back touches: seek."""

    def __init__(self) -> None:
        self.sought: dict[TopicPartition, int] = {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought[tp] = offset


ROSTER, ALERTS = TopicPartition("households", 0), TopicPartition("alerts", 1)


def test_alert_records_fetched_before_the_roster_is_read_are_sought_back() -> None:
    consumer = _Consumer()
    rf = RosterFirst(consumer, "households")  # type: ignore[arg-type]
    rf.waiting = {ROSTER: 10}
    got = {ROSTER: [_Msg(3), _Msg(4)], ALERTS: [_Msg(7), _Msg(8)]}
    assert rf.hold_back(got) == {ROSTER: got[ROSTER]}  # type: ignore[arg-type]
    assert consumer.sought == {ALERTS: 7}


def test_once_the_roster_is_read_everything_passes() -> None:
    consumer = _Consumer()
    rf = RosterFirst(consumer, "households")  # type: ignore[arg-type]
    got = {ROSTER: [_Msg(3)], ALERTS: [_Msg(7)]}
    assert rf.hold_back(got) == got  # type: ignore[arg-type]
    assert consumer.sought == {}
