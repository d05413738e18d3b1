"""Three defects of faust-streaming 0.15.3 that lose records when a worker starts on a backlog or
takes over from one that died, and the worker's fixes for them (subclasses, no patched library);
and a fourth, the fetch's long poll, that delays live records (``ShortPollConsumerThread``).

Found by reading the pinned sources and reproducing each with a real broker (paths relative to
site-packages):

1. Never-committed partitions are not read again (records lost, or partitions left unconsumed with
   no error). A fetch issued before a revoke can return records of the new assignment while Faust has
   paused it; Faust drops them and calls ``Consumer.perform_seek``, which seeks to the committed
   offset — but aiokafka's ``seek_to_committed`` seeks only when the offset is > 0
   (aiokafka/consumer/consumer.py:901) and Faust maps a committed 0 to None
   (faust/transport/consumer.py:571-576). A partition nobody committed yet stays where the fetcher
   was: past the dropped records. ``RewindingConsumer`` seeks such partitions to their first offset
   after Faust's own seek, which is where ``auto_offset_reset=earliest`` would start: at worst
   records are delivered twice, which the core absorbs by event id.

2. Resuming the flow after recovery wipes records already handed out. ``flow_control.resume()``
   (faust/tables/recovery.py:659) clears every stream queue and cancels the conductor's blocked put,
   though records of the current generation have been flowing since the partitions were resumed
   (recovery.py:649) while ``perform_seek`` ran (one OffsetFetch round trip per partition: seconds
   with many partitions on a remote broker). Reproduced with hundreds to 4,096 records wiped at
   once. They are never acked: on a partition with a committed offset Faust then refuses to commit
   past the hole and the lag stays stuck until the next rebalance; on a never-committed partition
   it commits past it and the records are lost. ``KeepLiveEventsOnResume`` clears only what is
   stale (another generation, a topic Faust does not ack, or during recovery) and leaves blocked
   putters alone.

3. Partitions that once filled a stream queue stay "buffered" across rebalances
   (consumer.py:554-559, 641-664), so their records can pass Faust's filter while paused during
   recovery. ``RewindingConsumer`` forgets them on every assignment.

And one cost: Faust hands every record to its streams through mode's ``Service.wait_first``
(consumer.py:1220), four tasks and an ``asyncio.wait`` a record, ~90 µs on the project's machine;
``FirstStepInline`` runs the hand-over inline when it does not have to wait.

``tests/integration/test_faust_races.py`` reproduces 1 and 2 with real worker processes: stock
``faust.App`` loses records in every run, this App in none, and each fix is needed (measured 7/7 and
0/7 per scenario).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from functools import cached_property
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from mode import Service
from mode.services import WaitArgT, WaitResults
from mode.utils.queues import FlowControlEvent

FETCH_MAX_WAIT_MS = 20  # see ShortPollConsumerThread


class _Resumed:
    """Awaiting it goes on with a coroutine that has already run to its first suspension (``first``:
    what it yielded there), exactly as awaiting the coroutine would have: whatever it yields goes to
    the task, whatever the task sends or throws (a cancellation) goes to it."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro = coro
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self._coro, self._first
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # handed to the coroutine, as await does
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


class FirstStepInline(Service):
    """mode's ``wait_first`` races its coroutines, each in a task of its own, against the service
    stopping or crashing: four tasks and an ``asyncio.wait``, then three cancellations, for every
    record Faust's consumer hands to the streams (``wait_first(callback(message),
    suspend_flow.wait())``, consumer.py:1220). The hand-over nearly always completes without
    waiting (the stream's queue has room), so the first coroutine's first step runs inline: done
    there, the others are closed unstarted and the result is what mode returns; suspended, the race
    is mode's, with the coroutine resumed where it stopped. The first step ran first in mode's race
    too (its task is scheduled first), so the order of effects is the same; the one difference is that
    the step runs in the caller's context rather than a copy of it, and Faust's hand-over sets no
    context variable."""

    async def wait_first(self, *coros: WaitArgT, timeout: Any = None) -> WaitResults:
        first = coros[0] if coros else None
        if timeout is not None or not isinstance(first, Coroutine):
            return await super().wait_first(*coros, timeout=timeout)
        try:
            pending = first.send(None)
        except StopIteration as stop:
            _close(coros[1:])
            await asyncio.sleep(0)  # the caller still yields to the loop once, as in mode's race
            if self._stopped.is_set() or self._crashed.is_set():
                return WaitResults([], [], True)
            return WaitResults([first], [stop.value], False)
        except BaseException:
            _close(coros[1:])
            raise
        return await super().wait_first(_Resumed(first, pending), *coros[1:])


