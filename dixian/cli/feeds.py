"""``dixian simulate``, ``dixian ingest``, ``dixian tokens …`` and ``dixian push-server``: department
feeds into the topics, with a progress bar per file and a summary table that reconciles."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated

import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from connectors.ingest import Ingester, IngestSummary, tune_gc_for_bulk_work
from connectors.mapping import MappingError
from connectors.readers import FileFormatError, open_source
from connectors.sinks import KafkaSink, LocalSink, Sink
from connectors.stores import TokenStore
from dixian.cli._shared import console, env_help, override, progress_bar, settings_of, stdout, supervised
from dixian.config import Settings
from dixian.contract.validate import REASON_ZH

tokens_app = typer.Typer(help="Department push tokens for the HTTP endpoint.", no_args_is_help=True)


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
    stdout.print(table)


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
    raise typer.Exit(
        run_ingest(
            settings_of(ctx),
            dept,
            files,
            month=month,
            encoding=encoding,
            snapshot=snapshot,
            local=local,
            console=console,
        )
    )


def token_store(settings: Settings) -> TokenStore:
    return TokenStore(
        settings.ingest_dir / "tokens.sqlite", settings.ingest_secret.get_secret_value().encode()
    )


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
    store = token_store(settings_of(ctx))
    token = store.issue(d.value, label or d.zh, now_china().isoformat())
    console.print(f"令牌只显示这一次, 请妥善保管 / shown once, keep it safe ({d.zh}):")
    print(token)


@tokens_app.command("list")
def tokens_list(ctx: typer.Context) -> None:
    """List issued tokens (prefix, department, label, created, revoked)."""
    table = Table("prefix", "dept", "label", "created", "revoked")
    for prefix, dept, label, created, revoked in token_store(settings_of(ctx)).list():
        table.add_row(prefix, dept, label, created, "yes" if revoked else "")
    stdout.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context, prefix: Annotated[str, typer.Argument(help="Token prefix from 'list'")]
) -> None:
    """Revoke a token by its prefix."""
    n = token_store(settings_of(ctx)).revoke(prefix)
    console.print(f"revoked {n} token(s)")
    raise typer.Exit(0 if n else 1)


def push_server_cmd(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(**env_help("push_host", "Bind address"))] = None,
    port: Annotated[int | None, typer.Option(**env_help("push_port", "Port"))] = None,
    max_body: Annotated[
        int | None, typer.Option(**env_help("push_max_body", "Largest accepted body, bytes"))
    ] = None,
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
    serve_push(override(ctx, push_host=host, push_port=port, push_max_body=max_body), local=local)


# ---- running an ingestion -----------------------------------------------------------------------------
def make_sink(settings: Settings, local: bool) -> Sink:
    return LocalSink(settings.local_dir) if local else KafkaSink(settings.kafka)


def summary_table(s: IngestSummary) -> Table:
    t = Table(title=f"{s.dept} · {s.file or s.source} · {s.month} · {s.encoding}", show_header=False)
    if s.already_ingested:
        t.add_row(
            "[yellow]已导入过 already ingested[/]",
            "同一文件此前已完整导入，未重复读取或发布；以下为当时的计数 / nothing read or published again",
        )
    t.add_row("读取行数 rows read", str(s.rows_read))
    t.add_row("接收 accepted", str(s.accepted))
    t.add_row("拒收 rejected (dead-letter)", str(s.rejected_total))
    for code, n in s.rejected.most_common():
        t.add_row(f"  · {REASON_ZH.get(code, code)}", str(n))
    t.add_row("重复 duplicates", str(s.duplicates))
    if s.unchanged or s.source == "snapshot":
        t.add_row("未变化 unchanged since last snapshot", str(s.unchanged))
        t.add_row("已移除 removed since last snapshot", str(s.removed))
    t.add_row("迟报 late (accepted)", str(s.late))
    t.add_row(
        "核对 reconciles", "✔ rows = accepted + rejected + duplicates" if s.reconciles else "✘ MISMATCH"
    )
    if s.ignored_headers:
        t.add_row("忽略的列 ignored columns", ", ".join(s.ignored_headers))
    return t


async def _ingest_all(
    settings: Settings,
    dept: str,
    files: list[Path],
    *,
    month: str | None,
    encoding: str | None,
    snapshot: bool,
    local: bool,
    console: Console,
) -> list[IngestSummary]:
    sink = make_sink(settings, local)
    await sink.start()
    ingester = Ingester(settings, sink)
    summaries: list[IngestSummary] = []
    try:
        for path in files:
            total = open_source(path, encoding=encoding).check_structure()
            with progress_bar() as bar:
                task = bar.add_task(f"{dept} ← {path.name}", total=total)
                summary = await ingester.ingest_file(
                    dept,
                    path,
                    month=month,
                    encoding=encoding,
                    snapshot=snapshot,
                    progress=lambda n, task=task: bar.update(task, completed=n),  # type: ignore[misc]
                )
            summaries.append(summary)
            stdout.print(summary_table(summary))
    finally:
        ingester.close()
        await sink.stop()
    return summaries


EXIT_BROKER = 3


def run_ingest(
    settings: Settings,
    dept: str,
    files: list[Path],
    *,
    month: str | None,
    encoding: str | None,
    snapshot: bool,
    local: bool,
    console: Console,
) -> int:
    """Exit code: 0 all reconciled, 1 a summary did not reconcile, 2 a file could not be read,
    3 the broker could not be reached or failed during the run."""
    tune_gc_for_bulk_work()
    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        console.print(f"[red]月份格式不对 / bad month:[/] {month!r}（应为 YYYY-MM，例如 2022-06）")
        return 2
    try:
        summaries = asyncio.run(
            _ingest_all(
                settings,
                dept,
                files,
                month=month,
                encoding=encoding,
                snapshot=snapshot,
                local=local,
                console=console,
            )
        )
    except (FileFormatError, MappingError) as exc:
        console.print(f"[red]无法导入 / cannot ingest:[/] {exc}")
        console.print(
            "未发布任何数据; 请修正文件后重新导入 / nothing was published; fix the file and run again"
        )
        return 2
    except (OSError, KafkaError) as exc:
        console.print(f"[red]无法连接Kafka / cannot reach Kafka at {settings.kafka_bootstrap}:[/] {exc}")
        console.print(
            "启动本地代理后重新导入(已发布的行不会重复) / start the broker (dixian kafka start) and run again"
            " — rows already published are recognised, not sent twice; or use --local"
        )
        return EXIT_BROKER
    return 0 if all(s.reconciles for s in summaries) else 1


def serve_push(settings: Settings, *, local: bool) -> None:
    from aiohttp import web  # noqa: PLC0415

    from connectors.http import create_push_app  # noqa: PLC0415

    async def build() -> web.Application:
        sink = make_sink(settings, local)
        await sink.start()
        ingester = Ingester(settings, sink)
        tokens = token_store(settings)
        app = create_push_app(ingester, tokens, max_body=settings.push_max_body)

        async def close(_: web.Application) -> None:
            ingester.close()
            tokens.close()
            await sink.stop()

        app.on_cleanup.append(close)
        return supervised(app)

    if settings.push_metrics_port:  # its own listener: the feed metrics, never on the public port
        from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415

        from connectors.metrics import FeedCollector  # noqa: PLC0415

        registry = CollectorRegistry()
        registry.register(FeedCollector(settings.ingest_dir / "quality.sqlite", settings.now))
        start_http_server(settings.push_metrics_port, addr=settings.push_metrics_host, registry=registry)
    web.run_app(build(), host=settings.push_host, port=settings.push_port, print=lambda s: None)
