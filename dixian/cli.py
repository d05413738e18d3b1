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
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
kafka_app = typer.Typer(help="The local single-node Apache Kafka broker (KRaft).", no_args_is_help=True)
topics_app = typer.Typer(help="Create and list the project's topics.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
tokens_app = typer.Typer(help="Department push tokens for the HTTP endpoint.", no_args_is_help=True)
rules_app = typer.Typer(
    help="The early-warning rule catalogue: check, test, explain, backtest, publish.", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")
app.add_typer(topics_app, name="topics")
app.add_typer(tokens_app, name="tokens")
screening_app = typer.Typer(
    help="The village self-screening queue: alert store, officers' web page and API.", no_args_is_help=True
)
users_app = typer.Typer(help="Accounts of officers and reviewers (role + area scope).", no_args_is_help=True)
app.add_typer(screening_app, name="screening")
app.add_typer(users_app, name="users")
campaign_app = typer.Typer(
    help="Screening campaigns (集中排查): one visit item per household in scope.", no_args_is_help=True
)
app.add_typer(campaign_app, name="campaign")
report_app = typer.Typer(
    help="Monthly cross-department report and quarterly bulletin (XLSX + HTML).", no_args_is_help=True
)
app.add_typer(report_app, name="report")

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


# ---- simulate / ingest -----------------------------------------------------------------------------
@app.command("simulate")
def simulate_cmd(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option(envvar="DIXIAN_SIM_OUT", show_envvar=True, help="Output folder")
    ] = Path("var/sim"),
    households: Annotated[
        int,
        typer.Option(
            envvar="DIXIAN_SIM_HOUSEHOLDS",
            show_envvar=True,
            min=10,
            max=5_000_000,
            help="Households in the city",
        ),
    ] = 10_000,
    month: Annotated[
        str, typer.Option(envvar="DIXIAN_SIM_MONTH", show_envvar=True, help="Month of the feeds, YYYY-MM")
    ] = "2022-06",
    seed: Annotated[int, typer.Option(envvar="DIXIAN_SIM_SEED", show_envvar=True, help="Random seed")] = 2022,
    malformed: Annotated[
        float,
        typer.Option(
            envvar="DIXIAN_SIM_MALFORMED", show_envvar=True, min=0.0, max=1.0, help="Share of malformed rows"
        ),
    ] = 0.02,
    dept: Annotated[
        list[str] | None,
        typer.Option(
            "--dept", envvar="DIXIAN_SIM_DEPTS", show_envvar=True, help="Only these departments (repeatable)"
        ),
    ] = None,
    rows: Annotated[
        int | None,
        typer.Option(
            envvar="DIXIAN_SIM_ROWS",
            show_envvar=True,
            help="Exactly this many rows per feed (instead of realistic rates)",
        ),
    ] = None,
) -> None:
    """Generate a reproducible synthetic Guilin: roster + a month of department feeds (as delivered)."""
    from dixian.contract import Dept  # noqa: PLC0415
    from dixian.simulate import simulate  # noqa: PLC0415

    try:
        depts = [Dept(d) for d in dept] if dept else None
    except ValueError as exc:
        console.print(
            f"[red]未知部门 / unknown department:[/] {exc}; known: {', '.join(d.value for d in Dept)}"
        )
        raise typer.Exit(2) from None
    with console.status("生成模拟数据 / simulating ...") as status:
        manifest = simulate(
            out,
            households=households,
            month=month,
            seed=seed,
            malformed=malformed,
            depts=depts,
            rows=rows,
            progress=lambda s: status.update(f"生成 / writing {s} ..."),
        )
    table = Table(
        "部门 dept",
        "文件 file",
        "行数 rows",
        "有效 valid",
        "重复 dup",
        "错误 malformed",
        title=f"{manifest['households']} households, {manifest['members']} members, "
        f"{manifest['villages']} villages → {out}",
    )
    for f in manifest["feeds"]:
        table.add_row(
            f["dept"],
            f["file"],
            str(f["rows"]),
            str(f["valid_unique"]),
            str(f["duplicates"]),
            str(sum(f["malformed"].values())),
        )
    Console().print(table)


@app.command("ingest")
def ingest_cmd(
    ctx: typer.Context,
    dept: Annotated[str, typer.Argument(help="Department (e.g. medical_insurance) or 'roster'")],
    files: Annotated[list[Path], typer.Argument(help="CSV (UTF-8/GBK), XLSX or JSON Lines files")],
    month: Annotated[
        str | None,
        typer.Option(
            envvar="DIXIAN_INGEST_MONTH",
            show_envvar=True,
            help="Reporting month YYYY-MM (default: this month)",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            envvar="DIXIAN_INGEST_ENCODING",
            show_envvar=True,
            help="Force a CSV encoding (default: detect UTF-8 / GB18030)",
        ),
    ] = None,
    snapshot: Annotated[
        bool,
        typer.Option(
            "--snapshot",
            envvar="DIXIAN_INGEST_SNAPSHOT",
            show_envvar=True,
            help="The file is a full monthly extract: publish only what changed",
        ),
    ] = False,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            envvar="DIXIAN_INGEST_LOCAL",
            show_envvar=True,
            help="Write to local files under DATA_DIR/local instead of Kafka (embedded)",
        ),
    ] = False,
) -> None:
    """Validate department files and publish them: accepted → dept.<dept>, rejected → dead-letter."""
    from connectors.runner import run_ingest  # noqa: PLC0415

    raise typer.Exit(
        run_ingest(
            _settings(ctx),
            dept,
            files,
            month=month,
            encoding=encoding,
            snapshot=snapshot,
            local=local,
            console=console,
        )
    )


