"""The main job on the embedded default: a simulated Guilin month, end to end, on one machine.

simulate → ingest (validation, dead letters, dedup) → stream core (household state, rules, alerts)
→ the village queue (clues, demo accounts, a look-back campaign) → the month's report.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from connectors.ingest import IngestSummary, ingest_files, tune_gc_for_bulk_work
from connectors.sinks import LocalSink
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.vocabulary import Role
from dixian.geo import CITY_SCOPE, county_name
from dixian.simulate import simulate
from dixian.topics import Topics
from streams.embedded import EmbeddedResult, run_embedded


@dataclass
class DemoQueue:
    """The village queue loaded with the demo month's clues, and accounts to look at it with."""

    store_url: str
    report_html: Path
    report_xlsx: Path
    clues: int
    households: int
    clock_date: date
    accounts: list[tuple[str, str, str]]  # username, role, scope
    password: str
    campaign_items: int


@dataclass
class DemoResult:
    out_dir: Path
    summaries: list[IngestSummary]
    stream: EmbeddedResult
    seconds: float
    queue: DemoQueue


def _feeds(sim_dir: Path, manifest: dict[str, object]) -> list[tuple[str, Path]]:
    feeds = manifest["feeds"]
    assert isinstance(feeds, list)
    return [("roster", sim_dir / "roster.csv")] + [(f["dept"], sim_dir / f["file"]) for f in feeds]


def run_demo(
    settings: Settings, *, households: int, month: str, seed: int, malformed: float, console: Console
) -> DemoResult:
    tune_gc_for_bulk_work()
    t0 = time.perf_counter()
    out = settings.data_dir / "demo"
    if out.exists():
        shutil.rmtree(out)  # a demo run starts from nothing, so its figures are reproducible
    settings = settings.override(data_dir=out)
    sim_dir = out / "feeds"
    with console.status(f"模拟桂林市 {households} 户及 {month} 部门数据 / simulating Guilin ..."):
        manifest = simulate(sim_dir, households=households, month=month, seed=seed, malformed=malformed)
    with console.status("导入部门数据 / ingesting department feeds ..."):
        summaries = asyncio.run(
            ingest_files(settings, LocalSink(settings.local_dir), _feeds(sim_dir, manifest), month=month)
        )
    with console.status("流处理 / running the stream core ..."):
        stream = run_embedded(settings.local_dir, Topics(settings), deadlines=settings.deadlines())
    with console.status(
        "载入村级自查队列, 生成月报 / loading the village queue, writing the monthly report ..."
    ):
        queue = load_demo_queue(settings, stream, month)
    (out / DEMO_MANIFEST).write_text(
        json.dumps({"month": month, "households": households, "clock_date": queue.clock_date.isoformat()}),
        encoding="utf-8",
    )
    return DemoResult(out, summaries, stream, time.perf_counter() - t0, queue)


DEMO_MANIFEST = "demo.json"


def existing_demo(settings: Settings) -> tuple[Path, date] | None:
    """The demo already built under the data directory (its folder and the day its queue counts
    deadlines from), or None."""
    out = settings.data_dir / "demo"
    try:
        manifest = json.loads((out / DEMO_MANIFEST).read_text(encoding="utf-8"))
        return out, date.fromisoformat(manifest["clock_date"])
    except (OSError, ValueError, KeyError):
        return None


