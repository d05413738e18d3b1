"""``dixian run``: the embedded pipeline over a folder of department files, on one machine."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table

from dixian.cli._shared import console, settings_of, setup_logging, stdout
from dixian.config import Settings, redact_url
from dixian.contract import Dept
from dixian.pipeline import RunReport, run_once, watch

EXIT_NOT_RECONCILED = 1
EXIT_UNREADABLE = 2


def _kind(kind: str) -> str:
    return {"roster": "农户名单", "areas": "区划"}.get(kind) or Dept(kind).zh


def print_run(report: RunReport, settings: Settings) -> None:
    if report.ingested:
        t = Table(
            "文件 file",
            "部门 dept",
            "月份",
            "读取",
            "接收",
            "拒收",
            "重复",
            "核对",
            title="本次导入 / ingested",
        )
        for s in report.ingested:
            t.add_row(
                s.file or s.source,
                _kind(s.dept),
                s.month,
                str(s.rows_read),
                str(s.accepted),
                str(s.rejected_total),
                str(s.duplicates + s.unchanged),
                "✔" if s.reconciles else "✘",
            )
        stdout.print(t)
    if report.areas:
        stdout.print(f"区划名称 / area names loaded: {report.areas}")
    for path in report.already:
        stdout.print(f"[dim]已导入过，跳过 / already ingested (same content): {path.name}[/]")
    for path in report.unrecognised:
        stdout.print(
            f"[yellow]未识别，跳过 / not recognised:[/] {path.name} — 文件名应以部门代码或名称开头"
            f"（如 hrss-2022-07.csv、医保局_7月.xlsx），或 roster / 农户名单、areas / 区划"
        )
    for path, why in report.refused:
        stdout.print(f"[red]无法导入 / cannot ingest {path.name}:[/] {why}")
    st, q = report.stream, report.queue
    if st is not None and q is not None:
        events = sum(st.consumed.values())
        stdout.print(
            f"流处理 / stream: {events} 条新记录 new records, {len(st.alerts)} 条预警 alerts (new revisions),"
            f" 拒收 dead letters {sum(st.dead_letters.values())}; 户状态 household states {report.households}"
        )
        stdout.print(
            f"村级队列 / queue: 新线索 new clues {q.inserted}, 并入已有线索 joined {q.joined},"
            f" 更新 updated {q.updated}; 农户名单 roster records {q.households}"
        )
    stdout.print(
        f"\n打开村级队列 / open the queue:  dixian screening serve --local {settings.local_dir}"
        "\n（结论写入本地文件，下次 dixian run 应用到户状态"
        " / its conclusions reach household state on the next run）"
    )


def run_cmd(
    ctx: typer.Context,
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="Folder of department files (CSV, XLSX, JSON Lines), named by department: hrss-2022-07.csv,"
            " 医保局_7月.xlsx, roster.csv, areas.csv. Without it: apply the queue's conclusions only.",
            exists=True,
            file_okay=False,
            dir_okay=True,
        ),
    ] = None,
    month: Annotated[
        str | None,
        typer.Option(
            envvar="DIXIAN_RUN_MONTH",
            show_envvar=True,
            help="Reporting month YYYY-MM of the files (default: the YYYY-MM in each file name, else this"
            " month)",
        ),
    ] = None,
    every: Annotated[
        float | None,
        typer.Option(
            "--watch",
            envvar="DIXIAN_RUN_WATCH",
            show_envvar=True,
            min=1.0,
            help="Keep running: check the folder and the queue's conclusions every N seconds (Ctrl-C stops)",
        ),
    ] = None,
) -> None:
    """The embedded pipeline, no Kafka: ingest the folder's new files, evaluate the rules with household
    state kept on disk between runs, fill the village queue, and apply the queue's conclusions to
    household state. Same core and alert ids as the Kafka workers. Exit 0; 1 a file's counts did not
    reconcile; 2 a file could not be read."""
    settings = settings_of(ctx)
    setup_logging(settings)
    if every is None:
        with console.status("dixian run ...") as status:
            report = run_once(settings, folder, month=month, progress=status.update)
        print_run(report, settings)
        if report.refused:
            raise typer.Exit(EXIT_UNREADABLE)
        raise typer.Exit(0 if report.reconciles else EXIT_NOT_RECONCILED)
    stopping = False

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(f"watching {folder or '(conclusions only)'} every {every:g} s; Ctrl-C stops")
    watch(
        settings,
        folder,
        every,
        lambda r: print_run(r, settings),
        month=month,
        progress=lambda s: console.print(f"[dim]{s}[/]"),
        stop=lambda: stopping,
    )


def move_cmd(ctx: typer.Context) -> None:
    """Move the embedded pipeline to Kafka and the Faust workers, with its state: the local topics'
    history to the topics, household state to the workers' table changelog, the consumer groups
    committed past what was handed over. Once, into empty topics (DIXIAN_KAFKA_* settings); then start
    `dixian worker`, `dixian screening sink` and `dixian screening serve` on the same store."""
    import asyncio  # noqa: PLC0415

    from dixian.pipeline import MoveError, move_to_kafka  # noqa: PLC0415

    settings = settings_of(ctx)
    setup_logging(settings)
    with console.status("迁移到 Kafka / moving to Kafka ...") as status:
        try:
            report = asyncio.run(move_to_kafka(settings, progress=status.update))
        except MoveError as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            raise typer.Exit(1) from None
    t = Table("主题 topic", "记录 records", title=f"已迁入 / moved to Kafka at {settings.kafka_bootstrap}")
    for topic, n in report.records.items():
        t.add_row(topic, str(n))
    t.add_row("household state → table changelog", str(report.states))
    stdout.print(t)
    stdout.print(
        "下一步 / next: dixian worker · dixian screening sink · dixian screening serve"
        f"（同一个队列库 / the same store: {redact_url(settings.screening_url())}）"
    )