# ---- HTTP push ---------------------------------------------------------------------------------------
def _token_store(settings: Settings) -> Any:
    from connectors.stores import TokenStore  # noqa: PLC0415

    return TokenStore(settings.data_dir / "ingest" / "tokens.sqlite")


@tokens_app.command("add")
def tokens_add(
    ctx: typer.Context,
    dept: Annotated[str, typer.Argument(help="The department this token may publish for")],
    label: Annotated[
        str,
        typer.Option(envvar="DIXIAN_TOKEN_LABEL", show_envvar=True, help="Who holds it, e.g. '医保局信息科'"),
    ] = "",
) -> None:
    """Issue a token; it is shown once and stored only as a hash."""
    from dixian.contract import Dept  # noqa: PLC0415
    from dixian.contract.events import now_china  # noqa: PLC0415

    try:
        d = Dept(dept)
    except ValueError:
        console.print(
            f"[red]未知部门 / unknown department {dept!r}[/]; known: {', '.join(x.value for x in Dept)}"
        )
        raise typer.Exit(2) from None
    store = _token_store(_settings(ctx))
    token = store.issue(d.value, label or d.zh, now_china().isoformat())
    console.print(f"令牌只显示这一次, 请妥善保管 / shown once, keep it safe ({d.zh}):")
    print(token)


@tokens_app.command("list")
def tokens_list(ctx: typer.Context) -> None:
    """List issued tokens (prefix, department, label, created, revoked)."""
    table = Table("prefix", "dept", "label", "created", "revoked")
    for prefix, dept, label, created, revoked in _token_store(_settings(ctx)).list():
        table.add_row(prefix, dept, label, created, "yes" if revoked else "")
    Console().print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context, prefix: Annotated[str, typer.Argument(help="Token prefix from 'list'")]
) -> None:
    """Revoke a token by its prefix."""
    n = _token_store(_settings(ctx)).revoke(prefix)
    console.print(f"revoked {n} token(s)")
    raise typer.Exit(0 if n else 1)


@app.command("push-server")
def push_server_cmd(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(envvar="DIXIAN_PUSH_HOST", show_envvar=True, help="Bind address")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="DIXIAN_PUSH_PORT", show_envvar=True, help="Port")] = 8701,
    max_body: Annotated[
        int,
        typer.Option(envvar="DIXIAN_PUSH_MAX_BODY", show_envvar=True, help="Largest accepted body, bytes"),
    ] = 8 * 1024 * 1024,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            envvar="DIXIAN_INGEST_LOCAL",
            show_envvar=True,
            help="Write to local files instead of Kafka (embedded)",
        ),
    ] = False,
) -> None:
    """Serve POST /api/v1/feeds/{dept}/events for departments that push as things happen."""
    from connectors.runner import serve_push  # noqa: PLC0415

    serve_push(_settings(ctx), host=host, port=port, max_body=max_body, local=local)