def load_demo_queue(settings: Settings, stream: EmbeddedResult, month: str) -> DemoQueue:
    from reports.monthly import month_bounds  # noqa: PLC0415
    from screening.auth import Actor  # noqa: PLC0415
    from screening.campaigns import create_campaign  # noqa: PLC0415
    from screening.sink import sync_local  # noqa: PLC0415
    from screening.store import store_for  # noqa: PLC0415

    # the demo pretends it is the first day after the month: the month's clues have just arrived
    _, clock = month_bounds(month)
    settings = settings.override(clock_date=clock)
    store = store_for(settings)
    try:
        from screening.areas import read_area_table  # noqa: PLC0415

        names, _ = read_area_table(settings.data_dir / "feeds" / "areas.csv")
        store.areas.load(names)  # the simulated township and village names
        stats = sync_local(store, settings.local_dir, Topics(settings))
        busiest = Counter(a.village_code for a in stream.alerts.values()).most_common(1)
        village = busiest[0][0] if busiest else "450321101201"
        password = secrets.token_urlsafe(9)  # a fresh one per demo run, printed once
        accounts = [
            ("demo-village", "village", village),
            ("demo-township", "township", village[:9]),
            ("demo-county", "county", village[:6]),
            ("demo-city", "operator", CITY_SCOPE),
        ]
        for username, role, scope in accounts:
            store.accounts.add(username, role, scope, password, f"演示 {username}")
        # the month after: a look-back visit of every monitoring object (集中排查), in the same queues
        campaign = create_campaign(
            store,
            Actor("demo-city", "演示", Role.OPERATOR, CITY_SCOPE),
            f"{clock:%Y年%m月}监测对象回头看",
            [CITY_SCOPE],
            clock,
            clock + timedelta(days=29),
            ["monitored"],
        )
    finally:
        store.db.close()
    from reports.publish import monthly  # noqa: PLC0415

    _, xlsx, html = monthly(settings, month, None, settings.reports_dir)
    return DemoQueue(
        settings.screening_url(),
        html,
        xlsx,
        stats.inserted,
        stats.households,
        clock,
        accounts,
        password,
        campaign.items,
    )


def alerts_table(st: EmbeddedResult) -> Table:
    """Alerts by county and risk, the way the campaign office reads them."""
    by_county: Counter[str] = Counter(a.county_code for a in st.alerts.values())
    by_risk: Counter[str] = Counter(a.risk_label.split("(")[0] for a in st.alerts.values())
    t = Table(title="预警线索 / alerts for village officers", show_header=True)
    t.add_column("县(市、区) county")
    t.add_column("线索 alerts", justify="right")
    t.add_column("风险 risk")
    t.add_column("线索 alerts", justify="right")
    counties = by_county.most_common()
    risks = by_risk.most_common()
    for i in range(max(len(counties), len(risks))):
        c = counties[i] if i < len(counties) else ("", "")
        r = risks[i] if i < len(risks) else ("", "")
        t.add_row(county_name(str(c[0])) if c[0] else "", str(c[1]), str(r[0]), str(r[1]))
    return t


def _command() -> str:
    """How to call the CLI from where the user is: `dixian` when it is on PATH (venv activated),
    otherwise the path it was started from (e.g. .venv/bin/dixian after `make demo`)."""
    argv0 = Path(sys.argv[0])
    if shutil.which("dixian") or argv0.name != "dixian":
        return "dixian"
    return str(argv0)


def print_demo(result: DemoResult, console: Console) -> None:
    t = Table(title="部门数据导入 / department feeds", show_lines=False)
    for col in (
        "部门 dept",
        "读取 rows",
        "接收 accepted",
        "拒收 rejected",
        "重复 dup",
        "迟报 late",
        "核对 ok",
    ):
        t.add_column(col, justify="right" if col[0] not in "部" else "left")
    for s in result.summaries:
        name = "农户名单" if s.dept == "roster" else Dept(s.dept).zh
        t.add_row(
            name,
            str(s.rows_read),
            str(s.accepted),
            str(s.rejected_total),
            str(s.duplicates),
            str(s.late),
            "✔" if s.reconciles else "✘",
        )
    console.print(t)
    st = result.stream
    events = sum(st.consumed.values())
    applied, skipped = sum(st.applied.values()), sum(st.redelivered.values())
    console.print(
        f"流处理 / stream core: {events} events → {len(st.households)} households in state "
        f"({applied} applied, {skipped} redeliveries skipped); catalogue {st.catalogue_version}: "
        f"{sum(st.rule_hits.values())} rule hits → {len(st.alerts)} alerts "
        f"({st.suppressed} repeats suppressed)"
    )
    console.print(alerts_table(st))
    q = result.queue
    cmd = _command()
    console.print(
        f"完成 / done in {result.seconds:.1f}s: {q.clues} household clues (one per household with a risk)"
        f" in the village queues, {q.campaign_items} look-back visits for monitoring objects;"
        f" all files under {result.out_dir}",
        soft_wrap=True,
    )
    console.print("\n下一步 / next steps", style="bold")
    console.print(
        f"  1. 打开村级队列 / open the queue:  {cmd} demo --serve   → http://127.0.0.1:8080/", soft_wrap=True
    )
    console.print(
        f"     账号 / accounts: {', '.join(u for u, _, _ in q.accounts)};"
        f" password (this run only): {q.password}",
        soft_wrap=True,
    )
    console.print(f"  2. 月报 / the monthly report:   {q.report_html}", soft_wrap=True)
    console.print(
        f"  3. 同一个月走 Kafka / the same month through Kafka and real workers:  {cmd} demo --kafka"
    )