def _close(coros: tuple[WaitArgT, ...]) -> None:
    for coro in coros:
        if isinstance(coro, Coroutine):
            coro.close()


class RewindingConsumer(FirstStepInline, aiokafka_driver.Consumer):
    async def perform_seek(self) -> None:
        await super().perform_seek()
        app = self.app
        never = [
            tp
            for tp in self.assignment()
            if app.topics.acks_enabled_for(tp.topic) and not self._committed_offset.get(tp)
        ]
        if never:
            first = await self.earliest_offsets(*never)
            await self.seek_wait({tp: first[tp] for tp in never})  # thread-safe, unlike seek()
            for tp in never:
                self._read_offset[tp] = None  # accept every offset again

    async def on_partitions_assigned(self, assigned: Any, generation_id: int = 0) -> None:
        self._buffered_partitions.clear()
        await super().on_partitions_assigned(assigned, generation_id)


class ShortPollConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust creates its aiokafka consumer with ``fetch_max_wait_ms=1500`` (drivers/aiokafka.py:615).
    aiokafka leaves out of a fetch the partitions whose fetched records are not yet taken, and sends
    no other fetch to that broker while one is pending (consumer/fetcher.py:597-611): a record that
    arrives on a left-out partition waits for the pending fetch, up to 1.5 s when the partitions it
    asked for stay quiet. A long poll of ``FETCH_MAX_WAIT_MS`` bounds that wait; it costs an empty
    fetch that often on an idle worker."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when its fetcher starts
        return consumer


class ShortPollConsumer(RewindingConsumer):
    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return ShortPollConsumerThread(self, loop=self.loop, beacon=self.beacon)


class RewindingTransport(aiokafka_driver.Transport):
    Consumer = ShortPollConsumer


class KeepLiveEventsOnResume(FlowControlEvent):
    def __init__(self, app: faust.App, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._app = app

    def _live(self, item: Any) -> bool:
        message = getattr(item, "message", None)
        app = self._app
        return (
            message is not None
            and not app.in_recovery
            and app.topics.acks_enabled_for(message.topic)
            and message.generation_id == app.consumer_generation_id
        )

    def resume(self) -> None:
        # mode's resume() without its clear(): the same two events, then each stream queue keeps its
        # live items; the changelog queue (and everything while recovering) is cleared as Faust does
        self._suspend.clear()
        self._resume.set()
        changelog_queue = getattr(self._app.tables, "_changelog_queue", None)
        for queue in list(self._queues):
            if queue is changelog_queue or self._app.in_recovery:
                queue.clear()
                continue
            items: Any = queue._queue  # type: ignore[attr-defined]  # asyncio.Queue's deque
            live = [item for item in items if self._live(item)]
            items.clear()
            items.extend(live)


class App(faust.App):
    """``faust.App`` with the fixes above in place."""

    def _new_transport(self) -> Any:
        return RewindingTransport(self.conf.broker_consumer, self)

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return KeepLiveEventsOnResume(self, loop=self.loop)


GIL_SWITCH_INTERVAL_S = 0.05


def hand_gil_over_less_often() -> None:
    """Let the thread that holds the GIL keep it up to 50 ms (CPython's default: 5 ms) before a
    waiting thread may take it. Faust's consumer runs in a thread of its own, with its own event
    loop, and wakes ~140 times a second while a backlog drains; each wake-up made the main thread,
    busy in the core, hand the GIL over and wait to be woken again (~200 voluntary context switches a
    second; the main thread got 0.70-0.84 of a core while always runnable). Measured
    (bench/README.md, session 13): department events drained ~1.2x faster, five pairs; latency of
    single events at 200/s within noise (the GIL is free when the worker is not saturated)."""
    import sys  # noqa: PLC0415

    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def worker_runtime() -> None:
    """The interpreter settings a worker runs with (the ceiling bench uses the same).

    The event loop stays asyncio's. uvloop (sessions 12-13) applied the roster ~25% faster, but
    about one close in eight of a TLS connection with a response still arriving waited for its 30 s
    SSL shutdown timeout (uvloop issue #471). The store's changelog reader closes such a connection
    inside Faust's assignment callback: the callback outlived the session, the worker was dropped
    from the group while it went on writing (observed in the worker logs). The cluster test's wrong
    alerts in CI are consistent with that, but their logs were not kept: that link is inferred
    (bench/README.md, session 14; ``test_the_worker_runtime_closes_a_tls_connection_at_once``)."""
    hand_gil_over_less_often()