# ---- demo --------------------------------------------------------------------------------------------
@app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    households: Annotated[
        int,
        typer.Option(envvar="DIXIAN_DEMO_HOUSEHOLDS", show_envvar=True, min=100, help="Households simulated"),
    ] = 20_000,
    month: Annotated[
        str, typer.Option(envvar="DIXIAN_DEMO_MONTH", show_envvar=True, help="Month YYYY-MM")
    ] = "2022-06",
    seed: Annotated[
        int, typer.Option(envvar="DIXIAN_DEMO_SEED", show_envvar=True, help="Random seed")
    ] = 2022,
    malformed: Annotated[
        float, typer.Option(envvar="DIXIAN_DEMO_MALFORMED", show_envvar=True, help="Share of malformed rows")
    ] = 0.02,
    kafka: Annotated[
        bool,
        typer.Option(
            "--kafka",
            envvar="DIXIAN_DEMO_KAFKA",
            show_envvar=True,
            help="Then run the same month through the local broker and real workers",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            envvar="DIXIAN_DEMO_WORKERS", show_envvar=True, min=1, max=8, help="Worker processes for --kafka"
        ),
    ] = 2,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            envvar="DIXIAN_DEMO_SERVE",
            show_envvar=True,
            help="Then serve the village queue's web page on the demo data (until Ctrl-C)",
        ),
    ] = False,
) -> None:
    """The main job on one machine, no Kafka: simulate a Guilin month, ingest it, run rules → alerts.

    With --kafka, the same month then goes through the local broker and real worker processes,
    and the demo checks that they publish exactly the same alerts."""
    from dixian.demo import print_demo, run_demo, run_demo_kafka  # noqa: PLC0415

    settings = _settings(ctx)
    result = run_demo(
        settings, households=households, month=month, seed=seed, malformed=malformed, console=console
    )
    print_demo(result, Console())
    if not all(s.reconciles for s in result.summaries):
        raise typer.Exit(1)
    if kafka and not run_demo_kafka(
        settings,
        result,
        workers=workers,
        console=Console(),
        start_broker=lambda: _run_kafka_script(settings, "start"),
    ):
        raise typer.Exit(1)
    if serve:
        from screening.runner import serve as serve_queue  # noqa: PLC0415

        demo_settings = settings.model_copy(
            update={"data_dir": result.out_dir, "clock_date": result.queue.clock_date}
        )
        serve_queue(
            demo_settings,
            local_dir=result.out_dir / "local",
            host=settings.screening_host,
            port=settings.screening_port,
        )


# ---- rules ---------------------------------------------------------------------------------------------
CatalogueOption = Annotated[
    Path | None,
    typer.Option(
        "--catalogue",
        envvar="DIXIAN_RULES_DIR",
        show_envvar=True,
        help="A catalogue directory of *.yaml rule files (default: the shipped rules/catalogue)",
    ),
]


@rules_app.command("check")
def rules_check(catalogue: CatalogueOption = None) -> None:
    """Schema, unknown fields, condition type errors, duplicate ids, missing examples (file:line)."""
    from rules import commands  # noqa: PLC0415

    raise typer.Exit(commands.check(catalogue, console))


@rules_app.command("test")
def rules_test(catalogue: CatalogueOption = None) -> None:
    """Run every rule's examples through durable_rules and the reference evaluator."""
    from rules import commands  # noqa: PLC0415

    raise typer.Exit(commands.test(catalogue, console))


