"""The one command line: ``dixian <command>``. It parses and delegates; logic lives elsewhere."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dixian.config import Settings

app = typer.Typer(
    name="dixian",
    help="底线 dixian: 防返贫动态监测预警 — early warning against relapse into poverty.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
kafka_app = typer.Typer(help="The local single-node Apache Kafka broker (KRaft).", no_args_is_help=True)
topics_app = typer.Typer(help="Create and list the project's topics.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
app.add_typer(topics_app, name="topics")

console = Console(stderr=True)
REPO_ROOT = Path(__file__).resolve().parents[1]
KAFKA_SCRIPT = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


@app.callback()
def main_options(
    ctx: typer.Context,
    bootstrap: Annotated[
        str | None,
        typer.Option(envvar="DIXIAN_KAFKA_BOOTSTRAP", show_envvar=True, help="Kafka bootstrap servers"),
    ] = None,
    topic_prefix: Annotated[
        str | None, typer.Option(envvar="DIXIAN_TOPIC_PREFIX", show_envvar=True, help="Prefix of every topic")
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(envvar="DIXIAN_PARTITIONS", show_envvar=True, help="Partitions of keyed topics"),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(envvar="DIXIAN_DATA_DIR", show_envvar=True, help="Local state directory")
    ] = None,
) -> None:
    overrides: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "topic_prefix": topic_prefix,
        "partitions": partitions,
        "data_dir": data_dir,
    }
    try:
        ctx.obj = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        console.print(f"[red]配置错误 / configuration error:[/] {exc}")
        raise typer.Exit(2) from None


@app.command("config")
def config_cmd(ctx: typer.Context) -> None:
    """Print the settings in force (secrets masked) and the environment variable of each."""
    table = Table("setting", "value", "environment variable")
    for name, value in _settings(ctx).masked().items():
        table.add_row(name, str(value), f"DIXIAN_{name.upper()}")
    Console().print(table)


# ---- kafka -----------------------------------------------------------------------------------------
def _run_kafka_script(settings: Settings, *args: str) -> int:
    if not KAFKA_SCRIPT.exists():
        console.print(
            f"[red]{KAFKA_SCRIPT} not found:[/] run dixian from a source checkout (pip install -e .)"
        )
        return 2
    _host, _, port = settings.kafka_bootstrap.split(",")[0].rpartition(":")
    env = {
        **os.environ,
        "DIXIAN_KAFKA_PORT": port or "9092",
        "DIXIAN_CACHE_DIR": str(settings.cache_dir),
    }
    if "DIXIAN_KAFKA_DIR" not in os.environ:
        env["DIXIAN_KAFKA_DIR"] = str((settings.data_dir / "kafka").resolve())
    return subprocess.call(["bash", str(KAFKA_SCRIPT), *args], env=env)


@kafka_app.command("start")
def kafka_start(
    ctx: typer.Context,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", envvar="DIXIAN_KAFKA_FRESH", show_envvar=True, help="Wipe the data first"),
    ] = False,
) -> None:
    """Fetch Kafka from Maven Central (first time), start it, wait until it answers, create the topics."""
    settings = _settings(ctx)
    rc = _run_kafka_script(settings, "start", *(["--fresh"] if fresh else []))
    if rc != 0:
        raise typer.Exit(rc)
    _create_topics(settings)


@kafka_app.command("stop")
def kafka_stop(ctx: typer.Context) -> None:
    """Stop the broker and wait until its JVM has exited."""
    raise typer.Exit(_run_kafka_script(_settings(ctx), "stop"))


@kafka_app.command("status")
def kafka_status(ctx: typer.Context) -> None:
    """Broker state, version, cluster id and topics; exit code 1 when it is not running."""
    raise typer.Exit(_run_kafka_script(_settings(ctx), "status"))


# ---- topics ----------------------------------------------------------------------------------------
def _create_topics(settings: Settings) -> None:
    from connectors.kafka import TopicMismatchError, ensure_topics  # noqa: PLC0415
    from dixian.topics import Topics  # noqa: PLC0415

    try:
        created = asyncio.run(
            ensure_topics(settings.kafka_bootstrap, Topics(settings).all(), settings.replication_factor)
        )
    except TopicMismatchError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if created:
        console.print(f"created {len(created)} topics ({settings.partitions} partitions each where keyed)")


@topics_app.command("create")
def topics_create(ctx: typer.Context) -> None:
    """Create every topic the project uses (idempotent; refuses partition-count changes)."""
    _create_topics(_settings(ctx))


@topics_app.command("list")
def topics_list(ctx: typer.Context) -> None:
    """List the topics on the broker."""
    from connectors.kafka import list_topics  # noqa: PLC0415

    for name in asyncio.run(list_topics(_settings(ctx).kafka_bootstrap)):
        print(name)


# ---- worker ----------------------------------------------------------------------------------------
@app.command("worker")
def worker_cmd(
    ctx: typer.Context,
    web_port: Annotated[
        int,
        typer.Option(
            envvar="DIXIAN_WEB_PORT", show_envvar=True, help="Faust web port; 0 disables the web server"
        ),
    ] = 6066,
    metrics_port: Annotated[
        int,
        typer.Option(
            envvar="DIXIAN_METRICS_PORT", show_envvar=True, help="Prometheus /metrics port; 0 = off"
        ),
    ] = 9464,
    worker_id: Annotated[
        str, typer.Option(envvar="DIXIAN_WORKER_ID", show_envvar=True, help="Faust app id = consumer group")
    ] = "dixian",
) -> None:
    """Run a stream worker against the broker. Start more workers to share the partitions."""
    from faust.worker import Worker  # noqa: PLC0415
    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415

    from streams.app import create_app  # noqa: PLC0415

    settings = _settings(ctx).model_copy(update={"web_port": web_port, "worker_id": worker_id})
    _create_topics(settings)
    registry = CollectorRegistry()
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
    faust_app = create_app(settings, registry)
    worker = Worker(faust_app, loglevel=settings.log_level.lower(), quiet=True)
    worker.execute_from_commandline()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
