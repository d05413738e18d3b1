"""``streams.faust_fixes.FirstStepInline``: mode's ``wait_first`` without a task per coroutine when
the first one completes without waiting, and mode's race, unchanged, when it has to wait."""

from __future__ import annotations

import asyncio
import warnings

import pytest
from mode import Service

from streams.faust_fixes import FirstStepInline


class Inline(FirstStepInline, Service):
    pass


async def _immediate(log: list[str]) -> str:
    log.append("ran")
    return "done"


@pytest.mark.asyncio
async def test_a_coroutine_that_need_not_wait_completes_inline_and_the_others_are_closed() -> None:
    service, suspend, log = Inline(), asyncio.Event(), []
    tasks_before = len(asyncio.all_tasks())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine never awaited (not closed) would warn
        results = await service.wait_first(_immediate(log), suspend.wait())
    assert results.results == ["done"]
    assert not results.stopped
    assert log == ["ran"]
    assert len(asyncio.all_tasks()) == tasks_before


@pytest.mark.asyncio
async def test_a_coroutine_that_waits_is_resumed_where_it_stopped_and_gives_its_result() -> None:
    service, suspend, queue = Inline(), asyncio.Event(), asyncio.Queue[int](maxsize=1)
    queue.put_nowait(0)  # full: the put below has to wait

    async def hand_over() -> str:
        await queue.put(1)
        return "delivered"

    waiting = asyncio.ensure_future(service.wait_first(hand_over(), suspend.wait()))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    assert queue.get_nowait() == 0  # room again: the put goes on from where it stopped
    results = await asyncio.wait_for(waiting, 1)
    assert results.results == ["delivered"]
    assert queue.get_nowait() == 1


@pytest.mark.asyncio
async def test_a_waiting_coroutine_is_cancelled_when_the_other_wins_as_in_modes_race() -> None:
    service, suspend, queue = Inline(), asyncio.Event(), asyncio.Queue[int](maxsize=1)
    queue.put_nowait(0)
    cancelled = asyncio.Event()

    async def hand_over() -> None:
        try:
            await queue.put(1)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    waiting = asyncio.ensure_future(service.wait_first(hand_over(), suspend.wait()))
    await asyncio.sleep(0.01)
    suspend.set()
    results = await asyncio.wait_for(waiting, 1)
    assert not results.stopped
    assert results.results == [True]  # the suspend event's wait won
    await asyncio.sleep(0)
    assert cancelled.is_set()
    assert queue.qsize() == 1


@pytest.mark.asyncio
async def test_an_error_in_the_first_step_propagates_and_the_others_are_closed() -> None:
    service, suspend = Inline(), asyncio.Event()

    async def broken() -> None:
        raise ValueError("bad record")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="bad record"):
            await service.wait_first(broken(), suspend.wait())


@pytest.mark.asyncio
async def test_a_stopped_service_reports_stopped_as_mode_does() -> None:
    service, suspend, log = Inline(), asyncio.Event(), []
    service._stopped.set()
    results = await service.wait_first(_immediate(log), suspend.wait())
    assert results.stopped
    assert log == ["ran"]  # mode's race also ran the first step