@rules_app.command("explain")
def rules_explain(
    rule_id: Annotated[str, typer.Argument(help="e.g. MI-OOP-POOR")],
    catalogue: CatalogueOption = None,
    region: Annotated[
        str,
        typer.Option(
            envvar="DIXIAN_RULES_REGION", show_envvar=True, help="Region code to resolve parameters for"
        ),
    ] = "450321",
    on: Annotated[
        str | None,
        typer.Option(
            "--date",
            envvar="DIXIAN_RULES_DATE",
            show_envvar=True,
            help="Resolve the parameters in force on this date (YYYY-MM-DD)",
        ),
    ] = None,
) -> None:
    """The rule in Chinese with its parameters by region and year."""
    from datetime import date  # noqa: PLC0415

    from rules import commands  # noqa: PLC0415

    try:
        when = date.fromisoformat(on) if on else None
    except ValueError:
        console.print(f"[red]--date 应为 YYYY-MM-DD / must be YYYY-MM-DD, got {on!r}[/]")
        raise typer.Exit(2) from None
    raise typer.Exit(commands.explain(rule_id, catalogue, region, when, console))


@rules_app.command("backtest")
def rules_backtest(
    ctx: typer.Context,
    candidate: Annotated[Path, typer.Argument(help="The candidate catalogue directory")],
    local: Annotated[
        Path | None,
        typer.Option(
            "--local",
            envvar="DIXIAN_BACKTEST_LOCAL",
            show_envvar=True,
            help="Replay local topic files (e.g. var/demo/local) instead of Kafka",
        ),
    ] = None,
) -> None:
    """Replay stored events against the active and a candidate catalogue; per-rule hit counts and Δ."""
    from rules import commands  # noqa: PLC0415

    raise typer.Exit(commands.backtest(_settings(ctx), candidate, local_dir=local, err=console))


@rules_app.command("publish")
def rules_publish(ctx: typer.Context, catalogue: CatalogueOption = None) -> None:
    """Validate a catalogue and publish it on the control topic; workers switch without restart."""
    from rules import commands  # noqa: PLC0415

    raise typer.Exit(commands.publish(_settings(ctx), catalogue, console))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()


# ---- village screening queue -------------------------------------------------------------------------
@screening_app.command("migrate")
def screening_migrate(ctx: typer.Context) -> None:
    """Create or upgrade the alert store's schema (every other command does this too)."""
    from screening.db import Database, DatabaseError  # noqa: PLC0415

    settings = _settings(ctx)
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
    from screening.runner import sink  # noqa: PLC0415

    _logging(_settings(ctx))
    stats = sink(_settings(ctx), until_caught_up=until_caught_up)
    console.print(stats.line())


@screening_app.command("load")
def screening_load(
    ctx: typer.Context,
    local_dir: Annotated[Path, typer.Argument(help="Directory of local topic files (embedded pipeline)")],
) -> None:
    """Load alerts and households from the embedded pipeline's local topic files into the store."""
    from screening.runner import load_local  # noqa: PLC0415

    console.print(load_local(_settings(ctx), local_dir).line())


@screening_app.command("serve")
def screening_serve(
    ctx: typer.Context,
    local: Annotated[
        Path | None,
        typer.Option(
            envvar="DIXIAN_SCREENING_LOCAL",
            show_envvar=True,
            help="Publish screening steps to this local topic directory instead of Kafka (embedded)",
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(envvar="DIXIAN_SCREENING_HOST", show_envvar=True, help="Bind address")
    ] = None,
    port: Annotated[
        int | None, typer.Option(envvar="DIXIAN_SCREENING_PORT", show_envvar=True, help="Port")
    ] = None,
) -> None:
    """Serve the officers' web page (Chinese) and the /api/v1 API of the village queue."""
    from screening.runner import serve  # noqa: PLC0415

    settings = _settings(ctx)
    _logging(settings)
    serve(
        settings,
        local_dir=local,
        host=host or settings.screening_host,
        port=settings.screening_port if port is None else port,
    )


def _logging(settings: Settings) -> None:
    import logging  # noqa: PLC0415

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


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
    from screening.runner import store_for  # noqa: PLC0415

    store = store_for(_settings(ctx))
    try:
        store.add_account(username, role, scope, _password(True, password_stdin), name)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(f"account {username} ({role}, scope {scope}) created")


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """Accounts with role, scope and whether they are disabled (never passwords)."""
    from screening.runner import store_for  # noqa: PLC0415

    table = Table("username", "name", "role", "scope", "disabled", "created")
    for r in store_for(_settings(ctx)).accounts():
        table.add_row(
            r["username"],
            r["display_name"],
            r["role"],
            r["scope"],
            "yes" if r["disabled"] else "",
            r["created_at"],
        )
    Console().print(table)


@users_app.command("passwd")
def users_passwd(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", envvar="DIXIAN_PASSWORD_STDIN", show_envvar=True)
    ] = False,
) -> None:
    """Set a new password (ends the account's sessions)."""
    from screening.runner import store_for  # noqa: PLC0415

    try:
        store_for(_settings(ctx)).set_password(username, _password(True, password_stdin))
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
    from screening.runner import store_for  # noqa: PLC0415

    try:
        store_for(_settings(ctx)).set_disabled(username, not enable)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None


