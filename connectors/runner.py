"""Runs an ingestion for the CLI: opens the sink, shows a progress bar, prints the summary table."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.ingest import Ingester, IngestSummary
from connectors.mapping import MappingError
from connectors.readers import FileFormatError, open_source
from connectors.sinks import KafkaSink, LocalSink, Sink
from dixian.config import Settings
from dixian.contract.validate import REASON_ZH


def tune_gc_for_bulk_work() -> None:
    """Ingestion allocates millions of short-lived, acyclic objects; the default generation-0
    threshold (700) spends ~15% of the time in the cycle collector for nothing."""
    gc.set_threshold(50_000, 20, 100)


def make_sink(settings: Settings, local: bool) -> Sink:
    return LocalSink(settings.data_dir / "local") if local else KafkaSink(settings.kafka_bootstrap)


def summary_table(s: IngestSummary) -> Table:
    t = Table(title=f"{s.dept} · {s.file or s.source} · {s.month} · {s.encoding}", show_header=False)
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
    out: list[IngestSummary] = []
    try:
        for path in files:
            total = open_source(path, encoding=encoding).check_structure()
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task(f"{dept} ← {path.name}", total=total)
                summary = await ingester.ingest_file(
                    dept,
                    path,
                    month=month,
                    encoding=encoding,
                    snapshot=snapshot,
                    progress=lambda n, task=task: bar.update(task, completed=n),  # type: ignore[misc]
                )
            out.append(summary)
            Console().print(summary_table(summary))
    finally:
        ingester.close()
        await sink.stop()
    return out


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
    """Exit code: 0 all reconciled, 1 a summary did not reconcile, 2 a file could not be read."""
    tune_gc_for_bulk_work()
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
    except OSError as exc:
        console.print(f"[red]无法连接Kafka / cannot reach Kafka at {settings.kafka_bootstrap}:[/] {exc}")
        console.print("启动本地代理 / start the local broker: dixian kafka start (or use --local)")
        return 2
    return 0 if all(s.reconciles for s in summaries) else 1


def serve_push(settings: Settings, *, host: str, port: int, max_body: int, local: bool) -> None:
    from aiohttp import web  # noqa: PLC0415

    from connectors.http import create_push_app  # noqa: PLC0415
    from connectors.stores import TokenStore  # noqa: PLC0415

    async def build() -> web.Application:
        sink = make_sink(settings, local)
        await sink.start()
        ingester = Ingester(settings, sink)
        tokens = TokenStore(settings.data_dir / "ingest" / "tokens.sqlite")
        app = create_push_app(ingester, tokens, max_body=max_body)

        async def close(_: web.Application) -> None:
            ingester.close()
            tokens.close()
            await sink.stop()

        app.on_cleanup.append(close)
        return app

    web.run_app(build(), host=host, port=port, print=lambda s: None)
