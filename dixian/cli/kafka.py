"""``dixian kafka …`` (the local single-node broker) and ``dixian topics …``."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Annotated

import typer

from dixian.cli._shared import REPO_ROOT, console, fail, or_exit, settings_of
from dixian.cluster import Cluster, ClusterError
from dixian.config import Settings
from dixian.topics import Topics, TopicSpec

KAFKA_SCRIPT = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"
kafka_app = typer.Typer(help="The local single-node Apache Kafka broker (KRaft).", no_args_is_help=True)
topics_app = typer.Typer(help="Create and list the project's topics.", no_args_is_help=True)


def run_kafka_script(settings: Settings, *args: str) -> int:
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


def create_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> None:
    """Create the missing topics (default: every topic of the deployment)."""
    from connectors.kafka import TopicMismatchError, ensure_topics  # noqa: PLC0415

    try:
        created = asyncio.run(
            ensure_topics(settings.kafka, specs or Topics(settings).all(), settings.replication_factor)
        )
    except TopicMismatchError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if created:
        console.print(f"created {len(created)} topics ({settings.partitions} partitions each where keyed)")


@kafka_app.command("start")
def kafka_start(
    ctx: typer.Context,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", envvar="DIXIAN_KAFKA_FRESH", show_envvar=True, help="Wipe the data first"),
    ] = False,
) -> None:
    """Fetch Kafka from Maven Central (first time), start it, wait until it answers, create the topics."""
    settings = settings_of(ctx)
    rc = run_kafka_script(settings, "start", *(["--fresh"] if fresh else []))
    if rc != 0:
        raise typer.Exit(rc)
    create_topics(settings)


@kafka_app.command("stop")
def kafka_stop(ctx: typer.Context) -> None:
    """Stop the broker and wait until its JVM has exited."""
    raise typer.Exit(run_kafka_script(settings_of(ctx), "stop"))


@kafka_app.command("status")
def kafka_status(ctx: typer.Context) -> None:
    """Broker state, version, cluster id and topics; exit code 1 when it is not running."""
    raise typer.Exit(run_kafka_script(settings_of(ctx), "status"))


@topics_app.command("create")
def topics_create(ctx: typer.Context) -> None:
    """Create every topic the project uses (idempotent; refuses partition-count changes)."""
    create_topics(settings_of(ctx))


@topics_app.command("list")
def topics_list(ctx: typer.Context) -> None:
    """List the topics on the broker."""
    from connectors.kafka import list_topics  # noqa: PLC0415

    for name in asyncio.run(list_topics(settings_of(ctx).kafka)):
        print(name)


cluster_app = typer.Typer(
    help="The secured three-broker cluster (TLS, SASL/SCRAM, ACLs; deploy/kafka/cluster.sh).",
    no_args_is_help=True,
)


def _cluster(ctx: typer.Context) -> Cluster:
    return Cluster(settings_of(ctx))


@cluster_app.command("start")
def cluster_start(
    ctx: typer.Context,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            envvar="DIXIAN_CLUSTER_FRESH",
            show_envvar=True,
            help="Wipe the brokers' data first (keeps TLS and passwords)",
        ),
    ] = False,
) -> None:
    """Start three brokers (TLS material and passwords made on first start), then set every principal's
    SCRAM password, apply the ACL plan and create the topics with three replicas."""
    c = _cluster(ctx)
    console.print(f"starting the cluster in {c.directory} (first start: ~1 min) ...")
    for line in or_exit(lambda: c.start(fresh=fresh), ClusterError):
        console.print(line)
    console.print(f"ready: {c.bootstrap}; a process's settings: dixian cluster env <principal>")


@cluster_app.command("stop")
def cluster_stop(ctx: typer.Context) -> None:
    """Stop the three brokers together (controlled shutdown)."""
    print(or_exit(lambda: _cluster(ctx).script("stop"), ClusterError), end="")


@cluster_app.command("status")
def cluster_status(ctx: typer.Context) -> None:
    """Each node's state and the cluster's topics; exit code 1 unless all three answer."""
    c = _cluster(ctx)
    out = c.script("status", check=False)
    print(out, end="")
    raise typer.Exit(0 if "brokers=3" in out else 1)


@cluster_app.command("env")
def cluster_env(
    ctx: typer.Context,
    principal: Annotated[str, typer.Argument(help="operator, connectors, worker, sink, web or dept-<code>")],
) -> None:
    """The DIXIAN_KAFKA_* settings of a process running as PRINCIPAL, as KEY=value lines (a systemd
    EnvironmentFile; `set -a; . file` in a shell). Contains the password: write it to a 0600 file."""
    from dixian.acls import principals  # noqa: PLC0415

    if principal not in principals():
        fail(f"no principal {principal!r}; the principals are: {', '.join(principals())}")
    for key, value in _cluster(ctx).environ(principal).items():
        print(f"{key}={value}")


@cluster_app.command("acls")
def cluster_acls(
    ctx: typer.Context,
    applied: Annotated[
        bool,
        typer.Option(
            "--applied",
            envvar="DIXIAN_CLUSTER_APPLIED",
            show_envvar=True,
            help="The ACLs the running cluster holds",
        ),
    ] = False,
) -> None:
    """The ACL plan of this deployment (topic prefix, worker id), one ACL per line."""
    c = _cluster(ctx)
    lines = or_exit(c.applied_acls, ClusterError) if applied else [a.line() for a in c.plan()]
    for line in lines:
        print(line)