# ---- reports -------------------------------------------------------------------------------------------
ReportOutOption = Annotated[
    Path | None,
    typer.Option(
        envvar="DIXIAN_REPORT_OUT", show_envvar=True, help="Output directory (default: DATA_DIR/reports)"
    ),
]


@report_app.command("monthly")
def report_monthly(
    ctx: typer.Context,
    month: Annotated[str, typer.Option(envvar="DIXIAN_REPORT_MONTH", show_envvar=True, help="Month YYYY-MM")],
    county: Annotated[
        str | None,
        typer.Option(
            envvar="DIXIAN_REPORT_COUNTY",
            show_envvar=True,
            help="One county's 6-digit code (default: the whole city)",
        ),
    ] = None,
    out: ReportOutOption = None,
) -> None:
    """Feeds, early warning, screening, monitoring objects, data quality, department feedback (Chinese)."""
    import re  # noqa: PLC0415

    from reports.runner import monthly  # noqa: PLC0415

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        console.print(f"[red]月份格式应为 YYYY-MM / month must be YYYY-MM, got {month!r}[/]")
        raise typer.Exit(2)
    if county is not None and not re.fullmatch(r"\d{6}", county):
        console.print(f"[red]县级代码应为6位数字 / county code must be 6 digits, got {county!r}[/]")
        raise typer.Exit(2)
    with console.status(f"生成 {month} 月报 / building the monthly report ..."):
        report, xlsx, html = monthly(_settings(ctx), month, county, out)
    console.print(
        ("" if report.closed else "[yellow]本月尚未结束，数字仍会变化 / open month[/]\n") + f"{report.title}"
    )
    console.print(f"  XLSX: {xlsx}\n  HTML: {html}")


@report_app.command("quarterly")
def report_quarterly(
    ctx: typer.Context,
    quarter: Annotated[
        str,
        typer.Option(envvar="DIXIAN_REPORT_QUARTER", show_envvar=True, help="Quarter YYYYQn, e.g. 2022Q2"),
    ],
    out: ReportOutOption = None,
) -> None:
    """Counties ranked by timeliness, data quality and elimination accuracy; red and black lists."""
    import re  # noqa: PLC0415

    from reports.runner import quarterly  # noqa: PLC0415

    if not re.fullmatch(r"\d{4}Q[1-4]", quarter):
        console.print(f"[red]季度格式应为 YYYYQn / quarter must be YYYYQn, got {quarter!r}[/]")
        raise typer.Exit(2)
    with console.status(f"生成 {quarter} 季度通报 / building the bulletin ..."):
        report, xlsx, html = quarterly(_settings(ctx), quarter, out)
    console.print(f"{report.title}\n  XLSX: {xlsx}\n  HTML: {html}")


# ---- screening campaigns -------------------------------------------------------------------------------
def _cli_actor() -> Any:
    import getpass  # noqa: PLC0415

    from screening.auth import Actor  # noqa: PLC0415
    from screening.workflow import Role  # noqa: PLC0415

    return Actor(f"cli:{getpass.getuser()}"[:40], "命令行", Role.OPERATOR, "4503")


