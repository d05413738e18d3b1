"""``dixian screening …`` (the alert store's sink, the officers' web server) and ``dixian users …``
(accounts of officers and reviewers)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from aiohttp import web
from rich.table import Table

from connectors.sinks import KafkaSink, LocalSink, Sink
from dixian.cli._shared import (
    console,
    env_help,
    or_exit,
    override,
    settings_of,
    setup_logging,
    stdout,
    supervised,
)
from dixian.config import Settings, redact_url
from dixian.service import keep_watchdog_fed, notify
from dixian.topics import Topics
from screening.sink import SinkStats, run_kafka_sink, sync_local
from screening.store import store_for
from screening.web import create_app, today_note

log = logging.getLogger("dixian.screening")
screening_app = typer.Typer(
    help="The village self-screening queue: alert store, officers' web page and API.", no_args_is_help=True
)
users_app = typer.Typer(help="Accounts of officers and reviewers (role + area scope).", no_args_is_help=True)


# the embedded pipeline's topic files in place of Kafka: where steps are published and rebuilt from
LocalTopics = Annotated[
    Path | None,
    typer.Option(
        envvar="DIXIAN_SCREENING_LOCAL",
        show_envvar=True,
        help="The embedded pipeline's local topic directory, instead of Kafka",
    ),
]


def serve(settings: Settings, *, local_dir: Path | None) -> None:
    """The officers' web page and API; steps are published to Kafka, or to ``local_dir`` (embedded)."""
    host, port = settings.screening_host, settings.screening_port
    store = store_for(settings)
    outbox: Sink = LocalSink(local_dir) if local_dir else KafkaSink(settings.kafka)
    secure = settings.screening_secure_cookies or settings.environment == "production"
    proxies = frozenset(p.strip() for p in settings.screening_trusted_proxies.split(",") if p.strip())
    app = create_app(
        store, outbox, Topics(settings), today_note(store), secure_cookies=secure, trusted_proxies=proxies
    )
    where = f"local files in {local_dir}" if local_dir else f"Kafka at {settings.kafka_bootstrap}"
    print(
        f"村级自查队列 / village queue: http://{host}:{port}/  (API: http://{host}:{port}/api/docs)\n"
        f"store {redact_url(settings.screening_url())}; screening steps go to {where}",
        flush=True,
    )
    if settings.screening_metrics_port:  # its own listener: never on the public port of /apply
        from prometheus_client import start_http_server  # noqa: PLC0415

        from screening.web.common import METRICS  # noqa: PLC0415

        start_http_server(
            settings.screening_metrics_port,
            addr=settings.screening_metrics_host,
            registry=app[METRICS].registry,
        )
    web.run_app(supervised(app), host=host, port=port, print=None, access_log=None)
    store.db.close()


def sink(settings: Settings, *, until_caught_up: bool) -> SinkStats:
    """Consume the alerts and roster topics into the store until stopped (SIGTERM/SIGINT)."""
    store = store_for(settings)

    async def main() -> SinkStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stopping() -> None:
            notify("STOPPING=1")  # the batch in hand is written and committed, then the sink exits
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping)
        watchdog = loop.create_task(keep_watchdog_fed())
        notify("READY=1")
        try:
            return await run_kafka_sink(
                settings,
                store,
                until_caught_up=until_caught_up,
                stop=stop,
                on_batch=lambda s: log.info("%s", s.line()),
            )
        finally:
            watchdog.cancel()

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


@screening_app.command("migrate")
def screening_migrate(ctx: typer.Context) -> None:
    """Create or upgrade the alert store's schema (every other command does this too)."""
    from screening.db import Database, DatabaseError  # noqa: PLC0415

    settings = settings_of(ctx)
    try:
        db = Database(settings.screening_url())
        applied = db.migrate()
    except DatabaseError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(f"schema version {db.schema_version()} (applied now: {applied or 'none'})")
    db.close()


