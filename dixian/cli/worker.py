"""``dixian worker``: a stream worker against the broker."""

from __future__ import annotations

from typing import Annotated

import typer

from dixian.cli._shared import env_help, override
from dixian.cli.kafka import create_topics
from dixian.privacy import install_log_masking
from dixian.service import keep_watchdog_fed, notify
from dixian.topics import Topics


def worker_cmd(
    ctx: typer.Context,
    web_port: Annotated[
        int | None, typer.Option(**env_help("web_port", "Faust web port; 0 disables the web server"))
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(**env_help("metrics_port", "Prometheus /metrics port; 0 = off"))
    ] = None,
    worker_id: Annotated[
        str | None, typer.Option(**env_help("worker_id", "Faust app id = consumer group"))
    ] = None,
) -> None:
    """Run a stream worker against the broker. Start more workers to share the partitions."""
    from faust.worker import Worker as FaustWorker  # noqa: PLC0415
    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415

    from streams.app import Worker  # noqa: PLC0415
    from streams.faust_fixes import worker_runtime  # noqa: PLC0415

    worker_runtime()
    settings = override(ctx, web_port=web_port, metrics_port=metrics_port, worker_id=worker_id)
    install_log_masking()
    create_topics(settings, Topics(settings).for_worker())  # the worker may describe no others
    registry = CollectorRegistry()
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="127.0.0.1", registry=registry)
    worker = Worker(settings, registry)
    worker.app.task(keep_watchdog_fed)  # from the event loop: a stalled loop stops feeding it

    class SupervisedWorker(FaustWorker):
        async def on_startup_finished(self) -> None:
            await super().on_startup_finished()
            notify("READY=1")  # recovered and consuming

        async def on_stop(self) -> None:
            notify("STOPPING=1")  # a graceful stop: the batch in hand settles, then Faust commits
            await super().on_stop()

    calm_garbage_collector()
    SupervisedWorker(worker.app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()


def calm_garbage_collector() -> None:
    """The worker allocates many short-lived objects per event, and Python's cycle collector would
    walk everything the process has loaded (Faust, pydantic's schemas, the catalogue) again and
    again: what exists at start-up is frozen out of its way, and it runs less often."""
    import gc  # noqa: PLC0415

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
