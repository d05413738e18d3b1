"""Process entry points behind ``dixian screening …`` and ``dixian users …`` (the CLI only parses)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web

from connectors.sinks import KafkaSink, LocalSink, Sink
from dixian.config import Settings, redact_url
from dixian.topics import Topics
from screening.sink import SinkStats, run_kafka_sink, sync_local
from screening.store import Store, open_store
from screening.web import create_app, today_note

log = logging.getLogger("dixian.screening")


def store_for(settings: Settings) -> Store:
    return open_store(settings.screening_url(), settings.now, settings.visit_days)


def serve(settings: Settings, *, local_dir: Path | None, host: str, port: int) -> None:
    """The officers' web page and API; steps are published to Kafka, or to ``local_dir`` (embedded)."""
    store = store_for(settings)
    outbox: Sink = LocalSink(local_dir) if local_dir else KafkaSink(settings.kafka_bootstrap)
    secure = settings.screening_secure_cookies or settings.environment == "production"
    app = create_app(store, outbox, Topics(settings), today_note(store), secure_cookies=secure)
    where = f"local files in {local_dir}" if local_dir else f"Kafka at {settings.kafka_bootstrap}"
    print(
        f"村级自查队列 / village queue: http://{host}:{port}/  (API: http://{host}:{port}/api/docs)\n"
        f"store {redact_url(settings.screening_url())}; screening steps go to {where}",
        flush=True,
    )
    web.run_app(app, host=host, port=port, print=None, access_log=None)
    store.db.close()


def sink(settings: Settings, *, until_caught_up: bool) -> SinkStats:
    """Consume the alerts and roster topics into the store until stopped (SIGTERM/SIGINT)."""
    store = store_for(settings)

    async def main() -> SinkStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await run_kafka_sink(
            settings,
            store,
            until_caught_up=until_caught_up,
            stop=stop,
            on_batch=lambda s: log.info("%s", s.line()),
        )

    try:
        return asyncio.run(main())
    finally:
        store.db.close()


def load_local(settings: Settings, local_dir: Path) -> SinkStats:
    store = store_for(settings)
    try:
        return sync_local(store, local_dir, Topics(settings))
    finally:
        store.db.close()
