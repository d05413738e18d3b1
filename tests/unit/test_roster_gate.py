"""The worker's roster gate: when a partition's roster counts as read."""

from __future__ import annotations

from aiokafka import TopicPartition

from streams.app import CLOCK_MARGIN_S, RosterGate

TOPIC = "households"


def _gate(highwater: int | None) -> RosterGate:
    gate = RosterGate(TOPIC, lambda tp: highwater)
    gate.done[0] = -1  # assigned, nothing committed
    gate.ends[0] = 0  # the roster partition was empty when it was assigned
    return gate


def test_a_partition_not_assigned_is_never_read() -> None:
    assert not RosterGate(TOPIC, lambda tp: 10).ready(3)


def test_a_partition_is_read_once_its_last_known_record_is_processed() -> None:
    gate = _gate(highwater=3)
    assert not gate.ready(0)
    gate.seen(0, 1)
    assert not gate.ready(0)
    gate.seen(0, 2)
    assert gate.ready(0)


def test_a_stale_highwater_is_confirmed_before_department_records_are_processed() -> None:
    """The roster partition's last fetch saw 3 records; 2 more were written before a department's
    records that arrived in a later fetch. Asked again, the gate holds their events."""
    gate = _gate(highwater=3)
    gate.seen(0, 2)
    assert gate.to_confirm({0: 1000.0}) == [TopicPartition(TOPIC, 0)]
    gate.confirm({TopicPartition(TOPIC, 0): 5}, asked_at=1001.0)
    assert not gate.ready(0)
    assert gate.to_confirm({0: 1000.0}) == []  # not read: its events are held anyway, nothing to ask
    gate.seen(0, 4)
    assert gate.ready(0)


def test_records_written_well_before_the_last_question_need_no_new_one() -> None:
    """A backlog: one question answers for every record written more than the clock margin before
    it; a record written after it (live) asks again."""
    gate = _gate(highwater=3)
    gate.seen(0, 2)
    gate.confirm({TopicPartition(TOPIC, 0): 3}, asked_at=1000.0)
    assert gate.ready(0)
    assert gate.to_confirm({0: 1000.0 - CLOCK_MARGIN_S - 1}) == []
    assert gate.to_confirm({0: 1000.0 - CLOCK_MARGIN_S + 1}) == [TopicPartition(TOPIC, 0)]
    assert gate.to_confirm({1: 0.0}) == []  # not assigned here


def test_a_chunk_waits_for_no_question_and_its_unconfirmed_partitions_count_as_unread() -> None:
    """A live chunk is judged without asking: a partition whose end would need a new question counts
    as not read for it (its events of households without a roster record are held), one whose last
    question covers the chunk's records counts as read."""
    gate = _gate(highwater=3)
    gate.seen(0, 2)
    assert gate.ready(0)
    ready = gate.ready_for({0: 1000.0})
    assert not ready(0)
    assert not ready(1)  # not assigned here
    gate.confirm({TopicPartition(TOPIC, 0): 3}, asked_at=1001.0 + CLOCK_MARGIN_S)
    assert gate.ready_for({0: 1000.0})(0)
    gate.confirm({TopicPartition(TOPIC, 0): 5}, asked_at=1002.0 + CLOCK_MARGIN_S)
    assert not gate.ready_for({0: 1000.0})(0)  # two roster records to go: not read either way


def test_confirmation_never_moves_the_end_back_nor_adopts_a_revoked_partition() -> None:
    gate = _gate(highwater=None)
    gate.confirm({TopicPartition(TOPIC, 0): 4}, asked_at=1.0)
    gate.confirm({TopicPartition(TOPIC, 0): 2, TopicPartition(TOPIC, 1): 9}, asked_at=2.0)
    assert gate.ends == {0: 4}
    assert gate.asked_at == {0: 2.0}


def test_every_topic_is_stamped_by_the_broker() -> None:
    """The gate's margin reasons about when records were written: an outside producer's clock (or a
    backfill with old timestamps) must not decide that, the broker's append time does."""
    from dixian.config import Settings  # noqa: PLC0415
    from dixian.topics import Topics  # noqa: PLC0415

    for spec in Topics(Settings()).all():
        assert spec.config()["message.timestamp.type"] == "LogAppendTime", spec.name