@screening_app.command("sink")
def screening_sink(
    ctx: typer.Context,
    until_caught_up: Annotated[
        bool,
        typer.Option(
            "--until-caught-up",
            envvar="DIXIAN_SINK_UNTIL_CAUGHT_UP",
            show_envvar=True,
            help="Stop once every partition is consumed to its end (otherwise run until stopped)",
        ),
    ] = False,
) -> None:
    """Consume the alerts and household topics from Kafka into the alert store."""
    setup_logging(settings_of(ctx))
    stats = sink(settings_of(ctx), until_caught_up=until_caught_up)
    console.print(stats.line())


@screening_app.command("load")
def screening_load(
    ctx: typer.Context,
    local_dir: Annotated[Path, typer.Argument(help="Directory of local topic files (embedded pipeline)")],
) -> None:
    """Load alerts and households from the embedded pipeline's local topic files into the store."""
    console.print(load_local(settings_of(ctx), local_dir).line())


@screening_app.command("areas")
def screening_areas(
    ctx: typer.Context,
    table: Annotated[Path, typer.Argument(help="The city's area table (CSV or XLSX: 代码, 名称)")],
) -> None:
    """Load the names of townships and villages (统计用区划代码: 9- or 12-digit code, name), so pages,
    notices, lists and reports show them beside the codes. Loading again updates names; rows that are
    not a township or village of the city are listed and skipped (exit 1 if any)."""
    from screening.areas import read_area_table  # noqa: PLC0415

    names, problems = or_exit(lambda: read_area_table(table), (ValueError, OSError))
    store = store_for(settings_of(ctx))
    try:
        loaded = store.areas.load(names)
    finally:
        store.db.close()
    for p in problems[:20]:
        console.print(f"[yellow]{table.name} line {p.line}[/] {p.field or '-'}: {p.reason}")
    if len(problems) > 20:
        console.print(f"... and {len(problems) - 20} more rows skipped")
    towns = sum(1 for c in names if len(c) == 9)
    console.print(
        f"loaded {loaded} names ({towns} townships, {loaded - towns} villages); {len(problems)} rows skipped"
    )
    if problems:
        raise typer.Exit(1)


@screening_app.command("rebuild")
def screening_rebuild(
    ctx: typer.Context,
    local: LocalTopics = None,
) -> None:
    """After a total loss: rebuild the queue store (clues, risk items, every workflow step, plans,
    measures, campaigns, ledger decisions) from the roster, conclusions and alerts topics into the empty
    store DIXIAN_SCREENING_DB points at. Accounts are configuration: restore them from the backup or
    make them again with `dixian users add`."""
    from screening.rebuild import StoreNotEmptyError  # noqa: PLC0415
    from screening.sink import rebuild_from_kafka, rebuild_from_local  # noqa: PLC0415

    settings = settings_of(ctx)
    store = store_for(settings)
    where = f"local files in {local}" if local else f"Kafka at {settings.kafka_bootstrap}"
    console.print(f"rebuilding {redact_url(settings.screening_url())} from {where} ...")
    try:
        if local:
            stats = rebuild_from_local(store, local, Topics(settings))
        else:
            stats = asyncio.run(rebuild_from_kafka(settings, store))
    except StoreNotEmptyError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    finally:
        store.db.close()
    console.print(stats.line())


@screening_app.command("backup")
def screening_backup(
    ctx: typer.Context, target: Annotated[Path, typer.Argument(help="Backup file to write")]
) -> None:
    """A consistent copy of the store while the services run (PostgreSQL: pg_dump, custom format;
    SQLite: its online backup). Keep it off this machine."""
    from screening.backup import BackupError, backup  # noqa: PLC0415

    url = settings_of(ctx).screening_url()
    size = or_exit(lambda: backup(url, target), BackupError)
    console.print(f"backed up {redact_url(url)} to {target} ({size / 1024:.0f} KiB)")


@screening_app.command("restore")
def screening_restore(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="Backup file made by `dixian screening backup`")],
) -> None:
    """Restore a backup into the empty store DIXIAN_SCREENING_DB points at (services stopped). Steps
    published after the backup come back with `dixian screening rebuild` into another empty store."""
    from screening.backup import BackupError, restore  # noqa: PLC0415

    url = settings_of(ctx).screening_url()
    or_exit(lambda: restore(url, source), BackupError)
    console.print(f"restored {source} into {redact_url(url)}")


