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
from dataclasses import dataclass, field
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
    walked: list[tuple[str, str]] = field(default_factory=list)  # each step of the plan, where to see it


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
        # the demo village: the busiest one where every step of the plan can be shown (households
        # that may apply, and monitoring objects for the look-back visit)
        village = "450321101201"
        for code, _ in Counter(a.village_code for a in stream.alerts.values()).most_common():
            row = store.db.one(
                "SELECT SUM(CASE WHEN status = '未纳入' AND dibao = 0 AND tekun = 0 THEN 1 ELSE 0 END)"
                " AS free,"
                " SUM(CASE WHEN status <> '未纳入' THEN 1 ELSE 0 END) AS monitored"
                " FROM households WHERE village_code = ?",
                (code,),
            )
            if row and int(row["free"] or 0) >= 2 and int(row["monitored"] or 0) >= 1:
                village = code
                break
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
        site = next((c for c in store.areas.sites() if c[:6] == village[:6]), None)
        if site:  # the relocation site of the county, screened by its management
            accounts.append(("demo-site", "village", site))
            store.accounts.add("demo-site", "village", site, password, "演示 安置点管理")
    finally:
        store.db.close()
    walked = walk_the_plan(settings, clock, village, campaign.campaign_id)
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
        walked,
    )


def walk_the_plan(settings: Settings, clock: date, village: str, campaign_id: str) -> list[tuple[str, str]]:
    """Each step of the plan once, in the demo village, by the demo accounts, in the week before the
    demo's day (so every date is in the past): an online visit followed by a home visit, an
    inclusion through notice, township review, a passed asset check, the county's decision and the
    household told; a failed asset check decided as 不予纳入; a campaign visit whose answers
    contradict the ledger (a correction item, corrected by the county); a month's progress on the
    task list and a supervision finding to rectify. Returns (step, where to see it)."""
    from datetime import datetime, time  # noqa: PLC0415

    from dixian.contract.events import CHINA_TZ  # noqa: PLC0415
    from screening.announcements import notify  # noqa: PLC0415
    from screening.assets import record_asset_check  # noqa: PLC0415
    from screening.auth import Actor  # noqa: PLC0415
    from screening.corrections import mark_corrected, of_clue  # noqa: PLC0415
    from screening.store import open_store  # noqa: PLC0415
    from screening.tasks import add_rectification, report_progress  # noqa: PLC0415
    from screening.workflow import Request  # noqa: PLC0415

    day = [clock - timedelta(days=7)]
    store = open_store(
        settings.screening_url(),
        lambda: datetime.combine(day[0], time(10), CHINA_TZ),
        settings.visit_days,
        settings.id_key(),
    )
    officer = Actor("demo-village", "演示 村", Role.VILLAGE, village)
    town = Actor("demo-township", "演示 乡镇", Role.TOWNSHIP, village[:9])
    county = Actor("demo-county", "演示 县", Role.COUNTY, village[:6])
    city = Actor("demo-city", "演示 市", Role.OPERATOR, CITY_SCOPE)
    team = ("蒋建国", "覃秀英")
    done: list[tuple[str, str]] = []
    try:
        # two households of the village apply (农户自主申报) a week before the demo's day
        homes = store.db.query(
            "SELECT household_id FROM households WHERE village_code = ? AND status = '未纳入'"
            " AND dibao = 0 AND tekun = 0 ORDER BY household_id LIMIT 2",
            (village,),
        )
        early = [
            {
                "clue_id": store.clues.create(
                    officer, h["household_id"], source, note, authorisation_signed=True
                )[0]
            }
            for h, source, note in zip(
                homes,
                ("application", "cadre"),
                ("户主突发重病住院，申请纳入监测", "干部走访发现家庭收入骤减"),
                strict=False,
            )
        ]
        if len(early) == 2:
            first, second = early[0]["clue_id"], early[1]["clue_id"]
            act = store.clues.act
            act(officer, first, Request("visit", note="疫情防控期间电话核实", visit_mode="phone", team=team))
            day[0] += timedelta(days=1)
            store.clues.in_person(officer, first, day[0], "入户核实：户主住院，家庭支出骤增", team)
            act(officer, first, Request("conclude", proposal="include", category="突发严重困难户"))
            act(officer, first, Request("village_review", decision="approve", note="村民代表评议通过"))
            act(officer, second, Request("visit", note="入户核实", team=team))
            act(officer, second, Request("conclude", proposal="include", category="边缘易致贫户"))
            act(officer, second, Request("village_review", decision="approve"))
            day[0] += timedelta(days=5)
            for cid in (first, second):
                act(officer, cid, Request("notice_end", decision="approve", note="公示5天无异议"))
                act(town, cid, Request("township_review", decision="approve"))
            record_asset_check(store, county, first, "passed", day[0])
            record_asset_check(
                store, county, second, "failed", day[0], reason="家庭成员名下有商品房", found="县城商品房1套"
            )
            act(county, first, Request("county_decide", decision="approve"))
            act(county, second, Request("county_decide", decision="reject", note="财产检索未通过"))
            notify(store, officer, first, day[0], "visit", "入户告知审定结果")
            done += [
                ("线上走访与补充入户核实（入户/电话/微信，两人工作组）", f"/clues/{first}"),
                (
                    "财产检索：通过后纳入、未通过不予纳入",
                    f"/counties/{village[:6]}/asset-check · /clues/{second}",
                ),
                ("县级审定公告与入户告知", f"/counties/{village[:6]}/announcement · /notifications"),
            ]
        day[0] = clock
        visit = store.db.one(
            "SELECT c.clue_id FROM clues c WHERE c.campaign_id = ? AND c.village_code = ? AND c.state = 'new'"
            " ORDER BY c.clue_id LIMIT 1",
            (campaign_id, village),
        )
        if visit:
            answers = {
                "record_correct": "no",
                "corrections": "家庭人口登记为4人，实有5人（新生儿未登记）",
                "assistance_received": ["健康帮扶"],
                "income_pc_estimate": "8800",
                "income_stable_6_months": "no",
                "elimination_assessment": "尚不能消除",
            }
            store.clues.act(
                officer, visit["clue_id"], Request("visit", note="集中排查入户", form=answers, team=team)
            )
            items = of_clue(store, visit["clue_id"])
            if items:
                mark_corrected(store, county, visit["clue_id"], int(items[0]["seq"]), clock)
            done.append(("账实不符更正清单（走访发现，县级更正）", f"/counties/{village[:6]}/corrections"))
        month = (clock - timedelta(days=1)).strftime("%Y-%m")
        report_progress(store, county, 23, month, "on_track", "本月部门预警线索已全部推送到村，按期走访")
        report_progress(store, city, 24, month, "on_track", "本月问题数据已筛查并下发各县核实")
        add_rectification(
            store, city, village[:6], "unannounced", clock - timedelta(days=3),
            "暗访发现部分监测对象帮扶计划未在10天内制定", "县乡村振兴局、各乡镇", clock + timedelta(days=14),
        )  # fmt: skip
        done += [
            ("重点任务调度（月调度）与督查暗访整改", "/tasks · /rectifications"),
            ("易地搬迁安置点（账号 demo-site）", "/campaigns（按易地搬迁安置点）"),
            ("农业农村部门数据与因产业项目失败预警", "/?risk=因产业项目失败 · 月报“预警规则”"),
            ("收入构成与增速、重点帮扶县", "月报“收入”“重点帮扶县”"),
        ]
    finally:
        store.db.close()
    return done


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
    if q.walked:
        steps = Table(
            title="实施方案各环节（演示账号已各走一遍）/ each step of the plan, done once", show_lines=False
        )
        steps.add_column("环节 step", overflow="fold")
        steps.add_column("在哪里看 where", overflow="fold")
        for what, where in q.walked:
            steps.add_row(what, where)
        console.print(steps)
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