# ---- the same month through Kafka ----------------------------------------------------------------
def run_demo_kafka(
    settings: Settings, result: DemoResult, *, workers: int, console: Console, start_broker: Any
) -> bool:
    """Replay the demo month's ingested feeds through the broker and ``workers`` real worker
    processes; True when the alerts they publish are exactly the embedded run's."""
    import time as _time  # noqa: PLC0415

    from connectors.kafka import broker_reachable, ensure_topics  # noqa: PLC0415
    from connectors.sinks import KafkaSink, read_local  # noqa: PLC0415
    from streams.kafka_run import (  # noqa: PLC0415
        collect_alerts,
        input_topics,
        kafka_alerts,
        start_worker,
        wait_caught_up,
    )

    if not broker_reachable(settings.kafka):
        console.print(f"启动本地Kafka / starting the local broker at {settings.kafka_bootstrap} ...")
        if start_broker() != 0:
            console.print("[red]Kafka 未能启动 / the broker did not start; see `dixian kafka status`[/]")
            return False
    run = _time.strftime("%Y%m%d%H%M%S")
    ks = settings.override(
        topic_prefix=f"demo{run}.", worker_id=f"dixian-demo-{run}", data_dir=result.out_dir / "kafka"
    )
    asyncio.run(ensure_topics(ks.kafka, Topics(ks).all()))
    procs = [start_worker(ks, f"w{i + 1}", result.out_dir / "logs", 9470 + i) for i in range(workers)]
    try:
        with console.status(f"启动 {workers} 个流处理进程 / starting {workers} workers ..."):
            for p in procs:
                p.wait_ready()
        local = result.out_dir / "local"
        topics, ktopics = Topics(settings), Topics(ks)

        async def replay(names: list[tuple[str, str]]) -> None:
            sink = KafkaSink(ks.kafka)
            await sink.start()
            try:
                for src, dst in names:
                    await sink.send(dst, list(read_local(local / f"{src}.jsonl")))
                await sink.flush()
            finally:
                await sink.stop()

        with console.status("名单进入Kafka / roster → Kafka ..."):
            asyncio.run(replay([(topics.households, ktopics.households)]))
            wait_caught_up(ks, input_topics(ks), workers=procs)
        t0 = _time.perf_counter()
        with console.status("部门数据进入Kafka, 等待处理完成 / feeds → Kafka → workers ..."):
            asyncio.run(replay([(topics.dept(d), ktopics.dept(d)) for d in Dept]))
            wait_caught_up(ks, input_topics(ks), workers=procs)
        seconds = _time.perf_counter() - t0
        got = kafka_alerts(ks)
    finally:
        for p in procs:
            p.stop()
    want = collect_alerts(a.model_dump_json().encode() for a in result.stream.alerts.values())
    same = got.summary() == want.summary()
    events = sum(result.stream.consumed.values())
    console.print(
        f"Kafka: {events} events through {workers} workers in {seconds:.1f}s; "
        f"{len(got.latest)} alerts ({got.records} alert records) vs embedded {len(want.latest)}: "
        + ("[green]相同 / identical ✔[/]" if same else "[red]不同 / DIFFERENT ✘[/]")
    )
    if not same:
        diff = set(got.summary()) ^ set(want.summary())
        console.print(f"  {len(diff)} alert ids differ; worker logs in {result.out_dir / 'logs'}")
    console.print(
        f"  topics: prefix {ks.topic_prefix} on {ks.kafka_bootstrap}; worker logs: {result.out_dir / 'logs'}"
    )
    return same