@campaign_app.command("create")
def campaign_create(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Option(
            envvar="DIXIAN_CAMPAIGN_NAME", show_envvar=True, help="Campaign name, e.g. '2022年防返贫集中排查'"
        ),
    ],
    scope: Annotated[
        list[str],
        typer.Option(
            envvar="DIXIAN_CAMPAIGN_SCOPE",
            show_envvar=True,
            help="City (4503) or county codes; repeat for several",
        ),
    ],
    date_from: Annotated[
        str,
        typer.Option("--from", envvar="DIXIAN_CAMPAIGN_FROM", show_envvar=True, help="First day YYYY-MM-DD"),
    ],
    date_to: Annotated[
        str,
        typer.Option(
            "--to", envvar="DIXIAN_CAMPAIGN_TO", show_envvar=True, help="Last day YYYY-MM-DD (visit deadline)"
        ),
    ],
    kinds: Annotated[
        str,
        typer.Option(
            envvar="DIXIAN_CAMPAIGN_KINDS",
            show_envvar=True,
            help="Household kinds covered: ordinary, formerly_poor, monitored (comma separated)",
        ),
    ] = "ordinary,formerly_poor,monitored",
) -> None:
    """Create a campaign: one visit item per household of the ledger in scope, in the village queues."""
    from datetime import date  # noqa: PLC0415

    from screening.campaigns import create_campaign  # noqa: PLC0415
    from screening.runner import store_for  # noqa: PLC0415
    from screening.workflow import WorkflowError  # noqa: PLC0415

    try:
        start, end = date.fromisoformat(date_from), date.fromisoformat(date_to)
    except ValueError:
        console.print("[red]日期格式应为 YYYY-MM-DD / dates must be YYYY-MM-DD[/]")
        raise typer.Exit(2) from None
    store = store_for(_settings(ctx))
    try:
        with console.status("生成入户任务 / creating visit items ..."):
            c = create_campaign(
                store, _cli_actor(), name, scope, start, end, [k.strip() for k in kinds.split(",")]
            )
    except WorkflowError as exc:
        console.print(f"[red]{exc.zh}[/]")
        raise typer.Exit(2) from None
    kinds_text = ", ".join(c.kinds)
    console.print(
        f"campaign {c.campaign_id}: {c.items} visit items ({kinds_text}), {c.period_from} – {c.period_to}"
    )


@campaign_app.command("list")
def campaign_list(ctx: typer.Context) -> None:
    """Campaigns with their periods and number of visit items."""
    from screening.campaigns import campaigns  # noqa: PLC0415
    from screening.runner import store_for  # noqa: PLC0415

    table = Table("name", "period", "kinds", "items")
    table.add_column("id", no_wrap=True, min_width=16)
    table.columns.insert(0, table.columns.pop())
    for c in campaigns(store_for(_settings(ctx))):
        table.add_row(
            c.campaign_id, c.name, f"{c.period_from} – {c.period_to}", ",".join(c.kinds), str(c.items)
        )
    Console().print(table)


@campaign_app.command("summary")
def campaign_summary(
    ctx: typer.Context,
    campaign_id: Annotated[str, typer.Argument()],
    out: Annotated[
        Path, typer.Option(envvar="DIXIAN_CAMPAIGN_OUT", show_envvar=True, help="XLSX file to write")
    ] = Path("campaign-summary.xlsx"),
) -> None:
    """Coverage by county, township and village, and the look-back list, as a workbook."""
    from screening.campaigns import coverage, summary_xlsx  # noqa: PLC0415
    from screening.runner import store_for  # noqa: PLC0415
    from screening.store import NotFound  # noqa: PLC0415

    store, actor = store_for(_settings(ctx)), _cli_actor()
    try:
        out.write_bytes(summary_xlsx(store, actor, campaign_id))
    except NotFound as exc:
        console.print(f"[red]{exc.zh}[/]")
        raise typer.Exit(2) from None
    rows = coverage(store, actor, campaign_id, "county")
    total, visited = sum(r["total"] for r in rows), sum(r["visited"] for r in rows)
    console.print(f"{visited}/{total} visited ({100 * visited / max(total, 1):.1f}%); workbook: {out}")