@screening_app.command("serve")
def screening_serve(
    ctx: typer.Context,
    local: LocalTopics = None,
    host: Annotated[str | None, typer.Option(**env_help("screening_host", "Bind address"))] = None,
    port: Annotated[int | None, typer.Option(**env_help("screening_port", "Port"))] = None,
) -> None:
    """Serve the officers' web page (Chinese) and the /api/v1 API of the village queue. With no store
    configured and none made yet, it serves the demo (`dixian demo`) if there is one."""
    settings = override(ctx, screening_host=host, screening_port=port)
    setup_logging(settings)
    settings, local, note = the_store_to_serve(settings, local)
    if note:
        console.print(note, highlight=False)
    serve(settings, local_dir=local)


def the_store_to_serve(settings: Settings, local: Path | None) -> tuple[Settings, Path | None, str]:
    """The configured store; or, when none is configured and the default one does not exist yet, the
    demo's (with its clock and its local topic files), so that `dixian screening serve` after
    `make demo` opens the demo."""
    from dixian.demo import existing_demo  # noqa: PLC0415

    default = Path(settings.screening_url().removeprefix("sqlite:///"))
    if settings.screening_db or default.exists() or (found := existing_demo(settings)) is None:
        return settings, local, ""
    out, clock = found
    demo = settings.override(data_dir=out, clock_date=clock)
    note = (
        f"尚未配置队列库，打开演示数据 / no store configured yet: serving the demo in {out}"
        f" (deadlines as of {clock}); set DIXIAN_SCREENING_DB or DIXIAN_DATA_DIR for your own"
    )
    return demo, local or demo.local_dir, note


def _password(prompt: bool, stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=prompt))


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Account name (no personal ID numbers)")],
    role: Annotated[
        str,
        typer.Option(
            envvar="DIXIAN_USER_ROLE", show_envvar=True, help="village | township | county | operator"
        ),
    ],
    scope: Annotated[
        str,
        typer.Option(
            envvar="DIXIAN_USER_SCOPE",
            show_envvar=True,
            help="Area code: village 12 digits, township 9, county 6, operator 4 (city)",
        ),
    ],
    name: Annotated[
        str,
        typer.Option(
            envvar="DIXIAN_USER_NAME", show_envvar=True, help="Display name, e.g. '阳朔县白沙镇 张干部'"
        ),
    ] = "",
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            envvar="DIXIAN_PASSWORD_STDIN",
            show_envvar=True,
            help="Read the password from standard input",
        ),
    ] = False,
) -> None:
    """Create an account; the password is stored only as a scrypt hash."""
    store = store_for(settings_of(ctx))
    try:
        store.accounts.add(username, role, scope, _password(True, password_stdin), name)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(f"account {username} ({role}, scope {scope}) created")


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """Accounts with role, scope and whether they are disabled (never passwords)."""
    table = Table("username", "name", "role", "scope", "disabled", "created")
    for r in store_for(settings_of(ctx)).accounts.all():
        table.add_row(
            r["username"],
            r["display_name"],
            r["role"],
            r["scope"],
            "yes" if r["disabled"] else "",
            r["created_at"],
        )
    stdout.print(table)


@users_app.command("passwd")
def users_passwd(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", envvar="DIXIAN_PASSWORD_STDIN", show_envvar=True)
    ] = False,
) -> None:
    """Set a new password (ends the account's sessions)."""
    try:
        store_for(settings_of(ctx)).accounts.set_password(username, _password(True, password_stdin))
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None


@users_app.command("disable")
def users_disable(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    enable: Annotated[
        bool,
        typer.Option("--enable", envvar="DIXIAN_USER_ENABLE", show_envvar=True, help="Re-enable instead"),
    ] = False,
) -> None:
    """Disable an account (ends its sessions) or, with --enable, re-enable it."""
    try:
        store_for(settings_of(ctx)).accounts.set_disabled(username, not enable)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
